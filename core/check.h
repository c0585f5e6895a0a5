// One check's outcome, as the driver observed it, and its evaluation against
// the target's spec. The driver reports what happened on the wire (a response,
// or a transport failure); core/ decides whether that counts as a success, so
// the simulator and the runtime share one definition of "healthy".
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "core/target_spec.h"
#include "core/time.h"

namespace heck {

// Why a check passed or failed.
enum class CheckReason : std::uint8_t {
  ok,                   // passed
  bad_status,           // HTTP status outside expect_status
  body_mismatch,        // expect_body not found in the body
  timeout,              // no complete answer before the deadline
  connection_refused,   // TCP RST on connect
  dns_failure,          // the host name did not resolve
  protocol_error,       // the peer answered, but not with valid HTTP
  response_too_large,   // headers or body beyond the configured limit
  tls_failure,          // handshake or certificate verification failed
  network_error,        // any other transport error (reset, unreachable, …)
};

std::string_view to_string(CheckReason r);

// What the driver saw. For HTTP a response with `status_code` (and `body`,
// only when the spec has expect_body); for TCP a completed connect is
// `transport_ok` with status_code 0.
struct CheckOutcome {
  CheckReason transport = CheckReason::ok;  // ok, or the transport failure
  int status_code = 0;
  std::string body;        // bounded by the driver; may be a prefix
  std::string detail;      // free text from the driver, e.g. an error message
  Duration latency;        // from start of check to outcome
  // https: how long until the server's leaf certificate expires (negative
  // once it has), as the driver read it after the handshake.
  std::optional<Duration> tls_cert_expires_in;

  static CheckOutcome response(int status, Duration latency, std::string body = {});
  static CheckOutcome connected(Duration latency);
  static CheckOutcome failure(CheckReason why, Duration latency, std::string detail = {});
};

// The verdict on one check.
struct CheckResult {
  CheckReason reason = CheckReason::ok;
  int status_code = 0;
  Duration latency;
  std::string detail;
  std::optional<Duration> tls_cert_expires_in;  // as in CheckOutcome

  bool ok() const { return reason == CheckReason::ok; }
  // Human-readable: "ok", "status 503", "timeout", "connection refused", …
  std::string describe() const;
};

// Applies the spec's expectations to an outcome: the transport, then the
// status and body, then (https, tls_expiry_min_days set) the certificate's
// remaining days; the first that fails gives the reason.
CheckResult evaluate(const TargetSpec& spec, CheckOutcome outcome);

}  // namespace heck
