// The packet envelope decoder (core/wire/envelope.h) on arbitrary bytes: it
// must return an error or an envelope within its limits, never crash, hang or
// allocate without bound; a decoded envelope re-encodes to bytes that decode
// to the same envelope.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <span>

#include "core/wire/envelope.h"

namespace {

heck::Bytes reencode(const heck::wire::Envelope& env) {
  std::vector<heck::wire::EncodedPart> parts;
  for (const auto& p : env.parts) parts.push_back(heck::wire::encode_part(p.type, p.body));
  return heck::wire::encode(env.header, parts);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace heck::wire;
  auto env = decode(std::span(data, size));
  if (!env) return 0;
  if (env->parts.size() > kMaxParts) std::abort();
  // Compare encodings, not values: NaN bodies are legal and NaN != NaN.
  const heck::Bytes once = reencode(*env);
  auto again = decode(once);
  if (!again || reencode(*again) != once) std::abort();
  return 0;
}
