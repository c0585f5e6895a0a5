#include "core/replicated/snapshot.h"

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "core/wire/msgpack.h"

namespace heck {

namespace {
constexpr std::string_view kMagic = "heck-snapshot";
constexpr std::size_t kMaxSnapshotBytes = std::size_t{1} << 30;
}  // namespace

std::vector<std::uint8_t> encode_snapshot(const HealthDelta& durable) {
  HealthDelta d;
  d.registry = durable.registry;
  d.counters = durable.counters;
  const nlohmann::json doc = nlohmann::json::array({std::string(kMagic), kSnapshotVersion, encode_delta(d)});
  return nlohmann::json::to_msgpack(doc);
}

Result<HealthDelta> decode_snapshot(std::span<const std::uint8_t> bytes, const CodecLimits& limits) {
  auto doc = wire::decode_msgpack(bytes, wire::DecodeLimits{.max_bytes = kMaxSnapshotBytes});
  if (!doc) return Error{fmt::format("snapshot: {}", doc.error())};
  const nlohmann::json& j = *doc;
  if (!j.is_array() || j.size() != 3 || !j[0].is_string() || j[0].get_ref<const std::string&>() != kMagic) {
    return Error{"snapshot: not a heck snapshot (expected [\"heck-snapshot\", version, state])"};
  }
  if (!j[1].is_number_unsigned() || j[1].get<std::uint64_t>() != kSnapshotVersion) {
    return Error{fmt::format("snapshot: unsupported version {} (this heck reads version {})", j[1].dump(),
                             kSnapshotVersion)};
  }
  auto d = decode_delta(j[2], limits);
  if (!d) return Error{fmt::format("snapshot: {}", d.error())};
  if (!d->observations.store.empty()) return Error{"snapshot: holds observations (only targets and counters are kept)"};
  return d;
}

}  // namespace heck
