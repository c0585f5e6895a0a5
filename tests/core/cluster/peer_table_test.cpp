// PeerTable: after any sequence of membership changes, read at any points,
// the view is exactly the live members in name order with their last
// addresses (a std::map model), whatever the batching of the merges.
#include <cstddef>
#include <map>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>

#include "core/cluster/peer_table.h"

namespace heck {
namespace {

NameTable& names() {
  static NameTable table;
  return table;
}
Name n(std::string_view text) { return names().intern(text); }

std::vector<Peer> model_view(const std::map<std::string, Address>& live) {
  std::vector<Peer> out;
  for (const auto& [name, address] : live) out.push_back(Peer{n(name), n(address)});
  return out;
}

bool same(const std::vector<Peer>& a, const std::vector<Peer>& b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (a[i].name != b[i].name || a[i].address != b[i].address) return false;
  }
  return true;
}

RC_GTEST_PROP(PeerTableProp, ViewIsTheLiveMembersInNameOrderWithTheirLastAddress, ()) {
  // Few names (so a member changes many times between reads), from 1 to
  // several hundred changes (past the n/32 merge bound).
  const int names = *rc::gen::inRange(1, 60);
  const auto steps = *rc::gen::container<std::vector<std::tuple<int, int, bool, bool>>>(
      rc::gen::tuple(rc::gen::inRange(0, names), rc::gen::inRange(0, 4), rc::gen::arbitrary<bool>(),
                     rc::gen::weightedElement<bool>({{1, true}, {6, false}})));
  PeerTable table;
  std::map<std::string, Address> live;
  for (const auto& [who, port, is_live, read] : steps) {
    const std::string name = "m" + std::to_string(who);
    const Address address = name + ":" + std::to_string(7946 + port);
    table.apply(n(name), n(address), is_live);
    if (is_live) live[name] = address;
    else live.erase(name);
    if (read) RC_ASSERT(same(table.view(), model_view(live)));
  }
  RC_ASSERT(same(table.view(), model_view(live)));
  // Reset replaces everything, queued changes included.
  table.apply(n("zz"), n("zz:1"), true);
  table.reset({Peer{n("a"), n("a:1")}});
  RC_ASSERT(same(table.view(), std::vector<Peer>{Peer{n("a"), n("a:1")}}));
}

TEST(PeerTable, AThousandJoinsMergeInBatchesIntoNameOrder) {
  PeerTable table;
  std::map<std::string, Address> live;
  for (int i = 999; i >= 0; --i) {  // reverse order: every newcomer lands in front
    const std::string name = "n" + std::to_string(i);
    table.apply(n(name), n(name + ":7946"), true);
    live[name] = name + ":7946";
  }
  table.apply(n("n500"), n("n500:7946"), false);  // then a death and a rejoin elsewhere
  table.apply(n("n7"), n("n7:9999"), true);
  live.erase("n500");
  live["n7"] = "n7:9999";
  EXPECT_TRUE(same(table.view(), model_view(live)));
  EXPECT_EQ(table.view().size(), 999u);
}

}  // namespace
}  // namespace heck
