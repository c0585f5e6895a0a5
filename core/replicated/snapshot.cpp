#include "core/replicated/snapshot.h"

#include <fmt/format.h>

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
  d.sets = durable.sets;
  d.requests = durable.requests;
  d.alerts = durable.alerts;
  d.routes = durable.routes;
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
  if (!in.whole(doc)) return Error{fmt::format("snapshot: {}", in.error())};
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
    // The version as a number, or the kind of value it is (never the raw
    // bytes: they may not be valid text).
    const std::string shown = version.type == wire::MsgType::uint ? std::to_string(version.u)
                                                                  : fmt::format("({})", wire::type_name(version));
    return Error{fmt::format("snapshot: unsupported version {} (this heck reads version {})", shown,
                             kSnapshotVersion)};
  }
  auto d = decode_delta(state.encoded, limits);
  if (!d) return Error{fmt::format("snapshot: {}", d.error())};
  if (!d->observations.store.empty()) return Error{"snapshot: holds observations (only targets and counters are kept)"};
  return d;
}

}  // namespace heck
