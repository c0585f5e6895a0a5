#include "tools/heck/demo/log_tail.h"

#include <cstdio>
#include <vector>

#include "runtime/log.h"

namespace heck::cli::demo {

using runtime::sanitize_for_log;

std::string last_lines(const std::string& path, std::size_t n) {
  FILE* f = std::fopen(path.c_str(), "rb");
  if (!f) return {};
  std::string text;
  char buf[4096];
  std::size_t got = 0;
  while ((got = std::fread(buf, 1, sizeof buf, f)) > 0) {
    text.append(buf, got);
    if (text.size() > 64 * 1024) text.erase(0, text.size() - 64 * 1024);
  }
  std::fclose(f);
  std::vector<std::string> lines;
  std::size_t start = 0;
  while (start < text.size()) {
    const auto nl = text.find('\n', start);
    lines.push_back(text.substr(start, nl == std::string::npos ? std::string::npos : nl - start));
    if (nl == std::string::npos) break;
    start = nl + 1;
  }
  std::string out;
  for (std::size_t i = lines.size() > n ? lines.size() - n : 0; i < lines.size(); ++i) {
    out += "    " + sanitize_for_log(lines[i], 300) + "\n";
  }
  return out;
}

}  // namespace heck::cli::demo
