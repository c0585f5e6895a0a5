// Every kind of message part on the wire, in one table so that numbers never
// collide between layers. A number, once shipped, keeps its meaning; a decoder
// drops (and counts) a part type it does not know.
#pragma once

#include <cstdint>

namespace heck::wire {

enum class PartType : std::uint16_t {
  // Membership (core/membership/), 1-31.
  ping = 1,
  ping_req = 2,
  ack = 3,
  nack = 4,
  alive = 5,
  suspect = 6,
  dead = 7,
  push_pull = 8,       // full membership state, request or reply (stream)

  // Replicated state (core/replicated/), 32-63.
  delta = 32,          // a delta-group of the health state
  digest = 33,         // anti-entropy: what the sender has
  repair = 34,         // anti-entropy: state parts the peer lacks (stream)

  // The composed node (core/cluster/), 64-95.
  latency_handoff = 64,  // a target's recent check latencies, for its next owner
};

}  // namespace heck::wire
