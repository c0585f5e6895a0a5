#include "core/ownership/ownership_index.h"

#include <algorithm>
#include <cassert>
#include <unordered_set>

#include "core/ownership/rendezvous.h"

namespace heck {

bool OwnershipIndex::better(const Scored& a, const Scored& b) const {
  if (a.hash != b.hash) return a.hash > b.hash;
  return members_[a.member].name < members_[b.member].name;
}

bool OwnershipIndex::beats(const Scored& s, const Entry& e, std::string_view id) const {
  const auto hi = static_cast<std::uint32_t>(s.hash >> 32);
  if (hi != e.hash_hi) return hi > e.hash_hi;
  return better(s, Scored{rendezvous_hash_seeded(members_[e.member].seed, id), e.member});
}

std::uint32_t OwnershipIndex::intern(const std::string& name) {
  const auto name_of = [this](std::uint32_t m) -> std::string_view { return members_[m].name; };
  if (const auto found = by_name_.find(name, name_of)) return *found;
  const auto id = static_cast<std::uint32_t>(members_.size());
  members_.push_back(Member{names_->intern(name), rendezvous_member_seed(name), false, false});
  by_name_.insert(name, id);
  if (rank_cache_) {
    const std::uint32_t shared = rank_cache_->member_id(members_.back().name);
    members_.back().shared = shared;
    if (by_shared_.size() <= shared) by_shared_.resize(shared + 1, 0);
    by_shared_[shared] = id + 1;
  }
  return id;
}

std::size_t OwnershipIndex::depth(const Target& t) const { return std::min(t.checkers + kSpare, live_.size()); }

OwnershipIndex::TopList OwnershipIndex::rank_live(std::string_view id, std::size_t limit) const {
  ++full_ranks_;
  hashes_ += live_.size();
  const auto cmp = [&](const Scored& a, const Scored& b) { return better(a, b); };
  const std::size_t n = limit == 0 ? live_.size() : std::min(limit, live_.size());
  TopList best;
  if (n == 0) return best;
  scratch_.clear();
  const TargetHasher hash(id);
  if (n * 8 > live_.size()) {  // most of them: rank all, O(live log live)
    for (std::uint32_t m : live_) scratch_.push_back(Scored{hash(members_[m].seed), m});
    std::partial_sort(scratch_.begin(), scratch_.begin() + static_cast<std::ptrdiff_t>(n), scratch_.end(), cmp);
    scratch_.resize(n);
  } else {
    // A short rank keeps the best n by insertion: O(live * n).
    for (std::uint32_t m : live_) {
      const Scored e{hash(members_[m].seed), m};
      if (scratch_.size() == n) {
        if (!cmp(e, scratch_.back())) continue;
        scratch_.pop_back();
      }
      scratch_.insert(std::upper_bound(scratch_.begin(), scratch_.end(), e, cmp), e);
    }
  }
  best.reserve(n);
  for (const Scored& s : scratch_) best.push_back(s.kept());
  return best;
}

void OwnershipIndex::rank_full(const Name& id, Target& t) { t.top = rank_shared(id, depth(t)); }

OwnershipIndex::TopList OwnershipIndex::rank_shared(const Name& id, std::size_t n) {
  if (!rank_cache_ || n == 0) return rank_live(id, n);
  const std::span<const RankCache::Kept> shared = rank_cache_->find(live_set_, id, n);
  TopList best;
  best.reserve(n);
  // A ranking kept under this live set's fingerprint is a ranking over this
  // very set (rank_cache.h: two sets share a fingerprint with a chance of
  // ~2^-128), so each member it keeps is live here. (Reading each one's
  // live flag to make sure was a cache miss per kept member, 4.5% of the
  // 1,000 × 10,000 registration; the property test in rank_cache_test.cpp
  // checks cached rankings against full ones.) A name this index never
  // met costs nothing to catch: then it ranks for itself.
  for (const RankCache::Kept& k : shared) {
    const std::uint32_t m = k.member < by_shared_.size() ? by_shared_[k.member] : 0;
    if (m == 0) break;
    best.push_back(Entry{k.hash_hi, m - 1});
  }
  if (!shared.empty() && best.size() == shared.size()) {
    ++shared_ranks_;
    return best;
  }
  best = rank_live(id, n);
  std::vector<RankCache::Kept>& ranking = shared_scratch_;
  ranking.clear();
  for (const Entry& e : best) ranking.push_back(RankCache::Kept{members_[e.member].shared, e.hash_hi});
  rank_cache_->insert(live_set_, id, ranking);
  return best;
}

const OwnershipIndex::Target* OwnershipIndex::find(NameRef id) const {
  const auto* it = targets_.find(id);
  return it ? &it->second : nullptr;
}

void OwnershipIndex::set_members(std::span<const IndexedMember> members, std::vector<Name>* affected) {
  std::vector<std::uint32_t> next;
  next.reserve(members.size());
  for (const IndexedMember& m : members) next.push_back(intern(m.name));
  std::vector<bool> was_live(members_.size(), false);
  std::vector<bool> was_suspect(members_.size(), false);
  for (std::uint32_t m : live_) {
    was_live[m] = true;
    was_suspect[m] = members_[m].suspect;
  }
  for (Member& m : members_) m.live = false;
  for (std::size_t i = 0; i < next.size(); ++i) {
    members_[next[i]].live = true;
    members_[next[i]].suspect = members[i].suspect;
  }
  std::vector<std::uint32_t> added;
  std::vector<bool> flipped(members_.size(), false);  // live before and after, suspicion flag changed
  for (std::uint32_t m : next) {
    if (!was_live[m]) {
      added.push_back(m);
    } else if (was_suspect[m] != members_[m].suspect) {
      flipped[m] = true;
    }
  }
  bool removed_any = false;
  for (std::uint32_t m : live_) removed_any = removed_any || !members_[m].live;
  live_ = std::move(next);
  live_set_ = {};
  for (std::uint32_t m : live_) live_set_.add(members_[m].name.hash(), members_[m].seed);

  std::vector<std::uint32_t> flipped_ids;
  for (std::uint32_t m : live_) {
    if (flipped[m]) flipped_ids.push_back(m);
  }
  rescan(added, removed_any, flipped_ids, affected);
}

void OwnershipIndex::update_member(const IndexedMember& member, bool live, std::vector<Name>* affected) {
  const std::uint32_t id = intern(member.name);
  Member& m = members_[id];
  if (!live) {
    if (!m.live) return;
    m.live = false;
    std::erase(live_, id);
    live_set_.remove(m.name.hash(), m.seed);
    rescan({}, true, {}, affected);
  } else if (!m.live) {
    m.live = true;
    m.suspect = member.suspect;
    live_.push_back(id);
    live_set_.add(m.name.hash(), m.seed);
    const std::uint32_t added[] = {id};
    rescan(added, false, {}, affected);
  } else if (m.suspect != member.suspect) {
    m.suspect = member.suspect;
    const std::uint32_t flipped[] = {id};
    rescan({}, false, flipped, affected);
  }
}

void OwnershipIndex::rescan(std::span<const std::uint32_t> added, bool removed_any,
                            std::span<const std::uint32_t> flipped, std::vector<Name>* affected) {
  const bool any_flipped = !flipped.empty();
  const auto is_flipped = [&](std::uint32_t m) { return std::find(flipped.begin(), flipped.end(), m) != flipped.end(); };
  const std::size_t first_affected = affected ? affected->size() : 0;
  const bool reshuffle = !added.empty() || removed_any;
  if (reshuffle || (any_flipped && affected)) {
    TopList before;
    targets_.for_each_slot([&](std::pair<Name, Target>& slot) {
      const Name& id = slot.first;
      Target& t = slot.second;
      // A flag matters only on an owner: it decides whether the standby checks.
      bool touched = false;
      if (affected && any_flipped) {
        const auto owners_end = t.top.begin() + std::min<std::size_t>(t.checkers, t.top.size());
        touched = std::any_of(t.top.begin(), owners_end, [&](const Entry& e) { return is_flipped(e.member); });
      }
      if (reshuffle) {
        if (affected) before = t.top;
        const bool lost =
            std::any_of(t.top.begin(), t.top.end(), [&](const Entry& e) { return !members_[e.member].live; });
        if (lost) {
          rank_full(id, t);
        } else {
          const std::size_t d = depth(t);
          for (std::uint32_t m : added) {
            const Scored e{rendezvous_hash_seeded(members_[m].seed, id), m};
            ++hashes_;
            if (t.top.size() >= d && !beats(e, t.top.back(), id)) continue;
            // Before the first kept entry it beats (the list is best first).
            t.top.insert(std::find_if(t.top.begin(), t.top.end(), [&](const Entry& k) { return beats(e, k, id); }),
                         e.kept());
            if (t.top.size() > d) t.top.pop_back();
          }
        }
        if (affected && !touched) {
          touched = before.size() != t.top.size() ||
                    !std::equal(before.begin(), before.end(), t.top.begin(),
                                [](const Entry& a, const Entry& b) { return a.member == b.member; });
        }
      }
      if (touched) affected->push_back(id);
    });
  }
  if (affected) std::sort(affected->begin() + static_cast<std::ptrdiff_t>(first_affected), affected->end());
  if (members_.size() > 2 * live_.size() + 1024) compact();
}

void OwnershipIndex::compact() {
  // Drop members that left long ago: re-intern the live ones (top lists only
  // hold live members after set_members).
  std::vector<Member> old = std::move(members_);
  members_.clear();
  by_name_.clear();
  by_shared_.clear();
  std::vector<std::uint32_t> remap(old.size(), 0);
  for (std::uint32_t& m : live_) {
    const std::uint32_t fresh = intern(old[m].name);
    members_[fresh].live = true;
    members_[fresh].suspect = old[m].suspect;
    remap[m] = fresh;
    m = fresh;
  }
  targets_.for_each_slot([&](std::pair<Name, Target>& slot) {
    for (Entry& e : slot.second.top) e.member = remap[e.member];
  });
}

void OwnershipIndex::put_target(const Name& id, std::size_t checkers) {
  const auto wanted = static_cast<std::uint32_t>(std::max<std::size_t>(1, checkers));
  auto* it = targets_.find(id);
  if (!it) {
    it = targets_.insert(id, Target{});
  } else if (it->second.checkers == wanted) {
    return;
  }
  Target& t = it->second;
  t.checkers = wanted;
  rank_full(it->first, t);
}

void OwnershipIndex::remove_target(NameRef id) { targets_.erase(id); }

std::vector<std::string> OwnershipIndex::target_ids() const {
  std::vector<std::string> out;
  out.reserve(targets_.size());
  for (const auto& [id, target] : targets_.ordered()) out.push_back(id);
  return out;
}

std::vector<std::string> OwnershipIndex::ranked(NameRef id, std::size_t limit) const {
  std::vector<std::string> out;
  const Target* t = find(id);
  const bool cached = t && ((limit != 0 && limit <= t->top.size()) || t->top.size() == live_.size());
  const TopList computed = cached ? TopList{} : rank_live(id.text(), limit);
  const TopList& entries = cached ? t->top : computed;
  const std::size_t n = limit == 0 ? entries.size() : std::min(limit, entries.size());
  out.reserve(n);
  for (std::size_t i = 0; i < n; ++i) out.push_back(members_[entries[i].member].name);
  return out;
}

bool OwnershipIndex::checks(NameRef id, std::string_view self) const {
  const Target* found = find(id);
  if (!found) return false;
  const Target& t = *found;
  // The kept list holds min(checkers + kSpare, live) members, so the owners
  // and the standby are always in it.
  const std::size_t owners = std::min<std::size_t>(t.checkers, t.top.size());
  bool owner_suspect = false;
  for (std::size_t i = 0; i < owners; ++i) {
    const Member& m = members_[t.top[i].member];
    if (m.name == self) return true;
    owner_suspect = owner_suspect || m.suspect;
  }
  return owner_suspect && t.top.size() > owners && members_[t.top[owners].member].name == self;
}

bool OwnershipIndex::ranked_first(NameRef id, std::string_view self) const {
  const Target* t = find(id);
  return t && !t->top.empty() && members_[t->top.front().member].name == self;
}

}  // namespace heck
