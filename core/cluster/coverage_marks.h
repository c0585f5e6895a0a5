// Coverage marks: the protocol paths a test bench wants to see taken (an
// indirect probe that saved a member, a refuted suspicion, a Lifeguard nack,
// an anti-entropy state repair, a takeover, ...), each counted per node.
//
// A mark is a name over a counter the module keeps anyway (SwimCounters,
// ReplicatorCounters, ClusterCounters): there is no second table to keep in
// step and no global state. The simulator sums a run's marks over every
// incarnation of every member, a scenario can require marks to be hit
// ({"kind": "marks", "hit": [...]}), a sweep lists the marks no seed hit, and
// the daemon exports the same numbers as heck_coverage_mark_hits_total.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace heck {

class ClusterNode;

struct CoverageMark {
  std::string_view name;  // "swim.suspect_refuted"
  std::string_view what;  // one line for reports and metric help
  std::uint64_t (*hits)(const ClusterNode&);  // the counter it names
};

inline constexpr std::size_t kCoverageMarkCount = 17;
using CoverageHits = std::array<std::uint64_t, kCoverageMarkCount>;

// Every mark, in a fixed order (the order of CoverageHits).
std::span<const CoverageMark> coverage_marks();
// The index of the mark called `name`, if there is one.
std::optional<std::size_t> coverage_mark_index(std::string_view name);
// The names of every mark, comma-separated (error messages).
std::string coverage_mark_names();
// How often `node` has taken each path since it started.
CoverageHits coverage_hits(const ClusterNode& node);

}  // namespace heck
