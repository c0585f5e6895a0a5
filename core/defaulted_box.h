// DefaultedBox<T>: a value kept out of line, none while it holds T's
// defaults (a spec's HTTP options, core/target_spec.h; a causal context's
// dots, core/replicated/causal_context.h).
#pragma once

#include <memory>

namespace heck {

// A T kept behind a pointer, none while it holds T's defaults: a value
// that most objects leave at its defaults costs them 8 bytes. Copies are
// deep; equality goes by value (an empty box equals one holding T{}). Read
// through * and ->; write through edit().
template <typename T>
class DefaultedBox {
 public:
  DefaultedBox() = default;
  DefaultedBox(const DefaultedBox& o) : p_(o.p_ ? std::make_unique<T>(*o.p_) : nullptr) {}
  DefaultedBox& operator=(const DefaultedBox& o) {
    if (this != &o) p_ = o.p_ ? std::make_unique<T>(*o.p_) : nullptr;
    return *this;
  }
  DefaultedBox(DefaultedBox&&) noexcept = default;
  DefaultedBox& operator=(DefaultedBox&&) noexcept = default;

  const T& operator*() const { return p_ ? *p_ : defaults(); }
  const T* operator->() const { return &**this; }
  T& edit() {
    if (!p_) p_ = std::make_unique<T>();
    return *p_;
  }
  // Frees the box when what it holds is T's defaults.
  void shrink() {
    if (p_ && *p_ == defaults()) p_.reset();
  }
  bool boxed() const { return p_ != nullptr; }
  bool operator==(const DefaultedBox& o) const { return **this == *o; }

 private:
  static const T& defaults() {
    static const T kDefaults{};
    return kDefaults;
  }
  std::unique_ptr<T> p_;
};

}  // namespace heck
