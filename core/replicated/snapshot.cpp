#include "core/replicated/snapshot.h"

#include <fmt/format.h>

#include "core/target_spec.h"
#include "core/wire/msgpack_reader.h"
#include "core/wire/msgpack_writer.h"

namespace heck {

namespace {
constexpr std::string_view kMagic = "heck-snapshot";
constexpr std::size_t kMaxSnapshotBytes = std::size_t{1} << 30;
}  // namespace

std::vector<std::uint8_t> encode_snapshot(const HealthDelta& durable, const ConfiguredSeeds& configured) {
  HealthDelta d;
  d.registry = durable.registry;
  d.counters = durable.counters;
  d.sets = durable.sets;
  d.requests = durable.requests;
  d.alerts = durable.alerts;
  d.routes = durable.routes;
  std::vector<std::uint8_t> out;
  wire::MsgpackWriter w(out);
  w.array(4);
  w.str(kMagic);
  w.uint(kSnapshotVersion);
  w.raw(encode_delta(d));
  w.map(configured.size());
  for (const auto& [id, fingerprint] : configured) {
    w.str(id);
    w.uint(fingerprint);
  }
  return out;
}

Result<Snapshot> decode_snapshot(std::span<const std::uint8_t> bytes, const CodecLimits& limits) {
  if (bytes.empty()) return Error{"snapshot: empty"};
  if (bytes.size() > kMaxSnapshotBytes) {
    return Error{fmt::format("snapshot: too large: {} bytes (limit {})", bytes.size(), kMaxSnapshotBytes)};
  }
  wire::MsgpackReader in(bytes);
  wire::MsgValue doc, magic, version, state, configured;
  if (!in.whole(doc)) return Error{fmt::format("snapshot: {}", in.error())};
  wire::MsgpackReader items(doc.encoded);
  items.header(doc);
  const bool shaped = doc.type == wire::MsgType::array && (doc.size == 3 || doc.size == 4);
  if (shaped) {
    items.value(magic);
    items.value(version);
    items.value(state);
    if (doc.size == 4) items.value(configured);
  }
  if (!shaped || magic.type != wire::MsgType::str || magic.text() != kMagic) {
    return Error{"snapshot: not a heck snapshot (expected [\"heck-snapshot\", version, state, configured])"};
  }
  const std::uint64_t expected_size = version.type == wire::MsgType::uint && version.u == 1 ? 3 : 4;
  if (version.type != wire::MsgType::uint || (version.u != 1 && version.u != kSnapshotVersion)) {
    // The version as a number, or the kind of value it is (never the raw
    // bytes: they may not be valid text).
    const std::string shown = version.type == wire::MsgType::uint ? std::to_string(version.u)
                                                                  : fmt::format("({})", wire::type_name(version));
    return Error{fmt::format("snapshot: unsupported version {} (this heck reads versions 1 and {})", shown,
                             kSnapshotVersion)};
  }
  if (doc.size != expected_size) {
    return Error{fmt::format("snapshot: version {} has {} items, not {}", version.u, expected_size, doc.size)};
  }
  auto d = decode_delta(state.encoded, limits);
  if (!d) return Error{fmt::format("snapshot: {}", d.error())};
  if (!d->observations.store.empty()) return Error{"snapshot: holds observations (only targets and counters are kept)"};
  Snapshot out{std::move(*d), {}};
  if (doc.size == 4) {
    wire::MsgpackReader seeds(configured.encoded);
    wire::MsgValue head;
    seeds.header(head);
    if (head.type != wire::MsgType::map) {
      return Error{fmt::format("snapshot: configured targets must be a map, not {}", wire::type_name(configured))};
    }
    for (std::uint64_t i = 0; i < head.size; ++i) {
      wire::MsgValue id, fingerprint;
      if (!seeds.value(id) || !seeds.value(fingerprint) || id.type != wire::MsgType::str || !valid_target_id(id.text()) || fingerprint.type != wire::MsgType::uint) {
        return Error{fmt::format("snapshot: configured target {}: expected a target id and a fingerprint", i)};
      }
      out.configured.emplace(std::string(id.text()), fingerprint.u);
    }
  }
  return out;
}

}  // namespace heck
