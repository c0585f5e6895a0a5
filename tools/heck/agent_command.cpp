#include "tools/heck/commands.h"
namespace heck::cli {
void register_agent_command(CLI::App& app) { app.add_subcommand("agent", "run the daemon (not yet built)"); }
}  // namespace heck::cli
