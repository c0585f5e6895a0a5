#include "core/replicated/replicator.h"

#include <cassert>

#include "core/membership/broadcast_queue.h"

namespace heck {

bool is_replication_part(wire::PartType type) {
  const auto t = static_cast<std::uint16_t>(type);
  return t >= 32 && t <= 63;
}

Replicator::Replicator(ReplicatorConfig config, wire::Header self, ReplicaId replica, std::uint64_t seed,
                       BroadcastQueue* broadcasts)
    : config_(std::move(config)),
      self_(std::move(self)),
      rng_(seed),
      broadcasts_(broadcasts),
      state_(replica),
      clock_(config_.hlc_max_forward) {
  assert(replica != 0);
}

void Replicator::start(Instant now, Effects& out) {
  out.push_back(SetTimer{TimerKey{TimerKind::anti_entropy, 0}, now + config_.anti_entropy_interval});
}

void Replicator::put_target(Instant now, TargetSpec spec, Effects&) { state_.put_target(clock_.tick(now), std::move(spec)); }
void Replicator::remove_target(Instant, const std::string& id, Effects&) { state_.remove_target(id); }
Observation Replicator::observe(Instant now, const std::string& id, Observation o, Effects&) {
  o.observed_at = clock_.tick(now);
  o.observer = state_.self();
  state_.observe(id, o);
  return o;
}
void Replicator::add_to_counter(Instant, const std::string& name, std::int64_t amount, Effects&) {
  state_.add_to_counter(name, amount);
}
void Replicator::handle_part(Instant, const wire::Header&, const wire::Part& part, Channel, std::span<const Peer>,
                             Effects&) {
  if (!is_replication_part(part.type)) ++counters_.unknown_parts;
}
void Replicator::handle_timer(Instant, TimerKey, std::span<const Peer>, Effects&) {}
Digest Replicator::digest() const { return Digest{state_.state().observations.context, {}, false}; }
void Replicator::start_anti_entropy(Instant, const Peer&, Effects&) {}

}  // namespace heck
