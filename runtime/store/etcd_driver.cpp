#include "runtime/store/etcd_driver.h"

#include <chrono>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "runtime/log.h"

namespace heck::runtime {

EtcdDriver::EtcdDriver(boost::asio::io_context& io, const Clock& clock, EtcdDriverOptions options,
                       std::function<void(StoreUpdate)> to_node, std::function<void(std::string_view)> log)
    : io_(io),
      clock_(clock),
      options_(std::move(options)),
      store_(options_.store),
      client_(io, options_.endpoints, options_.call_timeout),
      to_node_(std::move(to_node)),
      log_(std::move(log)),
      tick_timer_(io) {}

EtcdDriver::~EtcdDriver() { stop(); }

void EtcdDriver::start() {
  std::vector<std::string> names;
  for (const auto& e : options_.endpoints) names.push_back(e.to_string());
  log_(fmt::format("store: etcd at {} (prefix '{}')", sanitize_for_log(fmt::format("{}", fmt::join(names, ", "))),
                   sanitize_for_log(options_.store.prefix)));
  step([&](store::StoreOutput& out) { store_.start(clock_.now(), out); });
  arm_tick();
}

void EtcdDriver::stop() {
  if (stopped_) return;
  stopped_ = true;
  tick_timer_.cancel();
  client_.stop();
  // Whoever still waits gets an answer.
  auto waiting = std::move(waiting_);
  waiting_.clear();
  for (auto& [ticket, done] : waiting) {
    done(store::WriteDone{.ticket = ticket, .ok = false, .error = "the agent is stopping", .unavailable = true});
  }
}

void EtcdDriver::write(StoreWriteOp op) {
  if (stopped_) return;
  step([&](store::StoreOutput& out) { store_.write(clock_.now(), std::move(op), 0, out); });
}

void EtcdDriver::write(StoreWriteOp op, std::function<void(const store::WriteDone&)> done) {
  if (stopped_) {
    done(store::WriteDone{.ok = false, .error = "the agent is stopping", .unavailable = true});
    return;
  }
  const std::uint64_t ticket = next_ticket_++;
  waiting_.emplace(ticket, std::move(done));
  step([&](store::StoreOutput& out) { store_.write(clock_.now(), std::move(op), ticket, out); });
}

template <typename F>
void EtcdDriver::step(F&& f) {
  store::StoreOutput out;
  try {
    f(out);
  } catch (const std::exception& e) {
    log_(fmt::format("etcd store error: {}", sanitize_for_log(e.what())));
  }
  apply(out);
}

void EtcdDriver::apply(store::StoreOutput& out) {
  for (auto& call : out.calls) {
    const std::uint64_t id = call.id;
    client_.call(std::move(call.path), std::move(call.body), [this, id](store::EtcdReply reply) {
      if (stopped_) return;
      step([&](store::StoreOutput& o) { store_.on_reply(clock_.now(), id, reply, o); });
    });
  }
  if (out.watch) {
    const std::uint64_t id = out.watch->id;
    client_.open_watch(
        std::move(out.watch->body),
        [this, id](std::string_view message) {
          if (stopped_) return;
          step([&](store::StoreOutput& o) { store_.on_watch_message(clock_.now(), id, message, o); });
        },
        [this, id](std::string reason) {
          if (stopped_) return;
          step([&](store::StoreOutput& o) { store_.on_watch_closed(clock_.now(), id, reason, o); });
        });
  }
  if (!out.changes.empty() && to_node_) to_node_(StoreUpdate{std::move(out.changes)});
  for (const auto& d : out.done) {
    auto it = waiting_.find(d.ticket);
    if (it == waiting_.end()) continue;
    auto done = std::move(it->second);
    waiting_.erase(it);
    done(d);
  }
  const store::EtcdStoreCounters& c = store_.counters();
  if (c.compactions != logged_compactions_) {
    logged_compactions_ = c.compactions;
    log_("etcd store: the watch's revision was compacted; reading everything again");
  }
  if (c.watch_resumes != logged_resumes_) {
    logged_resumes_ = c.watch_resumes;
    log_(fmt::format("etcd store: watch resumed from revision {}", store_.revision() + 1));
  }
  if (store_.available() != was_available_) {
    was_available_ = store_.available();
    if (was_available_) {
      log_(fmt::format("etcd store available (revision {})", store_.revision()));
    } else {
      log_(fmt::format("etcd store unavailable: {}", sanitize_for_log(store_.problem())));
    }
  }
}

void EtcdDriver::arm_tick() {
  if (stopped_) return;
  tick_timer_.expires_after(std::chrono::nanoseconds(options_.tick_interval.ns()));
  tick_timer_.async_wait([this](const boost::system::error_code& ec) {
    if (ec || stopped_) return;
    step([&](store::StoreOutput& out) { store_.tick(clock_.now(), out); });
    arm_tick();
  });
}

}  // namespace heck::runtime
