// Placeholder: compiles, does nothing yet. The full machine follows.
#include "core/membership/swim.h"

namespace heck {

bool is_membership_part(wire::PartType type) {
  const auto t = static_cast<std::uint16_t>(type);
  return t >= 1 && t <= 31;
}

Swim::Swim(SwimConfig config, std::string name, Address address, std::uint64_t seed)
    : config_(config),
      self_(std::move(name)),
      address_(std::move(address)),
      rng_(seed),
      broadcasts_(config.retransmit_mult, config.max_broadcasts),
      join_backoff_(config.join_backoff_min) {
  Member m;
  m.info = MemberInfo{self_, address_, MemberState::alive, 0, Instant{}};
  m.slot = next_slot_++;
  slots_.emplace(m.slot, self_);
  members_.emplace(self_, std::move(m));
}

void Swim::join(Instant, std::vector<Address>, Effects&) { started_ = joined_ = true; }
void Swim::leave(Instant, Effects&) { left_ = true; }
void Swim::handle_timer(Instant, TimerKey, Effects&) {}
void Swim::handle_part(Instant, const wire::Header&, const wire::Part&, Channel, Effects&) {}

std::uint64_t Swim::incarnation() const { return members_.at(self_).info.incarnation; }

const MemberInfo* Swim::member(std::string_view name) const {
  auto it = members_.find(name);
  return it == members_.end() ? nullptr : &it->second.info;
}

std::vector<MemberInfo> Swim::members() const {
  std::vector<MemberInfo> out;
  out.reserve(members_.size());
  for (const auto& [n, m] : members_) out.push_back(m.info);
  return out;
}

std::vector<const MemberInfo*> Swim::live_members() const {
  std::vector<const MemberInfo*> out;
  for (const auto& [n, m] : members_) {
    if (n == self_) continue;
    if (m.info.state == MemberState::alive || m.info.state == MemberState::suspect) out.push_back(&m.info);
  }
  return out;
}

std::size_t Swim::live_count() const { return live_members().size() + 1; }

}  // namespace heck
