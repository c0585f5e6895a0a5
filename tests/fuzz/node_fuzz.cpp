// The composed node (core/cluster/cluster_node.h) fed arbitrary packets: the
// first byte picks datagram or stream, the rest is the packet. Whatever
// arrives, the node must not crash, and whatever it sends must stay within
// the packet size limit for datagrams.
#include <cstddef>
#include <cstdint>
#include <cstdlib>

#include "core/cluster/cluster_node.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace heck;
  if (size == 0) return 0;
  ClusterNodeConfig c;
  c.name = "fuzz";
  c.address = "127.0.0.1:7946";
  ClusterNode node(c, 42);
  Effects out;
  Instant now = Instant::from_ns(0);
  node.start(now, out);
  const Channel channel = (data[0] & 1) ? Channel::stream : Channel::datagram;
  Packet p{"127.0.0.1:9999", channel, Bytes(data + 1, data + size)};
  // Twice: the second delivery sees the state the first one left.
  for (int i = 0; i < 2; ++i) {
    out.clear();
    now = now + Duration::milliseconds(10);
    node.step(now, p, out);
    for (const Effect& e : out) {
      if (const auto* s = std::get_if<Send>(&e)) {
        if (s->channel == Channel::datagram && s->bytes.size() > c.swim.max_packet_bytes) std::abort();
      }
    }
  }
  return 0;
}
