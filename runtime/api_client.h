// The client side of the agent API (the contract in runtime/api_server.h):
// one synchronous HTTP/1.1 exchange per call over Boost.Beast, with one
// deadline for connect, write and read, and a cap on the answer.
// Used by the `heck` client commands (tools/heck/client_commands.cpp), the
// local cluster demo (tools/heck/demo_command.cpp) and `heck members`.
//
// Errors are values and say what went wrong, where:
//   - the agent cannot be reached:   "cannot reach agent at 127.0.0.1:7700: connection refused"
//   - the exchange broke afterwards: "cannot read from agent at 127.0.0.1:7700: timed out"
//   - the API refused the request:   its "error" text ("no target 'web'"), or
//                                    "HTTP 500 from agent at ...: <body>" when it sent no JSON error
//   - the answer is not JSON:        "agent at 127.0.0.1:7700 sent a bad answer to GET /v1/status: not JSON"
//
// Writes carry `Authorization: Bearer <token>` when a token is set (reads
// never need it, so it is not sent on them).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <variant>

#include <nlohmann/json.hpp>

#include "core/result.h"
#include "core/time.h"
#include "runtime/agent_config.h"

namespace heck::runtime {

// One raw HTTP answer.
struct ApiAnswer {
  unsigned status = 0;
  std::string body;
};

// Where an exchange failed, for callers that word their own messages.
enum class ApiStep { address, connect, write, read };

struct ApiFailure {
  ApiStep step = ApiStep::connect;
  std::string what;  // "connection refused", "timed out", ... (lower case)
};

// One exchange: `method` ("GET", "PUT", "POST", "DELETE", "HEAD") of
// `target` (path and query) at `api`, with `body` as application/json when
// not empty and a bearer token when `token` is not empty. The whole exchange
// is bounded by `timeout`; the answer body by `max_body_bytes`.
// Returns the answer, whatever its status, or where it failed.
struct ApiExchange {
  std::string_view method = "GET";
  std::string_view target = "/";
  std::string_view body;
  std::string_view token;
  Duration timeout = Duration::seconds(3);
  std::size_t max_body_bytes = 16 * 1024 * 1024;
  std::string_view idempotency_key;  // sent as Idempotency-Key when not empty
};
std::variant<ApiAnswer, ApiFailure> api_exchange(const HostPort& api, const ApiExchange& exchange);

// "cannot reach agent at H:P: connection refused" and the like.
std::string describe_failure(const HostPort& api, const ApiFailure& failure);

// Percent-encodes one path segment (everything but A-Z a-z 0-9 - . _ ~).
std::string encode_path_segment(std::string_view segment);

// The client of one agent. Each call is one exchange (no connection reuse:
// the CLI makes a handful of calls, the demo a few per second).
class ApiClient {
 public:
  static constexpr std::size_t kMaxBodyBytes = 64 * 1024 * 1024;

  explicit ApiClient(HostPort api, Duration timeout = Duration::seconds(3), std::string token = {})
      : api_(std::move(api)), timeout_(timeout), token_(std::move(token)) {}

  const HostPort& api() const { return api_; }

  // Writes carry `id` as their Idempotency-Key (runtime/api_server.h), and
  // a write whose answer was lost (the exchange broke after the request was
  // written, or a 503) is sent again with the same key, up to `retries`
  // more times, 200 ms apart: the agent answers a repeat with the first
  // answer and applies it once. Without an id writes are never repeated.
  void set_request_id(std::string id, int retries = 2) {
    request_id_ = std::move(id);
    write_retries_ = retries;
  }
  const std::string& request_id() const { return request_id_; }

  // A 2xx answer parsed as JSON, or an Error as described above. `raw`
  // (optional) receives the body as sent, for --json.
  Result<nlohmann::json> get(std::string_view target, std::string* raw = nullptr) const;
  Result<nlohmann::json> put(std::string_view target, const nlohmann::json& body, std::string* raw = nullptr) const;
  Result<nlohmann::json> post(std::string_view target, const nlohmann::json& body, std::string* raw = nullptr) const;
  Result<nlohmann::json> del(std::string_view target, std::string* raw = nullptr) const;

  // The status code and body, whatever the status (an Error only when the
  // exchange itself failed).
  Result<ApiAnswer> request(std::string_view method, std::string_view target, std::string_view body = {},
                            bool send_token = false) const;

 private:
  Result<nlohmann::json> call(std::string_view method, std::string_view target, std::string_view body,
                              bool write, std::string* raw) const;

  HostPort api_;
  Duration timeout_;
  std::string token_;
  std::string request_id_;
  int write_retries_ = 0;
};

// The error text of an API error body ({"error": "..."}), sanitised for a
// terminal; empty when the body has none.
std::string api_error_text(std::string_view body);

}  // namespace heck::runtime
