// Wire bodies of the replication parts (core/wire/part_type.h: delta, digest,
// repair): MessagePack bytes for wire::encode_part, written and read straight
// from the structs (wire::MsgpackWriter/MsgpackReader; no JSON tree except
// for a target spec or an alert route inside a value). The layout below is in JSON
// notation: a MessagePack map, keys in sorted order, or an array.
//
// Compact: arrays, not objects, below the top level; one-letter keys at the
// top; replica ids (64-bit hashes) written once per body in a table "r" and
// referred to by index everywhere else; dots flattened into runs of integers.
//
//   delta   {"r": [replica ids], "g": causal, "o": causal, "c": causal,
//            "s": causal, "k": causal, "a": causal, "n": causal}
//           (g: target registry, o: observations, c: counters, s: sets,
//           k: applied idempotent requests, a: the alert log, n: alert
//           routes written through the API; an absent key is the empty
//           store with the empty context)
//   causal  [store, context]
//   store   [[key, ri, counter, value, ri, counter, value, ...], ...]
//   context [[ri, max, ...] (version vector), [ri, counter, ...] (cloud)]
//   value   g: [spec object (TargetSpec JSON), or nil for a removal,
//               written_at (HLC), writer ri]
//           o: [status, reason, status_code, latency_us, observed_at (HLC),
//               observer ri, check_seq]
//           c: int64 (the replica's running total)
//           s: true (the key is set_key(set, member), health_state.h)
//           k: [fingerprint, status, body (str), applied_at (HLC), writer ri]
//           a: [kind (0 firing, 1 resolved), since_ms, sent_at (HLC),
//               writer ri] (the key is alert_key(target, route))
//           n: [route object (AlertRoute JSON), written_at (HLC), writer ri]
//              (the key is the route's name)
//   The sets, the request record, the alert log and the routes are newer:
//   a digest's "x", a repair's "d" and "e" carry three entries (g, o, c)
//   while all four are empty, five (g, o, c, s, k) while the alert log and
//   the routes are, six (g, o, c, s, k, a) while the routes are, seven
//   (g, o, c, s, k, a, n) once routes are written; a body of an agent that
//   never used them is byte for byte what it was before them.
//   digest  {"i": sender replica id, "r": ids, "x": [context g, context o, context c], "h": binary (kDigestBuckets little-
//           endian u64 bucket hashes), "q": bool (answer with a repair and
//           your own digest)}
//   repair  {"r": ids, "d": [g, o, c] causal triple as in delta (positional),
//           "b": [bucket, ...] (absent: a delta repair, a plain join),
//           "p": bool (partial: do not adopt the whole context),
//           "e": [[key, ri, counter, ...] per store g, o, c] (elided values:
//           dots the receiver has seen; it uses its own copy),
//           "t": the replica id whose digest a scoped repair answers}
//
// Decoding is strict and bounded (CodecLimits): wrong shape or type, a
// replica index outside the table, replica id 0, counter 0, a duplicate key
// or dot, a store dot missing from its context, an invalid target spec or
// enum value, or any count past its limit is an error naming the field, e.g.
// "delta.o[3]: dot 2 of key 'web' is not in the context".
#pragma once

#include <array>
#include <cassert>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/net.h"
#include "core/replicated/health_state.h"
#include "core/replicated/spec_pool.h"
#include "core/result.h"
#include "core/small_vector.h"

namespace heck {

inline constexpr std::size_t kDigestBuckets = 256;

struct CodecLimits {
  std::size_t max_replicas = 4096;      // replica table entries in one body
  std::size_t max_keys = 200'000;       // keys per store
  std::size_t max_dots_per_key = 256;   // siblings of one key
  std::size_t max_cloud_dots = 200'000; // context dots beyond the version vector
  std::size_t max_key_bytes = 256;      // target ids, counter names, set keys, idempotency keys
  std::size_t max_buckets = kDigestBuckets;

  bool operator==(const CodecLimits&) const = default;
};

// What an agent has: its three causal contexts (registry, observations,
// counters: each store numbers its dots on its own) and bucket hashes.
struct Digest {
  ReplicaId replica = 0;  // the sender's incarnation (a repair is addressed to it)
  CausalContext registry, observations, counters, sets, requests, alerts, routes;
  std::vector<std::uint64_t> hashes;  // kDigestBuckets entries
  bool reply = false;                 // the sender wants a repair and our digest
  bool operator==(const Digest&) const = default;
};

// The keys of one store whose values a state repair left out (the receiver
// has seen their dots), each with those dots: rows of (key, dots), one row
// a key. One flat vector: the std::map it replaces cost two allocations and
// a tree insert per key, and a state repair that answers a digest in the
// middle of a registration elides thousands of keys (with the decoder's
// map, a sixth of a 1,000-agent simulation's registration).
class ElidedKeys {
 public:
  using Dots = SmallVector<Dot, 1>;
  using Row = std::pair<std::string, Dots>;

  // Adds `dot` to `key`'s row: the last row when it is `key`'s, else a new
  // row at the end. REQUIRES: the dots of a key added one after another.
  void add(std::string_view key, Dot dot) {
    if (rows_.empty() || rows_.back().first != key) rows_.emplace_back(std::string(key), Dots{});
    rows_.back().second.push_back(dot);
  }
  // A new row at the end (a decoder's: sort() finds a key listed twice).
  Dots& add_row(std::string key) { return rows_.emplace_back(std::move(key), Dots{}).second; }
  // Puts the rows in key order (encodings list them so): O(n log n) key
  // compares, O(n) when already in order. Returns false when two rows
  // hold the same key (then `duplicate` names it).
  bool sort(std::string* duplicate = nullptr);
  bool sorted() const;

  bool empty() const { return rows_.empty(); }
  std::size_t size() const { return rows_.size(); }
  std::vector<Row>::const_iterator begin() const { return rows_.begin(); }
  std::vector<Row>::const_iterator end() const { return rows_.end(); }
  // The same rows in the same order (compare sorted rows).
  bool operator==(const ElidedKeys&) const = default;

 private:
  std::vector<Row> rows_;
};

// Dots whose value the sender left out because the receiver has seen them.
struct ElidedDots {
  ElidedKeys registry, observations, counters, sets, requests, alerts, routes;
  // Every store's rows in key order (a builder that adds keys out of order
  // calls it before the repair is encoded or compared).
  void sort() {
    for (ElidedKeys* k : {&registry, &observations, &counters, &sets, &requests, &alerts, &routes}) {
      [[maybe_unused]] const bool unique = k->sort();
      assert(unique);  // add()'s REQUIRES: each key's dots together, each key once
    }
  }
  bool empty() const {
    return registry.empty() && observations.empty() && counters.empty() && sets.empty() && requests.empty() &&
           alerts.empty() && routes.empty();
  }
  bool operator==(const ElidedDots&) const = default;
};

struct Repair {
  HealthDelta delta;                   // entries and the sender's context
  bool scoped = false;                 // a state repair over `buckets`
  std::vector<std::uint16_t> buckets;  // sorted, unique; only when scoped
  bool partial = false;                // only when scoped
  ElidedDots elided;                   // only when scoped
  // Scoped repairs only: the incarnation whose digest this answers. Only it
  // may apply the repair (the elisions and the choice of buckets were made
  // against its digest; a member restarted since at the same address lacks
  // what they assume). Delta repairs are plain joins, valid for anyone.
  ReplicaId for_replica = 0;
  bool operator==(const Repair&) const = default;
};

// The digest bucket of a replicated key: text_bucket (core/name_table.h,
// xxh64 of the key under its own seed). A Name carries its bucket, computed
// once per text.
std::uint16_t bucket_of(std::string_view key);
inline std::uint16_t bucket_of(const Name& key) { return key.bucket(); }

// Encoders return one MessagePack value (a part body); decoders take one
// (exactly: trailing bytes are an error) and refuse malformed MessagePack.
// `specs` (optional): decoded target specs shared by their bytes
// (spec_pool.h); a spec found there is not parsed again.
Bytes encode_delta(const HealthDelta& d);
Result<HealthDelta> decode_delta(std::span<const std::uint8_t> body, const CodecLimits& limits = {},
                                 SpecPool* specs = nullptr);

Bytes encode_digest(const Digest& d);
Result<Digest> decode_digest(std::span<const std::uint8_t> body, const CodecLimits& limits = {});

Bytes encode_repair(const Repair& r);
Result<Repair> decode_repair(std::span<const std::uint8_t> body, const CodecLimits& limits = {},
                             SpecPool* specs = nullptr);

}  // namespace heck
