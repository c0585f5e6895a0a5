// The etcd store's pure parts: base64, the key layout and value encoding,
// and the state machine (core/store/etcd_store.h) against an in-memory etcd
// (fake_etcd.h): start and full read, exact counters under concurrent adds
// (CAS retry), create-only target puts, watch resume after a break, a full
// re-read after compaction, unavailability and recovery, observation writes.
#include "core/store/etcd_store.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "core/store/base64.h"
#include "core/store/etcd_layout.h"
#include "tests/core/store/fake_etcd.h"

namespace heck::store {
namespace {

using testing::FakeEtcd;
using testing::StoreClient;

TargetSpec spec(const std::string& id, int interval_ms = 1000) {
  auto s = TargetSpec::from_json(nlohmann::json{
      {"id", id}, {"url", "http://127.0.0.1:9/" + id}, {"interval_ms", interval_ms}, {"timeout_ms", 500}});
  EXPECT_TRUE(s.ok());
  return *s;
}

template <typename T>
std::vector<T> changes_of(const std::vector<StoreChange>& changes) {
  std::vector<T> out;
  for (const auto& c : changes) {
    if (const auto* t = std::get_if<T>(&c)) out.push_back(*t);
  }
  return out;
}

std::int64_t last_counter(const std::vector<StoreChange>& changes, const std::string& name) {
  std::int64_t v = 0;
  for (const auto& c : changes_of<StoreCounterChanged>(changes)) {
    if (c.name == name) v = c.value;
  }
  return v;
}

TEST(Base64, RoundTripsEveryLengthAndKnownVectors) {
  EXPECT_EQ(base64_encode(""), "");
  EXPECT_EQ(base64_encode("f"), "Zg==");
  EXPECT_EQ(base64_encode("fo"), "Zm8=");
  EXPECT_EQ(base64_encode("foo"), "Zm9v");
  EXPECT_EQ(base64_encode("heck/"), "aGVjay8=");
  std::string bytes;
  for (int i = 0; i < 300; ++i) {
    bytes.push_back(static_cast<char>(i * 37));
    EXPECT_EQ(base64_decode(base64_encode(bytes)), bytes);
  }
}

TEST(Base64, RefusesWhatIsNotPaddedBase64) {
  EXPECT_FALSE(base64_decode("Zg="));
  EXPECT_FALSE(base64_decode("Z!=="));
  EXPECT_FALSE(base64_decode("Zg=a"));
  EXPECT_FALSE(base64_decode("=Zg="));
}

TEST(EtcdLayout, KeysParseBack) {
  const KeyLayout l;
  EXPECT_EQ(l.target("web"), "heck/targets/web");
  EXPECT_EQ(l.observation("web", "n1"), "heck/obs/web/n1");
  EXPECT_EQ(l.observation("@n1", "n1"), "heck/obs/@n1/n1");
  EXPECT_EQ(l.counter("a/b c"), "heck/counters/a/b c");
  EXPECT_EQ(std::get<TargetKey>(l.parse("heck/targets/web")).id, "web");
  const auto o = std::get<ObservationKey>(l.parse("heck/obs/@n1/n1"));
  EXPECT_EQ(o.subject, "@n1");
  EXPECT_EQ(o.member, "n1");
  EXPECT_EQ(std::get<CounterKey>(l.parse("heck/counters/a/b c")).name, "a/b c");
  EXPECT_TRUE(std::holds_alternative<std::monostate>(l.parse("heck/other/x")));
  EXPECT_TRUE(std::holds_alternative<std::monostate>(l.parse("heck/obs/web")));
  EXPECT_TRUE(std::holds_alternative<std::monostate>(l.parse("else/targets/web")));
  EXPECT_EQ(range_end("heck/"), "heck0");
  EXPECT_EQ(range_end(std::string("a\xff", 2)), "b");
}

TEST(EtcdLayout, ValuesRoundTripAndBadOnesSayWhy) {
  const auto t = decode_target(encode_target(spec("web"), HlcTimestamp::make(5, 1)));
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(t->spec, spec("web"));
  EXPECT_EQ(t->written_at, HlcTimestamp::make(5, 1));
  Observation o;
  o.status = HealthStatus::unhealthy;
  o.reason = CheckReason::bad_status;
  o.status_code = 503;
  o.latency = Duration::milliseconds(12);
  o.observed_at = HlcTimestamp::make(77, 2);
  o.observer = 42;
  o.check_seq = 9;
  o.observer_name = detached_name("n3");
  const auto back = decode_observation(encode_observation(o));
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(*back, o);
  EXPECT_EQ(*decode_counter(encode_counter(-12)), -12);
  EXPECT_EQ(decode_counter("12x").error(), "counter value is not a decimal int64: '12x'");
  EXPECT_EQ(decode_target("[]").error(), "target value is not a JSON object");
  EXPECT_EQ(decode_observation(R"({"status":"bad"})").error(), "observation value: unknown status 'bad'");
}

TEST(EtcdStore, StartReadsEverythingThenWatchesAndIsAvailable) {
  FakeEtcd etcd;
  const KeyLayout l;
  etcd.put(l.target("web"), encode_target(spec("web"), HlcTimestamp::make(1, 0)));
  etcd.put(l.counter("hits"), "7");
  StoreClient a(etcd, "n1");
  EXPECT_FALSE(a.store().available());
  a.start();
  a.settle();
  EXPECT_TRUE(a.store().available()) << a.store().problem();
  ASSERT_EQ(changes_of<StoreTargetChanged>(a.changes).size(), 1u);
  EXPECT_EQ(last_counter(a.changes, "hits"), 7);
  ASSERT_TRUE(a.watch());
  EXPECT_EQ(a.watch()->start_revision, etcd.revision() + 1);
  EXPECT_EQ(a.store().counters().full_reads, 1u);
}

// An API write that keeps losing its compare (another agent's writes land
// first every time) retries until its deadline, past max_cas_attempts, and
// wins once the others stop; only at the deadline is it refused, saying why.
TEST(EtcdStore, ATicketedWriteLosingEveryCompareRetriesUntilItsDeadline) {
  FakeEtcd etcd;
  StoreClient b(etcd, "n2");  // the other agent's writes go straight to etcd
  b.start();
  b.settle();
  const int rounds = EtcdStoreConfig{}.max_cas_attempts + 8;
  b.write(StoreCounterAdd{"hits", 1000}, 1);
  std::int64_t expected = 1000;
  for (int i = 1; i <= rounds; ++i) {
    etcd.put("heck/counters/hits", std::to_string(i));  // someone else's write lands first
    ASSERT_EQ(b.queued_calls(), 1u) << "round " << i << ": the add gave up";
    b.answer_one();  // loses the compare, reads i
    ASSERT_TRUE(b.done.empty()) << b.done.front().error;
  }
  expected += rounds;
  b.settle();  // nobody else writes now: it wins
  ASSERT_EQ(b.done.size(), 1u);
  EXPECT_TRUE(b.done[0].ok) << b.done[0].error;
  EXPECT_EQ(etcd.get("heck/counters/hits"), std::to_string(expected));
  EXPECT_GE(b.store().counters().cas_conflicts, static_cast<std::uint64_t>(rounds));

  // Past the deadline it is refused, and the error names the conflicts.
  b.write(StoreCounterAdd{"hits", 1}, 2);
  etcd.put("heck/counters/hits", "0");
  b.answer_one();
  b.advance(EtcdStoreConfig{}.write_deadline + Duration::milliseconds(1));
  b.tick();
  ASSERT_EQ(b.done.size(), 2u);
  EXPECT_FALSE(b.done[1].ok);
  EXPECT_NE(b.done[1].error.find("conflicting writes in a row within 5000 ms"), std::string::npos) << b.done[1].error;
}

TEST(EtcdStore, ConcurrentCounterAddsAreExact) {
  FakeEtcd etcd;
  StoreClient a(etcd, "n1"), b(etcd, "n2");
  a.start();
  b.start();
  a.settle();
  b.settle();
  // Both send their txn against the same (absent) key before either lands.
  a.write(StoreCounterAdd{"hits", 5}, 1);
  b.write(StoreCounterAdd{"hits", 3}, 2);
  ASSERT_EQ(a.queued_calls(), 1u);
  ASSERT_EQ(b.queued_calls(), 1u);
  a.answer_one();  // wins: creates the key
  b.answer_one();  // loses the compare, reads 5, retries with 8 ...
  ASSERT_EQ(b.queued_calls(), 1u);
  b.answer_one();  // ... against what it read, not its watch (not delivered yet)
  EXPECT_EQ(etcd.get("heck/counters/hits"), "8");
  EXPECT_EQ(b.store().counters().cas_conflicts, 1u);
  EXPECT_TRUE(b.done.empty());  // answered once its watch shows the write
  b.settle();
  a.settle();
  EXPECT_EQ(etcd.get("heck/counters/hits"), "8");
  EXPECT_GE(b.store().counters().cas_conflicts, 1u);
  ASSERT_EQ(a.done.size(), 1u);
  ASSERT_EQ(b.done.size(), 1u);
  EXPECT_TRUE(b.done[0].ok);
  EXPECT_EQ(a.done[0].value, 5);
  EXPECT_EQ(b.done[0].value, 8);
  EXPECT_EQ(last_counter(a.changes, "hits"), 8);
  // Many interleaved adds from two agents still sum exactly.
  std::int64_t expected = 8;
  for (int i = 1; i <= 20; ++i) {
    a.write(StoreCounterAdd{"hits", i}, 100 + i);
    b.write(StoreCounterAdd{"hits", -2 * i}, 200 + i);
    expected += i - 2 * i;
    if (i % 2) b.answer_one();
    a.answer_one();
    b.answer_one();
  }
  a.settle();
  b.settle();
  EXPECT_EQ(etcd.get("heck/counters/hits"), std::to_string(expected));
  EXPECT_EQ(last_counter(b.changes, "hits"), expected);
}

TEST(EtcdStore, TargetPutIsCreateOnlyThenCompareRevision) {
  FakeEtcd etcd;
  StoreClient a(etcd, "n1"), b(etcd, "n2");
  a.start();
  b.start();
  a.settle();
  b.settle();
  a.write(StoreTargetPut{spec("web", 1000), {}}, 1);
  b.write(StoreTargetPut{spec("web", 2000), {}}, 2);
  a.answer_one();
  b.answer_one();  // create-only fails: retried against a's version
  a.settle();
  b.settle();
  ASSERT_EQ(a.done.size(), 1u);
  ASSERT_EQ(b.done.size(), 1u);
  EXPECT_TRUE(a.done[0].created);
  EXPECT_TRUE(b.done[0].ok);
  EXPECT_FALSE(b.done[0].created);
  EXPECT_EQ(decode_target(*etcd.get("heck/targets/web"))->spec.interval, Duration::milliseconds(2000));
  // The same spec again: nothing is written.
  const auto rev = etcd.revision();
  a.write(StoreTargetPut{spec("web", 2000), {}}, 3);
  a.settle();
  EXPECT_EQ(etcd.revision(), rev);
  ASSERT_EQ(a.done.size(), 2u);
  EXPECT_TRUE(a.done[1].ok);
  EXPECT_FALSE(a.done[1].created);
}

TEST(EtcdStore, RemoveDeletesTheTargetAndItsObservations) {
  FakeEtcd etcd;
  const KeyLayout l;
  etcd.put(l.target("web"), encode_target(spec("web"), {}));
  etcd.put(l.observation("web", "n2"), encode_observation(Observation{}));
  StoreClient a(etcd, "n1");
  a.start();
  a.settle();
  a.write(StoreTargetRemove{"web"}, 1);
  a.settle();
  ASSERT_EQ(a.done.size(), 1u);
  EXPECT_TRUE(a.done[0].ok);
  EXPECT_TRUE(etcd.kv().empty());
  EXPECT_EQ(changes_of<StoreTargetGone>(a.changes).size(), 1u);
  EXPECT_EQ(changes_of<StoreObservationGone>(a.changes).size(), 1u);
  a.write(StoreTargetRemove{"web"}, 2);
  ASSERT_EQ(a.done.size(), 2u);
  EXPECT_FALSE(a.done[1].found);
}

TEST(EtcdStore, ABrokenWatchResumesFromTheNextRevision) {
  FakeEtcd etcd;
  StoreClient a(etcd, "n1");
  a.start();
  a.settle();
  etcd.put("heck/counters/x", "1");
  a.deliver_watch();
  const auto seen = a.store().revision();
  EXPECT_EQ(seen, etcd.revision());
  a.break_watch();
  EXPECT_FALSE(a.store().available());
  EXPECT_NE(a.store().problem().find("watch stream closed"), std::string::npos);
  // Writes while the stream is down: delivered once the stream resumes.
  etcd.put("heck/counters/x", "2");
  etcd.put("heck/counters/y", "3");
  a.advance(Duration::seconds(1));
  a.tick();     // probe (keep-alive) ...
  a.settle();   // ... gets through: the watch reopens at seen + 1
  EXPECT_TRUE(a.store().available()) << a.store().problem();
  EXPECT_EQ(a.store().counters().watch_resumes, 1u);
  EXPECT_EQ(a.store().counters().full_reads, 1u);  // no second full read
  EXPECT_EQ(last_counter(a.changes, "x"), 2);
  EXPECT_EQ(last_counter(a.changes, "y"), 3);
  // Each event applied once: x changed to 1 and to 2, nothing more.
  std::size_t x_changes = 0;
  for (const auto& c : changes_of<StoreCounterChanged>(a.changes)) x_changes += c.name == "x";
  EXPECT_EQ(x_changes, 2u);
}

TEST(EtcdStore, ACompactedRevisionMeansAFullReadAgainWithDeletions) {
  FakeEtcd etcd;
  const KeyLayout l;
  StoreClient a(etcd, "n1");
  etcd.put(l.target("old"), encode_target(spec("old"), {}));
  a.start();
  a.settle();
  ASSERT_EQ(changes_of<StoreTargetChanged>(a.changes).size(), 1u);
  a.break_watch();
  etcd.remove(l.target("old"));
  etcd.put(l.target("new"), encode_target(spec("new"), {}));
  etcd.compact();
  a.advance(Duration::seconds(1));
  a.tick();
  a.settle();
  EXPECT_EQ(a.store().counters().compactions, 1u);
  EXPECT_EQ(a.store().counters().full_reads, 2u);
  EXPECT_TRUE(a.store().available()) << a.store().problem();
  const auto gone = changes_of<StoreTargetGone>(a.changes);
  ASSERT_EQ(gone.size(), 1u);
  EXPECT_EQ(gone[0].id, "old");
  const auto put = changes_of<StoreTargetChanged>(a.changes);
  ASSERT_EQ(put.size(), 2u);
  EXPECT_EQ(put[1].spec.id, "new");
  EXPECT_EQ(a.watch()->start_revision, etcd.revision() + 1);
}

TEST(EtcdStore, UnavailableRefusesWritesAtOnceAndAnswersWithinTheDeadline) {
  FakeEtcd etcd;
  StoreClient a(etcd, "n1");
  a.start();
  a.settle();
  // A write in flight when etcd goes away: answered by the deadline.
  a.write(StoreCounterAdd{"c", 1}, 1);
  a.down = true;
  a.answer_one();
  EXPECT_FALSE(a.store().available());
  EXPECT_NE(a.store().problem().find("connection refused"), std::string::npos);
  EXPECT_TRUE(a.done.empty());
  a.advance(Duration::seconds(6));
  a.tick();
  ASSERT_EQ(a.done.size(), 1u);
  EXPECT_FALSE(a.done[0].ok);
  EXPECT_TRUE(a.done[0].unavailable);
  EXPECT_NE(a.done[0].error.find("did not answer within 5000 ms"), std::string::npos) << a.done[0].error;
  // While unavailable a new write is refused at once, with the reason.
  a.write(StoreCounterAdd{"c", 1}, 2);
  ASSERT_EQ(a.done.size(), 2u);
  EXPECT_TRUE(a.done[1].unavailable);
  EXPECT_NE(a.done[1].error.find("etcd store unavailable: "), std::string::npos);
  // Probes keep failing: nothing piles up.
  for (int i = 0; i < 50; ++i) {
    a.advance(Duration::milliseconds(500));
    a.tick();
    a.settle();
  }
  EXPECT_LE(a.queued_calls(), 2u);
  EXPECT_EQ(a.store().pending_writes(), 0u);
  // etcd back: the probe gets through, the watch resumes, writes work again.
  a.down = false;
  a.break_watch();
  a.advance(Duration::seconds(1));
  a.tick();
  a.settle();
  EXPECT_TRUE(a.store().available()) << a.store().problem();
  a.write(StoreCounterAdd{"c", 4}, 3);
  a.settle();
  ASSERT_EQ(a.done.size(), 3u);
  EXPECT_TRUE(a.done[2].ok);
  EXPECT_EQ(etcd.get("heck/counters/c"), "4");
}

TEST(EtcdStore, QueuedWritesStayBounded) {
  FakeEtcd etcd;
  StoreClient a(etcd, "n1");
  a.start();
  a.settle();
  const std::size_t cap = StoreClient::config("n1").max_pending_writes;
  for (std::size_t i = 0; i < cap + 10; ++i) a.write(StoreCounterAdd{"c", 1}, i + 1);
  EXPECT_EQ(a.store().pending_writes(), cap);
  EXPECT_EQ(a.done.size(), 10u);
  for (const auto& d : a.done) EXPECT_FALSE(d.ok);
  EXPECT_LE(a.queued_calls(), StoreClient::config("n1").max_calls_in_flight);
}

TEST(EtcdStore, ObservationsCarryTheLeaseAndRemoveTheSupersededOnes) {
  FakeEtcd etcd;
  const KeyLayout l;
  etcd.put(l.observation("web", "n2"), encode_observation(Observation{}));
  StoreClient a(etcd, "n1");
  a.start();
  a.settle();
  Observation o;
  o.status = HealthStatus::healthy;
  o.observer_name = detached_name("n1");
  a.write(StoreObservationPut{"web", o, {"n2"}}, 0);
  a.settle();
  ASSERT_TRUE(etcd.get(l.observation("web", "n1")));
  EXPECT_FALSE(etcd.get(l.observation("web", "n2")));
  EXPECT_EQ(etcd.kv().at(l.observation("web", "n1")).lease, a.store().lease());
  EXPECT_NE(a.store().lease(), 0);
  // The lease expires (the agent was away): its observations go, and the
  // view says so; a keep-alive learns it and a new lease is granted.
  const auto lease = a.store().lease();
  etcd.expire(lease);
  a.deliver_watch();
  ASSERT_EQ(changes_of<StoreObservationGone>(a.changes).back().member, "n1");
  a.advance(Duration::seconds(3));
  a.tick();
  a.settle();
  EXPECT_NE(a.store().lease(), lease);
  EXPECT_NE(a.store().lease(), 0);
}

}  // namespace
}  // namespace heck::store
