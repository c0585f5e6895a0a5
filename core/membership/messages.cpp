#include "core/membership/messages.h"

#include <fmt/format.h>

namespace heck {
namespace {

using json = nlohmann::json;

json body_of(const PingMsg& m) { return json::array({m.seq, m.target}); }
json body_of(const PingReqMsg& m) {
  return json::array({m.seq, m.target, m.target_address, m.want_nack});
}
json body_of(const AckMsg& m) { return json::array({m.seq}); }
json body_of(const NackMsg& m) { return json::array({m.seq}); }
json body_of(const AliveMsg& m) { return json::array({m.name, m.address, m.incarnation}); }
json body_of(const SuspectMsg& m) {
  return json::array({m.name, m.address, m.incarnation, m.from});
}
json body_of(const DeadMsg& m) {
  return json::array({m.name, m.address, m.incarnation, m.from, m.left});
}
json body_of(const PushPullMsg& m) {
  json list = json::array();
  for (const auto& e : m.members) {
    list.push_back(json::array({e.name, e.address, static_cast<std::uint64_t>(e.state), e.incarnation}));
  }
  return json::array({m.reply, m.join, std::move(list)});
}

// Field readers: each returns false and sets `err` when the field is wrong.
struct Reader {
  const json& arr;
  const char* type;
  std::string err;

  bool shape(std::size_t n) {
    if (!arr.is_array() || arr.size() != n) {
      err = fmt::format("{}: expected an array of {}", type, n);
      return false;
    }
    return true;
  }
  bool u64(std::size_t i, const char* field, std::uint64_t& out) {
    // A body built in memory holds small numbers as signed; MessagePack
    // decodes them as unsigned. Both are fine when not negative.
    const json& v = arr[i];
    if (!v.is_number_integer() || (!v.is_number_unsigned() && v.get<std::int64_t>() < 0)) {
      err = fmt::format("{}: {} is not an unsigned integer", type, field);
      return false;
    }
    out = v.get<std::uint64_t>();
    return true;
  }
  bool boolean(std::size_t i, const char* field, bool& out) {
    if (!arr[i].is_boolean()) {
      err = fmt::format("{}: {} is not a boolean", type, field);
      return false;
    }
    out = arr[i].get<bool>();
    return true;
  }
  bool str(const json& v, const char* field, std::size_t limit, std::string& out) {
    if (!v.is_string() || v.get_ref<const std::string&>().empty() ||
        v.get_ref<const std::string&>().size() > limit) {
      err = fmt::format("{}: {} must be a string of 1-{} bytes", type, field, limit);
      return false;
    }
    out = v.get<std::string>();
    return true;
  }
  bool name(std::size_t i, const char* field, std::string& out) {
    return str(arr[i], field, wire::kMaxNameBytes, out);
  }
  bool address(std::size_t i, const char* field, std::string& out) {
    return str(arr[i], field, wire::kMaxAddressBytes, out);
  }
};

// REQUIRES: `ok` computed before the call (argument order is unspecified).
template <typename T>
Result<SwimMessage> done(Reader& r, bool ok, T msg) {
  if (!ok) return Error{std::move(r.err)};
  return SwimMessage{std::move(msg)};
}

Result<SwimMessage> decode_push_pull(Reader& r) {
  PushPullMsg m;
  if (!r.shape(3) || !r.boolean(0, "is reply", m.reply) || !r.boolean(1, "is join", m.join)) {
    return Error{std::move(r.err)};
  }
  const json& list = r.arr[2];
  if (!list.is_array()) return Error{"push_pull: members is not an array"};
  if (list.size() > kMaxPushPullMembers) {
    return Error{fmt::format("push_pull: {} members (limit {})", list.size(), kMaxPushPullMembers)};
  }
  m.members.reserve(list.size());
  for (std::size_t i = 0; i < list.size(); ++i) {
    Reader e{list[i], "push_pull member", {}};
    PushPullEntry entry;
    std::uint64_t state = 0;
    if (!e.shape(4) || !e.name(0, "name", entry.name) || !e.address(1, "address", entry.address) ||
        !e.u64(2, "state", state) || !e.u64(3, "incarnation", entry.incarnation)) {
      return Error{fmt::format("push_pull: members[{}]: {}", i, e.err)};
    }
    if (state > static_cast<std::uint64_t>(MemberState::left)) {
      return Error{fmt::format("push_pull: members[{}]: unknown state {}", i, state)};
    }
    entry.state = static_cast<MemberState>(state);
    m.members.push_back(std::move(entry));
  }
  return SwimMessage{std::move(m)};
}

}  // namespace

wire::PartType part_type_of(const SwimMessage& m) {
  static constexpr wire::PartType kTypes[] = {
      wire::PartType::ping,  wire::PartType::ping_req, wire::PartType::ack,
      wire::PartType::nack,  wire::PartType::alive,    wire::PartType::suspect,
      wire::PartType::dead,  wire::PartType::push_pull};
  return kTypes[m.index()];
}

wire::EncodedPart encode_message(const SwimMessage& m) {
  return wire::encode_part(part_type_of(m), std::visit([](const auto& x) { return body_of(x); }, m));
}

Result<SwimMessage> decode_message(const wire::Part& part) {
  const json& b = part.body;
  switch (part.type) {
    case wire::PartType::ping: {
      Reader r{b, "ping", {}};
      PingMsg m;
      const bool ok = r.shape(2) && r.u64(0, "seq", m.seq) && r.name(1, "target", m.target);
      return done(r, ok, std::move(m));
    }
    case wire::PartType::ping_req: {
      Reader r{b, "ping_req", {}};
      PingReqMsg m;
      const bool ok = r.shape(4) && r.u64(0, "seq", m.seq) && r.name(1, "target", m.target) &&
                r.address(2, "target address", m.target_address) &&
                r.boolean(3, "want nack", m.want_nack);
      return done(r, ok, std::move(m));
    }
    case wire::PartType::ack: {
      Reader r{b, "ack", {}};
      AckMsg m;
      const bool ok = r.shape(1) && r.u64(0, "seq", m.seq);
      return done(r, ok, m);
    }
    case wire::PartType::nack: {
      Reader r{b, "nack", {}};
      NackMsg m;
      const bool ok = r.shape(1) && r.u64(0, "seq", m.seq);
      return done(r, ok, m);
    }
    case wire::PartType::alive: {
      Reader r{b, "alive", {}};
      AliveMsg m;
      const bool ok = r.shape(3) && r.name(0, "name", m.name) && r.address(1, "address", m.address) &&
                r.u64(2, "incarnation", m.incarnation);
      return done(r, ok, std::move(m));
    }
    case wire::PartType::suspect: {
      Reader r{b, "suspect", {}};
      SuspectMsg m;
      const bool ok = r.shape(4) && r.name(0, "name", m.name) && r.address(1, "address", m.address) &&
                r.u64(2, "incarnation", m.incarnation) && r.name(3, "from", m.from);
      return done(r, ok, std::move(m));
    }
    case wire::PartType::dead: {
      Reader r{b, "dead", {}};
      DeadMsg m;
      const bool ok = r.shape(5) && r.name(0, "name", m.name) && r.address(1, "address", m.address) &&
                r.u64(2, "incarnation", m.incarnation) && r.name(3, "from", m.from) &&
                r.boolean(4, "left", m.left);
      return done(r, ok, std::move(m));
    }
    case wire::PartType::push_pull: {
      Reader r{b, "push_pull", {}};
      return decode_push_pull(r);
    }
    default:
      return Error{fmt::format("part type {} is not a membership message",
                               static_cast<unsigned>(part.type))};
  }
}

}  // namespace heck
