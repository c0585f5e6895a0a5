// Delivers alert notifications (the Notify effect, core/effects.h) to their
// webhooks: one HTTP/1.1 POST per notification over Beast, HTTP or HTTPS
// (Beast over OpenSSL), asynchronously on an Asio io_context. Owned by the
// runtime; core/ only sees the NotifyDone it reports.
//
// Contract:
//  - send() never blocks. `done` is called exactly once per send(), on the
//    io_context's thread, and is always posted: never from inside send(),
//    shutdown() or any other AlertSender member, so a callback may call
//    send() or shutdown() freely. It receives NotifyDone{n.id, delivered,
//    error}: `delivered` exactly when the receiver answered 2xx (then `error`
//    is empty); otherwise `error` says what went wrong, in one line of ASCII:
//      "HTTP 503"                             a non-2xx answer ...
//      "HTTP 404: no_service"                 ... with the start of its body (at most 200 bytes)
//      "invalid url '...': ..."               n.url is not an http:// or https:// URL
//      "resolve example.org: Host not found (authoritative)"
//      "connect: Connection refused (127.0.0.1:9)"   the last address tried
//      "tls: certificate verification failed: self-signed certificate"
//      "tls: handshake failed: ..."
//      "write: Broken pipe"
//      "read: connection closed before a response", "read: invalid HTTP response: ...",
//      "read: response headers exceed 65536 bytes"
//      "timeout after 5000 ms (waiting for the response)"   (the phase in parentheses)
//      "alert queue full"                     refused at once (max_queued waiting)
//      "shutting down"                        shutdown() or the destructor
//  - The request: `POST <path?query> HTTP/1.1` with Host (the port when it
//    is not the scheme's default; IPv6 literals in brackets), User-Agent
//    (when not empty), Content-Type: application/json, Content-Length and
//    Connection: close; the body is alert_body_json(n) or alert_body_slack(n)
//    as n.format says. One connection per notification.
//  - One deadline per delivery, `timeout` from the moment the delivery gets
//    a slot, bounds every phase: DNS, connect, TLS handshake, write and read.
//    A slow or hung receiver costs one slot until then and nothing else. Time
//    spent waiting in the queue does not count against it.
//  - At most `max_concurrent` deliveries run at once; further ones wait in a
//    FIFO queue. At most `max_queued` wait; beyond that send() fails the
//    notification at once ("alert queue full").
//  - The response is read bounded: its head by max_response_bytes (more is
//    "read: response headers exceed ..."), its body by max_response_bytes.
//    Once the status line and headers are in, the status alone decides: a
//    body that is larger than max_response_bytes, cut short, malformed or
//    still arriving at the deadline does not change the verdict (a 2xx is
//    delivered, anything else fails with "HTTP <code>"). The body is kept
//    only for the error message of a non-2xx answer. 1xx interim answers
//    (a few at most) are skipped.
//  - Host names are resolved asynchronously with the system resolver on
//    every delivery (no cache: alerts are rare); IP literals skip it. Every
//    address is tried in turn until one accepts the connection.
//  - HTTPS always verifies the certificate chain against the system trust
//    store (plus tls_ca_file, if set) and the host name (or IP literal); SNI
//    is sent for host names. There is no way to turn verification off.
//  - shutdown() fails every queued and running delivery ("shutting down")
//    and refuses later send() calls the same way; the destructor calls it.
//  - Counters: every send() ends in exactly one of delivered, failed or
//    rejected. `sent` counts deliveries that got a slot and began;
//    `rejected` the send() calls refused at once (queue full, shut down);
//    `failed` everything else that was not delivered (errors, non-2xx,
//    timeouts, an invalid url, queued or running at shutdown).
//  - Single-threaded: call every member on the io_context's thread.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include <boost/asio/io_context.hpp>

#include "core/alerts/alert_route.h"
#include "core/effects.h"
#include "core/time.h"

namespace heck::runtime {

struct AlertSenderOptions {
  Duration timeout = Duration::seconds(5);  // one deadline per delivery: DNS, connect, TLS, write, read
  std::size_t max_concurrent = 16;          // deliveries running at once (at least 1)
  std::size_t max_queued = 1024;            // waiting for a slot; beyond: fails at once, "alert queue full"
  std::size_t max_response_bytes = 64 * 1024;  // the answer's head, and its body, each at most this
  std::string user_agent = "heck/0.1";      // not sent when empty
  std::string tls_ca_file;                  // extra trusted CAs (PEM) besides the system store
};

struct AlertSenderCounters {
  std::uint64_t sent = 0;       // deliveries that got a slot and began
  std::uint64_t delivered = 0;  // answered 2xx
  std::uint64_t failed = 0;     // accepted by send() but not delivered
  std::uint64_t rejected = 0;   // refused by send() at once: queue full or shut down
};

class AlertSender {
 public:
  using Callback = std::function<void(NotifyDone)>;

  AlertSender(boost::asio::io_context& io, AlertSenderOptions options = {});
  ~AlertSender();
  AlertSender(const AlertSender&) = delete;
  AlertSender& operator=(const AlertSender&) = delete;

  // POSTs `n` to n.url, formatted per n.format; see the contract above.
  // REQUIRES: done is non-null.
  void send(const AlertNotification& n, Callback done);

  // Fails every queued and running delivery ("shutting down") and refuses
  // later ones; their callbacks are still called (posted).
  void shutdown();

  std::size_t in_flight() const;  // deliveries holding a slot
  std::size_t queued() const;     // waiting for one
  const AlertSenderCounters& counters() const;
  const AlertSenderOptions& options() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// The request bodies (pure; never throw: invalid UTF-8 in a field is
// replaced by U+FFFD).
//
// Generic webhook (AlertFormat::json), one object:
//   {"id": "n1-42", "kind": "firing", "repeat": false, "target": "web-1",
//    "route": "ops", "status": "unhealthy", "reason": "timeout",
//    "status_code": 0, "observer": "n2", "since": "2026-12-04T10:00:00.000Z",
//    "at": "2026-12-04T10:00:30.000Z", "sender": "n1", "attempt": 1}
// `id` is "<sender>-<n.id>": the same for every retry of one notification,
// so a receiver can drop duplicates. `since` and `at` are RFC 3339 UTC with
// milliseconds; `since` is null when n.since_ms is 0 (unknown).
std::string alert_body_json(const AlertNotification& n);

// Slack incoming-webhook compatible (AlertFormat::slack): {"text": "..."}
// and nothing else, one line:
//   ":red_circle: FIRING web-1 is unhealthy (timeout, HTTP 503) since
//    2026-12-04T10:00:00.000Z — observed by n2, sent by n1"
//   ":red_circle: FIRING (repeat) web-1 is unhealthy ..."
//   ":large_green_circle: RESOLVED web-1 is healthy again since ... — observed by n2, sent by n1"
// The parenthesis holds the reason and the HTTP status, whichever are set
// (left out when neither is); " since ..." is left out when n.since_ms is
// 0. Field text is escaped for Slack (&, <, > as &amp; &lt; &gt;) so a
// target id or reason cannot form a link or a mention.
std::string alert_body_slack(const AlertNotification& n);

}  // namespace heck::runtime
