// The demo's agents as child processes: fork + exec of this same binary as
// `heck agent ...`, each in its own process group (Ctrl-C reaches only the
// demo, which then stops the agents in order) and dying with the demo
// (PR_SET_PDEATHSIG); reaping, and stopping them all (SIGTERM, then SIGKILL
// after a bound).
#pragma once

#include <sys/types.h>

#include <chrono>
#include <string>
#include <vector>

#include "runtime/agent_config.h"

namespace heck::cli::demo {

struct Child {
  std::string name;
  runtime::HostPort api;
  std::string cluster;
  std::string log_path;
  pid_t pid = -1;
  bool running = false;
  bool killed = false;  // by the demo, on purpose
  int status = 0;
};

// This program's path (/proc/self/exe); a failure ends the demo.
std::string self_exe();

// Fork + exec of `exe args...` with stdout/stderr to c.log_path, in its own
// process group, dying with the demo. Sets c.pid and c.running.
void spawn(Child& c, const std::string& exe, const std::vector<std::string>& args);

// Reaps children that exited; returns those that exited unexpectedly.
std::vector<Child*> reap(std::vector<Child>& children);

// "exit code 3", "signal 9", "stopped": a wait status for people.
std::string describe_exit(int status);

// SIGTERM to every running child (they leave the cluster), then SIGKILL to
// those still running after `grace`.
void stop_children(std::vector<Child>& children, std::chrono::steady_clock::duration grace);

}  // namespace heck::cli::demo
