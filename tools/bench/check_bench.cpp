// check_bench: end-to-end check throughput of one core. Drives the real core
// check scheduler (core/scheduler.h) with N HTTP targets and the real runtime Checker
// on ONE single-threaded io_context for a fixed time, against a server the
// caller runs (tools/bench/check_bench.sh starts nginx), and prints a table:
// offered and completed checks/s, failures by reason, latency percentiles,
// CPU time and peak RSS.
//
// The driver here is the minimum a real agent needs: named timers in a
// TimerTable (core/timer_table.h) with one Asio timer armed at its next
// deadline, StartCheck effects handed to the Checker, and CheckDone fed back
// into the scheduler.
//
//   check_bench --port 8080 [--targets 1000] [--interval-ms 100] [--seconds 10]
#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <functional>
#include <memory>
#include <optional>
#include <map>
#include <string>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include "core/check.h"
#include "core/effects.h"
#include "core/scheduler.h"
#include "core/timer_table.h"
#include "core/target_spec.h"
#include "runtime/checker.h"

namespace {

namespace asio = boost::asio;
using namespace heck;
using SteadyClock = std::chrono::steady_clock;

struct Args {
  std::string host = "127.0.0.1";
  int port = 8080;
  std::string path = "/";
  int targets = 1000;
  int interval_ms = 100;
  int timeout_ms = 90;
  double seconds = 10;
  double warmup_seconds = 1;
  std::size_t max_concurrent = 512;
  int closed_loop = 0;  // >0: no scheduler; keep this many checks in flight back to back
  std::vector<int> server_pids;  // processes whose CPU time is reported as the server's
  std::string label;
};

double cpu_seconds() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  return static_cast<double>(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
         static_cast<double>(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

// CPU-seconds used so far by the given processes (the server's workers),
// from /proc/PID/schedstat (nanoseconds on a CPU; precise, unlike the
// tick-sampled /proc/stat, which timer-aligned wake-ups fool).
double server_cpu_seconds(const std::vector<int>& pids) {
  double total = 0;
  for (int pid : pids) {
    std::FILE* f = std::fopen(fmt::format("/proc/{}/schedstat", pid).c_str(), "r");
    if (!f) continue;
    unsigned long long ns = 0;
    if (std::fscanf(f, "%llu", &ns) == 1) total += static_cast<double>(ns) / 1e9;
    std::fclose(f);
  }
  return total;
}

long peak_rss_kib() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  return ru.ru_maxrss;
}

class Bench {
 public:
  Bench(asio::io_context& io, const Args& args, runtime::CheckerOptions checker_options,
        std::vector<TargetSpec> targets)
      : io_(io), args_(args), checker_(io, std::move(checker_options)), targets_(std::move(targets)),
        scheduler_(42), wake_(io) {
    latencies_us_.reserve(1 << 20);
  }

  void start() {
    t0_ = SteadyClock::now();
    measure_from_ = t0_ + std::chrono::milliseconds(static_cast<long>(args_.warmup_seconds * 1000));
    measure_until_ = t0_ + std::chrono::milliseconds(static_cast<long>((args_.warmup_seconds + args_.seconds) * 1000));
    for (const TargetSpec& spec : targets_) scheduler_.add_target(now(), spec, effects_);
    apply();
    stop_timer_.emplace(io_, measure_until_);
    stop_timer_->async_wait([this](auto ec) {
      if (!ec) stop();
    });
  }

  void report() const;

 private:
  Instant now() const {
    return Instant::from_ns(std::chrono::duration_cast<std::chrono::nanoseconds>(SteadyClock::now().time_since_epoch()).count());
  }
  SteadyClock::time_point to_steady(Instant t) const {
    return SteadyClock::time_point(std::chrono::nanoseconds(t.ns()));
  }
  bool measuring() const {
    const auto t = SteadyClock::now();
    return t >= measure_from_ && t < measure_until_;
  }

  void apply() {
    // Effects are applied in order; the node is only stepped from handlers,
    // never from inside apply(), so one vector serves every step.
    apply_effects(timers_, effects_, [&](Effect& e) {
      if (auto* sc = std::get_if<StartCheck>(&e)) {
        if (measuring()) ++offered_;
        const CheckId id = sc->check;
        checker_.run(sc->spec, sc->deadline - now(), [this, id](CheckOutcome outcome) {
          if (stopping_) return;
          scheduler_.handle_check_done(now(), id, std::move(outcome), effects_);
          apply();
        });
      } else if (auto* cf = std::get_if<CheckFinished>(&e)) {
        if (measuring()) {
          ++completed_;
          ++by_reason_[cf->result.reason];
          if (latencies_us_.size() < (std::size_t{16} << 20)) latencies_us_.push_back(cf->result.latency.us());
        }
      } else if (std::get_if<StatusChanged>(&e)) {
        ++status_changes_;
      }
    });
    effects_.clear();
    arm();
  }

  // Wake-ups are rounded up to whole milliseconds, so timers due close
  // together fire in one batch (late by < 1 ms, which the node tolerates;
  // never early, which it would ignore as stale).
  void arm() {
    const std::optional<Instant> first = timers_.next_deadline();
    if (!first || stopping_) return;
    constexpr std::int64_t kGrainNs = 1'000'000;
    const std::int64_t due = first->ns();
    const Instant next = Instant::from_ns((due + kGrainNs - 1) / kGrainNs * kGrainNs);
    if (armed_ && armed_at_ == next) return;
    armed_ = true;
    armed_at_ = next;
    wake_.expires_at(to_steady(next));
    wake_.async_wait([this](const boost::system::error_code& ec) {
      if (ec || stopping_) return;
      armed_ = false;
      fire();
    });
  }

  void fire() {
    const Instant t = now();
    // Every key due at t in one batch, then the effects in order (a timer a
    // step arms due at t waits for the next wake, at most 1 ms away).
    while (const auto key = timers_.pop_due(t)) scheduler_.handle_timer(t, *key, effects_);
    apply();
  }

  void stop() {
    cpu_at_end_ = cpu_seconds();
    server_cpu_at_end_ = server_cpu_seconds(args_.server_pids);
    stopping_ = true;
    wake_.cancel();
    checker_.shutdown();
  }

 public:
  void mark_cpu_start() {
    cpu_at_start_ = cpu_seconds();
    server_cpu_at_start_ = server_cpu_seconds(args_.server_pids);
  }
  double cpu_at_start_ = 0;
  double cpu_at_end_ = 0;
  double server_cpu_at_start_ = 0;
  double server_cpu_at_end_ = 0;

 private:
  asio::io_context& io_;
  Args args_;
  runtime::Checker checker_;
  std::vector<TargetSpec> targets_;
  CheckScheduler scheduler_;
  Effects effects_;
  TimerTable timers_;
  asio::steady_timer wake_;
  bool armed_ = false;
  Instant armed_at_;
  std::optional<asio::steady_timer> stop_timer_;
  bool stopping_ = false;
  SteadyClock::time_point t0_, measure_from_, measure_until_;
  std::uint64_t offered_ = 0;
  std::uint64_t completed_ = 0;
  std::uint64_t status_changes_ = 0;
  std::map<CheckReason, std::uint64_t> by_reason_;
  std::vector<std::int64_t> latencies_us_;
};

std::int64_t percentile(std::vector<std::int64_t> v, double p) {
  if (v.empty()) return 0;
  const auto k = static_cast<std::size_t>(p * static_cast<double>(v.size() - 1));
  std::nth_element(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(k), v.end());
  return v[k];
}

void Bench::report() const {
  const double secs = args_.seconds;
  const double cpu = cpu_at_end_ - cpu_at_start_;
  const std::uint64_t ok = by_reason_.count(CheckReason::ok) ? by_reason_.at(CheckReason::ok) : 0;
  const auto& c = checker_.counters();
  auto row = [](std::string_view k, const std::string& v) { fmt::print("  {:<28} {}\n", k, v); };
  fmt::print("check_bench{}: {} s measured after {} s warm-up\n", args_.label.empty() ? "" : " [" + args_.label + "]",
             secs, args_.warmup_seconds);
  row("target", fmt::format("http://{}:{}{}", args_.host, args_.port, args_.path));
  row("targets", fmt::format("{} (interval {} ms, timeout {} ms)", args_.targets, args_.interval_ms, args_.timeout_ms));
  row("max_concurrent", fmt::format("{}", args_.max_concurrent));
  row("offered checks/s", fmt::format("{:.0f} (nominal {:.0f})", static_cast<double>(offered_) / secs,
                                      args_.targets * 1000.0 / args_.interval_ms));
  row("completed checks/s", fmt::format("{:.0f}", static_cast<double>(completed_) / secs));
  row("ok checks/s", fmt::format("{:.0f}", static_cast<double>(ok) / secs));
  for (const auto& [reason, n] : by_reason_) {
    if (reason == CheckReason::ok) continue;
    row(fmt::format("failed: {}", to_string(reason)), fmt::format("{} ({:.1f}/s)", n, static_cast<double>(n) / secs));
  }
  row("latency p50 / p99 / max", fmt::format("{:.2f} / {:.2f} / {:.2f} ms", percentile(latencies_us_, 0.5) / 1e3,
                                             percentile(latencies_us_, 0.99) / 1e3,
                                             percentile(latencies_us_, 1.0) / 1e3));
  row("CPU time (user+sys)", fmt::format("{:.2f} s = {:.0f}% of one core", cpu, 100.0 * cpu / secs));
  row("ok checks per CPU-second", fmt::format("{:.0f}", cpu > 0 ? static_cast<double>(ok) / cpu : 0.0));
  if (!args_.server_pids.empty()) {
    const double server = server_cpu_at_end_ - server_cpu_at_start_;
    row("server CPU time", fmt::format("{:.2f} s = {:.0f}% of one core", server, 100.0 * server / secs));
    row("ok checks per CPU-s, both", fmt::format("{:.0f}", cpu + server > 0 ? static_cast<double>(ok) / (cpu + server) : 0.0));
  }
  row("peak RSS", fmt::format("{:.1f} MiB", static_cast<double>(peak_rss_kib()) / 1024.0));
  row("checker queued / shed", fmt::format("{} / {}", c.queued_total, c.shed));
  row("status changes", fmt::format("{}", status_changes_));
}

// Capacity without the scheduler: `n` checks always in flight, each started
// as soon as the previous one ends (timeout 5 s), for args.seconds.
int closed_loop(const Args& args) {
  asio::io_context io{1};
  runtime::CheckerOptions options;
  options.max_concurrent = args.max_concurrent;
  runtime::Checker checker(io, options);
  TargetSpec spec;
  spec.id = detached_name("closed-loop");
  const std::string host = args.host.find(':') != std::string::npos ? "[" + args.host + "]" : args.host;
  spec.url = *Url::parse(fmt::format("http://{}:{}{}", host, args.port, args.path));
  auto shared = std::make_shared<const TargetSpec>(spec);
  const auto t0 = SteadyClock::now();
  const auto from = t0 + std::chrono::milliseconds(static_cast<long>(args.warmup_seconds * 1000));
  const auto until = from + std::chrono::milliseconds(static_cast<long>(args.seconds * 1000));
  std::map<CheckReason, std::uint64_t> by_reason;
  std::vector<std::int64_t> latencies_us;
  double cpu_start = 0, cpu_end = 0;
  bool stopping = false;
  std::function<void(CheckOutcome)> next = [&](CheckOutcome o) {
    const auto t = SteadyClock::now();
    if (t >= from && t < until) {
      ++by_reason[o.transport == CheckReason::ok ? evaluate(*shared, o).reason : o.transport];
      latencies_us.push_back(o.latency.us());
    }
    if (!stopping) checker.run(shared, Duration::seconds(5), next);
  };
  for (int i = 0; i < args.closed_loop; ++i) checker.run(shared, Duration::seconds(5), next);
  asio::steady_timer warm(io, from), stop(io, until);
  double server_start = 0, server_end = 0;
  warm.async_wait([&](auto) {
    cpu_start = cpu_seconds();
    server_start = server_cpu_seconds(args.server_pids);
  });
  stop.async_wait([&](auto) {
    cpu_end = cpu_seconds();
    server_end = server_cpu_seconds(args.server_pids);
    stopping = true;
    checker.shutdown();
  });
  io.run();
  const double secs = args.seconds;
  const std::uint64_t ok = by_reason[CheckReason::ok];
  auto row = [](std::string_view k, const std::string& v) { fmt::print("  {:<28} {}\n", k, v); };
  fmt::print("check_bench closed loop{}: {} checks in flight, {} s measured after {} s warm-up\n",
             args.label.empty() ? "" : " [" + args.label + "]", args.closed_loop, secs, args.warmup_seconds);
  row("ok checks/s", fmt::format("{:.0f}", static_cast<double>(ok) / secs));
  for (const auto& [reason, n] : by_reason) {
    if (reason != CheckReason::ok) row(fmt::format("failed: {}", to_string(reason)), fmt::format("{}", n));
  }
  row("latency p50 / p99", fmt::format("{:.2f} / {:.2f} ms", percentile(latencies_us, 0.5) / 1e3,
                                       percentile(latencies_us, 0.99) / 1e3));
  const double cpu = cpu_end - cpu_start;
  row("CPU time (user+sys)", fmt::format("{:.2f} s = {:.0f}% of one core", cpu, 100.0 * cpu / secs));
  row("ok checks per CPU-second", fmt::format("{:.0f}", cpu > 0 ? static_cast<double>(ok) / cpu : 0.0));
  if (!args.server_pids.empty()) {
    const double server = server_end - server_start;
    row("server CPU time", fmt::format("{:.2f} s = {:.0f}% of one core", server, 100.0 * server / secs));
    row("ok checks per CPU-s, both", fmt::format("{:.0f}", cpu + server > 0 ? static_cast<double>(ok) / (cpu + server) : 0.0));
  }
  row("peak RSS", fmt::format("{:.1f} MiB", static_cast<double>(peak_rss_kib()) / 1024.0));
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  Args args;
  CLI::App app{"check_bench: HTTP check throughput of heck's check scheduler + Checker on one core"};
  app.add_option("--host", args.host, "target host");
  app.add_option("--port", args.port, "target port")->required();
  app.add_option("--path", args.path, "target path");
  app.add_option("--targets", args.targets, "number of targets")->check(CLI::Range(1, 1'000'000));
  app.add_option("--interval-ms", args.interval_ms, "check interval per target")->check(CLI::Range(2, 86'400'000));
  app.add_option("--timeout-ms", args.timeout_ms, "check timeout (below the interval)")->check(CLI::Range(1, 86'400'000));
  app.add_option("--seconds", args.seconds, "measured duration")->check(CLI::Range(0.1, 3600.0));
  app.add_option("--warmup", args.warmup_seconds, "seconds before measuring")->check(CLI::Range(0.0, 600.0));
  app.add_option("--max-concurrent", args.max_concurrent, "checker concurrency cap")->check(CLI::Range(1, 1'000'000));
  app.add_option("--label", args.label, "label printed with the results");
  app.add_option("--server-pids", args.server_pids, "PIDs of the server's workers (their CPU time is reported)")
      ->delimiter(',');
  app.add_option("--closed-loop", args.closed_loop,
                 "capacity mode: no scheduler, keep this many checks in flight back to back")
      ->check(CLI::Range(0, 100'000));
  CLI11_PARSE(app, argc, argv);
  if (args.closed_loop > 0) return closed_loop(args);
  if (args.timeout_ms >= args.interval_ms) {
    fmt::print(stderr, "--timeout-ms ({}) must be below --interval-ms ({})\n", args.timeout_ms, args.interval_ms);
    return 2;
  }

  std::vector<TargetSpec> targets;
  const std::string host = args.host.find(':') != std::string::npos ? "[" + args.host + "]" : args.host;
  for (int i = 0; i < args.targets; ++i) {
    TargetSpec spec;
    spec.id = detached_name(fmt::format("t{:06}", i));
    auto url = Url::parse(fmt::format("http://{}:{}{}", host, args.port, args.path));
    if (!url) {
      fmt::print(stderr, "bad target URL: {}\n", url.error());
      return 2;
    }
    spec.url = std::move(*url);
    spec.interval = Duration::milliseconds(args.interval_ms);
    spec.timeout = Duration::milliseconds(args.timeout_ms);
    targets.push_back(std::move(spec));
  }
  runtime::CheckerOptions options;
  options.max_concurrent = args.max_concurrent;

  asio::io_context io{1};
  Bench bench(io, args, options, std::move(targets));
  bench.start();
  // CPU is counted over the measured window only (warm-up excluded).
  asio::steady_timer warm(io, std::chrono::milliseconds(static_cast<long>(args.warmup_seconds * 1000)));
  warm.async_wait([&](auto) { bench.mark_cpu_start(); });
  io.run();
  bench.report();
  return 0;
}
