// The simulator's trace: JSON lines, one per event, written with fmt into a
// buffer that is flushed in large blocks.
//
//   {"t":1234,"node":"n1","local":1300,"ev":"status_change","target":"t1","from":"healthy","to":"unhealthy"}
//
// Every line has "t" (true time, ns) and "ev"; lines about a node also have
// "node" and "local" (the node's clock, ns). Event-specific fields are listed
// in sim/cluster_world.cpp where each line is written. Only deterministic
// values are written (no wall clock, no addresses), so the same scenario and seed give
// byte-identical traces.
//
// Tracing off is a null TraceWriter pointer in the world: one predictable
// branch per event, no formatting. A TraceSink takes the blocks instead of a
// file (e.g. a hash of the whole trace, sim/determinism.h).
#pragma once

#include <cstdio>
#include <iterator>
#include <string>
#include <string_view>

#include <fmt/format.h>

namespace heck::sim {

// Writes `s` as a JSON string body (without quotes), escaping as needed.
struct JsonEscaped {
  std::string_view s;
};

// Where a TraceWriter's blocks go when they go neither to a file nor to memory.
class TraceSink {
 public:
  virtual ~TraceSink() = default;
  virtual void write(std::string_view block) = 0;
};

class TraceWriter {
 public:
  static constexpr std::size_t kFlushBytes = std::size_t{1} << 20;
  static constexpr std::size_t kMaxMemoryBytes = std::size_t{256} << 20;

  // Writes to `out` (not owned; flushed on destruction). With nullptr the
  // trace is kept in memory, up to kMaxMemoryBytes (then truncated()).
  explicit TraceWriter(std::FILE* out = nullptr) : out_(out) {}
  // Hands every block to `sink` (not owned; the rest is handed on flush()).
  explicit TraceWriter(TraceSink& sink) : out_(nullptr), sink_(&sink) {}
  ~TraceWriter() { flush(); }
  TraceWriter(const TraceWriter&) = delete;
  TraceWriter& operator=(const TraceWriter&) = delete;

  // Appends one line (a '\n' is added).
  template <typename... Args>
  void line(fmt::format_string<Args...> f, Args&&... args) {
    if (truncated_) return;
    fmt::format_to(std::back_inserter(buf_), f, std::forward<Args>(args)...);
    buf_.push_back('\n');
    ++lines_;
    if (streams() ? buf_.size() >= kFlushBytes : buf_.size() > kMaxMemoryBytes) spill();
  }

  // Writes buffered lines to the file or sink (no-op in memory mode). False
  // after a write error.
  bool flush();

  std::size_t lines() const { return lines_; }
  bool ok() const { return ok_; }
  bool truncated() const { return truncated_; }
  // In memory mode: everything written so far.
  std::string_view memory() const { return {buf_.data(), buf_.size()}; }

 private:
  bool streams() const { return out_ != nullptr || sink_ != nullptr; }
  void spill();

  std::FILE* out_;
  TraceSink* sink_ = nullptr;
  fmt::memory_buffer buf_;
  std::size_t lines_ = 0;
  bool ok_ = true;
  bool truncated_ = false;
};

}  // namespace heck::sim

template <>
struct fmt::formatter<heck::sim::JsonEscaped> : fmt::formatter<std::string_view> {
  template <typename Ctx>
  auto format(const heck::sim::JsonEscaped& e, Ctx& ctx) const {
    auto out = ctx.out();
    for (char c : e.s) {
      const auto u = static_cast<unsigned char>(c);
      if (c == '"' || c == '\\') {
        *out++ = '\\';
        *out++ = c;
      } else if (u < 0x20) {
        out = fmt::format_to(out, "\\u{:04x}", u);
      } else {
        *out++ = c;
      }
    }
    return out;
  }
};
