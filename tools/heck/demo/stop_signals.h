// SIGINT/SIGTERM for `heck demo`: the first one asks the demo to stop (it
// then stops its agents in order); a second one ends it at once (the handler
// is one-shot, the default action follows).
#pragma once

#include <chrono>

namespace heck::cli::demo {

// Installs the one-shot handlers and clears an earlier stop.
void install_stop_handlers();
// The signal that asked to stop (SIGINT, SIGTERM), or 0.
int stop_signal();
// Sleeps up to `d` in short steps; false when a stop signal came.
bool nap(std::chrono::steady_clock::duration d);

}  // namespace heck::cli::demo
