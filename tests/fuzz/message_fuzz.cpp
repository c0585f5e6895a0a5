// Every part decoder on arbitrary bytes: the input is one MessagePack value
// handed to the membership decoder (as each membership part type) and to the
// replication decoders (delta, digest, repair). Each must return a value or an
// error, never crash; a decoded message re-encodes and decodes to the same.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <span>

#include "core/membership/messages.h"
#include "core/replicated/codec.h"
#include "core/wire/msgpack.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace heck;
  auto body = wire::decode_msgpack(std::span(data, size));
  if (!body) return 0;
  for (std::uint16_t t = 1; t <= 8; ++t) {
    const wire::Part part{static_cast<wire::PartType>(t), *body};
    auto m = decode_message(part);
    if (!m) continue;
    const wire::EncodedPart again = encode_message(*m);
    auto parsed = wire::decode_msgpack(again.bytes);
    if (!parsed || !parsed->is_array() || parsed->size() != 2) std::abort();
    auto back = decode_message(wire::Part{again.type, (*parsed)[1]});
    if (!back || !(*back == *m)) std::abort();
  }
  if (auto d = decode_delta(*body)) {
    auto back = decode_delta(encode_delta(*d));
    if (!back || !(*back == *d)) std::abort();
  }
  if (auto d = decode_digest(*body)) {
    if (!decode_digest(encode_digest(*d))) std::abort();
  }
  if (auto r = decode_repair(*body)) {
    if (!decode_repair(encode_repair(*r))) std::abort();
  }
  return 0;
}
