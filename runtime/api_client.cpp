#include "runtime/api_client.h"

#include <cctype>
#include <chrono>
#include <optional>
#include <thread>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <fmt/format.h>

#include "runtime/log.h"
#include "runtime/version.h"

namespace heck::runtime {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

namespace {

std::string lower_first(std::string s) {
  if (!s.empty()) s[0] = static_cast<char>(std::tolower(static_cast<unsigned char>(s[0])));
  return s;
}

}  // namespace

std::variant<ApiAnswer, ApiFailure> api_exchange(const HostPort& api, const ApiExchange& x) {
  boost::system::error_code ec;
  const auto ip = asio::ip::make_address(api.host, ec);
  if (ec) return ApiFailure{ApiStep::address, fmt::format("'{}' is not an IP address", sanitize_for_log(api.host, 64))};
  const http::verb verb = http::string_to_verb(x.method);
  if (verb == http::verb::unknown) return ApiFailure{ApiStep::address, fmt::format("unknown method '{}'", x.method)};

  asio::io_context io(1);
  beast::tcp_stream stream(io);
  beast::flat_buffer buffer;
  http::request<http::string_body> req{verb, std::string(x.target), 11};
  req.set(http::field::host, api.to_string());
  req.set(http::field::user_agent, fmt::format("heck/{}", kVersion));
  req.set(http::field::accept, "application/json");
  if (!x.token.empty()) req.set(http::field::authorization, fmt::format("Bearer {}", x.token));
  if (!x.idempotency_key.empty()) req.set("Idempotency-Key", x.idempotency_key);
  if (!x.body.empty()) {
    req.set(http::field::content_type, "application/json");
    req.body() = std::string(x.body);
  }
  req.keep_alive(false);
  req.prepare_payload();
  http::response_parser<http::string_body> parser;
  parser.body_limit(x.max_body_bytes);
  if (verb == http::verb::head) parser.skip(true);

  std::optional<ApiFailure> failure;
  auto fail = [&](ApiStep step, const boost::system::error_code& e) {
    if (failure) return;
    failure = ApiFailure{step, e == beast::error::timeout ? std::string("timed out") : lower_first(e.message())};
  };
  stream.expires_after(std::chrono::nanoseconds(x.timeout.ns()));
  stream.async_connect(tcp::endpoint(ip, api.port), [&](const boost::system::error_code& e) {
    if (e) return fail(ApiStep::connect, e);
    http::async_write(stream, req, [&](const boost::system::error_code& e2, std::size_t) {
      if (e2) return fail(ApiStep::write, e2);
      http::async_read(stream, buffer, parser, [&](const boost::system::error_code& e3, std::size_t) {
        if (e3) return fail(ApiStep::read, e3);
      });
    });
  });
  io.run();
  if (failure) return *failure;
  ApiAnswer a;
  a.status = parser.get().result_int();
  a.body = std::move(parser.get().body());
  return a;
}

std::string describe_failure(const HostPort& api, const ApiFailure& f) {
  switch (f.step) {
    case ApiStep::address: return fmt::format("cannot reach agent at {}: {}", api.to_string(), f.what);
    case ApiStep::connect: return fmt::format("cannot reach agent at {}: {}", api.to_string(), f.what);
    case ApiStep::write: return fmt::format("cannot write to agent at {}: {}", api.to_string(), f.what);
    case ApiStep::read: return fmt::format("cannot read from agent at {}: {}", api.to_string(), f.what);
  }
  return f.what;
}

std::string encode_path_segment(std::string_view segment) {
  std::string out;
  out.reserve(segment.size());
  for (const char c : segment) {
    const auto u = static_cast<unsigned char>(c);
    if (std::isalnum(u) || c == '-' || c == '.' || c == '_' || c == '~') {
      out += c;
    } else {
      out += fmt::format("%{:02X}", u);
    }
  }
  return out;
}

std::string api_error_text(std::string_view body) {
  nlohmann::json j = nlohmann::json::parse(body.begin(), body.end(), nullptr, false);
  if (j.is_discarded() || !j.is_object() || !j.contains("error") || !j.at("error").is_string()) return {};
  return sanitize_for_log(j.at("error").get<std::string>(), 400);
}

Result<ApiAnswer> ApiClient::request(std::string_view method, std::string_view target, std::string_view body,
                                     bool send_token) const {
  ApiExchange x;
  x.method = method;
  x.target = target;
  x.body = body;
  if (send_token) x.token = token_;
  x.timeout = timeout_;
  x.max_body_bytes = kMaxBodyBytes;
  // Only writes carry the request id, and only they are repeated with it.
  const bool keyed = send_token && !request_id_.empty();
  if (keyed) x.idempotency_key = request_id_;
  for (int attempt = 0;; ++attempt) {
    auto r = api_exchange(api_, x);
    const auto* f = std::get_if<ApiFailure>(&r);
    // Repeat only when the request may have been applied and the answer lost
    // (write or read step), or the agent was too busy: never a refused connect.
    const bool again = keyed && attempt < write_retries_ &&
                       ((f && (f->step == ApiStep::write || f->step == ApiStep::read)) ||
                        (!f && std::get<ApiAnswer>(r).status == 503));
    if (again) {
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
      continue;
    }
    if (f) return Error{describe_failure(api_, *f)};
    // An agent on a store that keeps no record of keys (--store etcd) refuses
    // a keyed write without applying it: send it once more without the key
    // (and so without repeats).
    auto& answer = std::get<ApiAnswer>(r);
    if (!x.idempotency_key.empty() && answer.status == 501 &&
        answer.body.find("Idempotency-Key: not supported") != std::string::npos) {
      x.idempotency_key = {};
      attempt = write_retries_;
      continue;
    }
    return std::move(answer);
  }
}

Result<nlohmann::json> ApiClient::call(std::string_view method, std::string_view target, std::string_view body,
                                       bool write, std::string* raw) const {
  auto a = request(method, target, body, write);
  if (!a) return Error{a.error()};
  if (a->status < 200 || a->status > 299) {
    std::string text = api_error_text(a->body);
    if (text.empty()) {
      text = fmt::format("HTTP {} from agent at {} for {} {}: {}", a->status, api_.to_string(), method,
                         sanitize_for_log(target, 200), sanitize_for_log(a->body, 200));
    }
    return Error{std::move(text)};
  }
  nlohmann::json j = nlohmann::json::parse(a->body, nullptr, false);
  if (j.is_discarded()) {
    return Error{fmt::format("agent at {} sent a bad answer to {} {}: not JSON", api_.to_string(), method,
                             sanitize_for_log(target, 200))};
  }
  if (raw) *raw = std::move(a->body);
  return j;
}

Result<nlohmann::json> ApiClient::get(std::string_view target, std::string* raw) const {
  return call("GET", target, {}, false, raw);
}

Result<nlohmann::json> ApiClient::put(std::string_view target, const nlohmann::json& body, std::string* raw) const {
  return call("PUT", target, body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace), true, raw);
}

Result<nlohmann::json> ApiClient::post(std::string_view target, const nlohmann::json& body, std::string* raw) const {
  return call("POST", target, body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace), true, raw);
}

Result<nlohmann::json> ApiClient::del(std::string_view target, std::string* raw) const {
  return call("DELETE", target, {}, true, raw);
}

}  // namespace heck::runtime
