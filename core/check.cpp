#include "core/check.h"

#include <fmt/format.h>

namespace heck {

std::string_view to_string(CheckReason r) {
  switch (r) {
    case CheckReason::ok: return "ok";
    case CheckReason::bad_status: return "bad_status";
    case CheckReason::body_mismatch: return "body_mismatch";
    case CheckReason::timeout: return "timeout";
    case CheckReason::connection_refused: return "connection_refused";
    case CheckReason::dns_failure: return "dns_failure";
    case CheckReason::protocol_error: return "protocol_error";
    case CheckReason::response_too_large: return "response_too_large";
    case CheckReason::tls_failure: return "tls_failure";
    case CheckReason::network_error: return "network_error";
  }
  return "network_error";
}

CheckOutcome CheckOutcome::response(int status, Duration latency, std::string body) {
  CheckOutcome o;
  o.status_code = status;
  o.latency = latency;
  o.body = std::move(body);
  return o;
}

CheckOutcome CheckOutcome::connected(Duration latency) {
  CheckOutcome o;
  o.latency = latency;
  return o;
}

CheckOutcome CheckOutcome::failure(CheckReason why, Duration latency, std::string detail) {
  CheckOutcome o;
  o.transport = why;
  o.latency = latency;
  o.detail = std::move(detail);
  return o;
}

std::string CheckResult::describe() const {
  std::string text;
  switch (reason) {
    case CheckReason::ok:
      text = status_code ? fmt::format("ok (status {})", status_code) : "ok";
      break;
    case CheckReason::bad_status: text = fmt::format("status {}", status_code); break;
    case CheckReason::body_mismatch: text = fmt::format("body mismatch (status {})", status_code); break;
    case CheckReason::timeout: text = "timeout"; break;
    case CheckReason::connection_refused: text = "connection refused"; break;
    case CheckReason::dns_failure: text = "dns failure"; break;
    case CheckReason::protocol_error: text = "protocol error"; break;
    case CheckReason::response_too_large: text = "response too large"; break;
    case CheckReason::tls_failure: text = "tls failure"; break;
    case CheckReason::network_error: text = "network error"; break;
  }
  if (!detail.empty()) text += fmt::format(": {}", detail);
  return text;
}

CheckResult evaluate(const TargetSpec& spec, CheckOutcome outcome) {
  CheckResult r;
  r.latency = outcome.latency;
  r.status_code = outcome.status_code;
  r.detail = std::move(outcome.detail);
  r.tls_cert_expires_in = outcome.tls_cert_expires_in;
  if (outcome.transport != CheckReason::ok) {
    r.reason = outcome.transport;
    return r;
  }
  if (spec.url.scheme == Scheme::tcp) return r;  // connected: that is all a TCP check asks
  if (!spec.status_expected(outcome.status_code)) {
    r.reason = CheckReason::bad_status;
  } else if (spec.http->expect_body && outcome.body.find(*spec.http->expect_body) == std::string::npos) {
    r.reason = CheckReason::body_mismatch;
  } else if (spec.http->tls_expiry_min_days > 0 && outcome.tls_cert_expires_in &&
             *outcome.tls_cert_expires_in < Duration::seconds(std::int64_t{spec.http->tls_expiry_min_days} * 86'400)) {
    r.reason = CheckReason::tls_failure;
    const Duration left = *outcome.tls_cert_expires_in;
    r.detail = left < Duration::zero()
                   ? fmt::format("the certificate expired {:.1f} days ago (tls_expiry_min_days {})",
                                 -left.seconds_f() / 86'400.0, spec.http->tls_expiry_min_days)
                   : fmt::format("the certificate expires in {:.1f} days, fewer than tls_expiry_min_days {}",
                                 left.seconds_f() / 86'400.0, spec.http->tls_expiry_min_days);
  }
  return r;
}

}  // namespace heck
