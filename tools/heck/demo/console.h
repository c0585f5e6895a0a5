// What `heck demo` prints: progress on stdout, errors as "heck demo: ..."
// on stderr with an exit code (through CLI11).
#pragma once

#include <string_view>

namespace heck::cli::demo {

// "heck demo: <message>" on stderr, then exit with `code` (through CLI11).
[[noreturn]] void fail(int code, std::string_view message);
// Writes `text` to stdout and flushes.
void say(std::string_view text);

}  // namespace heck::cli::demo
