// What the agent and its API need from an external store (etcd mode,
// runtime/store/etcd_driver.h): where the node's StoreWrite effects go, how
// an API write is answered, and whether the store can be reached now.
// The gossip mode has none (Agent::external_store() is null).
#pragma once

#include <functional>
#include <string>
#include <string_view>

#include "core/store/etcd_store.h"
#include "core/store/store_types.h"

namespace heck::runtime {

class ExternalStore {
 public:
  virtual ~ExternalStore() = default;
  virtual std::string_view kind() const = 0;
  virtual bool available() const = 0;
  // Why it is unavailable ("" when available).
  virtual std::string problem() const = 0;
  // A write of the node's (a StoreWrite effect): nobody waits.
  virtual void write(StoreWriteOp op) = 0;
  // An API write: `done` runs exactly once, within the store's write
  // deadline, after the node has seen the write when it succeeded.
  virtual void write(StoreWriteOp op, std::function<void(const store::WriteDone&)> done) = 0;
};

}  // namespace heck::runtime
