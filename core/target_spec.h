// What to check and how: a target's specification, parsed strictly from JSON.
//
//   {"id": "web", "url": "http://127.0.0.1:8080/healthz",
//    "interval_ms": 10000, "timeout_ms": 2000, "rise": 2, "fall": 3,
//    "expect_status": "200-399", "expect_body": "ok",
//    "method": "GET", "headers": {"Host": "example.org"}}
//
// https targets also take "tls_verify" (default true) and
// "tls_expiry_min_days" (0-3650, default 0 = off).
//
// Only `id` and `url` are required. Parsing refuses unknown keys, wrong types
// and out-of-range values with a message that names the field.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "core/defaulted_box.h"
#include "core/name_table.h"
#include "core/result.h"
#include "core/small_vector.h"
#include "core/time.h"

namespace heck {

namespace wire {
class MsgpackWriter;
}

enum class Scheme : std::uint8_t { http, https, tcp };

std::string_view to_string(Scheme s);

struct Url {
  // The strings first, then the small fields: 72 bytes, not 80.
  std::string host;      // a name or an IP literal (IPv6 without brackets)
  std::string target;    // path plus query, "/" when absent; empty for tcp
  std::uint16_t port = 0;
  Scheme scheme = Scheme::http;

  // Parses "http://host[:port][/path]", "https://…" or "tcp://host:port".
  static Result<Url> parse(std::string_view text);
  std::string to_string() const;
  bool operator==(const Url&) const = default;
};

// An inclusive range of HTTP status codes.
struct StatusRange {
  int lo = 200;
  int hi = 399;
  bool operator==(const StatusRange&) const = default;
};

// The HTTP options most targets leave at their defaults.
struct HttpOptions {
  std::optional<std::string> expect_body;  // substring the body must contain
  std::string method = "GET";
  std::map<std::string, std::string> headers;
  bool tls_verify = true;  // https only: verify the server's certificate chain and name
  // https only: a check fails (tls_failure) when the server's leaf
  // certificate expires in fewer days than this; 0 = not checked.
  int tls_expiry_min_days = 0;
  bool operator==(const HttpOptions&) const = default;
};

struct TargetSpec {
  static constexpr std::int64_t kDefaultIntervalMs = 10'000;
  static constexpr std::int64_t kDefaultTimeoutMs = 2'000;
  static constexpr int kDefaultRise = 2;
  static constexpr int kDefaultFall = 3;
  static constexpr std::size_t kMaxIdLength = 128;
  static constexpr int kMaxCheckers = 16;
  static constexpr int kMaxTlsExpiryMinDays = 3650;

  // Interned in the node's name table once the spec is in its registry
  // (HealthState::put_target, the codec), so it shares the text of the key
  // the registry holds it under; detached_name() where no table is at hand
  // (a parsed config). Like every Name, not thread-safe: a spec must not be
  // copied or dropped on two threads at once (a sweep gives each of its
  // threads its own scenario for this: sim/sweep.cpp).
  Name id;
  // The four small fields sit in the padding at the end of `url` (a Url's
  // strings leave 5 bytes unused): with the id as a Name, a spec is 120
  // bytes, not 160, and one with its shared-pointer block takes a 144-byte
  // heap chunk instead of 192 in every agent that holds it.
  [[no_unique_address]] Url url;
  std::uint8_t rise = kDefaultRise;  // consecutive successes to become healthy (1-100)
  std::uint8_t fall = kDefaultFall;  // consecutive failures to become unhealthy (1-100)
  // In a cluster: how many agents check this target (its r owners), and how
  // many of them must see it unhealthy before it is reported unhealthy
  // (1 <= quorum <= checkers <= 16).
  std::uint8_t checkers = 1;
  std::uint8_t quorum = 1;
  Duration interval = Duration::milliseconds(kDefaultIntervalMs);
  Duration timeout = Duration::milliseconds(kDefaultTimeoutMs);
  // Nearly always one range: kept in place (a std::vector cost a 24-byte
  // header and a 32-byte heap block per target).
  SmallVector<StatusRange, 1> expect_status{StatusRange{}};
  // Out of line, none while at their defaults (128 of the 288 bytes a spec
  // took when they were fields of their own): spec.http->method to read,
  // spec.http.edit().method = "HEAD" to write.
  DefaultedBox<HttpOptions> http;

  bool status_expected(int code) const;

  // Parses one target object. `where` prefixes error messages, e.g.
  // "targets[2]" gives "targets[2].interval_ms: must be positive".
  static Result<TargetSpec> from_json(const nlohmann::json& j, std::string_view where = "target");
  nlohmann::json to_json() const;
  // Writes to_json() as MessagePack straight from the fields: exactly the
  // bytes nlohmann::json::to_msgpack(to_json()) gives (keys in their sorted
  // order, each value in its smallest form), without building the tree.
  // The replication codec writes specs with it, and the spec pool
  // re-encodes with it to confirm a hit (core/replicated/spec_pool.h).
  void write_msgpack(wire::MsgpackWriter& w) const;

  bool operator==(const TargetSpec&) const = default;
};

// True when `id` is 1–128 characters of [A-Za-z0-9._:-] (safe in URLs and
// Prometheus labels).
bool valid_target_id(std::string_view id);

// A 64-bit hash of everything in `spec` (its canonical JSON): equal specs
// have equal fingerprints. Agents keep it to remember which configured
// spec they wrote (core/replicated/snapshot.h).
std::uint64_t spec_fingerprint(const TargetSpec& spec);

// Parses {"targets": [...]}-style arrays: every spec valid, ids unique.
Result<std::vector<TargetSpec>> parse_target_list(const nlohmann::json& j, std::string_view where = "targets");

}  // namespace heck
