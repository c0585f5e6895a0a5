#include "core/alerts/alert_dispatch.h"

#include <algorithm>
#include <cstdint>

#include <fmt/format.h>
#include <xxhash.h>

namespace heck {

std::string alert_dedup_key(std::string_view route, std::string_view target, AlertKind kind, bool repeat,
                            const AlertRecord* last, const SpecVersion* spec) {
  // Length-prefixed fields: no two different inputs give the same bytes.
  std::string material;
  const auto add = [&](std::string_view field) {
    material += std::to_string(field.size());
    material += ':';
    material += field;
  };
  add(route);
  add(target);
  add(to_string(kind));
  add(repeat ? "repeat" : "first");
  if (last) {
    add("after");
    add(to_string(last->kind));
    add(std::to_string(last->sent_at.packed));
    add(std::to_string(last->writer));
  } else if (spec) {
    add("spec");
    add(std::to_string(spec->written_at.packed));
    add(std::to_string(spec->writer));
  }
  return fmt::format("{:016x}", XXH3_64bits(material.data(), material.size()));
}

void AlertDispatch::consider(Instant now, const std::string& id, const AlertFacts& facts, const HealthState& state,
                             std::string_view sender, Effects& out, std::vector<AlertToRecord>& records) {
  const std::uint64_t now_ms = now.ms() > 0 ? static_cast<std::uint64_t>(now.ms()) : 0;
  for (const AlertRoute& route : config_.routes) {
    if (!route.covers(id)) continue;
    const AlertRecord* rec = state.last_alert(id, route.name);
    std::optional<AlertLast> last;
    if (rec) last = AlertLast{rec->kind, rec->sent_at.wall_ms()};
    const AlertAction action = alert_due(route, facts.status, facts.unhealthy_since_ms, last, now_ms);
    if (action == AlertAction::none) {
      if (!backoff_.empty()) backoff_.erase(alert_key(id, route.name));  // no longer due: forget its failures
      continue;
    }
    std::string key = alert_key(id, route.name);
    if (busy_.contains(key)) continue;
    const auto held = backoff_.find(key);
    if (held != backoff_.end() && now < held->second.not_before) continue;
    const std::uint64_t since = facts.status == HealthStatus::unhealthy ? facts.unhealthy_since_ms
                                : facts.newest ? facts.newest->observed_at.wall_ms()
                                               : now_ms;
    if (action == AlertAction::close) {
      ++counters_.closed;
      records.push_back(AlertToRecord{id, route.name, AlertRecord{AlertKind::resolved, since, {}, 0}});
      continue;
    }
    if (in_flight_.size() >= config_.max_in_flight) {
      ++counters_.deferred;
      continue;
    }
    AlertNotification n;
    n.id = next_id_++;
    n.route = route.name;
    n.url = route.url;
    n.format = route.format;
    n.target = id;
    n.kind = action == AlertAction::resolve ? AlertKind::resolved : AlertKind::firing;
    n.repeat = action == AlertAction::repeat;
    n.status = *facts.status;
    if (facts.newest) {
      n.reason = std::string(to_string(facts.newest->reason));
      n.status_code = facts.newest->status_code;
      n.observer = facts.newest->observer_name;
    }
    n.since_ms = n.repeat && rec ? rec->since_ms : since;
    n.at_ms = now_ms;
    n.sender = std::string(sender);
    const auto target = state.target(id);
    n.dedup_key = alert_dedup_key(route.name, id, n.kind, n.repeat, rec, target ? target->spec : nullptr);
    n.attempt = held != backoff_.end() ? held->second.failures + 1 : 1;
    ++counters_.sent;
    if (n.attempt > 1) ++counters_.retries;
    busy_.emplace(key, n.id);
    in_flight_.emplace(n.id, InFlight{id, route.name, std::move(key), n.kind, n.since_ms});
    out.push_back(Notify{std::move(n)});
  }
}

int AlertDispatch::failures(std::string_view target, std::string_view route) const {
  const auto it = backoff_.find(alert_key(target, route));
  return it == backoff_.end() ? 0 : it->second.failures;
}

void AlertDispatch::set_routes(std::vector<AlertRoute> routes) {
  config_.routes = std::move(routes);
  const auto routed = [&](std::string_view key) {
    const std::string_view route = key.substr(key.find('/') + 1);  // a target id holds no '/'
    return std::any_of(config_.routes.begin(), config_.routes.end(), [&](const AlertRoute& r) { return r.name == route; });
  };
  std::erase_if(backoff_, [&](const auto& b) { return !routed(b.first); });
}

std::optional<AlertToRecord> AlertDispatch::done(Instant now, const NotifyDone& report) {
  const auto it = in_flight_.find(report.id);
  if (it == in_flight_.end()) {
    ++counters_.unknown_reports;
    return std::nullopt;
  }
  InFlight f = std::move(it->second);
  in_flight_.erase(it);
  busy_.erase(f.key);
  if (!report.delivered) {
    ++counters_.failed;
    Backoff& b = backoff_[f.key];
    ++b.failures;
    Duration wait = config_.min_retry;
    for (int i = 1; i < b.failures && wait < config_.max_retry; ++i) wait = wait + wait;
    b.not_before = now + std::min(wait, config_.max_retry);
    return std::nullopt;
  }
  ++counters_.delivered;
  backoff_.erase(f.key);
  const bool routed = std::any_of(config_.routes.begin(), config_.routes.end(),
                                  [&](const AlertRoute& r) { return r.name == f.route; });
  if (!routed) return std::nullopt;  // its route was removed meanwhile
  return AlertToRecord{std::move(f.target), std::move(f.route), AlertRecord{f.kind, f.since_ms, {}, 0}};
}

}  // namespace heck
