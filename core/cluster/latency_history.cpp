#include "core/cluster/latency_history.h"

#include <algorithm>

#include <fmt/format.h>

#include "core/target_spec.h"
#include "core/wire/msgpack_reader.h"
#include "core/wire/msgpack_writer.h"

namespace heck {

LatencySample LatencyHistory::sample(Instant at, Duration latency, bool ok) {
  const std::int64_t us = std::clamp<std::int64_t>(latency.ns() / 1'000, 0, kMaxLatencyUs);
  return LatencySample{at, static_cast<std::uint32_t>(us), ok, true};  // record() rounds the time
}

Instant LatencyHistory::whole_ms(Instant at) {
  const std::int64_t ns = at.ns();
  const std::int64_t rem = ns % 1'000'000;
  return Instant::from_ns(ns - (rem < 0 ? rem + 1'000'000 : rem));
}

namespace {

// Merges handed-over samples into a ring by time (here = false), a time
// already held kept once, the newest kMaxSamples kept.
void merge_into(std::vector<LatencySample>& ring, std::span<const LatencySample> samples) {
  for (LatencySample s : samples) {
    s.here = false;
    s.sent = false;
    s.at = LatencyHistory::whole_ms(s.at);
    auto at = std::lower_bound(ring.begin(), ring.end(), s.at,
                               [](const LatencySample& a, Instant t) { return a.at < t; });
    if (at != ring.end() && at->at == s.at) continue;  // already held
    ring.insert(at, s);
  }
  if (ring.size() > LatencyHistory::kMaxSamples) {
    ring.erase(ring.begin(), ring.end() - static_cast<std::ptrdiff_t>(LatencyHistory::kMaxSamples));
  }
}

}  // namespace

std::vector<LatencySample>& LatencyHistory::Ring::in_order() const {
  if (head != 0) {
    std::rotate(samples.begin(), samples.begin() + static_cast<std::ptrdiff_t>(head), samples.end());
    head = 0;
  }
  return samples;
}

LatencyHistory::Ring& LatencyHistory::ring(NameRef id, RingHint* hint) {
  using Entry = SlotMap<std::string, Ring>::value_type;
  if (hint && hint->from_ == this) {
    // The map's slots stay where they are until its end: an entry erased
    // since reads as empty (no id is), one reused holds another id.
    auto* e = const_cast<Entry*>(static_cast<const Entry*>(hint->entry_));
    if (e->first == id) return e->second;
  }
  Entry* e = by_id_.find(id);
  if (!e) e = by_id_.insert(std::string(id.text()), Ring{});
  if (hint) {
    hint->from_ = this;
    hint->entry_ = e;
  }
  return e->second;
}

void LatencyHistory::merge(NameRef id, std::span<const LatencySample> samples) {
  if (!samples.empty()) merge_into(ring(id).in_order(), samples);
}

void LatencyHistory::park(NameRef id, std::span<const LatencySample> samples, Instant now) {
  auto* e = parked_.find(id);
  if (!e) {
    if (parked_.size() >= kMaxParked) {
      const std::pair<std::string, Parked>* first = nullptr;
      parked_.for_each_slot([&](const auto& p) {
        if (!first || p.second.seq < first->second.seq) first = &p;
      });
      parked_.erase(std::string_view(first->first));
    }
    e = parked_.insert(std::string(id.text()), Parked{{}, park_seq_++, now});
  }
  merge_into(e->second.samples, samples);
}

void LatencyHistory::unpark(NameRef id, bool keep) {
  auto* e = parked_.find(id);
  if (!e) return;
  if (keep) merge(id, e->second.samples);
  parked_.erase(id);
}

void LatencyHistory::expire_parked(Instant before) {
  parked_.erase_if([&](const auto& p) { return p.second.at < before; });
}

void LatencyHistory::record(NameRef id, LatencySample s, RingHint* hint) {
  s.here = true;
  s.sent = false;
  s.at = whole_ms(s.at);
  Ring& r = ring(id, hint);
  std::vector<LatencySample>& samples = r.samples;
  if (samples.size() == kMaxSamples) {
    const std::size_t newest = (r.head + kMaxSamples - 1) % kMaxSamples;
    if (!(s.at < samples[newest].at)) {  // the newest: it replaces the oldest
      samples[r.head] = s;
      r.head = (r.head + 1) % kMaxSamples;
      return;
    }
  }
  // Own checks come in time order: almost always an append.
  r.in_order();
  auto at = samples.end();
  while (at != samples.begin() && s.at < std::prev(at)->at) --at;
  samples.insert(at, s);
  if (samples.size() > kMaxSamples) samples.erase(samples.begin());
}

std::span<const LatencySample> LatencyHistory::samples(NameRef id) const {
  const auto* e = by_id_.find(id);
  if (!e) return {};
  return e->second.in_order();
}

void LatencyHistory::forget(NameRef id) { by_id_.erase(id); }

std::vector<LatencySample> LatencyHistory::take_for(NameRef id, std::string_view to) {
  auto* e = by_id_.find(id);
  if (!e || e->second.samples.empty()) return {};
  Ring& r = e->second;
  std::vector<LatencySample>& samples = r.in_order();
  if (r.handed_to != to) {  // a new receiver: everything is new to it
    r.handed_to = std::string(to);
    for (LatencySample& s : samples) s.sent = false;
  }
  std::vector<LatencySample> out;
  for (LatencySample& s : samples) {
    if (s.sent) continue;
    s.sent = true;
    out.push_back(s);
    out.back().sent = false;
  }
  return out;
}

// --- the wire -------------------------------------------------------------------

namespace {

constexpr std::uint64_t kMaxOffsetMs = 366ULL * 86'400'000ULL;  // a year: 60 checks an hour apart fit
constexpr std::int64_t kNsPerMs = 1'000'000;

std::int64_t floor_ms(Instant at) { return LatencyHistory::whole_ms(at).ns() / kNsPerMs; }

void put_varint(Bytes& out, std::uint64_t v) {
  while (v >= 0x80) {
    out.push_back(static_cast<std::uint8_t>(v | 0x80));
    v >>= 7;
  }
  out.push_back(static_cast<std::uint8_t>(v));
}

// LEB128, at most 10 bytes and 64 bits; false when truncated or longer.
bool get_varint(std::span<const std::uint8_t> in, std::size_t& pos, std::uint64_t& v) {
  v = 0;
  for (int shift = 0; shift < 64; shift += 7) {
    if (pos >= in.size()) return false;
    const std::uint8_t b = in[pos++];
    if (shift == 63 && b > 1) return false;  // past 64 bits
    v |= static_cast<std::uint64_t>(b & 0x7f) << shift;
    if ((b & 0x80) == 0) return true;
  }
  return false;
}

}  // namespace

wire::EncodedPart encode_latency_handoff(const LatencyHandoff& h) {
  std::vector<LatencySample> samples = h.samples;
  std::stable_sort(samples.begin(), samples.end(),
                   [](const LatencySample& a, const LatencySample& b) { return a.at < b.at; });
  const std::int64_t base = samples.empty() ? 0 : floor_ms(samples.front().at);
  Bytes packed;
  packed.reserve(samples.size() * 5);
  std::int64_t prev = base;
  for (const LatencySample& s : samples) {
    const std::int64_t ms = floor_ms(s.at);
    // Unsigned: no overflow however far apart the times are (ms >= prev).
    put_varint(packed, static_cast<std::uint64_t>(ms) - static_cast<std::uint64_t>(prev));
    put_varint(packed, (static_cast<std::uint64_t>(s.latency_us) << 1) | (s.ok ? 1U : 0U));
    prev = ms;
  }
  Bytes body;
  wire::MsgpackWriter w(body);
  w.array(4);
  w.str(h.target);
  w.sint(base);
  w.uint(samples.size());
  w.bin(packed);
  return wire::encode_part(wire::PartType::latency_handoff, body);
}

Result<LatencyHandoff> decode_latency_handoff(std::span<const std::uint8_t> body) {
  wire::MsgpackReader r(body);
  wire::MsgValue v, id, base, count, packed;
  const char* shape = "latency_handoff: must be [target id, base_ms, count, samples (binary)]";
  if (!r.header(v) || v.type != wire::MsgType::array || v.size != 4) return Error{shape};
  if (!r.value(id) || id.type != wire::MsgType::str || !valid_target_id(id.text())) {
    return Error{"latency_handoff: the target id is not a valid target id"};
  }
  if (!r.value(base) || !base.is_integer()) return Error{"latency_handoff.base_ms: must be an integer"};
  // Every time base + offset (at most a year) must fit in int64 nanoseconds.
  constexpr std::int64_t kMaxBaseMs = INT64_MAX / kNsPerMs - static_cast<std::int64_t>(kMaxOffsetMs);
  constexpr std::int64_t kMinBaseMs = INT64_MIN / kNsPerMs + 1;
  if ((base.type == wire::MsgType::uint && base.u > static_cast<std::uint64_t>(kMaxBaseMs)) ||
      (base.type == wire::MsgType::sint && (base.i > kMaxBaseMs || base.i < kMinBaseMs))) {
    return Error{"latency_handoff.base_ms: out of range"};
  }
  const std::int64_t base_ms = base.type == wire::MsgType::sint ? base.i : static_cast<std::int64_t>(base.u);
  if (!r.value(count) || !count.is_non_negative_integer()) return Error{shape};
  if (count.as_u64() > LatencyHistory::kMaxSamples) {
    return Error{fmt::format("latency_handoff: {} samples (at most {})", count.as_u64(), LatencyHistory::kMaxSamples)};
  }
  if (!r.value(packed) || packed.type != wire::MsgType::bin || !r.at_end()) return Error{shape};
  LatencyHandoff h;
  h.target = std::string(id.text());
  const std::size_t n = static_cast<std::size_t>(count.as_u64());
  h.samples.reserve(n);
  std::size_t pos = 0;
  std::uint64_t offset = 0;
  for (std::size_t i = 0; i < n; ++i) {
    std::uint64_t delta = 0, lat = 0;
    if (!get_varint(packed.payload, pos, delta) || !get_varint(packed.payload, pos, lat)) {
      return Error{fmt::format("latency_handoff.samples[{}]: truncated or malformed", i)};
    }
    if (delta > kMaxOffsetMs || offset + delta > kMaxOffsetMs) {
      return Error{fmt::format("latency_handoff.samples[{}]: offset over a year", i)};
    }
    offset += delta;
    if ((lat >> 1) > LatencyHistory::kMaxLatencyUs) {
      return Error{fmt::format("latency_handoff.samples[{}]: latency over an hour", i)};
    }
    const std::int64_t at_ms = base_ms + static_cast<std::int64_t>(offset);
    h.samples.push_back(LatencySample{Instant::from_ns(at_ms * kNsPerMs), static_cast<std::uint32_t>(lat >> 1),
                                      (lat & 1) != 0, false});
  }
  if (pos != packed.payload.size()) {
    return Error{fmt::format("latency_handoff.samples: {} bytes after the last sample", packed.payload.size() - pos)};
  }
  return h;
}

}  // namespace heck
