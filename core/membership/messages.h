// The membership messages and their wire codec. Each message is one part of
// an envelope (core/wire/envelope.h); its body is a compact MessagePack array,
// written and read straight from the structs (wire::MsgpackWriter/Reader):
//
//   ping      [seq, target name]                 SWIM 3.1 (target name guards
//                                                 against a reused address)
//   ping_req  [seq, target name, target address, want nack]   SWIM 3.1, LG 4.2
//   ack       [seq]
//   nack      [seq]                              Lifeguard 4.2
//   alive     [name, address, incarnation]       SWIM 4.2
//   suspect   [name, address, incarnation, from] SWIM 4.2 / LG 4.1 (`from`
//                                                 counts independent confirmations)
//   dead      [name, address, incarnation, from, left]   `left`: graceful leave
//   push_pull [is reply, is join, [[name, address, state, incarnation], ...]]
//
// Decoding is strict: exact array length, exact types, names of 1 to
// wire::kMaxNameBytes bytes, addresses of 1 to wire::kMaxAddressBytes bytes,
// state a known MemberState number, at most kMaxPushPullMembers entries. An
// error names the part type and what is wrong.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "core/membership/member_state.h"
#include "core/net.h"
#include "core/result.h"
#include "core/wire/envelope.h"

namespace heck {

inline constexpr std::size_t kMaxPushPullMembers = 65536;

struct PingMsg {
  std::uint64_t seq = 0;
  std::string target;
  bool operator==(const PingMsg&) const = default;
};
struct PingReqMsg {
  std::uint64_t seq = 0;
  std::string target;
  Address target_address;
  bool want_nack = false;
  bool operator==(const PingReqMsg&) const = default;
};
struct AckMsg {
  std::uint64_t seq = 0;
  bool operator==(const AckMsg&) const = default;
};
struct NackMsg {
  std::uint64_t seq = 0;
  bool operator==(const NackMsg&) const = default;
};
struct AliveMsg {
  std::string name;
  Address address;
  std::uint64_t incarnation = 0;
  bool operator==(const AliveMsg&) const = default;
};
struct SuspectMsg {
  std::string name;
  Address address;
  std::uint64_t incarnation = 0;
  std::string from;
  bool operator==(const SuspectMsg&) const = default;
};
struct DeadMsg {
  std::string name;
  Address address;
  std::uint64_t incarnation = 0;
  std::string from;
  bool left = false;
  bool operator==(const DeadMsg&) const = default;
};
struct PushPullEntry {
  std::string name;
  Address address;
  MemberState state = MemberState::alive;
  std::uint64_t incarnation = 0;
  bool operator==(const PushPullEntry&) const = default;
};
struct PushPullMsg {
  bool reply = false;
  bool join = false;
  std::vector<PushPullEntry> members;
  bool operator==(const PushPullMsg&) const = default;
};

using SwimMessage =
    std::variant<PingMsg, PingReqMsg, AckMsg, NackMsg, AliveMsg, SuspectMsg, DeadMsg, PushPullMsg>;

wire::PartType part_type_of(const SwimMessage& m);
wire::EncodedPart encode_message(const SwimMessage& m);
// Errors: "<type>: ..." naming the field, or "part type N is not a membership message".
Result<SwimMessage> decode_message(const wire::Part& part);

// An alive's fields as views into its part's bytes (valid while they are).
struct AliveView {
  std::string_view name;
  std::string_view address;
  std::uint64_t incarnation = 0;
};
// Set exactly when decode_message(part) returns an AliveMsg, with its
// fields, but copies nothing: most alives a member receives are news it
// already has, and it needs only these to tell.
std::optional<AliveView> view_alive(const wire::Part& part);

}  // namespace heck
