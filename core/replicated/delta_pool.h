// Decoded delta bodies, shared by the exact bytes they were decoded from.
//
// An eager push sends one delta part to every peer, so in the simulator a
// hundred agents decode the same bytes within a link latency of each
// other. A replicator given a pool (ReplicatorConfig::delta_pool) looks a
// received body up first and joins the HealthDelta decoded from those
// bytes before; only a miss decodes, and inserts.
//
// decode_delta is a pure function of the bytes and the codec limits, and a
// hit is taken only under the same limits, so a hit yields exactly what a
// fresh decode would: sharing a pool between agents changes no agent's
// behaviour (every trace is byte-identical with and without one). Bodies
// that do not decode are never kept: each receiver finds and counts its
// own malformed parts.
//
// Bounded: the `capacity` most recently inserted distinct bodies (first in,
// first out). Cost: a lookup hashes the body (~100-1,400 B) and compares it
// once on a hit. The daemon's replicator has no pool: one agent decodes
// each body it receives once anyway.
//
// Not thread-safe: one driver thread uses it (the simulator's event loop).
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "core/replicated/bytes_key.h"
#include "core/replicated/codec.h"
#include "core/replicated/health_state.h"
#include "core/wire/envelope.h"

namespace heck {

struct DeltaPoolCounters {
  std::uint64_t hits = 0;
  std::uint64_t misses = 0;
  std::uint64_t evicted = 0;
};

class DeltaPool {
 public:
  explicit DeltaPool(std::size_t capacity = 32768) : capacity_(capacity == 0 ? 1 : capacity) {}

  // The delta decoded earlier from exactly `body` under `limits`, or null.
  // Valid until the next insert (which may evict it): no reference count
  // is touched on a hit.
  const HealthDelta* find(std::span<const std::uint8_t> body, const CodecLimits& limits);
  // The same entry as find() (not counted), as a shared owner, with
  // `body` as a delta part: for a caller that keeps the delta and sends it
  // on (a forwarder's buffered group). The part is built on the first call
  // for a body and shared by every later caller (every forwarder of it).
  struct Shared {
    std::shared_ptr<const HealthDelta> delta;
    wire::EncodedPart part;
  };
  std::optional<Shared> share(std::span<const std::uint8_t> body, const CodecLimits& limits);
  // Remembers `delta` as what `body` decodes to under `limits` (evicting
  // the oldest body past capacity).
  void insert(std::span<const std::uint8_t> body, const CodecLimits& limits, std::shared_ptr<const HealthDelta> delta);

  std::size_t size() const { return by_bytes_.size(); }
  std::size_t capacity() const { return capacity_; }
  const DeltaPoolCounters& counters() const { return counters_; }

 private:
  struct Entry {
    CodecLimits limits;
    std::shared_ptr<const HealthDelta> delta;
    std::optional<wire::EncodedPart> part;  // the body as a delta part, once shared
  };

  std::size_t capacity_;
  BytesMap<Entry> by_bytes_;
  std::deque<std::string_view> order_;  // keys of by_bytes_, oldest first (node keys do not move)
  DeltaPoolCounters counters_;
};

}  // namespace heck
