#include "core/replicated/codec.h"

#include <algorithm>
#include <limits>
#include <optional>
#include <set>
#include <utility>

#include <fmt/format.h>
#include <xxhash.h>

#include "core/json_fields.h"

namespace heck {

using json = nlohmann::json;

std::uint16_t bucket_of(const std::string& key) {
  return static_cast<std::uint16_t>(XXH64(key.data(), key.size(), 0x62756b74 /* "bukt" */) % kDigestBuckets);
}

namespace {

// ---------------------------------------------------------------- encoding

// Replica ids in order of first use; everything else refers to the index.
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

json encode_context(const CausalContext& c, ReplicaTable& t) {
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

json encode_value(const SpecVersion& v, ReplicaTable& t) {
  return json::array({v.spec ? v.spec->to_json() : json::object(), v.written_at.packed, t(v.writer)});
}

json encode_value(const Observation& o, ReplicaTable& t) {
  return json::array({static_cast<std::uint64_t>(o.status), static_cast<std::uint64_t>(o.reason), o.status_code,
                      o.latency.us(), o.observed_at.packed, t(o.observer), o.check_seq, o.observer_name});
}

json encode_value(std::int64_t v, ReplicaTable&) { return json(v); }

template <typename V>
json encode_store(const DotMap<std::string, DotFun<V>>& store, ReplicaTable& t) {
  json out = json::array();
  for (const auto& [key, fun] : store.entries()) {
    json row = json::array({key});
    for (const auto& [dot, v] : fun.entries()) {
      row.push_back(t(dot.replica));
      row.push_back(dot.counter);
      row.push_back(encode_value(v, t));
    }
    out.push_back(std::move(row));
  }
  return out;
}

template <typename V>
json encode_causal(const Causal<DotMap<std::string, DotFun<V>>>& c, ReplicaTable& t) {
  json store = encode_store(c.store, t);
  return json::array({std::move(store), encode_context(c.context, t)});
}

template <typename V>
bool causal_empty(const Causal<V>& c) {
  return c.store.empty() && c.context.empty();
}

json encode_elided(const std::map<std::string, std::vector<Dot>>& m, ReplicaTable& t) {
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

// ---------------------------------------------------------------- decoding

class Decoder {
 public:
  explicit Decoder(const CodecLimits& limits) : lim_(limits) {}

  const std::string& error() const { return err_; }
  bool fail(std::string message) {
    if (err_.empty()) err_ = std::move(message);
    return false;
  }

  bool table(const json& v, const std::string& where) {
    if (!v.is_array()) return fail(fmt::format("{}: must be an array, got {}", where, json_fields::type_name(v)));
    if (v.size() > lim_.max_replicas) {
      return fail(fmt::format("{}: {} replica ids (limit {})", where, v.size(), lim_.max_replicas));
    }
    std::set<ReplicaId> seen;
    for (std::size_t i = 0; i < v.size(); ++i) {
      const bool integral = v[i].is_number_unsigned() || (v[i].is_number_integer() && v[i].get<std::int64_t>() > 0);
      if (!integral || v[i].get<std::uint64_t>() == 0) {
        return fail(fmt::format("{}[{}]: must be a replica id (an integer >= 1)", where, i));
      }
      if (!seen.insert(v[i].get<std::uint64_t>()).second) return fail(fmt::format("{}[{}]: duplicate replica id", where, i));
      ids_.push_back(v[i].get<std::uint64_t>());
    }
    return true;
  }

  bool u64(const json& v, const std::string& where, std::uint64_t& out, std::uint64_t lo = 0,
           std::uint64_t hi = std::numeric_limits<std::uint64_t>::max()) {
    // MessagePack gives non-negative integers as unsigned; accept a
    // non-negative signed one too (bodies built in memory).
    if (!v.is_number_unsigned() && !(v.is_number_integer() && v.get<std::int64_t>() >= 0)) {
      return fail(fmt::format("{}: must be an unsigned integer, got {}", where, json_fields::type_name(v)));
    }
    out = v.get<std::uint64_t>();
    if (out < lo || out > hi) return fail(fmt::format("{}: {} is out of range [{}, {}]", where, out, lo, hi));
    return true;
  }

  bool i64(const json& v, const std::string& where, std::int64_t& out, std::int64_t lo, std::int64_t hi) {
    auto r = json_fields::read_int(v, where, lo, hi);
    if (!r) return fail(r.error());
    out = *r;
    return true;
  }

  bool replica(const json& v, const std::string& where, ReplicaId& out) {
    std::uint64_t i = 0;
    const bool integral = v.is_number_unsigned() || (v.is_number_integer() && v.get<std::int64_t>() >= 0);
    if (!integral || (i = v.get<std::uint64_t>()) >= ids_.size()) {
      return fail(fmt::format("{}: must be an index into the replica table (size {})", where, ids_.size()));
    }
    out = ids_[i];
    return true;
  }

  // Counters stay far from overflow: a hostile context cannot push
  // next_dot() of any replica (ours included) past 2^62.
  static constexpr std::uint64_t kCounterMax = std::uint64_t{1} << 62;

  bool dot(const json& ri, const json& counter, const std::string& where, Dot& out) {
    return replica(ri, where + " replica", out.replica) && u64(counter, where + " counter", out.counter, 1, kCounterMax);
  }

  bool context(const json& v, const std::string& where, CausalContext& out) {
    if (!v.is_array() || v.size() != 2 || !v[0].is_array() || !v[1].is_array()) {
      return fail(fmt::format("{}: must be [version vector, cloud]", where));
    }
    const json& vv = v[0];
    const json& cl = v[1];
    if (vv.size() % 2 != 0) return fail(fmt::format("{}: version vector must hold (replica, max) pairs", where));
    if (cl.size() % 2 != 0) return fail(fmt::format("{}: cloud must hold (replica, counter) pairs", where));
    if (vv.size() / 2 > lim_.max_replicas) return fail(fmt::format("{}: version vector too long", where));
    if (cl.size() / 2 > lim_.max_cloud_dots) {
      return fail(fmt::format("{}: {} cloud dots (limit {})", where, cl.size() / 2, lim_.max_cloud_dots));
    }
    std::map<ReplicaId, std::uint64_t> m;
    for (std::size_t i = 0; i < vv.size(); i += 2) {
      const std::string w = fmt::format("{} vv[{}]", where, i / 2);
      ReplicaId r = 0;
      std::uint64_t n = 0;
      if (!replica(vv[i], w, r) || !u64(vv[i + 1], w, n, 1, kCounterMax)) return false;
      if (!m.emplace(r, n).second) return fail(fmt::format("{}: replica listed twice", w));
    }
    std::set<Dot> cloud;
    for (std::size_t i = 0; i < cl.size(); i += 2) {
      Dot d;
      if (!dot(cl[i], cl[i + 1], fmt::format("{} cloud[{}]", where, i / 2), d)) return false;
      cloud.insert(d);
    }
    out = CausalContext::from_parts(std::move(m), std::move(cloud));
    return true;
  }

  bool key(const json& v, const std::string& where, std::string& out) {
    if (!v.is_string()) return fail(fmt::format("{}: key must be a string, got {}", where, json_fields::type_name(v)));
    out = v.get<std::string>();
    if (out.empty() || out.size() > lim_.max_key_bytes) {
      return fail(fmt::format("{}: key must be 1-{} bytes", where, lim_.max_key_bytes));
    }
    return true;
  }

  bool value(const json& v, const std::string& where, const std::string& k, SpecVersion& out) {
    if (!v.is_array() || v.size() != 3) return fail(fmt::format("{}: spec version must be [spec, written_at, writer]", where));
    auto spec = TargetSpec::from_json(v[0], where + " spec");
    if (!spec) return fail(spec.error());
    if (spec->id != k) return fail(fmt::format("{}: spec id '{}' differs from its key '{}'", where, spec->id, k));
    if (!u64(v[1], where + " written_at", out.written_at.packed) || !replica(v[2], where + " writer", out.writer)) {
      return false;
    }
    out.spec = std::make_shared<const TargetSpec>(std::move(*spec));
    return true;
  }

  bool value(const json& v, const std::string& where, const std::string&, Observation& out) {
    if (!v.is_array() || v.size() != 8) {
      return fail(fmt::format("{}: observation must be [status, reason, status_code, latency_us, observed_at, "
                              "observer, check_seq, observer_name]",
                              where));
    }
    if (!v[7].is_string() || v[7].get_ref<const std::string&>().size() > lim_.max_key_bytes) {
      return fail(fmt::format("{} observer_name: must be a string of at most {} bytes", where, lim_.max_key_bytes));
    }
    out.observer_name = v[7].get<std::string>();
    std::uint64_t status = 0, reason = 0;
    std::int64_t code = 0, latency_us = 0;
    if (!u64(v[0], where + " status", status, 0, static_cast<std::uint64_t>(HealthStatus::unhealthy)) ||
        !u64(v[1], where + " reason", reason, 0, static_cast<std::uint64_t>(CheckReason::network_error)) ||
        !i64(v[2], where + " status_code", code, 0, 999) ||
        !i64(v[3], where + " latency_us", latency_us, 0, std::int64_t{86'400} * 1'000'000) ||
        !u64(v[4], where + " observed_at", out.observed_at.packed) || !replica(v[5], where + " observer", out.observer) ||
        !u64(v[6], where + " check_seq", out.check_seq)) {
      return false;
    }
    out.status = static_cast<HealthStatus>(status);
    out.reason = static_cast<CheckReason>(reason);
    out.status_code = static_cast<int>(code);
    out.latency = Duration::microseconds(latency_us);
    return true;
  }

  bool value(const json& v, const std::string& where, const std::string&, std::int64_t& out) {
    return i64(v, where, out, std::numeric_limits<std::int64_t>::min(), std::numeric_limits<std::int64_t>::max());
  }

  template <typename V>
  bool store(const json& v, const std::string& where, bool target_keys, DotMap<std::string, DotFun<V>>& out) {
    if (!v.is_array()) return fail(fmt::format("{}: store must be an array, got {}", where, json_fields::type_name(v)));
    if (v.size() > lim_.max_keys) return fail(fmt::format("{}: {} keys (limit {})", where, v.size(), lim_.max_keys));
    for (std::size_t i = 0; i < v.size(); ++i) {
      const json& row = v[i];
      const std::string w = fmt::format("{}[{}]", where, i);
      if (!row.is_array() || row.size() < 4 || (row.size() - 1) % 3 != 0) {
        return fail(fmt::format("{}: must be [key, replica, counter, value, ...] with at least one dot", w));
      }
      if ((row.size() - 1) / 3 > lim_.max_dots_per_key) {
        return fail(fmt::format("{}: {} dots (limit {})", w, (row.size() - 1) / 3, lim_.max_dots_per_key));
      }
      std::string k;
      if (!key(row[0], w, k)) return false;
      if (target_keys && !valid_target_id(k)) return fail(fmt::format("{}: '{}' is not a valid target id", w, k));
      if (out.find(k)) return fail(fmt::format("{}: duplicate key '{}'", w, k));
      DotFun<V> fun;
      for (std::size_t j = 1; j < row.size(); j += 3) {
        const std::string wd = fmt::format("{} dot {}", w, (j - 1) / 3);
        Dot d;
        V val{};
        if (!dot(row[j], row[j + 1], wd, d) || !value(row[j + 2], wd, k, val)) return false;
        const std::size_t before = fun.size();
        fun.insert(d, std::move(val));
        if (fun.size() == before) return fail(fmt::format("{}: duplicate dot", wd));
      }
      out.put(std::move(k), std::move(fun));
    }
    return true;
  }

  template <typename V>
  bool causal(const json& v, const std::string& where, bool target_keys, Causal<DotMap<std::string, DotFun<V>>>& out) {
    if (!v.is_array() || v.size() != 2) return fail(fmt::format("{}: must be [store, context]", where));
    if (!store(v[0], where, target_keys, out.store) || !context(v[1], where + " context", out.context)) return false;
    // Every live dot must be in the context, or joins would misread it.
    for (const auto& [k, fun] : out.store.entries()) {
      for (const auto& [d, val] : fun.entries()) {
        if (!out.context.contains(d)) {
          return fail(fmt::format("{}: dot {} of key '{}' is not in the context", where, d.counter, k));
        }
      }
    }
    return true;
  }

  bool elided(const json& v, const std::string& where, std::map<std::string, std::vector<Dot>>& out) {
    if (!v.is_array()) return fail(fmt::format("{}: must be an array", where));
    if (v.size() > lim_.max_keys) return fail(fmt::format("{}: {} keys (limit {})", where, v.size(), lim_.max_keys));
    for (std::size_t i = 0; i < v.size(); ++i) {
      const json& row = v[i];
      const std::string w = fmt::format("{}[{}]", where, i);
      if (!row.is_array() || row.size() < 3 || (row.size() - 1) % 2 != 0) {
        return fail(fmt::format("{}: must be [key, replica, counter, ...] with at least one dot", w));
      }
      if ((row.size() - 1) / 2 > lim_.max_dots_per_key) return fail(fmt::format("{}: too many dots", w));
      std::string k;
      if (!key(row[0], w, k)) return false;
      std::vector<Dot> dots;
      for (std::size_t j = 1; j < row.size(); j += 2) {
        Dot d;
        if (!dot(row[j], row[j + 1], fmt::format("{} dot {}", w, (j - 1) / 2), d)) return false;
        dots.push_back(d);
      }
      std::sort(dots.begin(), dots.end());
      if (std::adjacent_find(dots.begin(), dots.end()) != dots.end()) return fail(fmt::format("{}: duplicate dot", w));
      if (!out.emplace(std::move(k), std::move(dots)).second) return fail(fmt::format("{}: duplicate key", w));
    }
    return true;
  }

  bool only_keys(const json& body, const std::string& where, std::initializer_list<const char*> allowed) {
    if (!body.is_object()) return fail(fmt::format("{}: must be an object, got {}", where, json_fields::type_name(body)));
    for (const auto& [k, v] : body.items()) {
      bool ok = false;
      for (const char* a : allowed) ok = ok || k == a;
      if (!ok) return fail(fmt::format("{}: unknown key '{}'", where, k));
    }
    return true;
  }

  bool flag(const json& body, const char* k, const std::string& where, bool& out) {
    auto it = body.find(k);
    if (it == body.end()) return true;
    if (!it->is_boolean()) return fail(fmt::format("{}.{}: must be a boolean", where, k));
    out = it->get<bool>();
    return true;
  }

 private:
  const CodecLimits& lim_;
  std::vector<ReplicaId> ids_;
  std::string err_;
};

bool decode_triple(Decoder& dec, const json* g, const json* o, const json* c, const std::string& where,
                   HealthDelta& out) {
  return (!g || dec.causal(*g, where + ".g", true, out.registry)) &&
         (!o || dec.causal(*o, where + ".o", true, out.observations)) &&
         (!c || dec.causal(*c, where + ".c", false, out.counters));
}

const json* find(const json& body, const char* k) {
  auto it = body.find(k);
  return it == body.end() ? nullptr : &*it;
}

}  // namespace

// ------------------------------------------------------------------- delta

json encode_delta(const HealthDelta& d) {
  ReplicaTable t;
  json body = json::object();
  if (!causal_empty(d.registry)) body["g"] = encode_causal(d.registry, t);
  if (!causal_empty(d.observations)) body["o"] = encode_causal(d.observations, t);
  if (!causal_empty(d.counters)) body["c"] = encode_causal(d.counters, t);
  body["r"] = t.ids();
  return body;
}

Result<HealthDelta> decode_delta(const json& body, const CodecLimits& limits) {
  Decoder dec(limits);
  HealthDelta d;
  const json* r = body.is_object() ? find(body, "r") : nullptr;
  if (!dec.only_keys(body, "delta", {"r", "g", "o", "c"}) ||
      (r ? !dec.table(*r, "delta.r") : !dec.fail("delta.r: missing")) ||
      !decode_triple(dec, find(body, "g"), find(body, "o"), find(body, "c"), "delta", d)) {
    return Error{dec.error()};
  }
  return d;
}

// ------------------------------------------------------------------ digest

json encode_digest(const Digest& d) {
  ReplicaTable t;
  json body = json::object();
  body["x"] = json::array({encode_context(d.registry, t), encode_context(d.observations, t), encode_context(d.counters, t)});
  std::vector<std::uint8_t> h;
  h.reserve(d.hashes.size() * 8);
  for (std::uint64_t x : d.hashes) {
    for (int i = 0; i < 8; ++i) h.push_back(static_cast<std::uint8_t>(x >> (8 * i)));
  }
  body["h"] = json::binary(std::move(h));
  body["q"] = d.reply;
  body["i"] = d.replica;
  body["r"] = t.ids();
  return body;
}

Result<Digest> decode_digest(const json& body, const CodecLimits& limits) {
  Decoder dec(limits);
  Digest d;
  if (!dec.only_keys(body, "digest", {"i", "r", "x", "h", "q"})) return Error{dec.error()};
  const json* i = find(body, "i");
  if (!i) return Error{"digest.i: missing"};
  if (!dec.u64(*i, "digest.i", d.replica, 1)) return Error{dec.error()};
  const json* r = find(body, "r");
  const json* x = find(body, "x");
  const json* h = find(body, "h");
  if (!r) return Error{"digest.r: missing"};
  if (!x) return Error{"digest.x: missing"};
  if (!h) return Error{"digest.h: missing"};
  if (!dec.table(*r, "digest.r")) return Error{dec.error()};
  if (!x->is_array() || x->size() != 3) return Error{"digest.x: must be [registry, observations, counters] contexts"};
  if (!dec.context((*x)[0], "digest.x.g", d.registry) || !dec.context((*x)[1], "digest.x.o", d.observations) ||
      !dec.context((*x)[2], "digest.x.c", d.counters) || !dec.flag(body, "q", "digest", d.reply)) {
    return Error{dec.error()};
  }
  if (!h->is_binary() || h->get_binary().size() != kDigestBuckets * 8) {
    return Error{fmt::format("digest.h: must be {} bytes of bucket hashes", kDigestBuckets * 8)};
  }
  const auto& bytes = h->get_binary();
  d.hashes.resize(kDigestBuckets);
  for (std::size_t b = 0; b < kDigestBuckets; ++b) {
    std::uint64_t v = 0;
    for (int i = 0; i < 8; ++i) v |= static_cast<std::uint64_t>(bytes[b * 8 + static_cast<std::size_t>(i)]) << (8 * i);
    d.hashes[b] = v;
  }
  return d;
}

// ------------------------------------------------------------------ repair

json encode_repair(const Repair& rep) {
  ReplicaTable t;
  json body = json::object();
  const HealthDelta& d = rep.delta;
  body["d"] = json::array({encode_causal(d.registry, t), encode_causal(d.observations, t), encode_causal(d.counters, t)});
  if (rep.scoped) {
    body["b"] = rep.buckets;
    if (rep.partial) body["p"] = true;
    if (!rep.elided.empty()) {
      body["e"] = json::array({encode_elided(rep.elided.registry, t), encode_elided(rep.elided.observations, t),
                               encode_elided(rep.elided.counters, t)});
    }
    body["t"] = rep.for_replica;
  }
  body["r"] = t.ids();
  return body;
}

Result<Repair> decode_repair(const json& body, const CodecLimits& limits) {
  Decoder dec(limits);
  Repair rep;
  if (!dec.only_keys(body, "repair", {"r", "d", "b", "p", "e", "t"})) return Error{dec.error()};
  const json* r = find(body, "r");
  const json* d = find(body, "d");
  if (!r) return Error{"repair.r: missing"};
  if (!d) return Error{"repair.d: missing"};
  if (!dec.table(*r, "repair.r")) return Error{dec.error()};
  if (!d->is_array() || d->size() != 3) return Error{"repair.d: must be [registry, observations, counters]"};
  if (!decode_triple(dec, &(*d)[0], &(*d)[1], &(*d)[2], "repair.d", rep.delta)) return Error{dec.error()};
  if (const json* b = find(body, "b")) {
    rep.scoped = true;
    if (!b->is_array() || b->size() > limits.max_buckets) {
      return Error{fmt::format("repair.b: must be an array of at most {} buckets", limits.max_buckets)};
    }
    for (std::size_t i = 0; i < b->size(); ++i) {
      std::uint64_t v = 0;
      if (!dec.u64((*b)[i], fmt::format("repair.b[{}]", i), v, 0, kDigestBuckets - 1)) return Error{dec.error()};
      if (!rep.buckets.empty() && v <= rep.buckets.back()) {
        return Error{fmt::format("repair.b[{}]: buckets must be sorted and unique", i)};
      }
      rep.buckets.push_back(static_cast<std::uint16_t>(v));
    }
    if (!dec.flag(body, "p", "repair", rep.partial)) return Error{dec.error()};
    const json* t = find(body, "t");
    if (!t) return Error{"repair.t: missing (a scoped repair names its addressee)"};
    if (!dec.u64(*t, "repair.t", rep.for_replica, 1)) return Error{dec.error()};
    if (const json* e = find(body, "e")) {
      if (!e->is_array() || e->size() != 3) return Error{"repair.e: must be [registry, observations, counters]"};
      if (!dec.elided((*e)[0], "repair.e.g", rep.elided.registry) ||
          !dec.elided((*e)[1], "repair.e.o", rep.elided.observations) ||
          !dec.elided((*e)[2], "repair.e.c", rep.elided.counters)) {
        return Error{dec.error()};
      }
    }
  } else if (find(body, "p") || find(body, "e") || find(body, "t")) {
    return Error{"repair: 'p', 'e' and 't' need 'b' (a scoped repair)"};
  }
  // Every entry (and elided dot) of a scoped repair must lie in its buckets,
  // and be in the context.
  if (rep.scoped) {
    std::vector<bool> in(kDigestBuckets, false);
    for (auto b : rep.buckets) in[b] = true;
    auto check_keys = [&](const auto& entries, const char* what) -> std::optional<std::string> {
      for (const auto& [k, v] : entries) {
        if (!in[bucket_of(k)]) return fmt::format("repair.{}: key '{}' lies outside the listed buckets", what, k);
      }
      return std::nullopt;
    };
    for (auto err : {check_keys(rep.delta.registry.store.entries(), "d.g"),
                     check_keys(rep.delta.observations.store.entries(), "d.o"),
                     check_keys(rep.delta.counters.store.entries(), "d.c"), check_keys(rep.elided.registry, "e.g"),
                     check_keys(rep.elided.observations, "e.o"), check_keys(rep.elided.counters, "e.c")}) {
      if (err) return Error{*err};
    }
    auto check_ctx = [&](const std::map<std::string, std::vector<Dot>>& m, const CausalContext& c,
                         const char* what) -> std::optional<std::string> {
      for (const auto& [k, dots] : m) {
        for (const Dot& x : dots) {
          if (!c.contains(x)) return fmt::format("repair.{}: dot {} of key '{}' is not in the context", what, x.counter, k);
        }
      }
      return std::nullopt;
    };
    for (auto err : {check_ctx(rep.elided.registry, rep.delta.registry.context, "e.g"),
                     check_ctx(rep.elided.observations, rep.delta.observations.context, "e.o"),
                     check_ctx(rep.elided.counters, rep.delta.counters.context, "e.c")}) {
      if (err) return Error{*err};
    }
  }
  return rep;
}

}  // namespace heck
