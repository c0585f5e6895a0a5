// Every part decoder on arbitrary bytes: the input is one MessagePack value
// handed to the membership decoder (as each membership part type), to the
// replication decoders (delta, digest, repair) and to the latency handoff's. Each must return a value or an
// error, never crash; a decoded message, delta, digest or repair re-encodes
// to bytes that decode to the same value (round trip).
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <span>

#include "core/cluster/latency_history.h"
#include "core/membership/messages.h"
#include "core/replicated/codec.h"
#include "core/wire/msgpack_reader.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace heck;
  const std::span<const std::uint8_t> body(data, size);
  {
    // Only one well-formed value goes on (as the envelope hands out).
    wire::MsgpackReader r(body);
    if (!r.skip() || !r.at_end()) return 0;
  }
  for (std::uint16_t t = 1; t <= 8; ++t) {
    const wire::Part part{static_cast<wire::PartType>(t), body};
    auto m = decode_message(part);
    if (!m) continue;
    const wire::EncodedPart again = encode_message(*m);
    // [type, body]: the body starts after the array and type bytes.
    wire::MsgpackReader r(again.bytes);
    wire::MsgValue head, type;
    if (!r.header(head) || head.size != 2 || !r.value(type)) std::abort();
    auto back = decode_message(wire::Part{again.type, std::span(again.bytes).subspan(r.offset())});
    if (!back || !(*back == *m)) std::abort();
  }
  if (auto d = decode_delta(body)) {
    auto back = decode_delta(encode_delta(*d));
    if (!back || !(*back == *d)) std::abort();
  }
  if (auto d = decode_digest(body)) {
    auto back = decode_digest(encode_digest(*d));
    if (!back || !(*back == *d)) std::abort();
  }
  if (auto r = decode_repair(body)) {
    auto back = decode_repair(encode_repair(*r));
    if (!back || !(*back == *r)) std::abort();
  }
  if (auto h = decode_latency_handoff(body)) {
    const wire::EncodedPart again = encode_latency_handoff(*h);
    wire::MsgpackReader r(again.bytes);
    wire::MsgValue head, type;
    if (!r.header(head) || head.size != 2 || !r.value(type)) std::abort();
    auto back = decode_latency_handoff(std::span(again.bytes).subspan(r.offset()));
    if (!back || !(*back == *h)) std::abort();
  }
  return 0;
}
