#include "core/ownership/rank_cache.h"

#include <algorithm>

namespace heck {

std::uint32_t RankCache::member_id(const Name& name) {
  if (const auto* found = ids_.find(name)) return found->second;
  const auto id = static_cast<std::uint32_t>(names_.size());
  names_.push_back(name);
  ids_.insert(name, id);
  return id;
}

RankCache::Set* RankCache::set_of(const LiveSet& live) {
  for (auto& s : sets_) {
    if (s->live == live) {
      s->last_used = ++clock_;
      return s.get();
    }
  }
  return nullptr;
}

std::span<const RankCache::Kept> RankCache::find(const LiveSet& live, const Name& target, std::size_t depth) {
  if (Set* s = set_of(live)) {
    if (const auto* run = s->runs.find(target); run && run->second.depth == depth) {
      return {s->kept.data() + run->second.at, run->second.depth};
    }
  }
  return {};
}

void RankCache::insert(const LiveSet& live, const Name& target, std::span<const Kept> ranking) {
  if (ranking.empty()) return;
  Set* s = set_of(live);
  if (!s) {
    if (sets_.size() >= max_sets_) {
      const auto oldest = std::min_element(sets_.begin(), sets_.end(),
                                           [](const auto& a, const auto& b) { return a->last_used < b->last_used; });
      sets_.erase(oldest);
      ++dropped_sets_;
    }
    sets_.push_back(std::make_unique<Set>());
    s = sets_.back().get();
    s->live = live;
    s->last_used = ++clock_;
  }
  const Run run{static_cast<std::uint32_t>(s->kept.size()), static_cast<std::uint32_t>(ranking.size())};
  s->kept.insert(s->kept.end(), ranking.begin(), ranking.end());
  if (auto* found = s->runs.find(target)) {
    found->second = run;
  } else {
    s->runs.insert(target, run);
  }
}

std::size_t RankCache::rankings() const {
  std::size_t n = 0;
  for (const auto& s : sets_) n += s->runs.size();
  return n;
}

}  // namespace heck
