#include "sim/huge_pages.h"

#include <malloc.h>
#include <unistd.h>

#include <climits>

#include <cstdlib>
#include <string>
#include <string_view>

namespace heck::sim {
namespace {

constexpr std::string_view kTunable = "glibc.malloc.hugetlb";
// Set beside the tunable: the re-executed process knows it was us.
constexpr const char* kMarker = "HECK_HUGE_PAGES";

}  // namespace

HugePages reexec_on_huge_pages(char** argv) {
  const char* choice = std::getenv(kMarker);
  const std::string_view chosen = choice ? choice : "";
  if (chosen == "0") return HugePages::declined;
  const char* given = std::getenv("GLIBC_TUNABLES");
  std::string tunables = given ? given : "";
  if (tunables.find(kTunable) != std::string::npos) {
    return chosen == "reexec" ? HugePages::on : HugePages::user_choice;
  }
  tunables += tunables.empty() ? "" : ":";
  tunables += std::string(kTunable) + "=1";
  if (setenv("GLIBC_TUNABLES", tunables.c_str(), 1) != 0 || setenv(kMarker, "reexec", 1) != 0) {
    return HugePages::unavailable;
  }
  execv("/proc/self/exe", argv);
  // Still here: the exec failed. Go on with normal pages; the variables
  // stay set, so a child of this process does not try again.
  return HugePages::unavailable;
}

bool keep_freed_heap() {
  const bool trim = mallopt(M_TRIM_THRESHOLD, INT_MAX) == 1;
  const bool mmap = mallopt(M_MMAP_THRESHOLD, 32 << 20) == 1;
  const bool pad = mallopt(M_TOP_PAD, 64 << 20) == 1;
  return trim && mmap && pad;
}

const char* to_string(HugePages h) {
  switch (h) {
    case HugePages::on: return "on";
    case HugePages::user_choice: return "user_choice";
    case HugePages::declined: return "declined";
    case HugePages::unavailable: return "unavailable";
  }
  return "?";
}

}  // namespace heck::sim
