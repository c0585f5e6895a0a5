// What crosses the seam between ClusterNode and an external store (etcd).
//
// In ClusterNode's external store mode (ClusterNodeConfig::external_store)
// the target registry, the observations and the counters are not gossiped:
// - local writes come out of the node as StoreWrite effects (core/effects.h)
//   for the driver to hand to the store (core/store/etcd_store.h), and
// - the store's view comes back in as a StoreUpdate input, a batch of
//   StoreChanges (what the etcd watch or a full read said), which the node
//   applies to its local mirror of the state.
// Pure data; nothing here talks to anything.
#pragma once

#include <cstdint>
#include <string>
#include <variant>
#include <vector>

#include "core/replicated/hlc.h"
#include "core/replicated/observation.h"
#include "core/target_spec.h"

namespace heck {

// --- writes: the node (or the API) asks the store --------------------------
struct StoreTargetPut {
  TargetSpec spec;
  HlcTimestamp written_at;
};
struct StoreTargetRemove {
  std::string id;
};
struct StoreCounterAdd {
  std::string name;
  std::int64_t delta = 0;
};
// This member's observation of `subject` (a target id or a vouch subject);
// it removes the observations of `supersede` (other members) of the same
// subject, as the gossip write supersedes what it has seen.
struct StoreObservationPut {
  std::string subject;
  Observation observation;
  std::vector<std::string> supersede;
};
using StoreWriteOp = std::variant<StoreTargetPut, StoreTargetRemove, StoreCounterAdd, StoreObservationPut>;

// The effect: a write for the driver to hand to the store.
struct StoreWrite {
  StoreWriteOp op;
};

// --- changes: the store tells the node --------------------------------------
struct StoreTargetChanged {
  TargetSpec spec;
  HlcTimestamp written_at;
};
struct StoreTargetGone {
  std::string id;
};
struct StoreObservationChanged {
  std::string subject;
  std::string member;
  Observation observation;
};
struct StoreObservationGone {
  std::string subject;
  std::string member;
};
struct StoreCounterChanged {
  std::string name;
  std::int64_t value = 0;
};
using StoreChange = std::variant<StoreTargetChanged, StoreTargetGone, StoreObservationChanged, StoreObservationGone,
                                 StoreCounterChanged>;

// The input: changes to apply, in order.
struct StoreUpdate {
  std::vector<StoreChange> changes;
};

}  // namespace heck
