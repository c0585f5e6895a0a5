// An in-memory etcd for the store's tests: answers the JSON-gateway calls an
// EtcdStore makes (range, txn with compare/success/failure, lease grant and
// keep-alive) and serves watch streams from its event log, with compaction.
// Enough of etcd's semantics to test CAS retries, watch resume and the full
// re-read; nothing of its transport.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "core/store/base64.h"
#include "core/store/etcd_store.h"

namespace heck::store::testing {

class FakeEtcd {
 public:
  struct Kv {
    std::string value;
    std::int64_t create_revision = 0;
    std::int64_t mod_revision = 0;
    std::int64_t lease = 0;
  };
  struct Event {
    bool put = true;
    std::string key;
    Kv kv;
  };

  std::int64_t revision() const { return revision_; }
  const std::map<std::string, Kv>& kv() const { return kv_; }
  std::optional<std::string> get(const std::string& key) const {
    auto it = kv_.find(key);
    if (it == kv_.end()) return std::nullopt;
    return it->second.value;
  }
  void put(const std::string& key, const std::string& value, std::int64_t lease = 0) {
    ++revision_;
    Kv& kv = kv_[key];
    if (kv.create_revision == 0) kv.create_revision = revision_;
    kv.value = value;
    kv.mod_revision = revision_;
    kv.lease = lease;
    log_.push_back(Event{true, key, kv});
  }
  void remove(const std::string& key) {
    if (!kv_.erase(key)) return;
    ++revision_;
    Kv gone;
    gone.mod_revision = revision_;
    log_.push_back(Event{false, key, gone});
  }
  void compact() { compacted_ = revision_; }
  // Every key with this lease is deleted (the lease expired).
  void expire(std::int64_t lease) {
    std::vector<std::string> keys;
    for (const auto& [k, v] : kv_) {
      if (v.lease == lease) keys.push_back(k);
    }
    for (const auto& k : keys) remove(k);
    leases_.erase(lease);
  }

  EtcdReply handle(const EtcdCall& call) {
    using json = nlohmann::json;
    const json req = json::parse(call.body);
    json header{{"revision", fmt::format("{}", revision_)}};
    if (call.path == "/v3/lease/grant") {
      const std::int64_t id = next_lease_++;
      leases_.insert(id);
      return ok(json{{"header", header}, {"ID", fmt::format("{}", id)}, {"TTL", req.at("TTL")}});
    }
    if (call.path == "/v3/lease/keepalive") {
      const std::int64_t id = std::stoll(req.at("ID").get<std::string>());
      json result{{"header", header}, {"ID", req.at("ID")}};
      if (leases_.contains(id)) result["TTL"] = "10";
      return ok(json{{"result", result}});
    }
    if (call.path == "/v3/kv/range") return ok(range(req));
    if (call.path == "/v3/kv/txn") {
      bool succeeded = true;
      for (const json& c : req.value("compare", json::array())) {
        const std::string key = *base64_decode(c.at("key").get<std::string>());
        auto it = kv_.find(key);
        if (c.at("target") == "CREATE") {
          const std::int64_t want = std::stoll(c.at("create_revision").get<std::string>());
          succeeded = succeeded && (it == kv_.end() ? 0 : it->second.create_revision) == want;
        } else {
          const std::int64_t want = std::stoll(c.at("mod_revision").get<std::string>());
          succeeded = succeeded && it != kv_.end() && it->second.mod_revision == want;
        }
      }
      json responses = json::array();
      for (const json& op : req.value(succeeded ? "success" : "failure", json::array())) {
        if (op.contains("request_put")) {
          const json& p = op.at("request_put");
          const std::int64_t lease = p.contains("lease") ? std::stoll(p.at("lease").get<std::string>()) : 0;
          put(*base64_decode(p.at("key").get<std::string>()), *base64_decode(p.at("value").get<std::string>()), lease);
          responses.push_back(json{{"response_put", json::object()}});
        } else if (op.contains("request_delete_range")) {
          const json& d = op.at("request_delete_range");
          const std::string from = *base64_decode(d.at("key").get<std::string>());
          std::vector<std::string> keys;
          if (d.contains("range_end")) {
            const std::string to = *base64_decode(d.at("range_end").get<std::string>());
            for (auto it = kv_.lower_bound(from); it != kv_.end() && it->first < to; ++it) keys.push_back(it->first);
          } else if (kv_.contains(from)) {
            keys.push_back(from);
          }
          for (const auto& k : keys) remove(k);
          responses.push_back(json{{"response_delete_range", json::object()}});
        } else if (op.contains("request_range")) {
          responses.push_back(json{{"response_range", range(op.at("request_range"))}});
        }
      }
      json answer{{"header", json{{"revision", fmt::format("{}", revision_)}}}, {"responses", responses}};
      if (succeeded) answer["succeeded"] = true;  // proto3 JSON leaves false out
      return ok(answer);
    }
    return EtcdReply{false, {}, fmt::format("no such path {}", call.path)};
  }

  // The watch messages a stream opened at `start` gets: created, then the
  // events from `start` on (or, when compacted past it, a cancel).
  std::vector<std::string> watch_messages(std::int64_t start, bool created = true) const {
    using json = nlohmann::json;
    std::vector<std::string> out;
    const json header{{"revision", fmt::format("{}", revision_)}};
    if (created) out.push_back(json{{"result", json{{"header", header}, {"created", true}}}}.dump());
    if (start <= compacted_) {
      out.push_back(json{{"result", json{{"header", header}, {"canceled", true},
                                         {"compact_revision", fmt::format("{}", compacted_)}}}}.dump());
      return out;
    }
    for (const Event& e : log_) {
      if (e.kv.mod_revision < start) continue;
      json kv{{"key", base64_encode(e.key)}, {"mod_revision", fmt::format("{}", e.kv.mod_revision)}};
      if (e.put) kv["value"] = base64_encode(e.kv.value);
      json ev{{"kv", kv}};
      if (!e.put) ev["type"] = "DELETE";
      out.push_back(json{{"result", json{{"header", header}, {"events", json::array({ev})}}}}.dump());
    }
    return out;
  }

 private:
  static EtcdReply ok(const nlohmann::json& j) { return EtcdReply{true, j.dump(), {}}; }

  nlohmann::json range(const nlohmann::json& req) const {
    using json = nlohmann::json;
    const std::string from = *base64_decode(req.at("key").get<std::string>());
    json kvs = json::array();
    auto add = [&](const std::string& k, const Kv& v) {
      kvs.push_back(json{{"key", base64_encode(k)}, {"value", base64_encode(v.value)},
                         {"create_revision", fmt::format("{}", v.create_revision)},
                         {"mod_revision", fmt::format("{}", v.mod_revision)}});
    };
    if (req.contains("range_end")) {
      const std::string to = *base64_decode(req.at("range_end").get<std::string>());
      for (auto it = kv_.lower_bound(from); it != kv_.end() && it->first < to; ++it) add(it->first, it->second);
    } else if (auto it = kv_.find(from); it != kv_.end()) {
      add(it->first, it->second);
    }
    json out{{"header", json{{"revision", fmt::format("{}", revision_)}}}};
    if (!kvs.empty()) out["kvs"] = kvs;  // proto3 JSON leaves an empty list out
    return out;
  }

  std::map<std::string, Kv> kv_;
  std::vector<Event> log_;
  std::int64_t revision_ = 1;
  std::int64_t compacted_ = 0;
  std::int64_t next_lease_ = 100;
  std::set<std::int64_t> leases_;
};

// One agent's store against a FakeEtcd: queues its calls and answers them
// when told, delivers its watch stream, and keeps what it produced.
class StoreClient {
 public:
  StoreClient(FakeEtcd& etcd, std::string member) : etcd_(etcd), store_(config(std::move(member))) {}

  static EtcdStoreConfig config(std::string member) {
    EtcdStoreConfig c;
    c.member = std::move(member);
    return c;
  }

  EtcdStore& store() { return store_; }
  Instant now() const { return now_; }
  void advance(Duration d) { now_ += d; }
  bool down = false;  // calls fail, streams break

  void start() {
    StoreOutput out;
    store_.start(now_, out);
    take(out);
  }
  void write(StoreWriteOp op, std::uint64_t ticket) {
    StoreOutput out;
    store_.write(now_, std::move(op), ticket, out);
    take(out);
  }
  void tick() {
    StoreOutput out;
    store_.tick(now_, out);
    take(out);
  }
  std::size_t queued_calls() const { return calls_.size(); }
  // Answers the oldest queued call (from etcd, or as a failure when down).
  bool answer_one() {
    if (calls_.empty()) return false;
    EtcdCall call = std::move(calls_.front());
    calls_.erase(calls_.begin());
    const EtcdReply reply = down ? EtcdReply{false, {}, "connect: connection refused"} : etcd_.handle(call);
    StoreOutput out;
    store_.on_reply(now_, call.id, reply, out);
    take(out);
    return true;
  }
  // Delivers the watch: everything from where this stream stands.
  void deliver_watch() {
    if (!watch_ || down) return;
    const auto messages = etcd_.watch_messages(watch_next_, !watch_created_);
    watch_created_ = true;
    for (const std::string& m : messages) {
      const auto j = nlohmann::json::parse(m);
      StoreOutput out;
      store_.on_watch_message(now_, watch_->id, m, out);
      if (j["result"].contains("events")) {
        watch_next_ = std::stoll(j["result"]["events"][0]["kv"]["mod_revision"].get<std::string>()) + 1;
      }
      const bool replaced = take(out);
      if (replaced) return;  // a new stream (compaction): the rest is not for it
    }
  }
  void break_watch() {
    if (!watch_) return;
    const std::uint64_t id = watch_->id;
    watch_.reset();
    StoreOutput out;
    store_.on_watch_closed(now_, id, "connection reset", out);
    take(out);
  }
  // Answers calls and delivers the watch until nothing is left (bounded).
  void settle() {
    for (int i = 0; i < 1000; ++i) {
      const bool any = answer_one();
      deliver_watch();
      if (!any) return;
    }
  }
  const std::optional<EtcdWatchOpen>& watch() const { return watch_; }

  std::vector<StoreChange> changes;
  std::vector<WriteDone> done;

 private:
  // Returns true when a new watch stream was opened.
  bool take(StoreOutput& out) {
    for (auto& c : out.calls) calls_.push_back(std::move(c));
    for (auto& c : out.changes) changes.push_back(std::move(c));
    for (auto& d : out.done) done.push_back(std::move(d));
    if (out.watch) {
      watch_ = std::move(out.watch);
      watch_next_ = watch_->start_revision;
      watch_created_ = false;
      return true;
    }
    return false;
  }

  FakeEtcd& etcd_;
  EtcdStore store_;
  Instant now_ = Instant::from_ns(1'000'000'000'000);
  std::vector<EtcdCall> calls_;
  std::optional<EtcdWatchOpen> watch_;
  std::int64_t watch_next_ = 0;
  bool watch_created_ = false;
};

}  // namespace heck::store::testing
