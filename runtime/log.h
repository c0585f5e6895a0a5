// Log lines of the runtime: one line per event on stderr, prefixed with the
// RFC 3339 UTC time, e.g.
//   2026-11-21T12:00:00Z target web unknown -> healthy (ok (status 200))
// Each line is written with a single write so lines from one process never
// interleave. Log text that came from the network is sanitised first (control
// characters replaced), so a target cannot forge log lines.
#pragma once

#include <cstdio>
#include <functional>
#include <string>
#include <string_view>

#include "core/time.h"
#include "runtime/clock.h"

namespace heck::runtime {

// Receives one complete line, without the trailing line feed.
using LogSink = std::function<void(std::string_view line)>;

inline void write_stderr_line(std::string_view line) {
  std::string buf;
  buf.reserve(line.size() + 1);
  buf.append(line);
  buf.push_back('\n');
  std::fwrite(buf.data(), 1, buf.size(), stderr);
  std::fflush(stderr);
}

// Replaces control characters (including CR/LF) with '?' and caps the length.
inline std::string sanitize_for_log(std::string_view text, std::size_t max_bytes = 512) {
  std::string out;
  out.reserve(std::min(text.size(), max_bytes));
  for (char c : text.substr(0, max_bytes)) {
    const auto u = static_cast<unsigned char>(c);
    out.push_back(u < 0x20 || u == 0x7f ? '?' : c);
  }
  if (text.size() > max_bytes) out += "...";
  return out;
}

inline std::string log_line(Instant now, std::string_view text) {
  std::string line = format_rfc3339(now);
  line.push_back(' ');
  line.append(text);
  return line;
}

}  // namespace heck::runtime
