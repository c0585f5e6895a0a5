// Each entry point registers its subcommand on the `heck` CLI. One file per
// subcommand under tools/heck/, owned by the layer it drives.
#pragma once

#include <CLI/CLI.hpp>

namespace heck::cli {

// `heck agent`: the daemon (tools/heck/agent_command.cpp, drives runtime/).
void register_agent_command(CLI::App& app);
// `heck members`: an agent's member list as a table (agent_command.cpp).
void register_members_command(CLI::App& app);
// `heck keygen`: a new cluster key (agent_command.cpp).
void register_keygen_command(CLI::App& app);
// `heck demo`: local targets checked by an agent (tools/heck/demo_command.cpp).
void register_demo_command(CLI::App& app);
// `heck owners`: ranked owners of targets, offline (tools/heck/owners_command.cpp).
void register_owners_command(CLI::App& app);
// `heck sim`: run a scenario in the simulator (tools/heck/sim_command.cpp).
void register_sim_command(CLI::App& app);

}  // namespace heck::cli
