// The last lines of an agent's log file, indented and sanitised for the
// terminal (what `heck demo` prints when an agent dies).
#pragma once

#include <cstddef>
#include <string>

namespace heck::cli::demo {

// The last `n` lines of the file at `path` (read from its last 64 KiB), each
// as "    <line>\n", cut at 300 bytes; empty when it cannot be read.
std::string last_lines(const std::string& path, std::size_t n);

}  // namespace heck::cli::demo
