// Dots and replica ids: the identity of every write in the replicated state.
//
// Delta-state CRDTs after Almeida, Shoker, Baquero, "Delta State Replicated
// Data Types" (JPDC 2018), §4 (causal CRDTs: dot stores and causal contexts).
//
// A dot (replica, counter) names one write. A replica never issues the same
// dot twice. heck's rule for that: a replica id belongs to one *incarnation* of
// an agent — an agent that starts with empty state (a fresh start or a restart
// that lost its state) takes a new replica id, derived from its name and a
// boot nonce the driver supplies (runtime: random bytes from the OS at start;
// simulator: the run's seeded PRNG). An agent never reuses a replica id, so it
// never has to recover its counter. The cost is one version-vector entry per
// incarnation, which is small next to per-target state.
#pragma once

#include <compare>
#include <cstdint>
#include <string_view>

namespace heck {

using ReplicaId = std::uint64_t;

// A replica id for one incarnation of agent `name` (xxhash64 of both).
ReplicaId make_replica_id(std::string_view name, std::uint64_t boot_nonce);

struct Dot {
  ReplicaId replica = 0;
  std::uint64_t counter = 0;  // 1, 2, 3, … per replica
  auto operator<=>(const Dot&) const = default;
};

}  // namespace heck
