#include "core/replicated/dot.h"

#include <xxhash.h>

namespace heck {

ReplicaId make_replica_id(std::string_view name, std::uint64_t boot_nonce) {
  XXH64_state_t* st = XXH64_createState();
  XXH64_reset(st, 0x6865636b /* "heck" */);
  XXH64_update(st, name.data(), name.size());
  unsigned char nonce[8];
  for (int i = 0; i < 8; ++i) nonce[i] = static_cast<unsigned char>(boot_nonce >> (8 * i));
  XXH64_update(st, nonce, sizeof nonce);
  const ReplicaId id = XXH64_digest(st);
  XXH64_freeState(st);
  return id == 0 ? 1 : id;  // 0 is reserved for "no replica"
}

}  // namespace heck
