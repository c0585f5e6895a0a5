#include <cstdio>
#include <exception>
#include <string>
#include <string_view>

#include <CLI/CLI.hpp>

#include "sim/huge_pages.h"
#include "tools/heck/commands.h"

namespace heck::cli {

void add_renamed_option(CLI::App* cmd, const std::string& old_name, const std::string& new_name) {
  // The callback runs when the old name was given, with or without a value;
  // the empty group keeps it out of --help.
  cmd->add_option(old_name,
                  [old_name, new_name](const CLI::results_t&) -> bool {
                    throw CLI::ValidationError(old_name, "renamed to " + new_name);
                  })
      ->expected(0, 1)
      ->group("");
}

}  // namespace heck::cli

int main(int argc, char** argv) {
  // A simulation holds a whole cluster in this process: it runs on huge
  // pages and keeps the heap it grows (sim/huge_pages.h).
  if (argc > 1 && std::string_view(argv[1]) == "sim") {
    heck::sim::reexec_on_huge_pages(argv);
    heck::sim::keep_freed_heap();
  }
  CLI::App app{"heck — a distributed health checker"};
  app.require_subcommand(1);
  app.set_version_flag("--version", "heck 0.1.0");
  heck::cli::register_agent_command(app);
  heck::cli::register_members_command(app);
  heck::cli::register_keygen_command(app);
  heck::cli::register_demo_command(app);
  heck::cli::register_owners_command(app);
  heck::cli::register_sim_command(app);
  heck::cli::register_client_commands(app);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "heck: %s\n", e.what());
    return 1;
  }
  return 0;
}
