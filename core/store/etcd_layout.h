// The etcd key layout and value encoding of heck's store (etcd mode).
//
//   <prefix>targets/<id>               a target's spec: {"spec": TargetSpec JSON, "written_at": HLC}
//   <prefix>obs/<subject>/<member>     one member's observation of a subject (a target id,
//                                      or a vouch subject "@member"), written with the
//                                      member's lease: it expires with its writer
//   <prefix>counters/<name>            a counter's value, decimal text
//
// The prefix is "heck/" unless configured. Target ids, vouch subjects and
// member names hold no '/' (target_spec.h, valid_member_name), so an
// observation key splits at its last '/'. A counter name is any bytes after
// "counters/". Keys and values are bytes; the JSON gateway carries them as
// base64 (base64.h). A value that does not decode is refused with a message.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>

#include "core/replicated/hlc.h"
#include "core/replicated/observation.h"
#include "core/result.h"
#include "core/target_spec.h"

namespace heck::store {

struct TargetKey {
  std::string id;
};
struct ObservationKey {
  std::string subject;
  std::string member;
};
struct CounterKey {
  std::string name;
};
using ParsedKey = std::variant<std::monostate, TargetKey, ObservationKey, CounterKey>;

class KeyLayout {
 public:
  explicit KeyLayout(std::string prefix = "heck/") : prefix_(std::move(prefix)) {}

  const std::string& prefix() const { return prefix_; }
  std::string target(std::string_view id) const;
  std::string observation(std::string_view subject, std::string_view member) const;
  // Every observation of a subject: a range [observations_of, range_end).
  std::string observations_of(std::string_view subject) const;
  std::string counter(std::string_view name) const;
  // monostate for a key outside the layout.
  ParsedKey parse(std::string_view key) const;

 private:
  std::string prefix_;
};

// The end of the range of every key that starts with `prefix` (etcd's
// range_end: the prefix with its last byte incremented).
std::string range_end(std::string_view prefix);

struct TargetValue {
  TargetSpec spec;
  HlcTimestamp written_at;
};
std::string encode_target(const TargetSpec& spec, HlcTimestamp written_at);
Result<TargetValue> decode_target(std::string_view bytes);

std::string encode_observation(const Observation& o);
Result<Observation> decode_observation(std::string_view bytes);

std::string encode_counter(std::int64_t value);
Result<std::int64_t> decode_counter(std::string_view bytes);

}  // namespace heck::store
