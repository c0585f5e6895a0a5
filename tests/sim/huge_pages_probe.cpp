// Prints what reexec_on_huge_pages() found and the GLIBC_TUNABLES the
// process that went on runs with (tests/sim/CMakeLists.txt: sim.huge_pages.*).
#include <cstdio>
#include <cstdlib>

#include "sim/huge_pages.h"

int main(int, char** argv) {
  const heck::sim::HugePages h = heck::sim::reexec_on_huge_pages(argv);
  const char* tunables = std::getenv("GLIBC_TUNABLES");
  std::printf("huge pages: %s; GLIBC_TUNABLES=%s\n", heck::sim::to_string(h), tunables ? tunables : "(unset)");
  return 0;
}
