// Drives the etcd store's state machine (core/store/etcd_store.h) with the
// HTTP client (etcd_client.h) on the agent's io_context: its calls go to the
// client and the replies come back as inputs; its watch is the client's one
// stream; its changes are submitted to the agent as one StoreUpdate input
// (the node's mirror), before the writes they answer are answered; a timer
// ticks it every tick_interval (keep-alives, probes, write deadlines). Logs
// one line when the store becomes unavailable (with the reason), when it is
// available again, when the watch resumed from a revision, and when that
// revision was compacted (everything is read again).
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>

#include "core/store/etcd_store.h"
#include "runtime/clock.h"
#include "runtime/store/etcd_client.h"
#include "runtime/store/external_store.h"

namespace heck::runtime {

struct EtcdDriverOptions {
  std::vector<EtcdEndpoint> endpoints;
  store::EtcdStoreConfig store;
  Duration call_timeout = Duration::seconds(2);
  Duration tick_interval = Duration::milliseconds(200);
};

class EtcdDriver : public ExternalStore {
 public:
  // `to_node` receives the view's changes (Agent::submit of a StoreUpdate);
  // `log` one line at a time. `clock` must outlive the driver.
  EtcdDriver(boost::asio::io_context& io, const Clock& clock, EtcdDriverOptions options,
             std::function<void(StoreUpdate)> to_node, std::function<void(std::string_view)> log);
  ~EtcdDriver() override;

  void start();
  void stop();

  std::string_view kind() const override { return "etcd"; }
  bool available() const override { return store_.available(); }
  std::string problem() const override { return store_.problem(); }
  void write(StoreWriteOp op) override;
  void write(StoreWriteOp op, std::function<void(const store::WriteDone&)> done) override;

  const store::EtcdStore& machine() const { return store_; }

 private:
  template <typename F>
  void step(F&& f);
  void apply(store::StoreOutput& out);
  void arm_tick();

  boost::asio::io_context& io_;
  const Clock& clock_;
  EtcdDriverOptions options_;
  store::EtcdStore store_;
  EtcdClient client_;
  std::function<void(StoreUpdate)> to_node_;
  std::function<void(std::string_view)> log_;
  boost::asio::steady_timer tick_timer_;
  std::map<std::uint64_t, std::function<void(const store::WriteDone&)>> waiting_;
  std::uint64_t next_ticket_ = 1;
  bool was_available_ = false;
  std::uint64_t logged_compactions_ = 0;
  std::uint64_t logged_resumes_ = 0;
  bool stopped_ = false;
};

}  // namespace heck::runtime
