#include "core/cluster/latency_history.h"

#include <algorithm>

#include <fmt/format.h>

#include "core/target_spec.h"
#include "core/wire/msgpack_reader.h"
#include "core/wire/msgpack_writer.h"

namespace heck {

LatencySample LatencyHistory::sample(Instant at, Duration latency, bool ok) {
  const std::int64_t us = std::clamp<std::int64_t>(latency.ns() / 1'000, 0, kMaxLatencyUs);
  return LatencySample{whole_us(at), static_cast<std::uint32_t>(us), ok, true};
}

Instant LatencyHistory::whole_us(Instant at) {
  const std::int64_t ns = at.ns();
  const std::int64_t rem = ns % 1'000;
  return Instant::from_ns(ns - (rem < 0 ? rem + 1'000 : rem));
}

namespace {

// Merges handed-over samples into a ring by time (here = false), a time
// already held kept once, the newest kMaxSamples kept.
void merge_into(std::vector<LatencySample>& ring, std::span<const LatencySample> samples) {
  for (LatencySample s : samples) {
    s.here = false;
    s.sent = false;
    s.at = LatencyHistory::whole_us(s.at);
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

void LatencyHistory::merge(std::string_view id, std::span<const LatencySample> samples) {
  if (samples.empty()) return;
  auto it = by_id_.find(id);
  if (it == by_id_.end()) it = by_id_.emplace(std::string(id), Ring{}).first;
  merge_into(it->second.samples, samples);
}

void LatencyHistory::park(std::string_view id, std::span<const LatencySample> samples, Instant now) {
  auto it = parked_.find(id);
  if (it == parked_.end()) {
    if (parked_.size() >= kMaxParked) {
      parked_.erase(std::min_element(parked_.begin(), parked_.end(), [](const auto& a, const auto& b) {
        return a.second.seq < b.second.seq;
      }));
    }
    it = parked_.emplace(std::string(id), Parked{{}, park_seq_++, now}).first;
  }
  merge_into(it->second.samples, samples);
}

void LatencyHistory::unpark(std::string_view id, bool keep) {
  auto it = parked_.find(id);
  if (it == parked_.end()) return;
  if (keep) merge(id, it->second.samples);
  parked_.erase(it);
}

void LatencyHistory::expire_parked(Instant before) {
  std::erase_if(parked_, [&](const auto& p) { return p.second.at < before; });
}

void LatencyHistory::record(std::string_view id, LatencySample s) {
  s.here = true;
  s.sent = false;
  s.at = whole_us(s.at);
  auto it = by_id_.find(id);
  if (it == by_id_.end()) it = by_id_.emplace(std::string(id), Ring{}).first;
  std::vector<LatencySample>& ring = it->second.samples;
  // Own checks come in time order: almost always an append.
  auto at = ring.end();
  while (at != ring.begin() && s.at < std::prev(at)->at) --at;
  ring.insert(at, s);
  if (ring.size() > kMaxSamples) ring.erase(ring.begin());
}

std::span<const LatencySample> LatencyHistory::samples(std::string_view id) const {
  auto it = by_id_.find(id);
  if (it == by_id_.end()) return {};
  return it->second.samples;
}

void LatencyHistory::forget(std::string_view id) {
  if (auto it = by_id_.find(id); it != by_id_.end()) by_id_.erase(it);
}

std::vector<LatencySample> LatencyHistory::take_for(std::string_view id, std::string_view to) {
  auto it = by_id_.find(id);
  if (it == by_id_.end() || it->second.samples.empty()) return {};
  Ring& r = it->second;
  if (r.handed_to != to) {  // a new receiver: everything is new to it
    r.handed_to = std::string(to);
    for (LatencySample& s : r.samples) s.sent = false;
  }
  std::vector<LatencySample> out;
  for (LatencySample& s : r.samples) {
    if (s.sent) continue;
    s.sent = true;
    out.push_back(s);
    out.back().sent = false;
  }
  return out;
}

// --- the wire -------------------------------------------------------------------

namespace {
constexpr std::uint64_t kMaxOffsetUs = 366ULL * 86'400'000'000ULL;  // a year: 60 checks an hour apart fit
}  // namespace

wire::EncodedPart encode_latency_handoff(const LatencyHandoff& h) {
  Bytes body;
  wire::MsgpackWriter w(body);
  std::int64_t base = h.samples.empty() ? 0 : h.samples.front().at.ns();
  for (const LatencySample& s : h.samples) base = std::min(base, s.at.ns());
  w.array(3);
  w.str(h.target);
  w.sint(base);
  w.array(h.samples.size());
  for (const LatencySample& s : h.samples) {
    w.array(3);
    // Unsigned: no overflow however far apart the times are (at >= base).
    w.uint((static_cast<std::uint64_t>(s.at.ns()) - static_cast<std::uint64_t>(base)) / 1'000);
    w.uint(s.latency_us);
    w.boolean(s.ok);
  }
  return wire::encode_part(wire::PartType::latency_handoff, body);
}

Result<LatencyHandoff> decode_latency_handoff(std::span<const std::uint8_t> body) {
  wire::MsgpackReader r(body);
  wire::MsgValue v, id, base, list;
  const char* shape = "latency_handoff: must be [target id, base_ns, [[offset_us, latency_us, ok], ...]]";
  if (!r.header(v) || v.type != wire::MsgType::array || v.size != 3) return Error{shape};
  if (!r.value(id) || id.type != wire::MsgType::str || !valid_target_id(id.text())) {
    return Error{"latency_handoff: the target id is not a valid target id"};
  }
  if (!r.value(base) || !base.is_integer()) return Error{"latency_handoff.base_ns: must be an integer"};
  const std::int64_t base_ns = base.type == wire::MsgType::sint ? base.i : static_cast<std::int64_t>(base.u);
  if (base.type == wire::MsgType::uint && base.u > static_cast<std::uint64_t>(INT64_MAX)) {
    return Error{"latency_handoff.base_ns: out of range"};
  }
  if (!r.header(list) || list.type != wire::MsgType::array) return Error{shape};
  if (list.size > LatencyHistory::kMaxSamples) {
    return Error{fmt::format("latency_handoff: {} samples (at most {})", list.size, LatencyHistory::kMaxSamples)};
  }
  LatencyHandoff h;
  h.target = std::string(id.text());
  h.samples.reserve(list.size);
  for (std::uint32_t i = 0; i < list.size; ++i) {
    wire::MsgValue s, off, lat, ok;
    if (!r.header(s) || s.type != wire::MsgType::array || s.size != 3 || !r.value(off) || !r.value(lat) ||
        !r.value(ok) || !off.is_non_negative_integer() || !lat.is_non_negative_integer() ||
        ok.type != wire::MsgType::boolean) {
      return Error{fmt::format("latency_handoff.samples[{}]: must be [offset_us, latency_us, ok]", i)};
    }
    if (off.as_u64() > kMaxOffsetUs) return Error{fmt::format("latency_handoff.samples[{}]: offset over a year", i)};
    if (lat.as_u64() > LatencyHistory::kMaxLatencyUs) {
      return Error{fmt::format("latency_handoff.samples[{}]: latency over an hour", i)};
    }
    const std::int64_t off_ns = static_cast<std::int64_t>(off.as_u64()) * 1'000;
    if (base_ns > INT64_MAX - off_ns) return Error{fmt::format("latency_handoff.samples[{}]: time out of range", i)};
    h.samples.push_back(LatencySample{Instant::from_ns(base_ns + off_ns), static_cast<std::uint32_t>(lat.as_u64()),
                                      ok.boolean, false});
  }
  if (!r.at_end()) return Error{shape};
  return h;
}

}  // namespace heck
