#include "core/ownership/rendezvous.h"

#include <algorithm>
#include <cassert>
#include <cmath>

#include <xxhash.h>

namespace heck {
namespace {

// ln(x) for x in (0, 1] from IEEE basic operations only, so that it rounds the
// same on every machine (std::log may differ in the last bit between libms).
// x = m * 2^e with m in [0.5, 1); ln m = 2 atanh(z), z = (m - 1) / (m + 1),
// |z| <= 1/3: 24 odd terms are exact to well below double precision.
double portable_ln(double x) {
  int e = 0;
  const double m = std::frexp(x, &e);  // exact
  const double z = (m - 1.0) / (m + 1.0);
  const double z2 = z * z;
  double term = z;
  double sum = 0.0;
  for (int k = 1; k < 48; k += 2) {
    sum += term / k;
    term *= z2;
  }
  constexpr double kLn2 = 0.693147180559945309417232121458176568;
  return 2.0 * sum + e * kLn2;
}

}  // namespace

std::uint64_t rendezvous_member_seed(std::string_view member) {
  return XXH64(member.data(), member.size(), 0x68656b63ULL /* "heck" */);
}

std::uint64_t rendezvous_hash_seeded(std::uint64_t member_seed, std::string_view target) {
  return XXH64(target.data(), target.size(), member_seed);
}

TargetHasher::TargetHasher(std::string_view target) : target_(target), len_(target.size()) {
  if (target.size() >= 32) {
    long_ = true;
    return;
  }
  const auto byte = [&](std::size_t i) { return static_cast<std::uint64_t>(static_cast<unsigned char>(target[i])); };
  const auto le = [&](std::size_t at, std::size_t n) {  // n bytes from `at`, little-endian
    std::uint64_t v = 0;
    for (std::size_t i = 0; i < n; ++i) v |= byte(at + i) << (8 * i);
    return v;
  };
  std::size_t at = 0;
  for (; target.size() - at >= 8; at += 8) word_[words_++] = rotl(le(at, 8) * kP2, 31) * kP1;
  if (target.size() - at >= 4) {
    half_ = true;
    half_term_ = le(at, 4) * kP1;
    at += 4;
  }
  for (; at < target.size(); ++at) byte_[bytes_++] = byte(at) * kP5;
}

std::uint64_t rendezvous_hash(std::string_view member, std::string_view target) {
  return rendezvous_hash_seeded(rendezvous_member_seed(member), target);
}

double rendezvous_score(std::uint64_t hash, double weight) {
  // u in (0, 1): the top 53 bits, centred in their interval, never 0 or 1.
  const double u = (static_cast<double>(hash >> 11) + 0.5) * 0x1.0p-53;
  return weight / -portable_ln(u);
}

std::vector<std::size_t> rank_members(std::string_view target, std::span<const RankedMember> members,
                                      std::size_t limit) {
  const bool uniform = std::all_of(members.begin(), members.end(),
                                   [&](const RankedMember& m) { return m.weight == members.front().weight; });
  struct Entry {
    std::uint64_t hash;
    double score;
    std::size_t index;
  };
  std::vector<Entry> entries;
  entries.reserve(members.size());
  for (std::size_t i = 0; i < members.size(); ++i) {
    assert(members[i].weight > 0);
    const std::uint64_t h = rendezvous_hash(members[i].name, target);
    entries.push_back({h, uniform ? 0.0 : rendezvous_score(h, members[i].weight), i});
  }
  // The score is monotonic in the hash for one weight: compare hashes then.
  auto better = [&](const Entry& a, const Entry& b) {
    if (uniform ? a.hash != b.hash : a.score != b.score) return uniform ? a.hash > b.hash : a.score > b.score;
    return members[a.index].name < members[b.index].name;
  };
  const std::size_t n = limit == 0 ? entries.size() : std::min(limit, entries.size());
  std::partial_sort(entries.begin(), entries.begin() + static_cast<std::ptrdiff_t>(n), entries.end(), better);
  std::vector<std::size_t> out;
  out.reserve(n);
  for (std::size_t i = 0; i < n; ++i) out.push_back(entries[i].index);
  return out;
}

std::vector<std::string> ranked_names(std::string_view target, std::span<const RankedMember> members,
                                      std::size_t limit) {
  std::vector<std::string> out;
  for (std::size_t i : rank_members(target, members, limit)) out.push_back(members[i].name);
  return out;
}

}  // namespace heck
