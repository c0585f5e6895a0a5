// Test-only: the JSON side of the wire, kept as the reference the
// MessagePack codecs are checked against.
//
// - msgpack_of / json_of / json_part: bodies built by hand as JSON (e.g. to
//   feed a decoder a malformed one) and bodies read back as JSON.
// - json_reference::*_body: the encoders heck used before it wrote
//   MessagePack straight from the structs (a JSON tree per body, then
//   nlohmann::json::to_msgpack). The product encoders must produce exactly
//   the bytes of to_msgpack(<reference>(x)) (codec_test, messages_test).
#pragma once

#include <cstdint>
#include <map>
#include <span>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/membership/messages.h"
#include "core/replicated/codec.h"
#include "core/wire/envelope.h"
#include "core/wire/msgpack_reader.h"

namespace heck::wire {

inline Bytes msgpack_of(const nlohmann::json& v) { return nlohmann::json::to_msgpack(v); }
inline nlohmann::json json_of(std::span<const std::uint8_t> body) {
  return nlohmann::json::from_msgpack(body.begin(), body.end());
}
inline EncodedPart json_part(PartType type, const nlohmann::json& body) { return encode_part(type, msgpack_of(body)); }
// The body of a framed part (after its type and length).
inline std::span<const std::uint8_t> body_of(const EncodedPart& part) {
  MsgpackReader r(part.bytes);
  MsgValue type, length;
  std::span<const std::uint8_t> body;
  if (!r.header(type) || !r.header(length) || !r.raw(length.u, body) || !r.at_end()) return {};
  return body;
}

}  // namespace heck::wire

namespace heck::json_reference {

using json = nlohmann::json;

// ---------------------------------------------------- replication bodies

class ReplicaTable {
 public:
  std::uint64_t operator()(ReplicaId r) {
    auto [it, fresh] = index_.try_emplace(r, ids_.size());
    if (fresh) ids_.push_back(r);
    return it->second;
  }
  json ids() const { return json(ids_); }

 private:
  std::map<ReplicaId, std::uint64_t> index_;
  std::vector<ReplicaId> ids_;
};

inline json context(const CausalContext& c, ReplicaTable& t) {
  json vv = json::array();
  for (const auto& [r, n] : c.vv()) {
    vv.push_back(t(r));
    vv.push_back(n);
  }
  json cloud = json::array();
  for (const Dot& d : c.cloud()) {
    cloud.push_back(t(d.replica));
    cloud.push_back(d.counter);
  }
  return json::array({std::move(vv), std::move(cloud)});
}

inline json value(const SpecVersion& v, ReplicaTable& t) {
  return json::array({v.spec ? v.spec->to_json() : json(nullptr), v.written_at.packed, t(v.writer)});
}
inline json value(const Observation& o, ReplicaTable& t) {
  return json::array({static_cast<std::uint64_t>(o.status), static_cast<std::uint64_t>(o.reason), o.status_code,
                      o.latency.us(), o.observed_at.packed, t(o.observer), o.check_seq, o.observer_name.str()});
}
inline json value(std::int64_t v, ReplicaTable&) { return json(v); }

template <typename V>
json causal(const Causal<DotMap<Name, DotFun<V>>>& c, ReplicaTable& t) {
  json store = json::array();
  for (const auto& [key, fun] : c.store.entries()) {
    json row = json::array({key});
    for (const auto& [dot, v] : fun.entries()) {
      row.push_back(t(dot.replica));
      row.push_back(dot.counter);
      row.push_back(value(v, t));
    }
    store.push_back(std::move(row));
  }
  return json::array({std::move(store), context(c.context, t)});
}

template <typename V>
bool causal_empty(const Causal<V>& c) {
  return c.store.empty() && c.context.empty();
}

inline json elided(const ElidedKeys& m, ReplicaTable& t) {
  json out = json::array();
  for (const auto& [key, dots] : m) {
    json row = json::array({key});
    for (const Dot& d : dots) {
      row.push_back(t(d.replica));
      row.push_back(d.counter);
    }
    out.push_back(std::move(row));
  }
  return out;
}

inline json delta_body(const HealthDelta& d) {
  ReplicaTable t;
  json body = json::object();
  if (!causal_empty(d.registry)) body["g"] = causal(d.registry, t);
  if (!causal_empty(d.observations)) body["o"] = causal(d.observations, t);
  if (!causal_empty(d.counters)) body["c"] = causal(d.counters, t);
  body["r"] = t.ids();
  return body;
}

inline json digest_body(const Digest& d) {
  ReplicaTable t;
  json body = json::object();
  body["x"] = json::array({context(d.registry, t), context(d.observations, t), context(d.counters, t)});
  std::vector<std::uint8_t> h;
  for (std::uint64_t x : d.hashes) {
    for (int i = 0; i < 8; ++i) h.push_back(static_cast<std::uint8_t>(x >> (8 * i)));
  }
  body["h"] = json::binary(std::move(h));
  body["q"] = d.reply;
  body["i"] = d.replica;
  body["r"] = t.ids();
  return body;
}

inline json repair_body(const Repair& rep) {
  ReplicaTable t;
  json body = json::object();
  const HealthDelta& d = rep.delta;
  body["d"] = json::array({causal(d.registry, t), causal(d.observations, t), causal(d.counters, t)});
  if (rep.scoped) {
    body["b"] = rep.buckets;
    if (rep.partial) body["p"] = true;
    if (!rep.elided.empty()) {
      body["e"] = json::array({elided(rep.elided.registry, t), elided(rep.elided.observations, t),
                               elided(rep.elided.counters, t)});
    }
    body["t"] = rep.for_replica;
  }
  body["r"] = t.ids();
  return body;
}

// ------------------------------------------------------ membership bodies

inline json message_body(const PingMsg& m) { return json::array({m.seq, m.target}); }
inline json message_body(const PingReqMsg& m) { return json::array({m.seq, m.target, m.target_address, m.want_nack}); }
inline json message_body(const AckMsg& m) { return json::array({m.seq}); }
inline json message_body(const NackMsg& m) { return json::array({m.seq}); }
inline json message_body(const AliveMsg& m) { return json::array({m.name, m.address, m.incarnation}); }
inline json message_body(const SuspectMsg& m) { return json::array({m.name, m.address, m.incarnation, m.from}); }
inline json message_body(const DeadMsg& m) { return json::array({m.name, m.address, m.incarnation, m.from, m.left}); }
inline json message_body(const PushPullMsg& m) {
  json list = json::array();
  for (const auto& e : m.members) {
    list.push_back(json::array({e.name, e.address, static_cast<std::uint64_t>(e.state), e.incarnation}));
  }
  return json::array({m.reply, m.join, std::move(list)});
}
inline json message_body(const SwimMessage& m) {
  return std::visit([](const auto& x) { return message_body(x); }, m);
}

// The whole part, framed as format 2 frames it (type, body length, body),
// the body through to_msgpack.
inline Bytes part_bytes(wire::PartType type, const json& body) {
  const Bytes encoded = json::to_msgpack(body);
  Bytes out;
  json::to_msgpack(json(static_cast<std::uint64_t>(type)), out);
  json::to_msgpack(json(encoded.size()), out);
  out.insert(out.end(), encoded.begin(), encoded.end());
  return out;
}

}  // namespace heck::json_reference
