#include "core/replicated/spec_pool.h"

#include <algorithm>

#include <xxhash.h>

#include "core/wire/msgpack_writer.h"

namespace heck {
namespace {

std::uint64_t bytes_hash(std::span<const std::uint8_t> bytes) {
  return static_cast<std::uint64_t>(XXH3_64bits(bytes.data(), bytes.size()));
}

}  // namespace

std::shared_ptr<const TargetSpec> SpecPool::find(std::span<const std::uint8_t> encoded) {
  const auto* e = by_hash_.find(bytes_hash(encoded));
  if (e) {
    scratch_.clear();
    wire::MsgpackWriter w(scratch_);
    e->second->write_msgpack(w);
    if (std::ranges::equal(scratch_, encoded)) {
      ++counters_.hits;
      return e->second;
    }
    ++counters_.collisions;
  }
  ++counters_.misses;
  return nullptr;
}

void SpecPool::insert(std::span<const std::uint8_t> encoded, std::shared_ptr<const TargetSpec> spec) {
  if (by_hash_.size() >= purge_at_) purge();
  const std::uint64_t h = bytes_hash(encoded);
  if (auto* e = by_hash_.find(h)) {
    e->second = std::move(spec);
  } else {
    by_hash_.insert(h, std::move(spec));
  }
}

void SpecPool::purge() {
  counters_.purged += by_hash_.erase_if([](const auto& entry) { return entry.second.use_count() == 1; });
  purge_at_ = std::max(kPurgeMin, 2 * by_hash_.size());
}

}  // namespace heck
