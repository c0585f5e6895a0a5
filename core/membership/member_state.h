// The states of a cluster member (SWIM, Das/Gupta/Motivala 2002, section 4.2,
// with memberlist's `left` for a graceful leave).
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

namespace heck {

enum class MemberState : std::uint8_t { alive = 0, suspect = 1, dead = 2, left = 3 };

constexpr std::string_view to_string(MemberState s) {
  switch (s) {
    case MemberState::alive: return "alive";
    case MemberState::suspect: return "suspect";
    case MemberState::dead: return "dead";
    case MemberState::left: return "left";
  }
  return "?";
}

constexpr std::optional<MemberState> member_state_from_string(std::string_view s) {
  if (s == "alive") return MemberState::alive;
  if (s == "suspect") return MemberState::suspect;
  if (s == "dead") return MemberState::dead;
  if (s == "left") return MemberState::left;
  return std::nullopt;
}

}  // namespace heck
