// The cluster keyring (runtime/cluster/keyring.h) on arbitrary bytes: open()
// must reject or open, never crash; anything it opens under the test key must
// have been sealed by it (a forgery is a failure); seal then open gives back
// the input.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <span>

#include "runtime/cluster/keyring.h"

using heck::runtime::cluster::Key;
using heck::runtime::cluster::Keyring;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  Key key{};
  for (std::size_t i = 0; i < key.size(); ++i) key[i] = static_cast<std::uint8_t>(i * 7 + 1);
  Keyring ring({key});
  auto opened = ring.open(std::span(data, size));
  // Random bytes never authenticate under a key the fuzzer does not know.
  if (opened.ok) std::abort();
  auto sealed = ring.seal(std::span(data, size));
  if (!sealed) std::abort();
  Keyring other({key});
  auto back = other.open(*sealed);
  if (!back.ok || back.plaintext != heck::Bytes(data, data + size)) std::abort();
  // The same sealed packet a second time is a replay.
  if (other.open(*sealed).ok) std::abort();
  return 0;
}
