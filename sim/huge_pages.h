// The simulator's process heap: transparent huge pages, and freed memory
// kept for reuse (keep_freed_heap() below).
//
// A simulated cluster is one process holding every agent's state: the main
// row of cluster_bench (100 agents x 10,000 targets) walks ~650 MiB of small
// records at random, which 4 KiB pages map with many TLB entries (the likely
// reason for the gain below: user time fell, system time did not; this
// machine has no hardware counters to show the misses). glibc's malloc can ask the kernel for transparent huge pages
// (madvise(MADV_HUGEPAGE) on its heap: the tunable glibc.malloc.hugetlb=1),
// but a tunable is read only at process start. So the simulator's entry
// points (`heck sim`, cluster_bench) call reexec_on_huge_pages()
// first: it re-executes the process with the tunable added to
// GLIBC_TUNABLES, once. Measured with farm-bench --vs against
// HECK_HUGE_PAGES=0 on a noisy 2-core machine: the main row 1.20, 1.08 and
// 1.04x faster (medians of 5, 5 and 7 pairs; +14 MiB peak), and
// cluster_crash_1000 1.12 and 1.07x (+2 MiB). Nothing a run computes
// depends on it: pages change where memory lies, never what a run does
// (addresses order nothing). HECK_HUGE_PAGES=0 turns it off (a debugger
// or valgrind may want the process left as started).
//
// Left alone when GLIBC_TUNABLES names glibc.malloc.hugetlb already (the
// user's choice), when HECK_HUGE_PAGES=0, and when the re-exec fails (the
// run goes on with normal pages). With THP disabled in the kernel the
// tunable is a no-op. Not for the daemon: an agent's few MiB gain nothing
// from 2 MiB pages.
#pragma once

namespace heck::sim {

// What reexec_on_huge_pages() found, in the process that goes on.
enum class HugePages {
  on,           // re-executed with glibc.malloc.hugetlb=1
  user_choice,  // GLIBC_TUNABLES set glibc.malloc.hugetlb already: left as it is
  declined,     // HECK_HUGE_PAGES=0
  unavailable,  // the re-exec failed: normal pages
};

// Call first in main(), before any thread starts, with main's argv: it
// returns only in the process that goes on (the re-executed one, or this
// one when it left things alone).
HugePages reexec_on_huge_pages(char** argv);

const char* to_string(HugePages h);

// Keeps what the simulator's heap has grown to, instead of handing freed
// memory back to the kernel and faulting it in again. glibc's defaults trim
// the top of the heap once 128 KiB there is free and serve blocks of 128
// KiB and more (the dynamic threshold grows with use) from mmap, unmapped
// on free. A simulated cluster frees and regrows such blocks all the time
// (message batches, effect vectors, the event queue), and on huge pages
// each regrowth faults in and zeroes whole 2 MiB pages: in a perf profile
// of the main row's registration burst, 14% of the samples were the
// kernel's clear_page_erms below sysmalloc. This sets mallopt's
// M_TRIM_THRESHOLD to its maximum (never trim), M_MMAP_THRESHOLD to 32 MiB
// (its maximum) and M_TOP_PAD to 64 MiB (grow the heap in large steps).
// The peak RSS stays within 2 MiB on the main row (a freed block is reused,
// not returned and refetched; farm-bench: 668.7 vs 670.2 MiB medians);
// nothing a run computes depends on it. Call once, early in
// main(); for the simulator's entry points only (a daemon returns what it
// frees). Returns whether glibc took all three settings.
bool keep_freed_heap();

}  // namespace heck::sim
