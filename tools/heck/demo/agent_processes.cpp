#include "tools/heck/demo/agent_processes.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <thread>

#include <fmt/format.h>

#include "tools/heck/demo/console.h"

namespace heck::cli::demo {

using steady = std::chrono::steady_clock;

std::string self_exe() {
  char buf[4096];
  const ssize_t n = readlink("/proc/self/exe", buf, sizeof buf - 1);
  if (n <= 0) fail(1, "cannot find this program's path (/proc/self/exe)");
  return std::string(buf, static_cast<std::size_t>(n));
}

void spawn(Child& c, const std::string& exe, const std::vector<std::string>& args) {
  std::vector<char*> argv;
  argv.push_back(const_cast<char*>(exe.c_str()));
  for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  const int fd = ::open(c.log_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) fail(1, fmt::format("cannot create {}", c.log_path));
  const pid_t parent = getpid();
  const pid_t pid = fork();
  if (pid < 0) fail(1, "fork failed");
  if (pid == 0) {
    // Only async-signal-safe calls between fork and exec.
    setpgid(0, 0);
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent) _exit(127);
    dup2(fd, 1);
    dup2(fd, 2);
    signal(SIGINT, SIG_DFL);
    signal(SIGTERM, SIG_DFL);
    execv(exe.c_str(), argv.data());
    _exit(127);
  }
  ::close(fd);
  c.pid = pid;
  c.running = true;
}

// Reaps children that exited; returns those that exited unexpectedly.
std::vector<Child*> reap(std::vector<Child>& children) {
  std::vector<Child*> died;
  for (auto& c : children) {
    if (!c.running) continue;
    int st = 0;
    if (waitpid(c.pid, &st, WNOHANG) == c.pid) {
      c.running = false;
      c.status = st;
      if (!c.killed) died.push_back(&c);
    }
  }
  return died;
}

std::string describe_exit(int st) {
  if (WIFEXITED(st)) return fmt::format("exit code {}", WEXITSTATUS(st));
  if (WIFSIGNALED(st)) return fmt::format("signal {}", WTERMSIG(st));
  return "stopped";
}

// SIGTERM to every running child (they leave the cluster), then SIGKILL to
// those still running after `grace`.
void stop_children(std::vector<Child>& children, steady::duration grace) {
  for (auto& c : children) {
    if (c.running) kill(c.pid, SIGTERM);
  }
  const auto until = steady::now() + grace;
  while (steady::now() < until) {
    reap(children);
    if (std::none_of(children.begin(), children.end(), [](const Child& c) { return c.running; })) return;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  for (auto& c : children) {
    if (!c.running) continue;
    kill(c.pid, SIGKILL);
    int st = 0;
    waitpid(c.pid, &st, 0);
    c.running = false;
    c.status = st;
  }
}

}  // namespace heck::cli::demo
