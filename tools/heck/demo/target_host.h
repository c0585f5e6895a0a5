// The demo's local HTTP targets: one DemoTargetServer (runtime/demo_targets.h)
// on its own io_context thread, so the synchronous API polling of the main
// thread never delays a target's answer; and the plan of which targets the
// demo registers (steady, flapping, down).
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>

#include "runtime/clock.h"
#include "runtime/demo_targets.h"

namespace heck::cli::demo {

// The target server on its own io_context thread, so the synchronous API
// polling of the main thread never delays a target's answer.
class TargetHost {
 public:
  // Serves on `address` (port 0: any free port); a failure ends the demo.
  TargetHost(const runtime::HostPort& address, std::size_t max_connections);
  ~TargetHost() { stop(); }
  TargetHost(const TargetHost&) = delete;
  TargetHost& operator=(const TargetHost&) = delete;

  std::uint16_t port() const { return port_; }

  // Stops the server and joins its thread. Idempotent.
  void stop();

 private:
  boost::asio::io_context io_{1};
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> guard_{io_.get_executor()};
  runtime::Clock clock_;
  std::unique_ptr<runtime::DemoTargetServer> server_;
  std::uint16_t port_ = 0;
  std::thread thread_;
};

struct PlannedTarget {
  std::string id;
  std::string url;
  std::string kind;  // steady | flapping | down
};

// Per ten targets: six steady, three flapping (periods 8-18 s, out of step),
// one down (503, refused, timeout, 404 in turn), on the target host's `port`.
std::vector<PlannedTarget> plan_targets(int count, std::uint16_t port);

}  // namespace heck::cli::demo
