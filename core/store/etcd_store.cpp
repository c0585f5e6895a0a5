#include "core/store/etcd_store.h"

#include <algorithm>
#include <type_traits>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "core/store/base64.h"

namespace heck::store {
namespace {

using json = nlohmann::json;

constexpr std::string_view kRange = "/v3/kv/range";
constexpr std::string_view kTxn = "/v3/kv/txn";
constexpr std::string_view kLeaseGrant = "/v3/lease/grant";
constexpr std::string_view kKeepAlive = "/v3/lease/keepalive";

// The gateway writes int64 as JSON strings ("12"); accept numbers too.
std::int64_t int64_of(const json& j, const char* name) {
  const auto it = j.find(name);
  if (it == j.end()) return 0;
  if (it->is_number_integer()) return it->get<std::int64_t>();
  if (it->is_string()) {
    try {
      return std::stoll(it->get<std::string>());
    } catch (...) {
      return 0;
    }
  }
  return 0;
}

std::optional<json> parse(std::string_view body) {
  json j = json::parse(body.begin(), body.end(), nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) return std::nullopt;
  return j;
}

std::string b64(std::string_view s) { return base64_encode(s); }

json compare_for(const std::string& key, bool absent, std::int64_t mod_revision) {
  if (absent) return json{{"key", b64(key)}, {"target", "CREATE"}, {"result", "EQUAL"}, {"create_revision", "0"}};
  return json{{"key", b64(key)}, {"target", "MOD"}, {"result", "EQUAL"}, {"mod_revision", fmt::format("{}", mod_revision)}};
}

json range_of(const std::string& key) { return json{{"request_range", json{{"key", b64(key)}}}}; }

}  // namespace

EtcdStore::EtcdStore(EtcdStoreConfig config) : config_(std::move(config)), layout_(config_.prefix) {}

std::uint64_t EtcdStore::send(CallKind kind, std::string path, std::string body, StoreOutput& out, std::uint64_t op,
                              std::string subject) {
  const std::uint64_t id = next_call_++;
  calls_.emplace(id, CallPurpose{kind, op, std::move(subject)});
  out.calls.push_back(EtcdCall{id, std::move(path), std::move(body)});
  return id;
}

void EtcdStore::start(Instant now, StoreOutput& out) {
  started_ = true;
  lease_call_ = true;
  send(CallKind::lease_grant, std::string(kLeaseGrant),
       json{{"TTL", fmt::format("{}", std::max<std::int64_t>(1, config_.lease_ttl.ns() / 1'000'000'000))}}.dump(), out);
  full_read(out);
  next_probe_ = now + config_.keepalive_interval;
}

void EtcdStore::full_read(StoreOutput& out) {
  full_read_call_ = true;
  ++counters_.full_reads;
  send(CallKind::full_read, std::string(kRange),
       json{{"key", b64(layout_.prefix())}, {"range_end", b64(range_end(layout_.prefix()))}}.dump(), out);
}

void EtcdStore::open_watch(StoreOutput& out) {
  watch_state_ = WatchState::opening;
  watch_id_ = next_call_++;
  ++counters_.watch_opens;
  const std::int64_t start = revision_ + 1;
  json req{{"create_request",
            json{{"key", b64(layout_.prefix())},
                 {"range_end", b64(range_end(layout_.prefix()))},
                 {"start_revision", fmt::format("{}", start)},
                 {"progress_notify", true}}}};
  out.watch = EtcdWatchOpen{watch_id_, req.dump(), start};
}

void EtcdStore::fail(Instant now, std::string reason) {
  ++counters_.calls_failed;
  if (problem_.empty()) next_probe_ = now + config_.retry_interval;
  problem_ = std::move(reason);
  probe_ok_ = false;
  // The stream may be stale now (a minority member keeps it open and quiet):
  // reopen it, resuming, once a probe gets through.
  if (watch_state_ != WatchState::closed) watch_state_ = WatchState::closed;
}

void EtcdStore::write(Instant now, StoreWriteOp op, std::uint64_t ticket, StoreOutput& out) {
  if (auto* obs = std::get_if<StoreObservationPut>(&op)) {
    OwnObservation& o = own_[obs->subject];
    o.put = std::move(*obs);
    o.dirty = true;
    pump(now, out);
    return;
  }
  if (ticket != 0 && !available()) {
    ++counters_.writes_refused;
    out.done.push_back(WriteDone{.ticket = ticket, .ok = false,
                                 .error = fmt::format("etcd store unavailable: {}", problem_), .unavailable = true});
    return;
  }
  if (ops_.size() >= config_.max_pending_writes) {
    ++counters_.writes_refused;
    if (ticket != 0) {
      out.done.push_back(WriteDone{.ticket = ticket, .ok = false,
                                   .error = fmt::format("{} etcd writes already waiting; try again", ops_.size()),
                                   .unavailable = true});
    }
    return;
  }
  const std::uint64_t id = next_op_++;
  Op& o = ops_[id];
  o.ticket = ticket;
  o.write = std::move(op);
  o.deadline = ticket != 0 ? now + config_.write_deadline : Instant::max();
  pump(now, out);
}

std::optional<EtcdStore::Kv> EtcdStore::known(const Op& op, const std::string& key) const {
  if (op.seen) return *op.seen;
  const auto it = kv_.find(key);
  const auto h = hints_.find(key);
  if (h != hints_.end() && (it == kv_.end() || h->second.revision > it->second.mod_revision)) return h->second.kv;
  if (it == kv_.end()) return std::nullopt;
  return it->second;
}

std::string EtcdStore::key_of(const StoreWriteOp& op) const {
  return std::visit(
      [&](const auto& w) -> std::string {
        using T = std::decay_t<decltype(w)>;
        if constexpr (std::is_same_v<T, StoreTargetPut>) return layout_.target(w.spec.id);
        if constexpr (std::is_same_v<T, StoreTargetRemove>) return layout_.target(w.id);
        if constexpr (std::is_same_v<T, StoreCounterAdd>) return layout_.counter(w.name);
        if constexpr (std::is_same_v<T, StoreObservationPut>) return layout_.observation(w.subject, config_.member);
      },
      op);
}

void EtcdStore::hint(const std::string& key, std::optional<Kv> kv) {
  const std::int64_t revision = kv ? kv->mod_revision : revision_;
  Hint& h = hints_[key];
  if (h.revision > revision) return;
  h = Hint{std::move(kv), revision};
}

void EtcdStore::pump(Instant now, StoreOutput& out) {
  (void)now;
  if (!available()) return;
  std::vector<std::uint64_t> ready;
  for (auto& [id, op] : ops_) {
    if (op.in_flight || op.wait_revision != 0) continue;
    ready.push_back(id);
  }
  for (std::uint64_t id : ready) {
    if (calls_.size() >= config_.max_calls_in_flight) return;
    const auto it = ops_.find(id);
    if (it == ops_.end()) continue;  // finished at once by an earlier send_op
    const std::string key = key_of(it->second.write);
    if (keys_in_flight_.contains(key)) continue;
    send_op(id, it->second, out);
    const auto still = ops_.find(id);
    if (still != ops_.end() && still->second.in_flight) keys_in_flight_.insert(key);
  }
  if (lease_ == 0) return;
  for (auto& [subject, o] : own_) {
    if (calls_.size() >= config_.max_calls_in_flight) return;
    if (!o.dirty || o.in_flight) continue;
    send_observation(subject, o, out);
  }
}

void EtcdStore::send_op(std::uint64_t id, Op& op, StoreOutput& out) {
  std::visit(
      [&](const auto& w) {
        using T = std::decay_t<decltype(w)>;
        if constexpr (std::is_same_v<T, StoreTargetPut>) {
          const std::string key = layout_.target(w.spec.id);
          const auto k = known(op, key);
          if (k) {
            auto current = decode_target(k->value);
            if (current && current->spec == w.spec) {
              finish(id, WriteDone{.ticket = op.ticket, .ok = true, .created = false}, out);
              return;
            }
          }
          op.expected_absent = !k;
          json txn{{"compare", json::array({compare_for(key, !k, k ? k->mod_revision : 0)})},
                   {"success", json::array({json{{"request_put",
                                                  json{{"key", b64(key)}, {"value", b64(encode_target(w.spec, w.written_at))}}}}})},
                   {"failure", json::array({range_of(key)})}};
          op.in_flight = true;
          send(CallKind::op, std::string(kTxn), txn.dump(), out, id);
        } else if constexpr (std::is_same_v<T, StoreTargetRemove>) {
          const std::string key = layout_.target(w.id);
          const auto k = known(op, key);
          if (!k) {
            finish(id, WriteDone{.ticket = op.ticket, .ok = true, .found = false}, out);
            return;
          }
          const std::string obs = layout_.observations_of(w.id);
          json txn{{"compare", json::array({compare_for(key, false, k->mod_revision)})},
                   {"success", json::array({json{{"request_delete_range", json{{"key", b64(key)}}}},
                                            json{{"request_delete_range",
                                                  json{{"key", b64(obs)}, {"range_end", b64(range_end(obs))}}}}})},
                   {"failure", json::array({range_of(key)})}};
          op.in_flight = true;
          send(CallKind::op, std::string(kTxn), txn.dump(), out, id);
        } else if constexpr (std::is_same_v<T, StoreCounterAdd>) {
          const std::string key = layout_.counter(w.name);
          const auto k = known(op, key);
          std::int64_t current = 0;
          if (k) {
            auto v = decode_counter(k->value);
            if (v) current = *v;
            else ++counters_.malformed;  // a broken value counts as 0 and is overwritten
          }
          if (__builtin_add_overflow(current, w.delta, &op.new_value)) {
            // Another agent's add moved the value since the API checked it.
            finish(id,
                   WriteDone{.ticket = op.ticket, .ok = false,
                             .error = fmt::format("delta: adding {} to counter '{}' (now {}) would take it past the "
                                                  "int64 {}; refused, the counter is unchanged",
                                                  w.delta, w.name, current, w.delta > 0 ? "maximum" : "minimum")},
                   out);
            return;
          }
          op.expected_absent = !k;
          json txn{{"compare", json::array({compare_for(key, !k, k ? k->mod_revision : 0)})},
                   {"success", json::array({json{{"request_put",
                                                  json{{"key", b64(key)}, {"value", b64(encode_counter(op.new_value))}}}}})},
                   {"failure", json::array({range_of(key)})}};
          op.in_flight = true;
          send(CallKind::op, std::string(kTxn), txn.dump(), out, id);
        }
      },
      op.write);
}

void EtcdStore::send_observation(const std::string& subject, OwnObservation& o, StoreOutput& out) {
  json success = json::array();
  success.push_back(json{{"request_put",
                          json{{"key", b64(layout_.observation(subject, config_.member))},
                               {"value", b64(encode_observation(o.put.observation))},
                               {"lease", fmt::format("{}", lease_)}}}});
  for (const std::string& member : o.put.supersede) {
    if (member == config_.member) continue;
    success.push_back(json{{"request_delete_range", json{{"key", b64(layout_.observation(subject, member))}}}});
  }
  o.dirty = false;
  o.in_flight = true;
  send(CallKind::observation, std::string(kTxn), json{{"success", std::move(success)}}.dump(), out, 0, subject);
}

void EtcdStore::finish(std::uint64_t id, WriteDone done, StoreOutput& out) {
  const auto it = ops_.find(id);
  if (it == ops_.end()) return;
  if (it->second.in_flight) keys_in_flight_.erase(key_of(it->second.write));
  done.ok ? ++counters_.writes_ok : ++counters_.writes_failed;
  if (it->second.ticket != 0) out.done.push_back(std::move(done));
  ops_.erase(it);
}

void EtcdStore::answer_waiting(StoreOutput& out) {
  std::vector<std::uint64_t> ready;
  for (const auto& [id, op] : ops_) {
    if (op.wait_revision != 0 && op.wait_revision <= revision_) ready.push_back(id);
  }
  for (std::uint64_t id : ready) {
    Op& op = ops_.at(id);
    WriteDone d{.ticket = op.ticket, .ok = true, .created = op.expected_absent};
    if (std::holds_alternative<StoreCounterAdd>(op.write)) d.value = op.new_value;
    finish(id, std::move(d), out);
  }
}

void EtcdStore::on_reply(Instant now, std::uint64_t call, const EtcdReply& reply, StoreOutput& out) {
  const auto it = calls_.find(call);
  if (it == calls_.end()) return;
  const CallPurpose purpose = std::move(it->second);
  calls_.erase(it);
  switch (purpose.kind) {
    case CallKind::lease_grant:
    case CallKind::keepalive: {
      lease_call_ = false;
      if (!reply.ok) {
        fail(now, fmt::format("etcd lease {}: {}", purpose.kind == CallKind::keepalive ? "keep-alive" : "grant", reply.error));
        break;
      }
      const auto j = parse(reply.body);
      if (!j) {
        ++counters_.malformed;
        fail(now, "etcd lease: an answer that is not JSON");
        break;
      }
      if (purpose.kind == CallKind::lease_grant) {
        lease_ = int64_of(*j, "ID");
        ++counters_.lease_grants;
      } else {
        const json& result = j->contains("result") ? j->at("result") : *j;
        if (int64_of(result, "TTL") <= 0) lease_ = 0;  // expired: grant a new one next
      }
      if (lease_ == 0) {
        lease_call_ = true;
        send(CallKind::lease_grant, std::string(kLeaseGrant),
             json{{"TTL", fmt::format("{}", std::max<std::int64_t>(1, config_.lease_ttl.ns() / 1'000'000'000))}}.dump(), out);
        break;
      }
      probe_ok_ = true;
      if (!problem_.empty() && watch_state_ == WatchState::open) {
        problem_.clear();  // the stream opened after the problem came up
      } else if (!problem_.empty() && watch_state_ == WatchState::closed && !need_full_read_ && started_) {
        ++counters_.watch_resumes;
        open_watch(out);
      } else if (!problem_.empty() && need_full_read_ && !full_read_call_) {
        full_read(out);
      }
      break;
    }
    case CallKind::full_read: {
      full_read_call_ = false;
      if (!reply.ok) {
        fail(now, fmt::format("etcd range: {}", reply.error));
        break;
      }
      const auto j = parse(reply.body);
      if (!j) {
        ++counters_.malformed;
        fail(now, "etcd range: an answer that is not JSON");
        break;
      }
      std::map<std::string, Kv> seen;
      if (j->contains("kvs")) {
        for (const json& kv : j->at("kvs")) {
          auto key = base64_decode(kv.value("key", ""));
          auto value = base64_decode(kv.value("value", ""));
          if (!key || !value) {
            ++counters_.malformed;
            continue;
          }
          seen.emplace(std::move(*key), Kv{std::move(*value), int64_of(kv, "mod_revision")});
        }
      }
      std::vector<std::string> gone;
      for (const auto& [key, kv] : kv_) {
        if (!seen.contains(key)) gone.push_back(key);
      }
      for (const std::string& key : gone) absorb(key, std::nullopt, out);
      for (auto& [key, kv] : seen) absorb(key, std::move(kv), out);
      revision_ = int64_of(j->value("header", json::object()), "revision");
      need_full_read_ = false;
      open_watch(out);
      answer_waiting(out);
      break;
    }
    case CallKind::op:
      on_op_reply(now, purpose.op, reply, out);
      break;
    case CallKind::observation: {
      auto own = own_.find(purpose.subject);
      if (own == own_.end()) break;
      own->second.in_flight = false;
      if (!reply.ok) {
        own->second.dirty = true;  // written again once etcd answers
        fail(now, fmt::format("etcd txn: {}", reply.error));
        break;
      }
      ++counters_.writes_ok;
      if (!own->second.dirty) own_.erase(own);
      break;
    }
  }
  pump(now, out);
}

void EtcdStore::on_op_reply(Instant now, std::uint64_t id, const EtcdReply& reply, StoreOutput& out) {
  const auto it = ops_.find(id);
  if (it == ops_.end()) return;  // answered already (deadline)
  Op& op = it->second;
  op.in_flight = false;
  const std::string key = key_of(op.write);
  keys_in_flight_.erase(key);
  if (!reply.ok) {
    fail(now, fmt::format("etcd txn: {}", reply.error));
    return;  // tried again once etcd answers, until the deadline
  }
  const auto j = parse(reply.body);
  if (!j) {
    ++counters_.malformed;
    fail(now, "etcd txn: an answer that is not JSON");
    return;
  }
  if (j->value("succeeded", false)) {
    op.wait_revision = std::max<std::int64_t>(1, int64_of(j->value("header", json::object()), "revision"));
    if (const auto* add = std::get_if<StoreCounterAdd>(&op.write)) {
      (void)add;
      hint(key, Kv{encode_counter(op.new_value), op.wait_revision});
    } else if (const auto* put = std::get_if<StoreTargetPut>(&op.write)) {
      hint(key, Kv{encode_target(put->spec, put->written_at), op.wait_revision});
    } else if (std::holds_alternative<StoreTargetRemove>(op.write)) {
      hints_[key] = Hint{std::nullopt, op.wait_revision};
    }
    answer_waiting(out);
    return;
  }
  // The compare failed: someone else wrote the key. Retry against what the
  // failure branch read.
  ++counters_.cas_conflicts;
  ++op.attempts;
  std::optional<Kv> read;
  const json responses = j->value("responses", json::array());
  if (!responses.empty()) {
    const json range = responses.front().value("response_range", json::object());
    if (range.contains("kvs") && !range.at("kvs").empty()) {
      const json& kv = range.at("kvs").front();
      auto value = base64_decode(kv.value("value", ""));
      if (value) read = Kv{std::move(*value), int64_of(kv, "mod_revision")};
    }
  }
  op.seen = read;
  if (read) hint(key, read);
  // A ticketed write (the API's) retries until its deadline: under
  // contention an agent whose calls land later than the others' can lose
  // many compares in a row, and it wins as soon as the others' queues
  // drain. Only internal writes (no deadline) stop at max_cas_attempts.
  if (op.ticket == 0 && op.attempts >= config_.max_cas_attempts) {
    finish(id, WriteDone{.ticket = op.ticket, .ok = false,
                         .error = fmt::format("etcd: {} conflicting writes in a row; try again", op.attempts),
                         .unavailable = true},
           out);
  }
}

void EtcdStore::absorb(const std::string& key, std::optional<Kv> kv, StoreOutput& out) {
  if (const auto h = hints_.find(key); h != hints_.end() && (kv ? kv->mod_revision : revision_) >= h->second.revision) {
    hints_.erase(h);
  }
  const auto it = kv_.find(key);
  if (kv) {
    if (it != kv_.end() && it->second.mod_revision == kv->mod_revision && it->second.value == kv->value) return;
  } else if (it == kv_.end()) {
    return;
  }
  const ParsedKey parsed = layout_.parse(key);
  if (kv) {
    const std::string value = kv->value;
    kv_[key] = std::move(*kv);
    std::visit(
        [&](const auto& k) {
          using T = std::decay_t<decltype(k)>;
          if constexpr (std::is_same_v<T, TargetKey>) {
            auto t = decode_target(value);
            if (!t || t->spec.id != k.id) {
              ++counters_.malformed;
              out.changes.push_back(StoreTargetGone{k.id});
              return;
            }
            out.changes.push_back(StoreTargetChanged{std::move(t->spec), t->written_at});
          } else if constexpr (std::is_same_v<T, ObservationKey>) {
            auto o = decode_observation(value);
            if (!o) {
              ++counters_.malformed;
              out.changes.push_back(StoreObservationGone{k.subject, k.member});
              return;
            }
            o->observer_name = detached_name(k.member);  // one key per member: the key says whose
            out.changes.push_back(StoreObservationChanged{k.subject, k.member, std::move(*o)});
          } else if constexpr (std::is_same_v<T, CounterKey>) {
            auto v = decode_counter(value);
            if (!v) ++counters_.malformed;
            out.changes.push_back(StoreCounterChanged{k.name, v ? *v : 0});
          }
        },
        parsed);
    return;
  }
  kv_.erase(it);
  std::visit(
      [&](const auto& k) {
        using T = std::decay_t<decltype(k)>;
        if constexpr (std::is_same_v<T, TargetKey>) {
          out.changes.push_back(StoreTargetGone{k.id});
        } else if constexpr (std::is_same_v<T, ObservationKey>) {
          out.changes.push_back(StoreObservationGone{k.subject, k.member});
          // Our own key went (superseded by a new owner, or our lease
          // expired): a waiting rewrite would resurrect it; the node writes
          // again when its next result differs from the view.
          if (k.member == config_.member) {
            const auto own = own_.find(k.subject);
            if (own != own_.end() && !own->second.in_flight) own_.erase(own);
          }
        } else if constexpr (std::is_same_v<T, CounterKey>) {
          out.changes.push_back(StoreCounterChanged{k.name, 0});
        }
      },
      parsed);
}

void EtcdStore::on_watch_message(Instant now, std::uint64_t watch, std::string_view body, StoreOutput& out) {
  if (watch != watch_id_ || watch_state_ == WatchState::closed) return;  // an earlier stream
  const auto j = parse(body);
  if (!j) {
    ++counters_.malformed;
    return;
  }
  if (!j->contains("result")) {
    fail(now, fmt::format("etcd watch: {}", j->value("error", json::object()).value("message", std::string("an error"))));
    return;
  }
  const json& r = j->at("result");
  const std::int64_t compacted = int64_of(r, "compact_revision");
  if (compacted > 0) {
    // The events from revision_ + 1 are gone: read everything again.
    ++counters_.compactions;
    watch_state_ = WatchState::closed;
    need_full_read_ = true;
    if (!full_read_call_) full_read(out);
    return;
  }
  if (r.value("canceled", false)) {
    fail(now, fmt::format("etcd watch canceled: {}", r.value("cancel_reason", std::string("no reason given"))));
    return;
  }
  if (r.value("created", false)) {
    watch_state_ = WatchState::open;
    if (probe_ok_ && lease_ != 0) problem_.clear();
  }
  const json events = r.value("events", json::array());
  for (const json& ev : events) {
    const json kv = ev.value("kv", json::object());
    auto key = base64_decode(kv.value("key", ""));
    if (!key) {
      ++counters_.malformed;
      continue;
    }
    const std::int64_t mod = int64_of(kv, "mod_revision");
    ++counters_.events;
    if (ev.value("type", std::string("PUT")) == "DELETE") {
      absorb(*key, std::nullopt, out);
    } else {
      auto value = base64_decode(kv.value("value", ""));
      if (!value) {
        ++counters_.malformed;
        continue;
      }
      absorb(*key, Kv{std::move(*value), mod}, out);
    }
    revision_ = std::max(revision_, mod);
  }
  if (events.empty() && !r.value("created", false)) {
    // A progress notification: every event up to the header's revision came.
    revision_ = std::max(revision_, int64_of(r.value("header", json::object()), "revision"));
  }
  answer_waiting(out);
  pump(now, out);
}

void EtcdStore::on_watch_closed(Instant now, std::uint64_t watch, std::string_view reason, StoreOutput& out) {
  (void)out;
  if (watch != watch_id_ || watch_state_ == WatchState::closed) return;
  fail(now, fmt::format("etcd watch stream closed: {}", reason));
}

void EtcdStore::tick(Instant now, StoreOutput& out) {
  if (!started_) return;
  // Deadlines of ticketed writes.
  std::vector<std::uint64_t> late;
  for (const auto& [id, op] : ops_) {
    if (op.ticket != 0 && op.deadline <= now) late.push_back(id);
  }
  for (std::uint64_t id : late) {
    const Op& op = ops_.at(id);
    const bool accepted = op.wait_revision != 0;
    std::string error;
    if (accepted) {
      // Accepted, waiting for the watch: answered as done.
    } else if (op.attempts > 0) {
      error = fmt::format("etcd: {} conflicting writes in a row within {} ms; try again", op.attempts,
                          config_.write_deadline.ms());
    } else {
      error = fmt::format("etcd did not answer within {} ms{}", config_.write_deadline.ms(),
                          problem_.empty() ? "" : fmt::format(" ({})", problem_));
    }
    finish(id, WriteDone{.ticket = op.ticket, .ok = accepted, .error = std::move(error), .unavailable = !accepted},
           out);
  }
  if (now >= next_probe_ && !lease_call_) {
    next_probe_ = now + (problem_.empty() ? config_.keepalive_interval : config_.retry_interval);
    lease_call_ = true;
    if (lease_ == 0) {
      send(CallKind::lease_grant, std::string(kLeaseGrant),
           json{{"TTL", fmt::format("{}", std::max<std::int64_t>(1, config_.lease_ttl.ns() / 1'000'000'000))}}.dump(), out);
    } else {
      send(CallKind::keepalive, std::string(kKeepAlive), json{{"ID", fmt::format("{}", lease_)}}.dump(), out);
    }
  }
  if (probe_ok_ && need_full_read_ && !full_read_call_) full_read(out);
  pump(now, out);
}

}  // namespace heck::store
