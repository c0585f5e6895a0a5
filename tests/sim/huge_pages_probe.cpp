// Prints what reexec_on_huge_pages() found and the GLIBC_TUNABLES the
// process that went on runs with; with --keep-freed-heap, whether a freed
// 8 MiB block stayed in the heap instead (keep_freed_heap())
// (tests/sim/CMakeLists.txt: sim.huge_pages.*).
#include <malloc.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string_view>

#include "sim/huge_pages.h"

namespace {

// True when an 8 MiB block came from the heap (not its own mapping) and the
// heap still holds it after it was freed.
bool freed_block_stays() {
  constexpr std::size_t kBlock = 8u << 20;
  void* p = std::malloc(kBlock);
  if (p == nullptr) return false;
  std::memset(p, 1, kBlock);
  const bool from_heap = mallinfo2().hblkhd == 0;
  std::free(p);
  const bool kept = mallinfo2().arena >= kBlock;
  return from_heap && kept;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc > 1 && std::string_view(argv[1]) == "--keep-freed-heap") {
    const bool set = heck::sim::keep_freed_heap();
    std::printf("freed heap kept: %s (settings taken: %s)\n", freed_block_stays() ? "yes" : "no", set ? "yes" : "no");
    return 0;
  }
  if (argc > 1 && std::string_view(argv[1]) == "--glibc-defaults") {
    std::printf("freed heap kept: %s\n", freed_block_stays() ? "yes" : "no");
    return 0;
  }
  const heck::sim::HugePages h = heck::sim::reexec_on_huge_pages(argv);
  const char* tunables = std::getenv("GLIBC_TUNABLES");
  std::printf("huge pages: %s; GLIBC_TUNABLES=%s\n", heck::sim::to_string(h), tunables ? tunables : "(unset)");
  return 0;
}
