#include "core/replicated/codec.h"

#include <algorithm>
#include <array>
#include <limits>
#include <optional>
#include <set>
#include <utility>

#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <xxhash.h>

#include "core/wire/msgpack_reader.h"
#include "core/wire/msgpack_writer.h"

namespace heck {

namespace {
bool by_key(const ElidedKeys::Row& a, const ElidedKeys::Row& b) { return a.first < b.first; }
}  // namespace

bool ElidedKeys::sorted() const { return std::is_sorted(rows_.begin(), rows_.end(), by_key); }

bool ElidedKeys::sort(std::string* duplicate) {
  if (!sorted()) std::sort(rows_.begin(), rows_.end(), by_key);
  const auto twice =
      std::adjacent_find(rows_.begin(), rows_.end(), [](const Row& a, const Row& b) { return a.first == b.first; });
  if (twice == rows_.end()) return true;
  if (duplicate) *duplicate = twice->first;
  return false;
}

using wire::MsgpackReader;
using wire::MsgpackWriter;
using wire::MsgType;
using wire::MsgValue;

std::uint16_t bucket_of(std::string_view key) {
  static_assert(kDigestBuckets == 256, "text_bucket (core/name_table.h) buckets modulo 256");
  return text_bucket(key);
}

namespace {

// Which keys a store accepts: the registry's are target ids, the
// observations' are subjects (a target id or a vouch, health_state.h), the
// counters' any name.
enum class KeyRule { target, subject, any, set_member, request, alert, route };

// ---------------------------------------------------------------- encoding
//
// Straight from the structs to MessagePack: the bytes equal those of the
// JSON tree this codec built before (tests/core/replicated/codec_test.cpp
// checks it), so keys of a body come in the order a JSON object keeps them
// (sorted), and replica indices are given in the order the tree was built.

// Replica ids in order of first use; everything else refers to the index.
// A sorted flat index (tables hold one id per incarnation seen, few), and
// the last id asked for, since runs of dots of one replica are the rule.
class ReplicaTable {
 public:
  std::uint64_t operator()(ReplicaId r) {
    if (!ids_.empty() && r == last_id_) return last_index_;
    auto it = std::lower_bound(index_.begin(), index_.end(), r,
                               [](const std::pair<ReplicaId, std::uint64_t>& e, ReplicaId x) { return e.first < x; });
    if (it == index_.end() || it->first != r) {
      it = index_.insert(it, {r, ids_.size()});
      ids_.push_back(r);
    }
    last_id_ = r;
    last_index_ = it->second;
    return last_index_;
  }
  void write(MsgpackWriter& w) const {
    w.array(ids_.size());
    for (ReplicaId r : ids_) w.uint(r);
  }

 private:
  std::vector<std::pair<ReplicaId, std::uint64_t>> index_;  // sorted by id
  std::vector<ReplicaId> ids_;
  ReplicaId last_id_ = 0;
  std::uint64_t last_index_ = 0;
};

// Writes nothing: walks a part of a body only to number its replicas
// first, when the table order differs from the key order.
struct NullWriter {
  void boolean(bool) {}
  void uint(std::uint64_t) {}
  void sint(std::int64_t) {}
  void str(std::string_view) {}
  void array(std::size_t) {}
};

// The JSON values on the wire: a target spec and an alert route, each as
// the MessagePack of its own to_json(); null for a removal (health_state.h:
// SpecVersion). A spec is written straight from its fields (the same bytes,
// TargetSpec::write_msgpack): registry entries travel in every repair and
// anti-entropy round. A route is written rarely (an API write).
void write_json_value(const TargetSpec* spec, MsgpackWriter& w) {
  if (spec) {
    spec->write_msgpack(w);
  } else {
    w.nil();
  }
}
template <typename T>
void write_json_value(const T* value, MsgpackWriter& w) {
  if (value) {
    nlohmann::json::to_msgpack(value->to_json(), w.bytes());
  } else {
    w.nil();
  }
}
template <typename T>
void write_json_value(const T*, NullWriter&) {}

template <typename W>
void write_context(const CausalContext& c, ReplicaTable& t, W& w) {
  w.array(2);
  w.array(2 * c.vv().size());
  for (const auto& [r, n] : c.vv()) {
    w.uint(t(r));
    w.uint(n);
  }
  w.array(2 * c.cloud().size());
  for (const Dot& d : c.cloud()) {
    w.uint(t(d.replica));
    w.uint(d.counter);
  }
}

template <typename W>
void write_value(const SpecVersion& v, ReplicaTable& t, W& w) {
  w.array(3);
  write_json_value(v.spec.get(), w);
  w.uint(v.written_at.packed);
  w.uint(t(v.writer));
}

template <typename W>
void write_value(const Observation& o, ReplicaTable& t, W& w) {
  w.array(8);
  w.uint(static_cast<std::uint64_t>(o.status));
  w.uint(static_cast<std::uint64_t>(o.reason));
  w.sint(o.status_code);
  w.sint(o.latency.us());
  w.uint(o.observed_at.packed);
  w.uint(t(o.observer));
  w.uint(o.check_seq);
  w.str(o.observer_name);
}

template <typename W>
void write_value(std::int64_t v, ReplicaTable&, W& w) {
  w.sint(v);
}

template <typename W>
void write_value(const SetMark&, ReplicaTable&, W& w) {
  w.boolean(true);
}

template <typename W>
void write_value(const AppliedRequest& r, ReplicaTable& t, W& w) {
  w.array(5);
  w.uint(r.fingerprint);
  w.uint(r.status);
  w.str(r.body);
  w.uint(r.applied_at.packed);
  w.uint(t(r.writer));
}

template <typename W>
void write_value(const AlertRecord& r, ReplicaTable& t, W& w) {
  w.array(4);
  w.uint(r.kind == AlertKind::resolved ? 1 : 0);
  w.uint(r.since_ms);
  w.uint(r.sent_at.packed);
  w.uint(t(r.writer));
}

template <typename W>
void write_value(const RouteVersion& v, ReplicaTable& t, W& w) {
  w.array(3);
  write_json_value(v.route.get(), w);
  w.uint(v.written_at.packed);
  w.uint(t(v.writer));
}

template <typename V, typename W>
void write_causal(const Causal<DotMap<Name, DotFun<V>>>& c, ReplicaTable& t, W& w) {
  w.array(2);
  w.array(c.store.size());
  for (const auto& [key, fun] : c.store.entries()) {
    w.array(1 + 3 * fun.size());
    w.str(key);
    for (const auto& [dot, v] : fun.entries()) {
      w.uint(t(dot.replica));
      w.uint(dot.counter);
      write_value(v, t, w);
    }
  }
  write_context(c.context, t, w);
}

template <typename V>
bool causal_empty(const Causal<V>& c) {
  return c.store.empty() && c.context.empty();
}

// Rows in key order (a sorted copy when given out of order).
void write_elided(const ElidedKeys& m, ReplicaTable& t, MsgpackWriter& w) {
  if (!m.sorted()) {
    ElidedKeys in_order = m;
    in_order.sort();
    return write_elided(in_order, t, w);
  }
  w.array(m.size());
  for (const auto& [key, dots] : m) {
    w.array(1 + 2 * dots.size());
    w.str(key);
    for (const Dot& d : dots) {
      w.uint(t(d.replica));
      w.uint(d.counter);
    }
  }
}

// ---------------------------------------------------------------- decoding

// The items of an array read whole before (so reading them cannot fail).
class Items {
 public:
  explicit Items(const MsgValue& array) : in_(array.encoded) {
    MsgValue header;
    in_.header(header);
  }
  MsgValue next() {
    MsgValue v;
    in_.value(v);
    return v;
  }

 private:
  MsgpackReader in_;
};

// Checks that `body` is one well-formed MessagePack value and reads it.
bool read_body(std::span<const std::uint8_t> body, const char* where, MsgValue& out, std::string& err) {
  MsgpackReader in(body);
  if (in.whole(out)) return true;
  err = fmt::format("{}: {}", where, in.error());
  return false;
}

// Where a field is, for an error message: a chain of pieces ("delta.o",
// "[3]", " dot 0", " status") turned into text only when an error names
// it, so decoding a valid body formats nothing.
class Where {
 public:
  Where(const char* root) : text_(root) {}  // NOLINT: implicit by design
  Where(const Where& parent, std::string_view text) : parent_(&parent), text_(text) {}
  Where(const Where& parent, std::string_view open, std::size_t index, std::string_view close)
      : parent_(&parent), text_(open), close_(close), index_(index), has_index_(true) {}

  std::string str() const {
    std::string out = parent_ ? parent_->str() : std::string();
    out += text_;
    if (has_index_) {
      out += std::to_string(index_);
      out += close_;
    }
    return out;
  }

 private:
  const Where* parent_ = nullptr;
  std::string_view text_, close_;
  std::size_t index_ = 0;
  bool has_index_ = false;
};

class Decoder {
 public:
  explicit Decoder(const CodecLimits& limits, SpecPool* specs = nullptr)
      : lim_(limits), specs_(specs), names_(specs ? &specs->names() : &own_names_) {}

  const std::string& error() const { return err_; }
  bool fail(std::string message) {
    if (err_.empty()) err_ = std::move(message);
    return false;
  }

  bool table(const MsgValue& v, const Where& where) {
    if (v.type != MsgType::array) return fail(fmt::format("{}: must be an array, got {}", where.str(), type_name(v)));
    if (v.size > lim_.max_replicas) {
      return fail(fmt::format("{}: {} replica ids (limit {})", where.str(), v.size, lim_.max_replicas));
    }
    Items items(v);
    std::size_t bad = v.size;  // the first item that is not a replica id
    ids_.reserve(v.size);
    for (std::size_t i = 0; i < v.size && bad == v.size; ++i) {
      const MsgValue x = items.next();
      const bool integral = x.type == MsgType::uint || (x.type == MsgType::sint && x.i > 0);
      if (!integral || x.as_u64() == 0) {
        bad = i;
      } else {
        ids_.push_back(x.as_u64());
      }
    }
    // The first item (before `bad`) whose id came earlier: the second
    // index of a run of equal ids, sorted by (id, index).
    std::vector<std::pair<ReplicaId, std::size_t>> sorted;
    sorted.reserve(ids_.size());
    for (std::size_t i = 0; i < ids_.size(); ++i) sorted.emplace_back(ids_[i], i);
    std::sort(sorted.begin(), sorted.end());
    std::size_t dup = v.size;
    for (std::size_t i = 1; i < sorted.size(); ++i) {
      if (sorted[i].first == sorted[i - 1].first) dup = std::min(dup, sorted[i].second);
    }
    if (dup < bad) return fail(fmt::format("{}[{}]: duplicate replica id", where.str(), dup));
    if (bad < v.size) return fail(fmt::format("{}[{}]: must be a replica id (an integer >= 1)", where.str(), bad));
    return true;
  }

  bool u64(const MsgValue& v, const Where& where, std::uint64_t& out, std::uint64_t lo = 0,
           std::uint64_t hi = std::numeric_limits<std::uint64_t>::max()) {
    // Accept a non-negative integer in a signed encoding too.
    if (!v.is_non_negative_integer()) {
      return fail(fmt::format("{}: must be an unsigned integer, got {}", where.str(), type_name(v)));
    }
    out = v.as_u64();
    if (out < lo || out > hi) return fail(fmt::format("{}: {} is out of range [{}, {}]", where.str(), out, lo, hi));
    return true;
  }

  // An integer in [lo, hi], with json_fields::read_int's messages.
  bool i64(const MsgValue& v, const Where& where, std::int64_t& out, std::int64_t lo, std::int64_t hi) {
    if (!v.is_integer()) return fail(fmt::format("{}: must be an integer, got {}", where.str(), type_name(v)));
    if (v.type == MsgType::uint && v.u > static_cast<std::uint64_t>(hi)) {
      return fail(fmt::format("{}: must be at most {}, got {}", where.str(), hi, v.u));
    }
    const std::int64_t n = v.type == MsgType::uint ? static_cast<std::int64_t>(v.u) : v.i;
    if (n < lo) {
      return fail(lo == 1 ? fmt::format("{}: must be positive, got {}", where.str(), n)
                          : fmt::format("{}: must be at least {}, got {}", where.str(), lo, n));
    }
    if (n > hi) return fail(fmt::format("{}: must be at most {}, got {}", where.str(), hi, n));
    out = n;
    return true;
  }

  bool replica(const MsgValue& v, const Where& where, ReplicaId& out) {
    if (!v.is_non_negative_integer() || v.as_u64() >= ids_.size()) {
      return fail(fmt::format("{}: must be an index into the replica table (size {})", where.str(), ids_.size()));
    }
    out = ids_[v.as_u64()];
    return true;
  }

  // Counters stay far from overflow: a hostile context cannot push
  // next_dot() of any replica (ours included) past 2^62.
  static constexpr std::uint64_t kMaxCounter = std::uint64_t{1} << 62;

  bool dot(const MsgValue& ri, const MsgValue& counter, const Where& where, Dot& out) {
    return replica(ri, Where(where, " replica"), out.replica) && u64(counter, Where(where, " counter"), out.counter, 1, kMaxCounter);
  }

  bool context(const MsgValue& v, const Where& where, CausalContext& out) {
    MsgValue vv, cl;
    if (v.type == MsgType::array && v.size == 2) {
      Items items(v);
      vv = items.next();
      cl = items.next();
    }
    if (v.type != MsgType::array || v.size != 2 || vv.type != MsgType::array || cl.type != MsgType::array) {
      return fail(fmt::format("{}: must be [version vector, cloud]", where.str()));
    }
    if (vv.size % 2 != 0) return fail(fmt::format("{}: version vector must hold (replica, max) pairs", where.str()));
    if (cl.size % 2 != 0) return fail(fmt::format("{}: cloud must hold (replica, counter) pairs", where.str()));
    if (vv.size / 2 > lim_.max_replicas) return fail(fmt::format("{}: version vector too long", where.str()));
    if (cl.size / 2 > lim_.max_cloud_dots) {
      return fail(fmt::format("{}: {} cloud dots (limit {})", where.str(), cl.size / 2, lim_.max_cloud_dots));
    }
    std::vector<std::pair<ReplicaId, std::uint64_t>> m;
    m.reserve(vv.size / 2);
    Items vv_items(vv);
    for (std::size_t i = 0; i < vv.size; i += 2) {
      const Where w(where, " vv[", i / 2, "]");
      const MsgValue ri = vv_items.next();
      const MsgValue max = vv_items.next();
      ReplicaId r = 0;
      std::uint64_t n = 0;
      if (!replica(ri, w, r) || !u64(max, w, n, 1, kMaxCounter)) return false;
      m.emplace_back(r, n);
    }
    std::sort(m.begin(), m.end());
    for (std::size_t i = 1; i < m.size(); ++i) {
      if (m[i].first == m[i - 1].first) {
        return fail(fmt::format("{} vv: replica listed twice ({})", where.str(), m[i].first));
      }
    }
    std::vector<Dot> cloud;
    cloud.reserve(cl.size / 2);
    Items cl_items(cl);
    for (std::size_t i = 0; i < cl.size; i += 2) {
      const MsgValue ri = cl_items.next();
      const MsgValue counter = cl_items.next();
      Dot d;
      if (!dot(ri, counter, Where(where, " cloud[", i / 2, "]"), d)) return false;
      cloud.push_back(d);
    }
    out = CausalContext::from_parts(std::move(m), std::move(cloud));
    return true;
  }

  bool key(const MsgValue& v, const Where& where, std::string& out) {
    if (v.type != MsgType::str) return fail(fmt::format("{}: key must be a string, got {}", where.str(), type_name(v)));
    if (v.size == 0 || v.size > lim_.max_key_bytes) {
      return fail(fmt::format("{}: key must be 1-{} bytes", where.str(), lim_.max_key_bytes));
    }
    out = v.text();
    return true;
  }

  bool value(const MsgValue& v, const Where& where, const std::string& k, SpecVersion& out) {
    if (v.type != MsgType::array || v.size != 3) {
      return fail(fmt::format("{}: spec version must be [spec or nil, written_at, writer]", where.str()));
    }
    Items items(v);
    const MsgValue spec_value = items.next();
    const MsgValue written_at = items.next();
    const MsgValue writer = items.next();
    if (!u64(written_at, Where(where, " written_at"), out.written_at.packed) || !replica(writer, Where(where, " writer"), out.writer)) {
      return false;
    }
    if (spec_value.type == MsgType::nil) {  // a removal
      out.spec = nullptr;
      return true;
    }
    std::shared_ptr<const TargetSpec> spec = specs_ ? specs_->find(spec_value.encoded) : nullptr;
    if (!spec) {
      // The spec alone goes through a JSON value (TargetSpec's own parser).
      const auto j = nlohmann::json::from_msgpack(spec_value.encoded.begin(), spec_value.encoded.end(), true, false);
      auto parsed = TargetSpec::from_json(j, Where(where, " spec").str());
      if (!parsed) return fail(parsed.error());
      parsed->id = names_->intern(parsed->id);  // shares the registry key's text
      spec = std::make_shared<const TargetSpec>(std::move(*parsed));
      if (specs_) specs_->insert(spec_value.encoded, spec);
    }
    if (spec->id != k) {
      return fail(fmt::format("{}: spec id '{}' differs from its key '{}'", where.str(), spec->id.str(), k));
    }
    out.spec = std::move(spec);
    return true;
  }

  bool value(const MsgValue& v, const Where& where, const std::string&, Observation& out) {
    if (v.type != MsgType::array || v.size != 8) {
      return fail(fmt::format("{}: observation must be [status, reason, status_code, latency_us, observed_at, "
                              "observer, check_seq, observer_name]",
                              where.str()));
    }
    std::array<MsgValue, 8> f;
    Items items(v);
    for (MsgValue& x : f) x = items.next();
    if (f[7].type != MsgType::str || f[7].size > lim_.max_key_bytes) {
      return fail(fmt::format("{} observer_name: must be a string of at most {} bytes", where.str(), lim_.max_key_bytes));
    }
    out.observer_name = names_->intern(f[7].text());  // "" interns as the empty Name
    std::uint64_t status = 0, reason = 0;
    std::int64_t code = 0, latency_us = 0;
    if (!u64(f[0], Where(where, " status"), status, 0, static_cast<std::uint64_t>(HealthStatus::unhealthy)) ||
        !u64(f[1], Where(where, " reason"), reason, 0, static_cast<std::uint64_t>(CheckReason::network_error)) ||
        !i64(f[2], Where(where, " status_code"), code, 0, 999) ||
        !i64(f[3], Where(where, " latency_us"), latency_us, 0, std::int64_t{86'400} * 1'000'000) ||
        !u64(f[4], Where(where, " observed_at"), out.observed_at.packed) || !replica(f[5], Where(where, " observer"), out.observer) ||
        !u64(f[6], Where(where, " check_seq"), out.check_seq)) {
      return false;
    }
    out.status = static_cast<HealthStatus>(status);
    out.reason = static_cast<CheckReason>(reason);
    out.status_code = static_cast<int>(code);
    out.latency = Duration::microseconds(latency_us);
    return true;
  }

  bool value(const MsgValue& v, const Where& where, const std::string&, std::int64_t& out) {
    return i64(v, where, out, std::numeric_limits<std::int64_t>::min(), std::numeric_limits<std::int64_t>::max());
  }

  bool value(const MsgValue& v, const Where& where, const std::string&, SetMark&) {
    if (v.type != MsgType::boolean || !v.boolean) return fail(fmt::format("{}: a set member's value must be true", where.str()));
    return true;
  }

  bool value(const MsgValue& v, const Where& where, const std::string&, AppliedRequest& out) {
    if (v.type != MsgType::array || v.size != 5) {
      return fail(fmt::format("{}: applied request must be [fingerprint, status, body, applied_at, writer]", where.str()));
    }
    std::array<MsgValue, 5> f;
    Items items(v);
    for (MsgValue& x : f) x = items.next();
    std::uint64_t status = 0;
    if (!u64(f[0], Where(where, " fingerprint"), out.fingerprint) || !u64(f[1], Where(where, " status"), status, 100, 599)) {
      return false;
    }
    if (f[2].type != MsgType::str || f[2].size > kMaxRequestBodyBytes) {
      return fail(fmt::format("{} body: must be a string of at most {} bytes", where.str(), kMaxRequestBodyBytes));
    }
    out.status = static_cast<std::uint16_t>(status);
    out.body = f[2].text();
    return u64(f[3], Where(where, " applied_at"), out.applied_at.packed) && replica(f[4], Where(where, " writer"), out.writer);
  }

  bool value(const MsgValue& v, const Where& where, const std::string&, AlertRecord& out) {
    if (v.type != MsgType::array || v.size != 4) {
      return fail(fmt::format("{}: alert record must be [kind, since_ms, sent_at, writer]", where.str()));
    }
    std::array<MsgValue, 4> f;
    Items items(v);
    for (MsgValue& x : f) x = items.next();
    std::uint64_t kind = 0;
    if (!u64(f[0], Where(where, " kind"), kind, 0, 1)) return false;
    out.kind = kind == 1 ? AlertKind::resolved : AlertKind::firing;
    return u64(f[1], Where(where, " since_ms"), out.since_ms) && u64(f[2], Where(where, " sent_at"), out.sent_at.packed) &&
           replica(f[3], Where(where, " writer"), out.writer);
  }

  bool value(const MsgValue& v, const Where& where, const std::string& k, RouteVersion& out) {
    if (v.type != MsgType::array || v.size != 3) {
      return fail(fmt::format("{}: route must be [route, written_at, writer]", where.str()));
    }
    Items items(v);
    const MsgValue route_value = items.next();
    const MsgValue written_at = items.next();
    const MsgValue writer = items.next();
    if (route_value.type != MsgType::map) return fail(fmt::format("{} route: must be an object", where.str()));
    const auto j = nlohmann::json::from_msgpack(route_value.encoded.begin(), route_value.encoded.end(), true, false);
    auto parsed = AlertRoute::from_json(j, Where(where, " route").str());
    if (!parsed) return fail(parsed.error());
    if (parsed->name != k) {
      return fail(fmt::format("{}: route name '{}' differs from its key '{}'", where.str(), parsed->name, k));
    }
    if (!u64(written_at, Where(where, " written_at"), out.written_at.packed) || !replica(writer, Where(where, " writer"), out.writer)) {
      return false;
    }
    out.route = std::make_shared<const AlertRoute>(std::move(*parsed));
    return true;
  }

  template <typename V>
  bool store(const MsgValue& v, const Where& where, KeyRule keys, DotMap<Name, DotFun<V>>& out) {
    if (v.type != MsgType::array) return fail(fmt::format("{}: store must be an array, got {}", where.str(), type_name(v)));
    if (v.size > lim_.max_keys) return fail(fmt::format("{}: {} keys (limit {})", where.str(), v.size, lim_.max_keys));
    Items rows(v);
    for (std::size_t i = 0; i < v.size; ++i) {
      const MsgValue row = rows.next();
      const Where w(where, "[", i, "]");
      if (row.type != MsgType::array || row.size < 4 || (row.size - 1) % 3 != 0) {
        return fail(fmt::format("{}: must be [key, replica, counter, value, ...] with at least one dot", w.str()));
      }
      if ((row.size - 1) / 3 > lim_.max_dots_per_key) {
        return fail(fmt::format("{}: {} dots (limit {})", w.str(), (row.size - 1) / 3, lim_.max_dots_per_key));
      }
      Items items(row);
      std::string k;
      if (!key(items.next(), w, k)) return false;
      if (keys == KeyRule::target && !valid_target_id(k)) {
        return fail(fmt::format("{}: '{}' is not a valid target id", w.str(), k));
      }
      if (keys == KeyRule::subject && !valid_target_id(k) && !is_vouch_subject(k)) {
        return fail(fmt::format("{}: '{}' is neither a valid target id nor '@' and a member name", w.str(), k));
      }
      if (keys == KeyRule::set_member && !valid_set_key(k)) {
        return fail(fmt::format("{}: '{}' is not a set name, '/' and a member", w.str(), k));
      }
      if (keys == KeyRule::request && !valid_request_key(k)) {
        return fail(fmt::format("{}: '{}' is not a valid idempotency key", w.str(), k));
      }
      if (keys == KeyRule::alert && !valid_alert_key(k)) {
        return fail(fmt::format("{}: '{}' is not a target id, '/' and a route name", w.str(), k));
      }
      if (keys == KeyRule::route && !valid_route_name(k)) {
        return fail(fmt::format("{}: '{}' is not a route name", w.str(), k));
      }
      if (out.find(k)) return fail(fmt::format("{}: duplicate key '{}'", w.str(), k));
      DotFun<V> fun;
      for (std::size_t j = 1; j < row.size; j += 3) {
        const Where wd(w, " dot ", (j - 1) / 3, "");
        const MsgValue ri = items.next();
        const MsgValue counter = items.next();
        const MsgValue val_value = items.next();
        Dot d;
        V val{};
        if (!dot(ri, counter, wd, d) || !value(val_value, wd, k, val)) return false;
        const std::size_t before = fun.size();
        fun.insert(d, std::move(val));
        if (fun.size() == before) return fail(fmt::format("{}: duplicate dot", wd.str()));
      }
      out.put(names_->intern(k), std::move(fun));
    }
    return true;
  }

  template <typename V>
  bool causal(const MsgValue& v, const Where& where, KeyRule keys,
              Causal<DotMap<Name, DotFun<V>>>& out) {
    if (v.type != MsgType::array || v.size != 2) return fail(fmt::format("{}: must be [store, context]", where.str()));
    Items items(v);
    const MsgValue st = items.next();
    const MsgValue ctx = items.next();
    if (!store(st, where, keys, out.store) || !context(ctx, Where(where, " context"), out.context)) return false;
    // Every live dot must be in the context, or joins would misread it.
    for (const auto& [k, fun] : out.store.entries()) {
      for (const auto& [d, val] : fun.entries()) {
        if (!out.context.contains(d)) {
          return fail(fmt::format("{}: dot {} of key '{}' is not in the context", where.str(), d.counter, k));
        }
      }
    }
    return true;
  }

  bool elided(const MsgValue& v, const Where& where, ElidedKeys& out) {
    if (v.type != MsgType::array) return fail(fmt::format("{}: must be an array", where.str()));
    if (v.size > lim_.max_keys) return fail(fmt::format("{}: {} keys (limit {})", where.str(), v.size, lim_.max_keys));
    Items rows(v);
    for (std::size_t i = 0; i < v.size; ++i) {
      const MsgValue row = rows.next();
      const Where w(where, "[", i, "]");
      if (row.type != MsgType::array || row.size < 3 || (row.size - 1) % 2 != 0) {
        return fail(fmt::format("{}: must be [key, replica, counter, ...] with at least one dot", w.str()));
      }
      if ((row.size - 1) / 2 > lim_.max_dots_per_key) return fail(fmt::format("{}: too many dots", w.str()));
      Items items(row);
      std::string k;
      if (!key(items.next(), w, k)) return false;
      ElidedKeys::Dots& dots = out.add_row(std::move(k));
      for (std::size_t j = 1; j < row.size; j += 2) {
        const MsgValue ri = items.next();
        const MsgValue counter = items.next();
        Dot d;
        if (!dot(ri, counter, Where(w, " dot ", (j - 1) / 2, ""), d)) return false;
        dots.push_back(d);
      }
      std::sort(dots.begin(), dots.end());
      if (std::adjacent_find(dots.begin(), dots.end()) != dots.end()) return fail(fmt::format("{}: duplicate dot", w.str()));
    }
    std::string twice;
    if (!out.sort(&twice)) return fail(fmt::format("{}: duplicate key '{}'", where.str(), twice));
    return true;
  }

  // The top-level object of a body: its values by one-letter key, in the
  // order of `allowed`. A key given twice keeps its last value (as a JSON
  // object would); an unknown key is an error (the first in sorted order).
  template <std::size_t N>
  bool fields(const MsgValue& body, const Where& where, const std::array<const char*, N>& allowed,
              std::array<std::optional<MsgValue>, N>& out) {
    if (body.type != MsgType::map) {
      return fail(fmt::format("{}: must be an object, got {}", where.str(), type_name(body)));
    }
    MsgpackReader in(body.encoded);
    MsgValue header;
    in.header(header);
    std::optional<std::string_view> unknown;
    for (std::size_t i = 0; i < body.size; ++i) {
      MsgValue k, v;
      in.value(k);
      in.value(v);
      bool known = false;
      for (std::size_t a = 0; a < N; ++a) {
        if (k.text() == allowed[a]) {
          out[a] = v;
          known = true;
        }
      }
      if (!known && (!unknown || k.text() < *unknown)) unknown = k.text();
    }
    if (unknown) return fail(fmt::format("{}: unknown key '{}'", where.str(), *unknown));
    return true;
  }

  bool flag(const std::optional<MsgValue>& v, const char* k, const Where& where, bool& out) {
    if (!v) return true;
    if (v->type != MsgType::boolean) return fail(fmt::format("{}.{}: must be a boolean", where.str(), k));
    out = v->boolean;
    return true;
  }

 private:
  const CodecLimits& lim_;
  SpecPool* specs_;  // may be null
  // Observer names: the pool's, else this decode's own (a Name outlives its
  // table, so what is decoded keeps them).
  NameTable own_names_;
  NameTable* names_;
  std::vector<ReplicaId> ids_;
  std::string err_;
};

bool decode_triple(Decoder& dec, const MsgValue* g, const MsgValue* o, const MsgValue* c, const char* root,
                   HealthDelta& out) {
  const Where where(root);
  return (!g || dec.causal(*g, Where(where, ".g"), KeyRule::target, out.registry)) &&
         (!o || dec.causal(*o, Where(where, ".o"), KeyRule::subject, out.observations)) &&
         (!c || dec.causal(*c, Where(where, ".c"), KeyRule::any, out.counters));
}

// The sets, the request record, the alert log and the routes: absent
// (empty) in most bodies.
bool decode_extra(Decoder& dec, const MsgValue* s, const MsgValue* k, const MsgValue* a, const MsgValue* n,
                  const char* root, HealthDelta& out) {
  const Where where(root);
  return (!s || dec.causal(*s, Where(where, ".s"), KeyRule::set_member, out.sets)) &&
         (!k || dec.causal(*k, Where(where, ".k"), KeyRule::request, out.requests)) &&
         (!a || dec.causal(*a, Where(where, ".a"), KeyRule::alert, out.alerts)) &&
         (!n || dec.causal(*n, Where(where, ".n"), KeyRule::route, out.routes));
}

// How many stores a positional layout lists: 3 (g, o, c) while the sets,
// the request record, the alert log and the routes are empty, 5 (… s, k)
// while the last two are, 6 (… s, k, a) while only the routes are, else 7
// (… s, k, a, n).
std::size_t stores_listed(bool sets_or_requests, bool alerts, bool routes) {
  return routes ? 7 : alerts ? 6 : sets_or_requests ? 5 : 3;
}
std::size_t stores_listed(const CausalContext& s, const CausalContext& k, const CausalContext& a,
                          const CausalContext& n) {
  return stores_listed(!s.empty() || !k.empty(), !a.empty(), !n.empty());
}
std::size_t stores_listed(const HealthDelta& d) {
  return stores_listed(!causal_empty(d.sets) || !causal_empty(d.requests), !causal_empty(d.alerts),
                       !causal_empty(d.routes));
}
constexpr const char* kListedStores = "[registry, observations, counters(, sets, requests(, alerts(, routes)))]";
bool valid_listed(std::size_t n) { return n == 3 || n == 5 || n == 6 || n == 7; }

const MsgValue* ptr(const std::optional<MsgValue>& v) { return v ? &*v : nullptr; }

}  // namespace

// ------------------------------------------------------------------- delta

Bytes encode_delta(const HealthDelta& d) {
  Bytes out;
  out.reserve(96);
  MsgpackWriter w(out);
  ReplicaTable t;
  const bool g = !causal_empty(d.registry), o = !causal_empty(d.observations), c = !causal_empty(d.counters);
  const bool s = !causal_empty(d.sets), k = !causal_empty(d.requests), a = !causal_empty(d.alerts);
  const bool n = !causal_empty(d.routes);
  w.map(1 + (g ? 1 : 0) + (o ? 1 : 0) + (c ? 1 : 0) + (s ? 1 : 0) + (k ? 1 : 0) + (a ? 1 : 0) + (n ? 1 : 0));
  if (a) {
    w.str("a");
    write_causal(d.alerts, t, w);
  }
  if (c) {
    // "c" comes first on the wire but numbers its replicas after g and o.
    NullWriter first;
    if (g) write_causal(d.registry, t, first);
    if (o) write_causal(d.observations, t, first);
    w.str("c");
    write_causal(d.counters, t, w);
  }
  if (g) {
    w.str("g");
    write_causal(d.registry, t, w);
  }
  if (k) {
    w.str("k");
    write_causal(d.requests, t, w);
  }
  if (n) {
    w.str("n");
    write_causal(d.routes, t, w);
  }
  if (o) {
    w.str("o");
    write_causal(d.observations, t, w);
  }
  if (s) {
    // "s" comes after the table: number its replicas first.
    NullWriter first;
    write_causal(d.sets, t, first);
  }
  w.str("r");
  t.write(w);
  if (s) {
    w.str("s");
    write_causal(d.sets, t, w);
  }
  return out;
}

Result<HealthDelta> decode_delta(std::span<const std::uint8_t> bytes, const CodecLimits& limits, SpecPool* specs) {
  std::string err;
  MsgValue body;
  if (!read_body(bytes, "delta", body, err)) return Error{std::move(err)};
  Decoder dec(limits, specs);
  HealthDelta d;
  std::array<std::optional<MsgValue>, 8> f;  // r g o c s k a n
  if (!dec.fields(body, "delta", std::array{"r", "g", "o", "c", "s", "k", "a", "n"}, f) ||
      (f[0] ? !dec.table(*f[0], "delta.r") : !dec.fail("delta.r: missing")) ||
      !decode_triple(dec, ptr(f[1]), ptr(f[2]), ptr(f[3]), "delta", d) ||
      !decode_extra(dec, ptr(f[4]), ptr(f[5]), ptr(f[6]), ptr(f[7]), "delta", d)) {
    return Error{dec.error()};
  }
  return d;
}

// ------------------------------------------------------------------ digest

Bytes encode_digest(const Digest& d) {
  Bytes out;
  out.reserve(d.hashes.size() * 8 + 1024);
  MsgpackWriter w(out);
  ReplicaTable t;
  // Keys in order h, i, q, r, x; the table is numbered by x.
  NullWriter first;
  write_context(d.registry, t, first);
  write_context(d.observations, t, first);
  write_context(d.counters, t, first);
  const std::size_t listed = stores_listed(d.sets, d.requests, d.alerts, d.routes);
  if (listed >= 5) {
    write_context(d.sets, t, first);
    write_context(d.requests, t, first);
  }
  if (listed >= 6) write_context(d.alerts, t, first);
  if (listed >= 7) write_context(d.routes, t, first);
  w.map(5);
  w.str("h");
  std::vector<std::uint8_t> h;
  h.reserve(d.hashes.size() * 8);
  for (std::uint64_t x : d.hashes) {
    for (int i = 0; i < 8; ++i) h.push_back(static_cast<std::uint8_t>(x >> (8 * i)));
  }
  w.bin(h);
  w.str("i");
  w.uint(d.replica);
  w.str("q");
  w.boolean(d.reply);
  w.str("r");
  t.write(w);
  w.str("x");
  w.array(listed);
  write_context(d.registry, t, w);
  write_context(d.observations, t, w);
  write_context(d.counters, t, w);
  if (listed >= 5) {
    write_context(d.sets, t, w);
    write_context(d.requests, t, w);
  }
  if (listed >= 6) write_context(d.alerts, t, w);
  if (listed >= 7) write_context(d.routes, t, w);
  return out;
}

Result<Digest> decode_digest(std::span<const std::uint8_t> bytes, const CodecLimits& limits) {
  std::string err;
  MsgValue body;
  if (!read_body(bytes, "digest", body, err)) return Error{std::move(err)};
  Decoder dec(limits);
  Digest d;
  std::array<std::optional<MsgValue>, 5> f;  // i r x h q
  if (!dec.fields(body, "digest", std::array{"i", "r", "x", "h", "q"}, f)) return Error{dec.error()};
  const auto& [i, r, x, h, q] = f;
  if (!i) return Error{"digest.i: missing"};
  if (!dec.u64(*i, "digest.i", d.replica, 1)) return Error{dec.error()};
  if (!r) return Error{"digest.r: missing"};
  if (!x) return Error{"digest.x: missing"};
  if (!h) return Error{"digest.h: missing"};
  if (!dec.table(*r, "digest.r")) return Error{dec.error()};
  if (x->type != MsgType::array || !valid_listed(x->size)) {
    return Error{fmt::format("digest.x: must be {} contexts", kListedStores)};
  }
  Items contexts(*x);
  if (!dec.context(contexts.next(), "digest.x.g", d.registry) ||
      !dec.context(contexts.next(), "digest.x.o", d.observations) ||
      !dec.context(contexts.next(), "digest.x.c", d.counters) ||
      (x->size >= 5 && (!dec.context(contexts.next(), "digest.x.s", d.sets) ||
                        !dec.context(contexts.next(), "digest.x.k", d.requests))) ||
      (x->size >= 6 && !dec.context(contexts.next(), "digest.x.a", d.alerts)) ||
      (x->size >= 7 && !dec.context(contexts.next(), "digest.x.n", d.routes)) ||
      !dec.flag(q, "q", "digest", d.reply)) {
    return Error{dec.error()};
  }
  if (h->type != MsgType::bin || h->size != kDigestBuckets * 8) {
    return Error{fmt::format("digest.h: must be {} bytes of bucket hashes", kDigestBuckets * 8)};
  }
  const auto& hb = h->payload;
  d.hashes.resize(kDigestBuckets);
  for (std::size_t b = 0; b < kDigestBuckets; ++b) {
    std::uint64_t v = 0;
    for (int k = 0; k < 8; ++k) v |= static_cast<std::uint64_t>(hb[b * 8 + static_cast<std::size_t>(k)]) << (8 * k);
    d.hashes[b] = v;
  }
  return d;
}

// ------------------------------------------------------------------ repair

Bytes encode_repair(const Repair& rep) {
  Bytes out;
  MsgpackWriter w(out);
  ReplicaTable t;
  const HealthDelta& d = rep.delta;
  // Keys in order b, d, e, p, r, t: the table is numbered by d, then e.
  const bool scoped = rep.scoped;
  const bool elided = scoped && !rep.elided.empty();
  const bool partial = scoped && rep.partial;
  const std::size_t listed =
      std::max({stores_listed(d), stores_listed(d.sets.context, d.requests.context, d.alerts.context, d.routes.context),
                elided ? stores_listed(!rep.elided.sets.empty() || !rep.elided.requests.empty(), !rep.elided.alerts.empty(),
                                       !rep.elided.routes.empty())
                       : std::size_t{3}});
  w.map(2 + (scoped ? 2 : 0) + (elided ? 1 : 0) + (partial ? 1 : 0));
  if (scoped) {
    w.str("b");
    w.array(rep.buckets.size());
    for (std::uint16_t b : rep.buckets) w.uint(b);
  }
  w.str("d");
  w.array(listed);
  write_causal(d.registry, t, w);
  write_causal(d.observations, t, w);
  write_causal(d.counters, t, w);
  if (listed >= 5) {
    write_causal(d.sets, t, w);
    write_causal(d.requests, t, w);
  }
  if (listed >= 6) write_causal(d.alerts, t, w);
  if (listed >= 7) write_causal(d.routes, t, w);
  if (elided) {
    w.str("e");
    w.array(listed);
    write_elided(rep.elided.registry, t, w);
    write_elided(rep.elided.observations, t, w);
    write_elided(rep.elided.counters, t, w);
    if (listed >= 5) {
      write_elided(rep.elided.sets, t, w);
      write_elided(rep.elided.requests, t, w);
    }
    if (listed >= 6) write_elided(rep.elided.alerts, t, w);
    if (listed >= 7) write_elided(rep.elided.routes, t, w);
  }
  if (partial) {
    w.str("p");
    w.boolean(true);
  }
  w.str("r");
  t.write(w);
  if (scoped) {
    w.str("t");
    w.uint(rep.for_replica);
  }
  return out;
}

Result<Repair> decode_repair(std::span<const std::uint8_t> bytes, const CodecLimits& limits, SpecPool* specs) {
  std::string err;
  MsgValue body;
  if (!read_body(bytes, "repair", body, err)) return Error{std::move(err)};
  Decoder dec(limits, specs);
  Repair rep;
  std::array<std::optional<MsgValue>, 6> f;  // r d b p e t
  if (!dec.fields(body, "repair", std::array{"r", "d", "b", "p", "e", "t"}, f)) return Error{dec.error()};
  const auto& [r, d, b, p, e, t] = f;
  if (!r) return Error{"repair.r: missing"};
  if (!d) return Error{"repair.d: missing"};
  if (!dec.table(*r, "repair.r")) return Error{dec.error()};
  if (d->type != MsgType::array || !valid_listed(d->size)) {
    return Error{fmt::format("repair.d: must be {}", kListedStores)};
  }
  {
    Items triple(*d);
    const MsgValue g = triple.next(), o = triple.next(), c = triple.next();
    if (!decode_triple(dec, &g, &o, &c, "repair.d", rep.delta)) return Error{dec.error()};
    if (d->size >= 5) {
      const MsgValue s = triple.next(), k = triple.next();
      const MsgValue a = d->size >= 6 ? triple.next() : MsgValue{};
      const MsgValue n = d->size >= 7 ? triple.next() : MsgValue{};
      if (!decode_extra(dec, &s, &k, d->size >= 6 ? &a : nullptr, d->size >= 7 ? &n : nullptr, "repair.d", rep.delta)) {
        return Error{dec.error()};
      }
    }
  }
  if (b) {
    rep.scoped = true;
    if (b->type != MsgType::array || b->size > limits.max_buckets) {
      return Error{fmt::format("repair.b: must be an array of at most {} buckets", limits.max_buckets)};
    }
    Items items(*b);
    for (std::size_t i = 0; i < b->size; ++i) {
      std::uint64_t v = 0;
      if (!dec.u64(items.next(), Where(Where("repair.b"), "[", i, "]"), v, 0, kDigestBuckets - 1)) return Error{dec.error()};
      if (!rep.buckets.empty() && v <= rep.buckets.back()) {
        return Error{fmt::format("repair.b[{}]: buckets must be sorted and unique", i)};
      }
      rep.buckets.push_back(static_cast<std::uint16_t>(v));
    }
    if (!dec.flag(p, "p", "repair", rep.partial)) return Error{dec.error()};
    if (!t) return Error{"repair.t: missing (a scoped repair names its addressee)"};
    if (!dec.u64(*t, "repair.t", rep.for_replica, 1)) return Error{dec.error()};
    if (e) {
      if (e->type != MsgType::array || !valid_listed(e->size)) {
        return Error{fmt::format("repair.e: must be {}", kListedStores)};
      }
      Items triple(*e);
      if (!dec.elided(triple.next(), "repair.e.g", rep.elided.registry) ||
          !dec.elided(triple.next(), "repair.e.o", rep.elided.observations) ||
          !dec.elided(triple.next(), "repair.e.c", rep.elided.counters) ||
          (e->size >= 5 && (!dec.elided(triple.next(), "repair.e.s", rep.elided.sets) ||
                            !dec.elided(triple.next(), "repair.e.k", rep.elided.requests))) ||
          (e->size >= 6 && !dec.elided(triple.next(), "repair.e.a", rep.elided.alerts)) ||
          (e->size >= 7 && !dec.elided(triple.next(), "repair.e.n", rep.elided.routes))) {
        return Error{dec.error()};
      }
    }
  } else if (p || e || t) {
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
                     check_keys(rep.delta.counters.store.entries(), "d.c"),
                     check_keys(rep.delta.sets.store.entries(), "d.s"),
                     check_keys(rep.delta.requests.store.entries(), "d.k"), check_keys(rep.elided.registry, "e.g"),
                     check_keys(rep.elided.observations, "e.o"), check_keys(rep.elided.counters, "e.c"),
                     check_keys(rep.elided.sets, "e.s"), check_keys(rep.elided.requests, "e.k"),
                     check_keys(rep.delta.alerts.store.entries(), "d.a"), check_keys(rep.elided.alerts, "e.a"),
                     check_keys(rep.delta.routes.store.entries(), "d.n"), check_keys(rep.elided.routes, "e.n")}) {
      if (err) return Error{*err};
    }
    auto check_ctx = [&](const ElidedKeys& m, const CausalContext& c,
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
                     check_ctx(rep.elided.counters, rep.delta.counters.context, "e.c"),
                     check_ctx(rep.elided.sets, rep.delta.sets.context, "e.s"),
                     check_ctx(rep.elided.requests, rep.delta.requests.context, "e.k"),
                     check_ctx(rep.elided.alerts, rep.delta.alerts.context, "e.a"),
                     check_ctx(rep.elided.routes, rep.delta.routes.context, "e.n")}) {
      if (err) return Error{*err};
    }
  }
  return rep;
}

}  // namespace heck
