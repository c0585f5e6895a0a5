// Each entry point registers its subcommand on the `heck` CLI. One file per
// subcommand (or family) under tools/heck/, owned by the layer it drives.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include <CLI/CLI.hpp>
#include <nlohmann/json_fwd.hpp>

#include "runtime/agent_config.h"
#include "runtime/api_client.h"

namespace heck::cli {

// `heck agent`: the daemon (tools/heck/agent_command.cpp, drives runtime/).
void register_agent_command(CLI::App& app);
// `heck members`: an agent's member list as a table (agent_command.cpp).
void register_members_command(CLI::App& app);
// `heck keygen`: a new cluster key (agent_command.cpp).
void register_keygen_command(CLI::App& app);
// `heck demo`: the local cluster demo — agent processes, local targets, a
// takeover (tools/heck/demo_command.cpp).
void register_demo_command(CLI::App& app);
// `heck owners`: ranked owners of targets, offline or from an agent
// (tools/heck/owners_command.cpp).
void register_owners_command(CLI::App& app);
// `heck sim`: run a scenario in the simulator (tools/heck/sim_command.cpp).
void register_sim_command(CLI::App& app);
// `heck status`, `targets`, `add-target`, `remove-target`, `counter`: the API
// client commands (tools/heck/client_commands.cpp).
void register_client_commands(CLI::App& app);

// ---- shared by every subcommand (main.cpp) -----------------------------------

// An option renamed on `cmd`: `old_name` (e.g. "--suspicion-max-timeout-mult")
// stays parseable but hidden and is refused with CLI11's usage error
// "--suspicion-max-timeout-mult: renamed to --max-suspicion-timeout-mult"
// (exit 105), so a script using the old name fails loudly instead of
// running with a default. The JSON keys' counterpart: json_fields::kRenamedKeys.
void add_renamed_option(CLI::App* cmd, const std::string& old_name, const std::string& new_name);

// ---- shared by the client commands (client_commands.cpp) --------------------

struct ClientArgs {
  std::string api{runtime::AgentConfig::kDefaultApi};
  std::string token;  // empty: $HECK_API_TOKEN
  bool json = false;
  std::int64_t timeout_ms = 5000;
  std::string request_id;  // writes' Idempotency-Key; empty: a random one per command
};

// --api, --token, --json, --api-timeout-ms on `cmd`.
void add_client_options(CLI::App* cmd, ClientArgs& args);
// The client for --api / --token; a bad --api exits 2.
runtime::ApiClient make_client(const ClientArgs& args);
// "heck: <message>" on stderr, then exit with `code` (through CLI11).
[[noreturn]] void client_fail(int code, std::string_view message);
// Writes `text` to stdout (with a final newline) and flushes.
void print_out(std::string_view text);
// A field of a JSON object as text for a table ("-" when missing or null),
// sanitised for the terminal and cut at `max_bytes`.
std::string json_text(const nlohmann::json& j, std::string_view key, std::size_t max_bytes);
// A JSON array of names as "a,b,c" ("-" when missing or empty).
std::string json_names(const nlohmann::json& j, std::string_view key);
// Aligned columns, two spaces apart, the header first.
std::string format_table(const std::vector<std::string>& header, const std::vector<std::vector<std::string>>& rows);
// The `heck targets` table of a /v1/targets array: unhealthy first, then
// unknown, then healthy; by id within a status.
std::string format_targets_table(const nlohmann::json& list);

}  // namespace heck::cli
