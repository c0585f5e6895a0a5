// Alerts in core (core/alerts/): the routes' parser, the rule that says what
// is due, the sender's dispatch (in flight, backoff, close), and the
// replicated alert log (HealthState, the codec, the replicator's repairs).
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "core/alerts/alert_dispatch.h"
#include "core/alerts/alert_route.h"
#include "core/replicated/codec.h"
#include "core/replicated/health_state.h"
#include "core/replicated/snapshot.h"

namespace heck {
namespace {

using json = nlohmann::json;

constexpr ReplicaId A = 101, B = 202;

AlertRoute route(const std::string& text) {
  auto r = AlertRoute::from_json(json::parse(text));
  EXPECT_TRUE(r.ok()) << r.error();
  return r.ok() ? *r : AlertRoute{};
}

TEST(AlertRoute, ParsesEveryFieldAndWritesItBack) {
  const AlertRoute r = route(R"({"name": "ops", "url": "https://hooks.example/x?y=1", "format": "slack",
                                "targets": ["web", "db", "web"], "for_ms": 2000, "repeat_ms": 60000,
                                "send_resolved": false})");
  EXPECT_EQ(r.name, "ops");
  EXPECT_EQ(r.format, AlertFormat::slack);
  EXPECT_EQ(r.targets, (std::vector<std::string>{"db", "web"}));
  EXPECT_EQ(r.for_duration, Duration::milliseconds(2000));
  EXPECT_EQ(r.repeat, Duration::milliseconds(60000));
  EXPECT_FALSE(r.send_resolved);
  EXPECT_TRUE(r.covers("db"));
  EXPECT_FALSE(r.covers("dbx"));
  EXPECT_EQ(*AlertRoute::from_json(r.to_json()), r);
  const AlertRoute all = route(R"({"name": "all", "url": "http://127.0.0.1:9/"})");
  EXPECT_TRUE(all.covers("anything"));
  EXPECT_TRUE(all.send_resolved);
  EXPECT_EQ(all.format, AlertFormat::json);
}

TEST(AlertRoute, BadRoutesGetAMessageNamingTheField) {
  auto error = [](const std::string& text) {
    auto r = parse_alert_routes(json::parse(text));
    return r.ok() ? std::string("accepted") : r.error();
  };
  EXPECT_EQ(error(R"({})"), "alerts: must be an array of routes, got an object");
  EXPECT_NE(error(R"([{"url": "http://a/"}])").find("alerts[0].name"), std::string::npos);
  EXPECT_NE(error(R"([{"name": "a/b", "url": "http://a/"}])").find("alerts[0].name: 'a/b' is not a route name"),
            std::string::npos);
  EXPECT_NE(error(R"([{"name": "a", "url": "tcp://a:1"}])").find("alerts[0].url: a webhook needs http"),
            std::string::npos);
  EXPECT_NE(error(R"([{"name": "a", "url": "ftp://a/"}])").find("alerts[0].url: unsupported scheme"),
            std::string::npos);
  EXPECT_NE(error(R"([{"name": "a", "url": "http://a/", "format": "xml"}])").find("alerts[0].format"),
            std::string::npos);
  EXPECT_NE(error(R"([{"name": "a", "url": "http://a/", "repeat_ms": 10}])").find("below 1000"), std::string::npos);
  EXPECT_NE(error(R"([{"name": "a", "url": "http://a/", "for_ms": -1}])").find("alerts[0].for_ms"),
            std::string::npos);
  EXPECT_NE(error(R"([{"name": "a", "url": "http://a/", "targets": []}])").find("empty"), std::string::npos);
  EXPECT_NE(error(R"([{"name": "a", "url": "http://a/", "targets": ["x y"]}])").find("alerts[0].targets[0]"),
            std::string::npos);
  EXPECT_NE(error(R"([{"name": "a", "url": "http://a/", "colour": 1}])").find("unknown key"), std::string::npos);
  EXPECT_EQ(error(R"([{"name": "a", "url": "http://a/"}, {"name": "a", "url": "http://b/"}])"),
            "alerts[1].name: 'a' is used twice");
}

TEST(AlertRule, FiresAfterForResolvesRepeatsAndClosesSilently) {
  AlertRoute r = route(R"({"name": "r", "url": "http://a/", "for_ms": 2000, "repeat_ms": 10000})");
  const auto U = HealthStatus::unhealthy, H = HealthStatus::healthy;
  std::uint64_t wake = 0;
  // Unhealthy since 1000: due at 3000, not before.
  EXPECT_EQ(alert_due(r, U, 1000, std::nullopt, 2999, &wake), AlertAction::none);
  EXPECT_EQ(wake, 3000u);
  EXPECT_EQ(alert_due(r, U, 1000, std::nullopt, 3000), AlertAction::fire);
  // Fired at 3000: nothing until the repeat at 13000.
  const AlertLast fired{AlertKind::firing, 3000};
  EXPECT_EQ(alert_due(r, U, 1000, fired, 12999, &wake), AlertAction::none);
  EXPECT_EQ(wake, 13000u);
  EXPECT_EQ(alert_due(r, U, 1000, fired, 13000), AlertAction::repeat);
  // Healthy again: resolve once; after the resolve, nothing.
  EXPECT_EQ(alert_due(r, H, 0, fired, 20000), AlertAction::resolve);
  EXPECT_EQ(alert_due(r, H, 0, AlertLast{AlertKind::resolved, 20000}, 30000), AlertAction::none);
  // A new episode fires again after a resolve.
  EXPECT_EQ(alert_due(r, U, 40000, AlertLast{AlertKind::resolved, 20000}, 42000), AlertAction::fire);
  // Healthy without a firing: nothing; unknown or unregistered: nothing.
  EXPECT_EQ(alert_due(r, H, 0, std::nullopt, 1000), AlertAction::none);
  EXPECT_EQ(alert_due(r, HealthStatus::unknown, 0, fired, 1000), AlertAction::none);
  EXPECT_EQ(alert_due(r, std::nullopt, 0, fired, 1000), AlertAction::none);
  // Without resolved notifications the record is closed without a send, so
  // the next episode fires again.
  r.send_resolved = false;
  EXPECT_EQ(alert_due(r, H, 0, fired, 20000), AlertAction::close);
  // No repeat: a firing alert stays quiet.
  r.repeat = Duration::zero();
  EXPECT_EQ(alert_due(r, U, 1000, fired, 1'000'000), AlertAction::none);
}

struct Dispatched {
  std::vector<AlertNotification> sent;
  std::vector<AlertToRecord> records;
};

Dispatched consider(AlertDispatch& d, Instant now, const std::string& id, const AlertFacts& f, const HealthState& s) {
  Effects out;
  Dispatched r;
  d.consider(now, id, f, s, "n1", out, r.records);
  for (const Effect& e : out) {
    if (const auto* n = std::get_if<Notify>(&e)) r.sent.push_back(n->notification);
  }
  return r;
}

TEST(AlertDispatch, OneInFlightPerPairRetriesWithBackoffAndRecordsOnDelivery) {
  AlertConfig c;
  c.routes = {route(R"({"name": "ops", "url": "http://127.0.0.1:9/h"})")};
  c.min_retry = Duration::seconds(1);
  c.max_retry = Duration::seconds(4);
  AlertDispatch d(c);
  HealthState s(A);
  Observation o;
  o.status = HealthStatus::unhealthy;
  o.reason = CheckReason::timeout;
  o.observer_name = detached_name("n2");
  const AlertFacts down{HealthStatus::unhealthy, 5000, &o};
  const Instant t0 = Instant::from_ns(0) + Duration::seconds(10);

  auto first = consider(d, t0, "web", down, s);
  ASSERT_EQ(first.sent.size(), 1u);
  const AlertNotification n = first.sent[0];
  EXPECT_EQ(n.kind, AlertKind::firing);
  EXPECT_EQ(n.target, "web");
  EXPECT_EQ(n.route, "ops");
  EXPECT_EQ(n.url, "http://127.0.0.1:9/h");
  EXPECT_EQ(n.reason, "timeout");
  EXPECT_EQ(n.observer, "n2");
  EXPECT_EQ(n.since_ms, 5000u);
  EXPECT_EQ(n.sender, "n1");
  EXPECT_EQ(n.attempt, 1);
  // While it is in flight nothing more is sent for the pair.
  EXPECT_TRUE(consider(d, t0 + Duration::seconds(1), "web", down, s).sent.empty());
  // A failure: retried no sooner than the backoff, then doubling.
  EXPECT_FALSE(d.done(t0 + Duration::seconds(1), NotifyDone{n.id, false, "HTTP 503"}));
  EXPECT_TRUE(consider(d, t0 + Duration::milliseconds(1999), "web", down, s).sent.empty());
  auto retry = consider(d, t0 + Duration::seconds(2), "web", down, s);
  ASSERT_EQ(retry.sent.size(), 1u);
  EXPECT_EQ(retry.sent[0].attempt, 2);
  EXPECT_FALSE(d.done(t0 + Duration::seconds(2), NotifyDone{retry.sent[0].id, false, "HTTP 503"}));
  EXPECT_TRUE(consider(d, t0 + Duration::milliseconds(3999), "web", down, s).sent.empty());
  auto third = consider(d, t0 + Duration::seconds(4), "web", down, s);
  ASSERT_EQ(third.sent.size(), 1u);
  EXPECT_EQ(third.sent[0].attempt, 3);
  // Delivered: the record to write. Once written, nothing is due.
  auto rec = d.done(t0 + Duration::seconds(4), NotifyDone{third.sent[0].id, true, ""});
  ASSERT_TRUE(rec);
  EXPECT_EQ(rec->target, "web");
  EXPECT_EQ(rec->route, "ops");
  EXPECT_EQ(rec->record.kind, AlertKind::firing);
  EXPECT_EQ(rec->record.since_ms, 5000u);
  s.record_alert(rec->target, rec->route, AlertRecord{rec->record.kind, rec->record.since_ms,
                                                      HlcTimestamp::make(14'000, 0), 0});
  EXPECT_TRUE(consider(d, t0 + Duration::seconds(5), "web", down, s).sent.empty());
  // A report nobody waits for is counted, not acted on.
  EXPECT_FALSE(d.done(t0, NotifyDone{999, true, ""}));
  EXPECT_EQ(d.counters().unknown_reports, 1u);
  EXPECT_EQ(d.counters().failed, 2u);
  EXPECT_EQ(d.counters().delivered, 1u);
  EXPECT_EQ(d.counters().retries, 2u);
  // Healthy again: a resolved notification.
  Observation up = o;
  up.status = HealthStatus::healthy;
  up.observed_at = HlcTimestamp::make(20'000, 0);
  auto resolved = consider(d, t0 + Duration::seconds(11), "web", AlertFacts{HealthStatus::healthy, 0, &up}, s);
  ASSERT_EQ(resolved.sent.size(), 1u);
  EXPECT_EQ(resolved.sent[0].kind, AlertKind::resolved);
  EXPECT_EQ(resolved.sent[0].since_ms, 20'000u);
}

// The crash window (alert_route.h): a first owner sends, the receiver takes
// it, and the owner dies before its record leaves it; the takeover owner
// sends it again. Under the same dedup key, so a receiver that keys on it
// sees it once; every retry keeps the key; the next notification of the
// pair (after the record) gets a new one, and so does a target added again.
TEST(AlertDispatch, TheDedupKeyIsTheSameFromAnySenderAndOnEveryRetry) {
  AlertConfig c;
  c.routes = {route(R"({"name": "ops", "url": "http://127.0.0.1:9/h"})")};
  c.min_retry = Duration::seconds(1);
  AlertDispatch first_owner(c), takeover(c);
  HealthState s(A);
  TargetSpec web;
  web.id = detached_name("web");
  web.url = *Url::parse("http://127.0.0.1:9000/");
  s.put_target(HlcTimestamp::make(1'000, 0), web);
  Observation o;
  o.status = HealthStatus::unhealthy;
  const AlertFacts down{HealthStatus::unhealthy, 5000, &o};
  const Instant t0 = Instant::from_ns(0) + Duration::seconds(10);
  const auto sent_by = [&](AlertDispatch& d, std::string_view sender, Instant at, const AlertFacts& f) {
    Effects out;
    std::vector<AlertToRecord> records;
    d.consider(at, "web", f, s, sender, out, records);
    EXPECT_EQ(out.size(), 1u);
    return out.empty() ? AlertNotification{} : std::get<Notify>(out[0]).notification;
  };

  const AlertNotification a = sent_by(first_owner, "n1", t0, down);
  ASSERT_EQ(a.dedup_key.size(), 16u);
  // The takeover owner, later, with the episode's start moved by its own
  // first observation: the same key.
  const AlertNotification b = sent_by(takeover, "n2", t0 + Duration::seconds(3), AlertFacts{HealthStatus::unhealthy, 7000, &o});
  EXPECT_EQ(b.sender, "n2");
  EXPECT_EQ(b.dedup_key, a.dedup_key);
  // A retry keeps it.
  takeover.done(t0 + Duration::seconds(3), NotifyDone{b.id, false, "HTTP 503"});
  const AlertNotification retry = sent_by(takeover, "n2", t0 + Duration::seconds(5), down);
  EXPECT_EQ(retry.attempt, 2);
  EXPECT_EQ(retry.dedup_key, a.dedup_key);
  // Recorded: the resolved that follows has its own key, the same from
  // either sender; a repeat of the firing would too.
  s.record_alert("web", "ops", AlertRecord{AlertKind::firing, 5000, HlcTimestamp::make(16'000, 0), B});
  Observation up;
  up.status = HealthStatus::healthy;
  up.observed_at = HlcTimestamp::make(20'000, 0);
  const AlertFacts healthy{HealthStatus::healthy, 0, &up};
  AlertDispatch n3(c), n4(c);
  const AlertNotification resolved = sent_by(n3, "n3", t0 + Duration::seconds(11), healthy);
  EXPECT_EQ(resolved.kind, AlertKind::resolved);
  EXPECT_NE(resolved.dedup_key, a.dedup_key);
  EXPECT_EQ(sent_by(n4, "n4", t0 + Duration::seconds(12), healthy).dedup_key, resolved.dedup_key);
  // The target deleted and added again: its first firing is a new one.
  s.remove_target(HlcTimestamp::make(29'000, 0), "web");
  s.put_target(HlcTimestamp::make(30'000, 0), web);
  AlertDispatch n5(c);
  const AlertNotification again = sent_by(n5, "n1", t0 + Duration::seconds(40), down);
  EXPECT_EQ(again.kind, AlertKind::firing);
  EXPECT_NE(again.dedup_key, a.dedup_key);
  EXPECT_EQ(alert_dedup_key("ops", "web", AlertKind::firing, false, nullptr, nullptr).size(), 16u);
}

TEST(AlertDispatch, InFlightIsBoundedAndAQuietRouteClosesWithoutASend) {
  AlertConfig c;
  c.routes = {route(R"({"name": "quiet", "url": "http://a/", "send_resolved": false})")};
  c.max_in_flight = 2;
  AlertDispatch d(c);
  HealthState s(A);
  const Instant now = Instant::from_ns(0) + Duration::seconds(100);
  const AlertFacts down{HealthStatus::unhealthy, 1000, nullptr};
  std::size_t sent = 0;
  for (const char* id : {"a", "b", "c"}) sent += consider(d, now, id, down, s).sent.size();
  EXPECT_EQ(sent, 2u);
  EXPECT_EQ(d.counters().deferred, 1u);
  EXPECT_EQ(d.in_flight(), 2u);
  // A firing record and a recovery on a route without resolved notifications.
  s.record_alert("z", "quiet", AlertRecord{AlertKind::firing, 1000, HlcTimestamp::make(2000, 0), 0});
  auto closed = consider(d, now, "z", AlertFacts{HealthStatus::healthy, 0, nullptr}, s);
  EXPECT_TRUE(closed.sent.empty());
  ASSERT_EQ(closed.records.size(), 1u);
  EXPECT_EQ(closed.records[0].record.kind, AlertKind::resolved);
  EXPECT_EQ(d.counters().closed, 1u);
}

TEST(AlertLog, TheLatestRecordWinsReplicatesAndGoesWithItsTarget) {
  HealthState a(A), b(B);
  const HealthDelta d1 = a.record_alert("web", "ops", AlertRecord{AlertKind::firing, 1000, HlcTimestamp::make(2000, 0), 0});
  b.join(d1);
  ASSERT_NE(b.last_alert("web", "ops"), nullptr);
  EXPECT_EQ(b.last_alert("web", "ops")->kind, AlertKind::firing);
  EXPECT_EQ(b.last_alert("web", "ops")->writer, A);
  EXPECT_EQ(b.last_alert("web", "other"), nullptr);
  // Concurrent records (two senders): siblings, the latest sent_at answers everywhere.
  const HealthDelta x = a.record_alert("web", "ops", AlertRecord{AlertKind::resolved, 3000, HlcTimestamp::make(5000, 0), 0});
  const HealthDelta y = b.record_alert("web", "ops", AlertRecord{AlertKind::firing, 1000, HlcTimestamp::make(4000, 0), 0});
  a.join(y);
  b.join(x);
  EXPECT_EQ(a.state(), b.state());
  EXPECT_EQ(a.last_alert("web", "ops")->kind, AlertKind::resolved);
  EXPECT_EQ(b.last_alert("web", "ops")->kind, AlertKind::resolved);
  // Removing the target removes its records (and not those of "web2").
  a.join(a.record_alert("web2", "ops", AlertRecord{AlertKind::firing, 1, HlcTimestamp::make(6000, 0), 0}));
  b.join(a.state());
  b.join(a.remove_target(HlcTimestamp::make(7000, 0), "web"));
  EXPECT_EQ(b.last_alert("web", "ops"), nullptr);
  EXPECT_NE(b.last_alert("web2", "ops"), nullptr);
  EXPECT_GT(b.alerts_version(), 0u);
}

TEST(AlertLog, TheCodecCarriesItAndRefusesBadRecords) {
  HealthState a(A);
  const HealthDelta d = a.record_alert("web", "ops", AlertRecord{AlertKind::resolved, 77, HlcTimestamp::make(9000, 3), 0});
  auto back = decode_delta(encode_delta(d));
  ASSERT_TRUE(back.ok()) << back.error();
  EXPECT_EQ(*back, d);
  // A snapshot keeps the log: a restarted cluster does not notify again.
  HealthDelta durable;
  durable.alerts = a.state().alerts;
  auto restored = decode_snapshot(encode_snapshot(durable));
  ASSERT_TRUE(restored.ok()) << restored.error();
  EXPECT_EQ(restored->state.alerts, a.state().alerts);
  // A key that is not target/route is refused.
  HealthDelta bad = d;
  auto fun = *bad.alerts.store.find("web/ops");
  bad.alerts.store.erase("web/ops");
  bad.alerts.store.put(detached_name("web"), std::move(fun));
  auto r = decode_delta(encode_delta(bad));
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().find("delta.a"), std::string::npos) << r.error();
  EXPECT_NE(r.error().find("is not a target id, '/' and a route name"), std::string::npos) << r.error();
  // Digests and repairs list six stores once the log is used (seven with
  // routes, AlertRoutes below), and read back.
  Digest g;
  g.replica = A;
  g.hashes.assign(kDigestBuckets, 1);
  g.alerts.insert(Dot{A, 1});
  auto gb = decode_digest(encode_digest(g));
  ASSERT_TRUE(gb.ok()) << gb.error();
  EXPECT_EQ(*gb, g);
  Repair rep;
  rep.delta = d;
  rep.scoped = true;
  rep.buckets = {bucket_of("web/ops")};
  rep.for_replica = B;
  rep.elided.alerts.add("web/ops", d.alerts.store.find("web/ops")->entries().front().first);
  rep.delta.alerts.store.erase("web/ops");
  auto rb = decode_repair(encode_repair(rep));
  ASSERT_TRUE(rb.ok()) << rb.error();
  EXPECT_EQ(*rb, rep);
}

// Routes written through the API: a last-writer-wins register per name,
// replicated; a removal loses to a concurrent write (add wins).
TEST(AlertRoutes, WrittenRoutesReplicateTheNewestWinsAndARemovalLosesToAConcurrentWrite) {
  HealthState a(A), b(B);
  const AlertRoute v1 = route(R"({"name": "ops", "url": "http://hooks.example/1"})");
  const AlertRoute v2 = route(R"({"name": "ops", "url": "http://hooks.example/2", "for_ms": 5000})");
  b.join(a.put_route(HlcTimestamp::make(1000, 0), v1));
  ASSERT_NE(b.route("ops"), nullptr);
  EXPECT_EQ(*b.route("ops")->route, v1);
  EXPECT_EQ(b.route("nope"), nullptr);
  EXPECT_GT(b.routes_version(), 0u);
  // Concurrent writes: siblings until the next write; the newest answers everywhere.
  const HealthDelta x = a.put_route(HlcTimestamp::make(3000, 0), v2);
  const HealthDelta y = b.put_route(HlcTimestamp::make(2000, 0), v1);
  a.join(y);
  b.join(x);
  EXPECT_EQ(a.state(), b.state());
  EXPECT_EQ(*a.route("ops")->route, v2);
  EXPECT_EQ(*b.route("ops")->route, v2);
  ASSERT_EQ(a.routes().size(), 1u);
  // A removal concurrent with a write keeps the write; one after it removes it.
  const HealthDelta removal = a.remove_route("ops");
  const HealthDelta rewrite = b.put_route(HlcTimestamp::make(4000, 0), v1);
  a.join(rewrite);
  b.join(removal);
  EXPECT_EQ(a.state(), b.state());
  ASSERT_NE(a.route("ops"), nullptr);
  EXPECT_EQ(*a.route("ops")->route, v1);
  b.join(a.remove_route("ops"));
  EXPECT_EQ(b.route("ops"), nullptr);
  EXPECT_TRUE(b.routes().empty());
}

TEST(AlertRoutes, TheCodecCarriesThemAndRefusesBadOnes) {
  HealthState a(A);
  const AlertRoute r = route(R"({"name": "ops", "url": "https://hooks.example/x", "format": "slack",
                                 "targets": ["web", "db"], "for_ms": 3000, "repeat_ms": 60000, "send_resolved": false})");
  const HealthDelta d = a.put_route(HlcTimestamp::make(9000, 1), r);
  auto back = decode_delta(encode_delta(d));
  ASSERT_TRUE(back.ok()) << back.error();
  EXPECT_EQ(*back, d);
  EXPECT_EQ(*back->routes.store.find("ops")->entries().front().second.route, r);
  // A snapshot keeps them.
  HealthDelta durable;
  durable.routes = a.state().routes;
  auto restored = decode_snapshot(encode_snapshot(durable));
  ASSERT_TRUE(restored.ok()) << restored.error();
  EXPECT_EQ(restored->state.routes, a.state().routes);
  // A route under another name's key, or a route its parser refuses, is refused.
  HealthDelta moved = d;
  auto fun = *moved.routes.store.find("ops");
  moved.routes.store.erase("ops");
  moved.routes.store.put(detached_name("pager"), std::move(fun));
  auto m = decode_delta(encode_delta(moved));
  ASSERT_FALSE(m.ok());
  EXPECT_NE(m.error().find("route name 'ops' differs from its key 'pager'"), std::string::npos) << m.error();
  HealthDelta bad = d;
  AlertRoute ftp = r;
  ftp.url = "ftp://hooks.example/x";
  auto bad_fun = *bad.routes.store.find("ops");
  const Dot dot = bad_fun.entries().front().first;
  DotFun<RouteVersion> replaced;
  replaced.insert(dot, RouteVersion{std::make_shared<const AlertRoute>(ftp), HlcTimestamp::make(9000, 1), A});
  bad.routes.store.put(detached_name("ops"), std::move(replaced));
  auto f = decode_delta(encode_delta(bad));
  ASSERT_FALSE(f.ok());
  EXPECT_NE(f.error().find("delta.n"), std::string::npos) << f.error();
  EXPECT_NE(f.error().find("url"), std::string::npos) << f.error();
  // Digests and repairs list seven stores once routes are written.
  Digest g;
  g.replica = A;
  g.hashes.assign(kDigestBuckets, 1);
  g.routes.insert(Dot{A, 1});
  auto gb = decode_digest(encode_digest(g));
  ASSERT_TRUE(gb.ok()) << gb.error();
  EXPECT_EQ(*gb, g);
  Repair rep;
  rep.delta = d;
  rep.scoped = true;
  rep.buckets = {bucket_of("ops")};
  rep.for_replica = B;
  rep.elided.routes.add("ops", dot);
  rep.delta.routes.store.erase("ops");
  auto rb = decode_repair(encode_repair(rep));
  ASSERT_TRUE(rb.ok()) << rb.error();
  EXPECT_EQ(*rb, rep);
}

TEST(AlertDispatch, ANotificationOnARemovedRouteIsNotRecorded) {
  AlertConfig config;
  config.routes = {route(R"({"name": "ops", "url": "http://127.0.0.1:9/h"})"),
                   route(R"({"name": "pager", "url": "http://127.0.0.1:9/p"})")};
  AlertDispatch d(config);
  HealthState s(A);
  const Instant now = Instant{} + Duration::seconds(100);
  auto sent = consider(d, now, "web", AlertFacts{HealthStatus::unhealthy, 1000, nullptr}, s);
  ASSERT_EQ(sent.sent.size(), 2u);
  d.set_routes({config.routes[1]});
  const AlertNotification& on_ops = sent.sent[0].route == "ops" ? sent.sent[0] : sent.sent[1];
  const AlertNotification& on_pager = sent.sent[0].route == "ops" ? sent.sent[1] : sent.sent[0];
  EXPECT_FALSE(d.done(now, NotifyDone{on_ops.id, true, {}}).has_value());
  EXPECT_TRUE(d.done(now, NotifyDone{on_pager.id, true, {}}).has_value());
  EXPECT_TRUE(d.enabled());
  d.set_routes({});
  EXPECT_FALSE(d.enabled());
}

}  // namespace
}  // namespace heck
