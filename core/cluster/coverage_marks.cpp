#include "core/cluster/coverage_marks.h"

#include "core/cluster/cluster_node.h"

namespace heck {

namespace {

const SwimCounters& swim(const ClusterNode& n) { return n.membership().counters(); }
const ReplicatorCounters& replication(const ClusterNode& n) { return n.replication().counters(); }

constexpr std::array<CoverageMark, kCoverageMarkCount> kMarks{{
    {"swim.indirect_probe_acked", "a probe was answered only after its ping-reqs went out (the indirect probe saved the member)",
     [](const ClusterNode& n) { return swim(n).indirect_acks; }},
    {"swim.lifeguard_nack", "a relay answered a ping-req with a nack (Lifeguard: the prober's own link is suspect)",
     [](const ClusterNode& n) { return swim(n).nacks_received; }},
    {"swim.suspicion_confirmed", "an independent confirmation shortened a suspicion's timeout",
     [](const ClusterNode& n) { return swim(n).confirmations; }},
    {"swim.suspect_refuted", "a member refuted a suspicion of itself by raising its incarnation",
     [](const ClusterNode& n) { return swim(n).refutes; }},
    {"swim.accuser_answered", "a member that passed on an old accusation was told the newer alive directly",
     [](const ClusterNode& n) { return swim(n).stale_accusers_answered; }},
    {"swim.member_declared_dead", "a suspicion timed out: a member was declared dead",
     [](const ClusterNode& n) { return swim(n).deaths_declared; }},
    {"swim.push_pull_truncated", "a push-pull left members out to stay under the stream limit",
     [](const ClusterNode& n) { return swim(n).push_pulls_truncated; }},
    {"replication.delta_repair", "anti-entropy repaired a peer from buffered deltas",
     [](const ClusterNode& n) { return replication(n).delta_repairs_sent; }},
    {"replication.state_repair", "anti-entropy repaired a peer with the entries of differing buckets",
     [](const ClusterNode& n) { return replication(n).state_repairs_sent; }},
    {"replication.partial_repair", "a state repair was cut at the repair size limit",
     [](const ClusterNode& n) { return replication(n).partial_repairs_sent; }},
    {"replication.oversized_delta_streamed", "a delta group over one datagram was pushed over a stream",
     [](const ClusterNode& n) { return replication(n).oversized_deltas; }},
    {"replication.pending_evicted", "the delta buffer evicted a group at its cap",
     [](const ClusterNode& n) { return replication(n).pending_evicted; }},
    {"replication.hlc_rejected_ahead", "a remote timestamp too far ahead was refused by the hybrid clock",
     [](const ClusterNode& n) { return replication(n).hlc_rejected_ahead; }},
    {"cluster.ownership_change", "a node started or stopped checking a target (takeover or hand-back)",
     [](const ClusterNode& n) { return n.counters().ownership_changes; }},
    {"cluster.takeover", "a node started checking a target others already reported on (its owner crashed, left or is suspect)",
     [](const ClusterNode& n) { return n.counters().takeovers; }},
    {"cluster.takeover_kept_latencies", "a takeover started with latency samples the previous owner handed over",
     [](const ClusterNode& n) { return n.counters().takeovers_with_latencies; }},
    {"cluster.quorum_outvoted", "a node's unhealthy vote left the target healthy: the quorum outvoted its vantage point",
     [](const ClusterNode& n) { return n.counters().quorum_outvoted; }},
}};

}  // namespace

std::span<const CoverageMark> coverage_marks() { return kMarks; }

std::optional<std::size_t> coverage_mark_index(std::string_view name) {
  for (std::size_t i = 0; i < kMarks.size(); ++i) {
    if (kMarks[i].name == name) return i;
  }
  return std::nullopt;
}

std::string coverage_mark_names() {
  std::string out;
  for (const CoverageMark& m : kMarks) {
    if (!out.empty()) out += ", ";
    out += m.name;
  }
  return out;
}

CoverageHits coverage_hits(const ClusterNode& node) {
  CoverageHits out{};
  for (std::size_t i = 0; i < kMarks.size(); ++i) out[i] = kMarks[i].hits(node);
  return out;
}

}  // namespace heck
