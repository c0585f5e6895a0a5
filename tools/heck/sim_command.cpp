#include "tools/heck/commands.h"
namespace heck::cli {
void register_sim_command(CLI::App& app) { app.add_subcommand("sim", "run a scenario (not yet built)"); }
}  // namespace heck::cli
