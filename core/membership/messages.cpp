#include "core/membership/messages.h"

#include <array>

#include <fmt/format.h>

#include "core/wire/msgpack_writer.h"

namespace heck {
namespace {

using wire::MsgType;
using wire::MsgValue;
using wire::MsgpackWriter;

void put(MsgpackWriter& w, std::uint64_t v) { w.uint(v); }
void put(MsgpackWriter& w, const std::string& v) { w.str(v); }
void put(MsgpackWriter& w, bool v) { w.boolean(v); }

// One body: an array of the fields, in order.
template <typename... Field>
void fields(MsgpackWriter& w, const Field&... f) {
  w.array(sizeof...(Field));
  (put(w, f), ...);
}

void body_of(const PingMsg& m, MsgpackWriter& w) { fields(w, m.seq, m.target); }
void body_of(const PingReqMsg& m, MsgpackWriter& w) { fields(w, m.seq, m.target, m.target_address, m.want_nack); }
void body_of(const AckMsg& m, MsgpackWriter& w) { fields(w, m.seq); }
void body_of(const NackMsg& m, MsgpackWriter& w) { fields(w, m.seq); }
void body_of(const AliveMsg& m, MsgpackWriter& w) { fields(w, m.name, m.address, m.incarnation); }
void body_of(const SuspectMsg& m, MsgpackWriter& w) { fields(w, m.name, m.address, m.incarnation, m.from); }
void body_of(const DeadMsg& m, MsgpackWriter& w) { fields(w, m.name, m.address, m.incarnation, m.from, m.left); }
void body_of(const PushPullMsg& m, MsgpackWriter& w) {
  w.array(3);
  w.boolean(m.reply);
  w.boolean(m.join);
  w.array(m.members.size());
  for (const auto& e : m.members) fields(w, e.name, e.address, static_cast<std::uint64_t>(e.state), e.incarnation);
}

// Field readers over one array of a fixed length: shape() reads the array
// and its items (containers stepped over); each check returns false and
// sets `err` when its field is wrong.
struct Reader {
  wire::MsgpackReader& in;
  const char* type;
  std::string err;
  std::array<MsgValue, 5> arr{};

  bool shape(std::size_t n) {
    MsgValue a;
    if (!in.header(a)) return malformed();
    if (a.type != MsgType::array || a.size != n) {
      err = fmt::format("{}: expected an array of {}", type, n);
      return false;
    }
    for (std::size_t i = 0; i < n; ++i) {
      if (!in.value(arr[i])) return malformed();
    }
    return true;
  }
  bool malformed() {
    err = fmt::format("{}: {}", type, in.error());
    return false;
  }
  bool u64(std::size_t i, const char* field, std::uint64_t& out) {
    if (!arr[i].is_non_negative_integer()) {
      err = fmt::format("{}: {} is not an unsigned integer", type, field);
      return false;
    }
    out = arr[i].as_u64();
    return true;
  }
  bool boolean(std::size_t i, const char* field, bool& out) {
    if (arr[i].type != MsgType::boolean) {
      err = fmt::format("{}: {} is not a boolean", type, field);
      return false;
    }
    out = arr[i].boolean;
    return true;
  }
  template <typename Text>
  bool str(const MsgValue& v, const char* field, std::size_t limit, Text& out) {
    if (v.type != MsgType::str || v.size == 0 || v.size > limit) {
      err = fmt::format("{}: {} must be a string of 1-{} bytes", type, field, limit);
      return false;
    }
    out = v.text();
    return true;
  }
  // Text (std::string or std::string_view into the part's bytes).
  template <typename Text>
  bool name(std::size_t i, const char* field, Text& out) {
    return str(arr[i], field, wire::kMaxNameBytes, out);
  }
  template <typename Text>
  bool address(std::size_t i, const char* field, Text& out) {
    return str(arr[i], field, wire::kMaxAddressBytes, out);
  }
};

// An alive's fields into AliveMsg or AliveView: one rule for both.
template <typename Alive>
bool read_alive(Reader& r, Alive& m) {
  return r.shape(3) && r.name(0, "name", m.name) && r.address(1, "address", m.address) &&
         r.u64(2, "incarnation", m.incarnation);
}

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
  const MsgValue& list_value = r.arr[2];
  if (list_value.type != MsgType::array) return Error{"push_pull: members is not an array"};
  if (list_value.size > kMaxPushPullMembers) {
    return Error{fmt::format("push_pull: {} members (limit {})", list_value.size, kMaxPushPullMembers)};
  }
  wire::MsgpackReader list(list_value.encoded);
  MsgValue header;
  list.header(header);  // read whole before: cannot fail
  m.members.reserve(list_value.size);
  for (std::size_t i = 0; i < list_value.size; ++i) {
    Reader e{list, "push_pull member", {}};
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

Result<SwimMessage> decode_body(wire::PartType type, wire::MsgpackReader& b) {
  switch (type) {
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
      const bool ok = read_alive(r, m);
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
      return Error{fmt::format("part type {} is not a membership message", static_cast<unsigned>(type))};
  }
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
  const wire::PartType type = part_type_of(m);
  Bytes body;
  body.reserve(32);
  MsgpackWriter w(body);
  std::visit([&](const auto& x) { body_of(x, w); }, m);
  return wire::encode_part(type, body);
}

Result<SwimMessage> decode_message(const wire::Part& part) {
  wire::MsgpackReader b(part.body);
  Result<SwimMessage> r = decode_body(part.type, b);
  if (r.ok() && !b.at_end()) {
    return Error{fmt::format("part type {}: malformed: bytes after the body", static_cast<unsigned>(part.type))};
  }
  return r;
}

std::optional<AliveView> view_alive(const wire::Part& part) {
  if (part.type != wire::PartType::alive) return std::nullopt;
  wire::MsgpackReader b(part.body);
  Reader r{b, "alive", {}};
  AliveView v;
  if (!read_alive(r, v) || !b.at_end()) return std::nullopt;
  return v;
}

}  // namespace heck
