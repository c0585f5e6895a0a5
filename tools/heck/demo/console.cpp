#include "tools/heck/demo/console.h"

#include <cstdio>

#include <CLI/CLI.hpp>

namespace heck::cli::demo {

[[noreturn]] void fail(int code, std::string_view message) {
  std::fprintf(stderr, "heck demo: %.*s\n", static_cast<int>(message.size()), message.data());
  throw CLI::RuntimeError(code);
}

void say(std::string_view text) {
  std::fwrite(text.data(), 1, text.size(), stdout);
  std::fflush(stdout);
}

}  // namespace heck::cli::demo
