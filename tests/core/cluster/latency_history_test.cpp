// The latency ring of a target (core/cluster/latency_history.h): bounded,
// ordered by time, merged without duplicates, handed over in deltas; and
// its wire part, strict on every limit.
#include "core/cluster/latency_history.h"

#include <algorithm>

#include <gtest/gtest.h>

#include "core/wire/msgpack_reader.h"
#include "core/wire/msgpack_writer.h"
#include "tests/core/wire/json_reference.h"

namespace heck {
namespace {

Instant at_s(std::int64_t s) { return Instant::from_ns(1'700'000'000'000'000'000 + s * 1'000'000'000); }

using wire::body_of;

LatencySample own(std::int64_t s, std::uint32_t us) { return LatencySample{at_s(s), us, true, true}; }

TEST(LatencyHistory, KeepsTheNewestSamplesInTimeOrder) {
  LatencyHistory h;
  for (int i = 0; i < 100; ++i) h.record("web", own(i, static_cast<std::uint32_t>(i)));
  const auto s = h.samples("web");
  ASSERT_EQ(s.size(), LatencyHistory::kMaxSamples);
  EXPECT_EQ(s.front().at, at_s(40));
  EXPECT_EQ(s.back().at, at_s(99));
  EXPECT_TRUE(s.back().here);
  EXPECT_TRUE(h.samples("db").empty());
}

// A hint finds a target's ring without a lookup while it still names that
// ring; a hint whose ring was forgotten, or whose storage another target's
// ring took over, never sends a sample to the wrong ring.
TEST(LatencyHistory, ARingHintNeverRecordsIntoAnotherTargetsRing) {
  LatencyHistory h;
  LatencyHistory::RingHint hint_a, hint_b;
  h.record("a", own(1, 10), &hint_a);
  h.record("a", own(2, 20), &hint_a);
  h.record("b", own(2, 30), &hint_b);
  EXPECT_EQ(h.samples("a").size(), 2u);
  EXPECT_EQ(h.samples("b").size(), 1u);
  h.forget("a");
  h.record("c", own(3, 40));  // takes the storage "a" had (the last freed is reused first)
  h.record("a", own(4, 50), &hint_a);  // the stale hint: "a" gets a ring of its own again
  ASSERT_EQ(h.samples("c").size(), 1u);
  EXPECT_EQ(h.samples("c")[0].latency_us, 40u);
  ASSERT_EQ(h.samples("a").size(), 1u);
  EXPECT_EQ(h.samples("a")[0].latency_us, 50u);
  h.record("a", own(5, 60), &hint_a);  // the hint was renewed
  h.record("b", own(5, 70), &hint_a);  // a hint of another target's ring
  EXPECT_EQ(h.samples("a").size(), 2u);
  EXPECT_EQ(h.samples("b").size(), 2u);
  h.forget("b");
  h.record("b", own(6, 80), &hint_b);  // forgotten: a new, empty ring
  ASSERT_EQ(h.samples("b").size(), 1u);
  EXPECT_EQ(h.samples("b")[0].latency_us, 80u);
  EXPECT_EQ(h.size(), 3u);
}

// A full ring is circular (a newest sample overwrites the oldest in
// place): whatever mix of in-order checks, late checks, handovers and reads,
// it reads exactly as a plain time-ordered list of the newest 60 would.
TEST(LatencyHistory, AFullRingReadsAsTheNewestSixtyInTimeOrder) {
  LatencyHistory h;
  std::vector<LatencySample> model;  // insert in order, drop the oldest
  const auto model_record = [&](LatencySample s) {
    auto at = model.end();
    while (at != model.begin() && s.at < std::prev(at)->at) --at;
    model.insert(at, s);
    if (model.size() > LatencyHistory::kMaxSamples) model.erase(model.begin());
  };
  std::uint64_t x = 12345;
  const auto next = [&] { return (x = x * 6364136223846793005ULL + 1442695040888963407ULL) >> 33; };
  std::int64_t t = 0;
  for (int i = 0; i < 2000; ++i) {
    const std::uint64_t r = next() % 20;
    if (r == 0) {  // a late check: older than the newest
      const LatencySample s = own(t - static_cast<std::int64_t>(next() % 90), static_cast<std::uint32_t>(i));
      h.record("web", s);
      model_record(s);
    } else if (r == 1) {  // a read between writes
      const auto got = h.samples("web");
      ASSERT_TRUE(std::equal(got.begin(), got.end(), model.begin(), model.end())) << "at step " << i;
    } else if (r == 2) {  // a handover of older samples (here = false)
      const std::vector<LatencySample> old = {own(t - 30, 7), own(t - 31, 8)};
      h.merge("web", old);
      const auto got = h.samples("web");
      model.assign(got.begin(), got.end());  // the merge itself is checked elsewhere
    } else {
      const LatencySample s = own(++t, static_cast<std::uint32_t>(i));
      h.record("web", s);
      model_record(s);
    }
  }
  const auto got = h.samples("web");
  ASSERT_EQ(got.size(), LatencyHistory::kMaxSamples);
  EXPECT_TRUE(std::equal(got.begin(), got.end(), model.begin(), model.end()));
  EXPECT_TRUE(std::is_sorted(got.begin(), got.end(), [](const auto& a, const auto& b) { return a.at < b.at; }));
  // Handed over in time order too, from a rotated ring.
  h.record("web", own(++t, 1));
  const auto handed = h.take_for("web", "n2");
  ASSERT_EQ(handed.size(), LatencyHistory::kMaxSamples);
  EXPECT_EQ(handed.back().at, at_s(t));
  EXPECT_TRUE(std::is_sorted(handed.begin(), handed.end(), [](const auto& a, const auto& b) { return a.at < b.at; }));
}

TEST(LatencyHistory, LatencyIsSaturatedNotWrapped) {
  const auto s = LatencyHistory::sample(at_s(0), Duration::seconds(10'000), false);
  EXPECT_EQ(s.latency_us, LatencyHistory::kMaxLatencyUs);
  EXPECT_EQ(LatencyHistory::sample(at_s(0), Duration::nanoseconds(-5), true).latency_us, 0u);
}

TEST(LatencyHistory, HandedOverSamplesMergeByTimeOnce) {
  LatencyHistory h;
  h.record("web", own(10, 1));
  h.record("web", own(30, 3));
  const std::vector<LatencySample> from_owner = {own(5, 50), own(20, 20), own(20, 20), own(30, 99)};
  h.merge("web", from_owner);
  h.merge("web", from_owner);  // handed twice: nothing new
  const auto s = h.samples("web");
  ASSERT_EQ(s.size(), 4u);
  EXPECT_EQ(s[0].at, at_s(5));
  EXPECT_FALSE(s[0].here);
  EXPECT_EQ(s[1].latency_us, 1u);
  EXPECT_TRUE(s[1].here);
  EXPECT_EQ(s[2].at, at_s(20));
  EXPECT_EQ(s[3].latency_us, 3u) << "the sample already held at that time stays";
}

TEST(LatencyHistory, TakeForHandsOnlyWhatTheSameReceiverHasNotHad) {
  LatencyHistory h;
  for (int i = 0; i < 5; ++i) h.record("web", own(i, 1));
  EXPECT_EQ(h.take_for("web", "n2").size(), 5u);
  EXPECT_TRUE(h.take_for("web", "n2").empty());
  h.record("web", own(5, 1));
  h.record("web", own(6, 1));
  const auto delta = h.take_for("web", "n2");
  ASSERT_EQ(delta.size(), 2u);
  EXPECT_EQ(delta.front().at, at_s(5));
  EXPECT_EQ(h.take_for("web", "n3").size(), 7u) << "a new standby gets the whole ring";
  EXPECT_TRUE(h.take_for("db", "n3").empty());
  // A sample merged in with an older time than the last one handed (a
  // skewed clock) is still handed on: what was sent is marked, not dated.
  h.merge("web", std::vector<LatencySample>{own(-10, 9)});
  const auto late = h.take_for("web", "n3");
  ASSERT_EQ(late.size(), 1u);
  EXPECT_EQ(late[0].at, at_s(-10));
  EXPECT_FALSE(late[0].sent);
}

TEST(LatencyHistory, ParkedRingsAreBoundedAndSettledByTheRegistry) {
  LatencyHistory h;
  const std::vector<LatencySample> one = {own(1, 7)};
  for (std::size_t i = 0; i <= LatencyHistory::kMaxParked; ++i) h.park("t" + std::to_string(i), one, at_s(0));
  EXPECT_EQ(h.parked(), LatencyHistory::kMaxParked);
  EXPECT_FALSE(h.is_parked("t0")) << "the one parked first goes first";
  EXPECT_TRUE(h.is_parked("t1"));
  EXPECT_EQ(h.size(), 0u) << "parked is not kept";
  h.park("t1", std::vector<LatencySample>{own(2, 8)}, at_s(0));
  h.unpark("t1", true);
  ASSERT_EQ(h.samples("t1").size(), 2u);
  EXPECT_FALSE(h.samples("t1")[0].here);
  h.unpark("t2", false);
  EXPECT_FALSE(h.is_parked("t2"));
  EXPECT_FALSE(h.contains("t2"));
  // A target that never comes: expired.
  h.park("late", one, at_s(100));
  h.expire_parked(at_s(50));
  EXPECT_TRUE(h.is_parked("late"));
  EXPECT_FALSE(h.is_parked("t3")) << "parked at 0, before 50";
  h.expire_parked(at_s(101));
  EXPECT_EQ(h.parked(), 0u);
}

TEST(LatencyHistory, TimesAreWholeMillisecondsSoAHandedBackSampleIsKnown) {
  EXPECT_EQ(LatencyHistory::whole_ms(Instant::from_ns(1'999'999)), Instant::from_ns(1'000'000));
  EXPECT_EQ(LatencyHistory::whole_ms(Instant::from_ns(-1)), Instant::from_ns(-1'000'000));
  LatencyHistory h;
  h.record("web", LatencySample{Instant::from_ns(1'700'000'000'123'456'789), 5, true, true});
  ASSERT_EQ(h.samples("web").size(), 1u);
  EXPECT_EQ(h.samples("web")[0].at.ns(), 1'700'000'000'123'000'000);
  // Out on the wire and back: the same sample, not a second one.
  auto back = decode_latency_handoff(body_of(encode_latency_handoff(LatencyHandoff{"web", h.take_for("web", "n2")})));
  ASSERT_TRUE(back.ok()) << back.error();
  h.merge("web", back->samples);
  ASSERT_EQ(h.samples("web").size(), 1u);
  EXPECT_TRUE(h.samples("web")[0].here);
}

TEST(LatencyHandoff, TimesFarApartEncodeWithoutOverflow) {
  const LatencyHandoff h{"web", {LatencySample{Instant::from_ns(0), 1, true, false},
                                 LatencySample{Instant::from_ns(INT64_MAX - 5'000), 2, true, false}}};
  // The offset is over a year: refused by the receiver, but written without UB.
  auto back = decode_latency_handoff(body_of(encode_latency_handoff(h)));
  ASSERT_FALSE(back.ok());
  EXPECT_NE(back.error().find("offset over a year"), std::string::npos) << back.error();
}

TEST(LatencyHandoff, RoundTripsThroughItsPart) {
  LatencyHandoff h{"web", {own(3, 1500), own(1, 0), LatencySample{at_s(2), LatencyHistory::kMaxLatencyUs, false, true}}};
  const wire::EncodedPart part = encode_latency_handoff(h);
  EXPECT_EQ(part.type, wire::PartType::latency_handoff);
  auto back = decode_latency_handoff(body_of(part));
  ASSERT_TRUE(back.ok()) << back.error();
  for (auto& s : h.samples) s.here = false;  // not sent
  std::sort(h.samples.begin(), h.samples.end(), [](const auto& a, const auto& b) { return a.at < b.at; });
  EXPECT_EQ(*back, h);
  EXPECT_EQ((*back).samples.front().at, at_s(1)) << "sent in time order";
  EXPECT_LE(part.bytes.size(), 32u) << "three samples: a few bytes each";
  // A full ring of 1 s checks of a few ms: about 5 bytes a sample.
  LatencyHandoff full{"web", {}};
  for (int i = 0; i < 60; ++i) full.samples.push_back(own(i, 2'000 + static_cast<std::uint32_t>(i) * 100));
  EXPECT_LE(encode_latency_handoff(full).bytes.size(), 60u * 5 + 24);
}

void put_varint(Bytes& out, std::uint64_t v) {
  while (v >= 0x80) {
    out.push_back(static_cast<std::uint8_t>(v | 0x80));
    v >>= 7;
  }
  out.push_back(static_cast<std::uint8_t>(v));
}

// A body written by hand: [id, base_ms, count, samples] with `n` samples
// each `delta_ms` after the one before and `latency_us` (ok).
Bytes handoff_body(std::string_view id, std::int64_t base, std::size_t count, std::size_t n, std::uint64_t delta_ms,
                   std::uint64_t latency_us, Bytes extra = {}) {
  Bytes packed;
  for (std::size_t i = 0; i < n; ++i) {
    put_varint(packed, delta_ms);
    put_varint(packed, latency_us * 2 + 1);
  }
  packed.insert(packed.end(), extra.begin(), extra.end());
  Bytes b;
  wire::MsgpackWriter w(b);
  w.array(4);
  w.str(id);
  w.sint(base);
  w.uint(count);
  w.bin(packed);
  return b;
}

TEST(LatencyHandoff, BreakingALimitIsAnErrorThatNamesIt) {
  auto ok = decode_latency_handoff(handoff_body("web", 0, 60, 60, 1'000, 5));
  ASSERT_TRUE(ok.ok()) << ok.error();
  EXPECT_EQ(ok->samples.back().at, Instant::from_ns(60'000'000'000));
  EXPECT_TRUE(ok->samples.back().ok);
  auto many = decode_latency_handoff(handoff_body("web", 0, 61, 61, 0, 5));
  ASSERT_FALSE(many.ok());
  EXPECT_NE(many.error().find("61 samples (at most 60)"), std::string::npos) << many.error();
  auto id = decode_latency_handoff(handoff_body("no spaces allowed", 0, 1, 1, 0, 5));
  ASSERT_FALSE(id.ok());
  EXPECT_NE(id.error().find("target id"), std::string::npos) << id.error();
  auto slow = decode_latency_handoff(handoff_body("web", 0, 1, 1, 0, 3'600'000'001ULL));
  ASSERT_FALSE(slow.ok());
  EXPECT_NE(slow.error().find("samples[0]: latency over an hour"), std::string::npos) << slow.error();
  auto late = decode_latency_handoff(handoff_body("web", INT64_MAX / 1'000'000, 1, 1, 0, 5));
  ASSERT_FALSE(late.ok());
  EXPECT_NE(late.error().find("base_ms: out of range"), std::string::npos) << late.error();
  auto far = decode_latency_handoff(handoff_body("web", 0, 2, 2, 200ULL * 86'400'000, 5));
  ASSERT_FALSE(far.ok());
  EXPECT_NE(far.error().find("samples[1]: offset over a year"), std::string::npos) << far.error();
  auto short_by_one = decode_latency_handoff(handoff_body("web", 0, 3, 2, 1'000, 5));
  ASSERT_FALSE(short_by_one.ok());
  EXPECT_NE(short_by_one.error().find("samples[2]: truncated or malformed"), std::string::npos) << short_by_one.error();
  auto trailing = decode_latency_handoff(handoff_body("web", 0, 2, 2, 1'000, 5, Bytes{0x01}));
  ASSERT_FALSE(trailing.ok());
  EXPECT_NE(trailing.error().find("1 bytes after the last sample"), std::string::npos) << trailing.error();
  auto endless = decode_latency_handoff(handoff_body("web", 0, 1, 0, 0, 0, Bytes(11, 0xff)));
  ASSERT_FALSE(endless.ok());
  EXPECT_NE(endless.error().find("samples[0]: truncated or malformed"), std::string::npos) << endless.error();
  Bytes not_array;
  wire::MsgpackWriter(not_array).str("web");
  auto shape = decode_latency_handoff(not_array);
  ASSERT_FALSE(shape.ok());
  EXPECT_NE(shape.error().find("must be [target id"), std::string::npos) << shape.error();
}

}  // namespace
}  // namespace heck
