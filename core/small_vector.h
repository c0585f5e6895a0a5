// A vector of trivially copyable values that keeps its first N in place and
// goes to the heap only past them: for the many small per-target lists a
// node holds (10,000 targets x a few entries each), where a std::vector
// costs a 24-byte header, an allocation and a cache miss per list.
//
// The subset of std::vector the callers use: size, iteration, indexing,
// push_back, insert, erase, pop_back, resize, clear, copy and move. Iterators are
// pointers, invalidated by any change of size (as std::vector's on growth).
#pragma once

#include <algorithm>
#include <cassert>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <initializer_list>
#include <memory>
#include <span>
#include <type_traits>

namespace heck {

template <typename T, std::uint32_t N>
class SmallVector {
  static_assert(N >= 1);

 public:
  using value_type = T;
  using iterator = T*;
  using const_iterator = const T*;

  SmallVector() = default;
  SmallVector(std::initializer_list<T> values) { assign(values.begin(), values.end()); }
  explicit SmallVector(std::span<const T> values) { assign(values.data(), values.data() + values.size()); }
  SmallVector(const SmallVector& o) { assign(o.begin(), o.end()); }
  SmallVector& operator=(const SmallVector& o) {
    if (this != &o) assign(o.begin(), o.end());
    return *this;
  }
  SmallVector(SmallVector&& o) noexcept { take(o); }
  SmallVector& operator=(SmallVector&& o) noexcept {
    if (this != &o) {
      release();
      take(o);
    }
    return *this;
  }
  ~SmallVector() {
    // Here, not at class scope: T may be a nested type of a class still
    // being defined there.
    static_assert(std::is_trivially_copyable_v<T> && std::is_default_constructible_v<T>);
    release();
  }

  std::size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }
  std::size_t capacity() const { return cap_; }
  // True while the values live in place (no heap block).
  bool is_inline() const { return cap_ == N; }

  T* data() { return is_inline() ? reinterpret_cast<T*>(inline_) : heap_; }
  const T* data() const { return is_inline() ? reinterpret_cast<const T*>(inline_) : heap_; }
  T* begin() { return data(); }
  T* end() { return data() + size_; }
  const T* begin() const { return data(); }
  const T* end() const { return data() + size_; }
  T& operator[](std::size_t i) {
    assert(i < size_);
    return data()[i];
  }
  const T& operator[](std::size_t i) const {
    assert(i < size_);
    return data()[i];
  }
  T& front() { return (*this)[0]; }
  T& back() { return (*this)[size_ - 1]; }
  const T& front() const { return (*this)[0]; }
  const T& back() const { return (*this)[size_ - 1]; }

  void push_back(const T& v) {
    const T copy = v;  // v may live in this vector
    reserve(size_ + 1);
    data()[size_++] = copy;
  }
  // Inserts before `pos`; returns where the value went.
  T* insert(const T* pos, const T& v) {
    const std::size_t at = static_cast<std::size_t>(pos - data());
    assert(at <= size_);
    const T copy = v;
    reserve(size_ + 1);
    T* p = data();
    std::memmove(p + at + 1, p + at, (size_ - at) * sizeof(T));
    p[at] = copy;
    ++size_;
    return p + at;
  }
  // Erases [first, last); returns where the values after them went.
  T* erase(const T* first, const T* last) {
    T* p = data();
    const std::size_t at = static_cast<std::size_t>(first - p);
    const std::size_t n = static_cast<std::size_t>(last - first);
    assert(at + n <= size_);
    std::memmove(p + at, p + at + n, (size_ - at - n) * sizeof(T));
    size_ -= static_cast<std::uint32_t>(n);
    return p + at;
  }
  void pop_back() {
    assert(size_ > 0);
    --size_;
  }
  // Grows with value-initialised Ts, or drops the tail.
  void resize(std::size_t n) {
    reserve(n);
    for (std::size_t i = size_; i < n; ++i) data()[i] = T{};
    size_ = static_cast<std::uint32_t>(n);
  }
  void clear() { size_ = 0; }
  void reserve(std::size_t n) {
    if (n <= cap_) return;
    const std::size_t cap = std::max<std::size_t>(n, std::size_t{cap_} * 2);
    T* block = new T[cap];
    std::memcpy(block, data(), size_ * sizeof(T));
    release();
    heap_ = block;
    cap_ = static_cast<std::uint32_t>(cap);
  }

  friend bool operator==(const SmallVector& a, const SmallVector& b) { return std::equal(a.begin(), a.end(), b.begin(), b.end()); }

 private:
  void assign(const T* first, const T* last) {
    size_ = 0;
    reserve(static_cast<std::size_t>(last - first));
    std::copy(first, last, data());
    size_ = static_cast<std::uint32_t>(last - first);
  }
  void release() {
    if (!is_inline()) delete[] heap_;
    cap_ = N;
  }
  // REQUIRES: this holds no heap block.
  void take(SmallVector& o) {
    size_ = o.size_;
    if (o.is_inline()) {
      std::memcpy(inline_, o.inline_, o.size_ * sizeof(T));
    } else {
      heap_ = o.heap_;
      cap_ = o.cap_;
      o.cap_ = N;
    }
    o.size_ = 0;
  }

  // In place: raw bytes (an unsigned char array implicitly creates the
  // trivially copyable Ts written into it).
  union {
    alignas(T) unsigned char inline_[N * sizeof(T)];
    T* heap_;
  };
  std::uint32_t size_ = 0;
  std::uint32_t cap_ = N;
};

}  // namespace heck
