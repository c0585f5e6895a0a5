#include "core/cluster/coverage_marks.h"

#include <algorithm>
#include <string>

#include "core/cluster/cluster_node.h"

namespace heck {

namespace {

constexpr std::array<CoverageMark, kCoverageMarkCount> kMarks{{
    {"swim.indirect_probe_acked", "a probe was answered only after its ping-reqs went out (the indirect probe saved the member)"},
    {"swim.lifeguard_nack", "a relay answered a ping-req with a nack (Lifeguard: the prober's own link is suspect)"},
    {"swim.suspicion_confirmed", "an independent confirmation shortened a suspicion's timeout"},
    {"swim.suspect_refuted", "a member refuted a suspicion of itself by raising its incarnation"},
    {"swim.accuser_answered", "an accuser with an old accusation was told the newer alive directly"},
    {"swim.member_declared_dead", "a suspicion timed out: a member was declared dead"},
    {"swim.push_pull_truncated", "a push-pull left members out to stay under the stream limit"},
    {"replication.delta_repair", "anti-entropy repaired a peer from buffered deltas"},
    {"replication.state_repair", "anti-entropy repaired a peer with the entries of differing buckets"},
    {"replication.partial_repair", "a state repair was cut at the repair size limit"},
    {"replication.oversized_delta_streamed", "a delta group over one datagram was pushed over a stream"},
    {"replication.pending_evicted", "the delta buffer evicted a group at its cap"},
    {"replication.hlc_rejected_ahead", "a remote timestamp too far ahead was refused by the hybrid clock"},
    {"cluster.ownership_change", "a node started or stopped checking a target (takeover or hand-back)"},
    {"cluster.takeover", "a node started checking a target others already reported on (its owner crashed, left or is suspect)"},
    {"cluster.quorum_outvoted", "a node's unhealthy vote left the target healthy: the quorum outvoted its vantage point"},
}};

}  // namespace

std::span<const CoverageMark> coverage_marks() { return kMarks; }

std::optional<std::size_t> coverage_mark_index(std::string_view name) {
  for (std::size_t i = 0; i < kMarks.size(); ++i) {
    if (kMarks[i].name == name) return i;
  }
  return std::nullopt;
}

std::string_view coverage_mark_names() {
  static const std::string names = [] {
    std::string out;
    for (const CoverageMark& m : kMarks) {
      if (!out.empty()) out += ", ";
      out += m.name;
    }
    return out;
  }();
  return names;
}

CoverageHits coverage_hits(const ClusterNode& node) {
  const SwimCounters& s = node.membership().counters();
  const ReplicatorCounters& r = node.replication().counters();
  const ClusterCounters& c = node.counters();
  return CoverageHits{
      s.indirect_acks,        s.nacks_received,       s.confirmations,         s.refutes,
      s.stale_accusers_answered, s.deaths_declared,   s.push_pulls_truncated,  r.delta_repairs_sent,
      r.state_repairs_sent,   r.partial_repairs_sent, r.oversized_deltas,      r.pending_evicted,
      r.hlc_rejected_ahead,   c.ownership_changes,     c.takeovers,             c.quorum_outvoted,
  };
}

}  // namespace heck
