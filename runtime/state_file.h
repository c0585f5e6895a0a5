// The agent's local state file: the durable part of its replicated state
// (target registry and counters, core/replicated/snapshot.h) kept in
// <data_dir>/state.snapshot.
//
// Writes are atomic and durable: the bytes go to "<file>.tmp" (created with
// mode 0600), which is fsync'ed, renamed over <file>, and then the directory
// is fsync'ed so the rename itself survives a power loss. A crash at any
// point leaves either the old file or the new one, never a mix; a left-over
// ".tmp" is ignored by readers and replaced by the next write.
//
// Reads are bounded (kMaxStateFileBytes). A missing file is not an error (a
// fresh agent); a file that cannot be read or does not decode is, with a
// message that names the file and what is wrong, e.g.
//   "/var/lib/heck/state.snapshot: not a heck snapshot: truncated at byte 12"
// The agent refuses to start on such a file (runtime/agent_host.h): it never
// silently throws a registry away.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/replicated/health_state.h"
#include "core/replicated/snapshot.h"
#include "core/result.h"

namespace heck::runtime {

inline constexpr std::size_t kMaxStateFileBytes = 256 * 1024 * 1024;
inline constexpr std::string_view kStateFileName = "state.snapshot";

// <data_dir>/state.snapshot
std::string state_file_path(std::string_view data_dir);
// <data_dir>/history.json (runtime/target_history.h: the agent's view of
// each target's past; derived, so a bad one is set aside, not fatal).
std::string history_file_path(std::string_view data_dir);

// Makes sure `dir` exists (creates it, mode 0700, one level only) and is a
// writable directory. The error names the directory and the reason.
Result<std::string> prepare_data_dir(const std::string& dir);

// Writes `bytes` to `path` atomically (see above); returns the bytes written.
// The error names the file and the failing step ("cannot fsync ...: ...").
Result<std::size_t> write_file_atomic(const std::string& path, std::span<const std::uint8_t> bytes);

// The whole file, or nullopt when it does not exist. Refuses files over
// `max_bytes` and anything that is not a regular file.
Result<std::optional<std::vector<std::uint8_t>>> read_file_if_exists(const std::string& path,
                                                                     std::size_t max_bytes = kMaxStateFileBytes);

// encode_snapshot + write_file_atomic.
Result<std::size_t> save_state(const std::string& path, const HealthDelta& durable,
                               const ConfiguredSeeds& configured = {});

// read_file_if_exists + decode_snapshot; nullopt when there is no file.
Result<std::optional<Snapshot>> load_state(const std::string& path);

}  // namespace heck::runtime
