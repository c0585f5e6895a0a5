// Decoded envelopes, shared by the message they were decoded from.
//
// A message sent to many peers is one SharedBytes block (core/net.h): in
// the simulator a hundred agents receive the very same block of an eager
// push within a link latency of each other, and each walked it whole to
// check it (decode_view reads every body to its end: 9% of the 100-agent
// simulation). A node given a cache (ClusterNodeConfig::envelope_cache)
// takes the envelope decoded from that block before, under the same
// limits; only a miss decodes, and inserts.
//
// Keyed by the block itself: an entry holds a reference to its block, so
// the block cannot be freed (nor its address reused by another message)
// while the entry lives, and the parts view its bytes. decode_view is a
// pure function of the bytes and the limits, so a hit yields exactly what a
// fresh decode would: sharing a cache between agents changes no agent's
// behaviour (every trace is byte-identical with and without one); only its
// counters depend on where the blocks were allocated. Messages
// that do not decode are never kept: each receiver finds and counts its own
// malformed packets.
//
// Bounded: `slots` entries, direct-mapped by the block's address (a newer
// block takes its slot), each of at most `max_bytes` (a larger message, a
// stream frame sent to one peer, is decoded and not kept): at most
// slots x max_bytes held, ~1.4 MB at the defaults' datagram sizes. A lookup
// is one hash of a pointer and, on a hit, no copy. The daemon has none: its messages come from the network, one block
// per receipt.
//
// Not thread-safe: one driver thread uses it (the simulator's event loop).
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "core/net.h"
#include "core/wire/envelope.h"

namespace heck::wire {

struct EnvelopeCacheCounters {
  std::uint64_t hits = 0;
  std::uint64_t misses = 0;
  std::uint64_t uncached = 0;  // over max_bytes: decoded, not kept
};

class EnvelopeCache {
 public:
  explicit EnvelopeCache(std::size_t slots = 1024, std::size_t max_bytes = 65536);

  // The envelope decode_view(bytes, limits) gives, decoded here before or
  // now; an error as decode_view gives it (not kept). Valid until the next
  // call (which may take its slot).
  const Result<Envelope>& decode(const SharedBytes& bytes, const DecodeLimits& limits);

  const EnvelopeCacheCounters& counters() const { return counters_; }

 private:
  struct Entry {
    SharedBytes bytes;  // holds the block: its address is the key
    DecodeLimits limits;
    Result<Envelope> envelope = Error{"empty"};
  };

  std::vector<Entry> slots_;
  std::size_t max_bytes_;
  Result<Envelope> uncached_ = Error{"empty"};  // the last error, or message over max_bytes
  EnvelopeCacheCounters counters_;
};

}  // namespace heck::wire
