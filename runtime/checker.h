// Runs one check against a live target, asynchronously on an Asio io_context:
// HTTP/1.1 (Beast), HTTPS (Beast over OpenSSL) or a TCP connect. Owned by
// the runtime; core/ only sees the CheckOutcome it reports.
//
// Contract:
//  - run() never blocks; `done` is called exactly once, on the io_context's
//    thread, no later than `timeout` after run() (a check still queued or
//    running at that point reports CheckReason::timeout).
//  - At most `max_concurrent` checks run at once; further ones wait in a FIFO
//    queue (their timeout keeps running while they wait).
//  - Responses are bounded: headers beyond max_header_bytes or a body beyond
//    max_body_bytes fail the check with CheckReason::response_too_large;
//    garbage fails it with CheckReason::protocol_error. Nothing a target sends
//    can hang or crash the agent.
//  - Host names are resolved asynchronously and cached for dns_ttl.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>

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
};

struct CheckerCounters {
  std::uint64_t started = 0;
  std::uint64_t completed = 0;
  std::uint64_t queued_total = 0;   // checks that had to wait for a slot
  std::uint64_t dns_cache_hits = 0;
  std::uint64_t dns_lookups = 0;
};

class Checker {
 public:
  using Callback = std::function<void(CheckOutcome)>;

  Checker(boost::asio::io_context& io, CheckerOptions options = {});
  ~Checker();
  Checker(const Checker&) = delete;
  Checker& operator=(const Checker&) = delete;

  // Starts (or queues) one check of `spec`; see the contract above.
  void run(std::shared_ptr<const TargetSpec> spec, Duration timeout, Callback done);

  // Cancels everything; pending callbacks are still called (with a timeout
  // or network_error outcome) before the io_context runs out of work.
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
