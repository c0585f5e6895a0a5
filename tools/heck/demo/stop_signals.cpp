#include "tools/heck/demo/stop_signals.h"

#include <signal.h>

#include <algorithm>
#include <csignal>
#include <thread>

namespace heck::cli::demo {

using steady = std::chrono::steady_clock;

namespace {

volatile std::sig_atomic_t g_stop_signal = 0;

extern "C" void on_stop_signal(int signo) {
  g_stop_signal = signo;
  // A second Ctrl-C ends the demo at once (and its agents with it).
  std::signal(signo, SIG_DFL);
}

}  // namespace

void install_stop_handlers() {
  g_stop_signal = 0;
  struct sigaction sa {};
  sa.sa_handler = on_stop_signal;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
}

int stop_signal() { return g_stop_signal; }

// Sleeps up to `d` in short steps; false when a stop signal came.
bool nap(steady::duration d) {
  const auto until = steady::now() + d;
  while (steady::now() < until) {
    if (g_stop_signal) return false;
    std::this_thread::sleep_for(std::min<steady::duration>(std::chrono::milliseconds(50), until - steady::now()));
  }
  return !g_stop_signal;
}

}  // namespace heck::cli::demo
