// Runs one check against a live target, asynchronously on an Asio io_context:
// HTTP/1.1 (Beast), HTTPS (Beast over OpenSSL) or a TCP connect. Owned by
// the runtime; core/ only sees the CheckOutcome it reports.
//
// Contract:
//  - run() never blocks; `done` is called exactly once, on the io_context's
//    thread, no later than `timeout` after run() (a check still queued or
//    running at that point reports CheckReason::timeout). `done` is always
//    posted: it is never called from inside run(), shutdown() or any other
//    Checker member, so a callback may call run() or shutdown() freely.
//  - At most `max_concurrent` checks run at once; further ones wait in a FIFO
//    queue (their timeout keeps running while they wait). At most
//    `max_queued` wait; beyond that run() fails the check at once
//    (network_error, "checker queue full"). A check that waited more than
//    max_queue_wait_fraction of its timeout fails (timeout) when its turn
//    comes, without connecting: under overload, the checks that do start
//    have time to finish.
//  - Responses are bounded: headers beyond max_header_bytes or a body beyond
//    max_body_bytes fail the check with CheckReason::response_too_large
//    (whether or not the body is kept); garbage fails it with
//    CheckReason::protocol_error. Nothing a target sends can hang or crash
//    the agent.
//  - The body is kept (in CheckOutcome::body) only when the spec has
//    expect_body; otherwise it is read and discarded.
//  - Host names are resolved asynchronously and cached for dns_ttl (failures
//    for dns_negative_ttl); concurrent lookups of one name are coalesced; IP
//    literals skip the cache. See runtime/dns_cache.h.
//  - HTTPS verifies the certificate chain against the system trust store
//    (plus tls_ca_file, if set) and the host name (or IP literal) when
//    spec.tls_verify is true; SNI is sent for host names.
//  - Latency is measured from run() to the outcome with steady_clock, so it
//    includes any time spent queued.
//  - One deadline (run() + timeout) bounds every phase: queueing, DNS,
//    connect, TLS handshake, write and read.
//  - shutdown() fails every queued and running check (network_error) and
//    refuses later run() calls the same way; the destructor calls it.
//  - Single-threaded: call every member on the io_context's thread.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include <boost/asio/io_context.hpp>

#include "core/check.h"
#include "core/target_spec.h"
#include "core/time.h"

namespace heck::runtime {

struct CheckerOptions {
  std::size_t max_concurrent = 512;
  std::size_t max_header_bytes = 16 * 1024;
  std::size_t max_body_bytes = 1024 * 1024;
  Duration dns_ttl = Duration::seconds(30);
  std::string user_agent = "heck/0.1";
  std::size_t max_queued = 65'536;                   // checks waiting for a slot
  Duration dns_negative_ttl = Duration::seconds(5);  // how long a failed lookup is remembered
  std::size_t max_dns_entries = 4096;                // names cached (oldest evicted)
  std::string tls_ca_file;                           // extra trusted CAs (PEM), besides the system store
  // Overload control: a queued check that has not got a slot within this
  // fraction of its timeout is failed when it reaches the head of the queue
  // (timeout, "checker overloaded") instead of starting with too little time
  // left. Keeps goodput at capacity when more checks are offered than the
  // host can run; 1.0 disables it.
  double max_queue_wait_fraction = 0.5;
};

struct CheckerCounters {
  std::uint64_t started = 0;        // checks that got a slot and began
  std::uint64_t completed = 0;      // callbacks delivered (every run() gets one)
  std::uint64_t queued_total = 0;   // checks that had to wait for a slot
  std::uint64_t dns_cache_hits = 0;
  std::uint64_t dns_lookups = 0;
  std::uint64_t rejected = 0;       // run() refused: queue full or shut down
  std::uint64_t timeouts = 0;       // checks failed by their deadline
  std::uint64_t dns_coalesced = 0;  // lookups that joined one already running
  std::uint64_t shed = 0;           // queued checks failed by max_queue_wait_fraction
};

class Checker {
 public:
  using Callback = std::function<void(CheckOutcome)>;

  Checker(boost::asio::io_context& io, CheckerOptions options = {});
  ~Checker();
  Checker(const Checker&) = delete;
  Checker& operator=(const Checker&) = delete;

  // Starts (or queues) one check of `spec`; see the contract above.
  // REQUIRES: spec and done are non-null.
  void run(std::shared_ptr<const TargetSpec> spec, Duration timeout, Callback done);

  // Cancels everything; pending callbacks are still called (with a
  // network_error outcome) before the io_context runs out of work.
  void shutdown();

  std::size_t in_flight() const;
  std::size_t queued() const;
  const CheckerCounters& counters() const;
  const CheckerOptions& options() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace heck::runtime
