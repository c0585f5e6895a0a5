// A bounded slab: values addressed by a stable 32-bit index that fits in an
// event, with freed indices reused first (so a long run does not grow it).
// The simulator keeps its in-flight checks here; an event carries the index.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <vector>

namespace heck::sim {

template <typename T>
class Slab {
 public:
  explicit Slab(std::size_t capacity) : capacity_(capacity) {}

  // The index of `value`, or nullopt when `capacity` values are in use.
  std::optional<std::uint32_t> insert(const T& value) {
    if (!free_.empty()) {
      const std::uint32_t index = free_.back();
      free_.pop_back();
      items_[index] = value;
      return index;
    }
    if (items_.size() >= capacity_) return std::nullopt;
    items_.push_back(value);
    return static_cast<std::uint32_t>(items_.size() - 1);
  }
  // REQUIRES: `index` is in use; it may be handed out again afterwards.
  void release(std::uint32_t index) { free_.push_back(index); }

  T& operator[](std::uint32_t index) { return items_[index]; }
  const T& operator[](std::uint32_t index) const { return items_[index]; }
  std::size_t capacity() const { return capacity_; }

 private:
  std::size_t capacity_;
  std::vector<T> items_;
  std::vector<std::uint32_t> free_;
};

}  // namespace heck::sim
