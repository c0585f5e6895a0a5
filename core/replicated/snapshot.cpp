#include "core/replicated/snapshot.h"

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "core/wire/msgpack_reader.h"
#include "core/wire/msgpack_writer.h"

namespace heck {

namespace {
constexpr std::string_view kMagic = "heck-snapshot";
constexpr std::size_t kMaxSnapshotBytes = std::size_t{1} << 30;
}  // namespace

std::vector<std::uint8_t> encode_snapshot(const HealthDelta& durable) {
  HealthDelta d;
  d.registry = durable.registry;
  d.counters = durable.counters;
  std::vector<std::uint8_t> out;
  wire::MsgpackWriter w(out);
  w.array(3);
  w.str(kMagic);
  w.uint(kSnapshotVersion);
  w.raw(encode_delta(d));
  return out;
}

Result<HealthDelta> decode_snapshot(std::span<const std::uint8_t> bytes, const CodecLimits& limits) {
  if (bytes.empty()) return Error{"snapshot: empty"};
  if (bytes.size() > kMaxSnapshotBytes) {
    return Error{fmt::format("snapshot: too large: {} bytes (limit {})", bytes.size(), kMaxSnapshotBytes)};
  }
  wire::MsgpackReader in(bytes);
  wire::MsgValue doc, magic, version, state;
  if (!in.value(doc)) return Error{fmt::format("snapshot: {}", in.error())};
  if (!in.at_end()) return Error{fmt::format("snapshot: malformed: {} bytes after the value", bytes.size() - in.offset())};
  wire::MsgpackReader items(doc.encoded);
  items.header(doc);
  if (doc.type == wire::MsgType::array && doc.size == 3) {
    items.value(magic);
    items.value(version);
    items.value(state);
  }
  if (doc.type != wire::MsgType::array || doc.size != 3 || magic.type != wire::MsgType::str || magic.text() != kMagic) {
    return Error{"snapshot: not a heck snapshot (expected [\"heck-snapshot\", version, state])"};
  }
  if (version.type != wire::MsgType::uint || version.u != kSnapshotVersion) {
    // A rare error: the version as JSON text, whatever it is.
    const auto shown = nlohmann::json::from_msgpack(version.encoded.begin(), version.encoded.end(), true, false);
    return Error{fmt::format("snapshot: unsupported version {} (this heck reads version {})", shown.dump(),
                             kSnapshotVersion)};
  }
  auto d = decode_delta(state.encoded, limits);
  if (!d) return Error{fmt::format("snapshot: {}", d.error())};
  if (!d->observations.store.empty()) return Error{"snapshot: holds observations (only targets and counters are kept)"};
  return d;
}

}  // namespace heck
