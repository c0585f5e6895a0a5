#include "core/cluster/peer_table.h"

#include <algorithm>
#include <iterator>
#include <utility>

namespace heck {

void PeerTable::apply(const Name& name, const Name& address, bool live) {
  changes_.push_back(Change{name, address, live});
  // Bounded (memory, and a reader that rarely looks: an idle replicator):
  // a merge at least every n/4 changes, amortised 4 moves a change (at
  // most n/4 queued changes of 24 bytes: 6 KB at 1,000 members).
  if (changes_.size() > peers_.size() / 4 + 16) view();
}

void PeerTable::reset(std::vector<Peer> peers) {
  peers_ = std::move(peers);
  changes_.clear();
}

const std::vector<Peer>& PeerTable::view() {
  if (changes_.empty()) return peers_;
  std::stable_sort(changes_.begin(), changes_.end(), [](const Change& a, const Change& b) { return a.name < b.name; });
  // The last of a run of changes to one member: the one that decides.
  const auto last_of = [&](std::vector<Change>::iterator it) {
    while (std::next(it) != changes_.end() && std::next(it)->name == it->name) ++it;
    return it;
  };
  // Forward: members that stay are updated in place or dropped; the live
  // newcomers are collected (in name order).
  std::vector<Change*> added;
  auto c = changes_.begin();
  const auto collect_until = [&](const Name* name) {
    for (; c != changes_.end() && (name == nullptr || c->name < *name); c = std::next(last_of(c))) {
      if (last_of(c)->live) added.push_back(&*last_of(c));
    }
  };
  std::size_t kept = 0;
  for (std::size_t i = 0; i < peers_.size(); ++i) {
    Peer& p = peers_[i];
    collect_until(&p.name);
    bool live = true;
    if (c != changes_.end() && c->name == p.name) {
      const auto last = last_of(c);
      live = last->live;
      if (live) p.address = std::move(last->address);
      c = std::next(last);
    }
    if (live && kept != i) peers_[kept] = std::move(p);
    kept += live ? 1 : 0;
  }
  collect_until(nullptr);
  // Backward: the newcomers merged in, in place.
  peers_.resize(kept + added.size());
  std::size_t out = peers_.size(), from = kept;
  for (std::size_t a = added.size(); a-- > 0;) {
    while (from > 0 && peers_[from - 1].name > added[a]->name) peers_[--out] = std::move(peers_[--from]);
    peers_[--out] = Peer{std::move(added[a]->name), std::move(added[a]->address)};
  }
  changes_.clear();
  return peers_;
}

}  // namespace heck
