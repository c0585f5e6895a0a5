#include "core/replicated/codec.h"

#include <xxhash.h>

namespace heck {

using json = nlohmann::json;

std::uint16_t bucket_of(const std::string& key) {
  return static_cast<std::uint16_t>(XXH64(key.data(), key.size(), 0x62756b74) % kDigestBuckets);
}

json encode_delta(const HealthDelta&) { return json::object(); }
Result<HealthDelta> decode_delta(const json&, const CodecLimits&) { return Error{"delta: codec not implemented yet"}; }
json encode_digest(const Digest&) { return json::object(); }
Result<Digest> decode_digest(const json&, const CodecLimits&) { return Error{"digest: codec not implemented yet"}; }
json encode_repair(const Repair&) { return json::object(); }
Result<Repair> decode_repair(const json&, const CodecLimits&) { return Error{"repair: codec not implemented yet"}; }

}  // namespace heck
