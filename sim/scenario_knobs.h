// Swarm faults: a scenario's fault knobs may be ranges instead of values,
// and each seed draws its own concrete values (`heck sim --swarm`).
//
// At a knob (and only there) a value may be written as
//   {"range": [lo, hi]}          a number in [lo, hi] (inclusive): an integer
//                                at integer fields (the *_ms of the timeline and
//                                clocks, drift_ppm), a real at rates and
//                                latencies (drawn in steps of 1e-4)
//   {"any_of": [v1, v2, …]}      one of the values (numbers, member names or
//                                patterns, arrays: whatever the field takes)
//   {"pick": K, "of": SELECTOR}  member fields only: K distinct members of
//                                those SELECTOR matches (a name, "prefix*",
//                                "*" or an array); K may be {"range": [a, b]}
//
// The knobs:
//   network: loss, duplicate, reorder, latency.*, reorder_delay.*
//   network.links[i]: the same, and the member fields from, to
//   members.clock_spread: offset_ms, drift_ppm;  members[i].clock: offset_ms, drift_ppm
//   timeline[i]: at_ms, for_ms, down_ms, stop_after_ms, every_ms, rate, loss,
//                duplicate, reorder, latency.*, reorder_delay.*, and the
//                member fields member, members, from, to
// (latency.*: ms, min_ms, max_ms, mean_ms, floor_ms). A range anywhere else is
// refused, naming the field, as are a range whose lo is above its hi, a
// non-number end (a non-integer one at an integer field), an empty any_of, a
// pick of more members than its selector matches, and unknown keys.
//
// How a value is chosen (KnobMode):
//   defaults  without --swarm: a range's midpoint (integers round down), the
//             first of any_of, the first K members a pick's selector matches
//             (in member order); so a file with ranges is also one ordinary
//             scenario, which is what `heck sim FILE` and the scenario tests run
//   swarm     --swarm: drawn from the run seed. Each knob has its own stream,
//             derived from (seed, the knob's field name), apart from the
//             world's streams, so a seed replays one draw exactly and adding
//             a range to one knob does not move the others' draws. A file
//             without ranges runs the same with or without --swarm.
//   low, high every range at its lo / hi, the first / last choice, the first /
//             last K members: the corners a file with ranges is checked at
//             when it is loaded (sim/cluster_scenario.h), so a bound the
//             strict parser enforces (a probability above 1, a restart that
//             ends after safety_ms) is refused up front, not on some seed.
// Draws are independent: a draw that breaks a rule between two fields (a
// uniform latency whose drawn max_ms is below its drawn min_ms; a heal drawn
// before its partition is harmless, it heals nothing) is the file's to avoid
// by giving such fields ranges that do not overlap; a seed whose draw the
// parser refuses fails as an error naming the field.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json_fwd.hpp>

namespace heck::sim {

enum class KnobMode : std::uint8_t { defaults, swarm, low, high };
std::string_view to_string(KnobMode m);

struct KnobSettings {
  KnobMode mode = KnobMode::defaults;
  std::uint64_t seed = 0;  // swarm: the run seed
};

// One knob that a range, any_of or pick stood for, and the value it got.
struct DrawnKnob {
  std::string field;  // "timeline[2].for_ms", "network.loss"
  std::string value;  // "2417", "0.0831", "n4", "[n1, n7]"
  bool operator==(const DrawnKnob&) const = default;
};
// "network.loss=0.0831 timeline[2].for_ms=2417 timeline[2].member=n4"
std::string knobs_text(const std::vector<DrawnKnob>& knobs);

// Resolves the knobs of one scenario file's JSON in place, in two steps (the
// member fields need the member names, which the members' clocks do not
// change). The scenario parser drives it. Errors throw
// json_fields::FieldError naming the field (the parser's convention, see
// core/json_fields.h).
class KnobResolver {
 public:
  explicit KnobResolver(KnobSettings settings) : settings_(settings) {}

  // The clock knobs of "members" (the value of that key).
  void resolve_members(nlohmann::json& members);
  // Everything else; `names`: the members in order. Then refuses any range,
  // any_of or pick left outside a knob.
  void resolve_rest(nlohmann::json& scenario, const std::vector<std::string>& names);

  // What each knob became, in the order resolved.
  const std::vector<DrawnKnob>& drawn() const { return drawn_; }

 private:
  enum class Type : std::uint8_t { integer, real };
  void number(nlohmann::json& obj, const std::string& where, std::string_view key, Type type);
  void latency(nlohmann::json& obj, const std::string& where, std::string_view key);
  void link_fields(nlohmann::json& obj, const std::string& where);
  void member_field(nlohmann::json& obj, const std::string& where, std::string_view key,
                    const std::vector<std::string>& names);
  // A number drawn from {"range": [lo, hi]} at `field`.
  nlohmann::json draw_range(const nlohmann::json& range, const std::string& field, Type type);
  // The index of one of `n` choices, or K of them (sorted), at `field`.
  std::size_t choose_one(std::size_t n, const std::string& field);
  std::vector<std::size_t> choose_k(std::size_t n, std::size_t k, const std::string& field);

  KnobSettings settings_;
  std::vector<DrawnKnob> drawn_;
};

// True when the JSON holds an object shaped as a range, any_of or pick.
bool has_knob_ranges(const nlohmann::json& scenario);

}  // namespace heck::sim
