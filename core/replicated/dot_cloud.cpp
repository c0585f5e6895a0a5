#include "core/replicated/dot_cloud.h"

#include <algorithm>
#include <bit>

namespace heck {

namespace {

constexpr std::uint64_t kBits = 512;

std::uint64_t block_of(std::uint64_t counter) { return counter - counter % kBits; }

// Bits a..b (0 <= a <= b < 64) set.
std::uint64_t mask(std::uint64_t a, std::uint64_t b) {
  const std::uint64_t width = b - a + 1;
  return (width == 64 ? ~std::uint64_t{0} : ((std::uint64_t{1} << width) - 1)) << a;
}

// The blocks of `blocks` (sorted by first) that hold counters in [lo, hi]:
// [from, to).
template <typename Blocks>
auto blocks_in(Blocks& blocks, std::uint64_t lo, std::uint64_t hi) {
  auto from = std::lower_bound(blocks.begin(), blocks.end(), block_of(lo),
                               [](const auto& b, std::uint64_t first) { return b.first < first; });
  auto to = from;
  while (to != blocks.end() && to->first <= hi) ++to;
  return std::pair(from, to);
}

// f(word, mask) for every word of `block` holding counters in [lo, hi],
// with the mask of those counters in it.
template <typename Block, typename F>
void for_each_word_in(Block& block, std::uint64_t lo, std::uint64_t hi, F&& f) {
  for (std::size_t w = 0; w < block.bits.size(); ++w) {
    const std::uint64_t base = block.first + 64 * w;
    if (base > hi) return;
    if (base + 63 < lo) continue;
    f(block.bits[w], mask(std::max(lo, base) - base, std::min(hi, base + 63) - base));
  }
}

}  // namespace

Dot DotCloud::const_iterator::operator*() const {
  const Run& run = (*runs_)[run_];
  return Dot{run.replica, run.blocks[block_].first + bit_};
}

DotCloud::const_iterator& DotCloud::const_iterator::operator++() {
  ++bit_;
  settle();
  return *this;
}

void DotCloud::const_iterator::settle() {
  const auto& runs = *runs_;
  for (; run_ < runs.size(); ++run_, block_ = 0, bit_ = 0) {
    const auto& blocks = runs[run_].blocks;
    for (; block_ < blocks.size(); ++block_, bit_ = 0) {
      const auto& bits = blocks[block_].bits;
      std::size_t w = bit_ / 64;
      if (w >= bits.size()) continue;
      std::uint64_t word = bits[w] & (~std::uint64_t{0} << (bit_ % 64));  // the bits at or after bit_
      for (;;) {
        if (word != 0) {
          bit_ = 64 * w + static_cast<std::uint64_t>(std::countr_zero(word));
          return;
        }
        if (++w == bits.size()) break;
        word = bits[w];
      }
    }
  }
  block_ = 0;
  bit_ = 0;
}

DotCloud::const_iterator DotCloud::begin() const {
  const_iterator it(&runs_, 0, 0, 0);
  it.settle();
  return it;
}

const DotCloud::Run* DotCloud::find_run(ReplicaId r) const {
  auto it = std::lower_bound(runs_.begin(), runs_.end(), r, [](const Run& x, ReplicaId v) { return x.replica < v; });
  return it != runs_.end() && it->replica == r ? &*it : nullptr;
}

bool DotCloud::contains(Dot d) const {
  const Run* run = find_run(d.replica);
  if (!run) return false;
  const std::uint64_t first = block_of(d.counter);
  auto it = std::lower_bound(run->blocks.begin(), run->blocks.end(), first,
                             [](const Block& b, std::uint64_t f) { return b.first < f; });
  if (it == run->blocks.end() || it->first != first) return false;
  const std::uint64_t o = d.counter - first;
  return ((it->bits[o / 64] >> (o % 64)) & 1) != 0;
}

bool DotCloud::insert(Dot d) {
  auto rit = std::lower_bound(runs_.begin(), runs_.end(), d.replica,
                              [](const Run& x, ReplicaId v) { return x.replica < v; });
  if (rit == runs_.end() || rit->replica != d.replica) rit = runs_.insert(rit, Run{d.replica, {}});
  auto& blocks = rit->blocks;
  const std::uint64_t first = block_of(d.counter);
  auto it = std::lower_bound(blocks.begin(), blocks.end(), first, [](const Block& b, std::uint64_t f) { return b.first < f; });
  if (it == blocks.end() || it->first != first) it = blocks.insert(it, Block{first, {}});
  const std::uint64_t o = d.counter - first;
  std::uint64_t& word = it->bits[o / 64];
  const std::uint64_t bit = std::uint64_t{1} << (o % 64);
  if ((word & bit) != 0) return false;
  word |= bit;
  ++size_;
  return true;
}

void DotCloud::clear_range(Run& run, std::uint64_t lo, std::uint64_t hi) {
  if (lo > hi) return;
  auto [from, to] = blocks_in(run.blocks, lo, hi);
  for (auto it = from; it != to; ++it) {
    for_each_word_in(*it, lo, hi, [&](std::uint64_t& word, std::uint64_t m) {
      size_ -= static_cast<std::size_t>(std::popcount(word & m));
      word &= ~m;
    });
  }
  run.blocks.erase(std::remove_if(from, to,
                                  [](const Block& b) {
                                    return std::all_of(b.bits.begin(), b.bits.end(),
                                                       [](std::uint64_t w) { return w == 0; });
                                  }),
                   to);
  if (run.blocks.empty()) runs_.erase(runs_.begin() + (&run - runs_.data()));
}

std::uint64_t DotCloud::fold(ReplicaId replica, std::uint64_t have) {
  Run* run = find_run(replica);
  if (!run) return have;
  if (run->blocks.front().first <= have) {
    clear_range(*run, 0, have);
    run = find_run(replica);
    if (!run) return have;
  }
  // The dots at or below `have` are gone: count the ones from have + 1 up.
  std::uint64_t top = have;
  for (const Block& b : run->blocks) {
    const std::uint64_t next = top + 1;
    if (next < b.first || next - b.first >= kBits) break;
    std::uint64_t o = next - b.first;
    while (o < kBits) {
      const std::uint64_t ones = static_cast<std::uint64_t>(std::countr_one(b.bits[o / 64] >> (o % 64)));
      const std::uint64_t room = 64 - o % 64;
      const std::uint64_t n = std::min(ones, room);
      o += n;
      if (n < room) break;
    }
    top = b.first + o - 1;
    if (o < kBits) break;
  }
  if (top != have) clear_range(*run, have + 1, top);
  return top;
}

std::uint64_t DotCloud::max_counter(ReplicaId replica) const {
  const Run* run = find_run(replica);
  if (!run) return 0;
  const Block& b = run->blocks.back();
  for (std::size_t w = b.bits.size(); w-- > 0;) {
    if (b.bits[w] != 0) return b.first + 64 * w + 63 - static_cast<std::uint64_t>(std::countl_zero(b.bits[w]));
  }
  return 0;  // unreachable: no block is empty
}

std::uint64_t DotCloud::count(ReplicaId replica, std::uint64_t lo, std::uint64_t hi) const {
  const Run* run = find_run(replica);
  if (!run || lo > hi) return 0;
  std::uint64_t n = 0;
  auto [from, to] = blocks_in(run->blocks, lo, hi);
  for (auto it = from; it != to; ++it) {
    for_each_word_in(*it, lo, hi, [&](std::uint64_t word, std::uint64_t m) {
      n += static_cast<std::uint64_t>(std::popcount(word & m));
    });
  }
  return n;
}

}  // namespace heck
