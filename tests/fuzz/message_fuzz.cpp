// Every part decoder on arbitrary bytes: the input is a part's body, any
// bytes at all (a format 2 envelope frames bodies without reading them),
// handed to the membership decoder (as each membership part type), to the
// replication decoders (delta, digest, repair) and to the latency handoff's.
// Each must return a value or an error, never crash; a decoded message,
// delta, digest or repair re-encodes to bytes that decode to the same value
// (round trip).
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <span>

#include "core/cluster/latency_history.h"
#include "core/membership/messages.h"
#include "core/replicated/codec.h"
#include "core/wire/msgpack_reader.h"
#include "tests/core/wire/json_reference.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace heck;
  const std::span<const std::uint8_t> body(data, size);
  for (std::uint16_t t = 1; t <= 8; ++t) {
    const wire::Part part{static_cast<wire::PartType>(t), body};
    auto m = decode_message(part);
    if (!m) continue;
    const wire::EncodedPart again = encode_message(*m);
    const auto again_body = wire::body_of(again);
    if (again_body.empty()) std::abort();
    auto back = decode_message(wire::Part{again.type, again_body});
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
    const auto again_body = wire::body_of(again);
    if (again_body.empty()) std::abort();
    auto back = decode_latency_handoff(again_body);
    if (!back || !(*back == *h)) std::abort();
  }
  return 0;
}
