// A software prefetch hint the compiler cannot drop.
//
// GCC 12 deletes __builtin_prefetch when its address needs a load (e.g.
// &v[i][j] through a vector of vectors), which is exactly where the
// simulator needs it; an asm statement with a memory operand is kept.
#pragma once

namespace heck::sim {

inline void prefetch(const void* p) {
#if defined(__x86_64__) || defined(__i386__)
  asm volatile("prefetcht0 %0" : : "m"(*static_cast<const char*>(p)));
#else
  __builtin_prefetch(p);
#endif
}

}  // namespace heck::sim
