// The replicator's view of the cluster: the live members except self, in
// name order (the order Swim::live_members() lists them, which the
// replicator's random peer picks index into, so it is part of the
// deterministic output).
//
// Membership changes are queued (apply) and merged in one pass when the view
// is next read (view), or once n/4 are queued. Cost model, n members, k
// queued changes:
//   apply:  O(1) amortised, plus the merge it may trigger
//   view:   O(1) when nothing is queued, else O(n + k log k) (a sort of the
//           changes, one forward pass, one backward merge; in place)
// An insert or erase per change cost O(n) moves of (name, address) pairs: a
// 1,000-member join brings ~1,000 changes to every agent, most of them
// between two of its replication rounds.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include "core/net.h"
#include "core/replicated/replicator.h"

namespace heck {

class PeerTable {
 public:
  // `name` is live (alive or suspect) at `address`, or not (dead, left,
  // reaped). A member's last change decides.
  void apply(const Name& name, const Name& address, bool live);
  // Replaces everything (REQUIRES: `peers` in name order, names unique).
  void reset(std::vector<Peer> peers);
  // The live members, by name, after every change applied so far.
  const std::vector<Peer>& view();

 private:
  struct Change {
    Name name;
    Name address;
    bool live = false;
  };
  std::vector<Peer> peers_;
  std::vector<Change> changes_;  // since peers_ was merged, in order
};

}  // namespace heck
