// Writes valid example messages as seed corpora: fuzz_seeds DIR writes
// DIR/<target>/seed-N for every fuzz target, so the fuzzers start from real
// message shapes instead of from nothing.
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/wire/envelope.h"

namespace {

using heck::Bytes;
using nlohmann::json;
namespace wire = heck::wire;

void write(const std::filesystem::path& dir, const std::vector<Bytes>& seeds) {
  std::filesystem::create_directories(dir);
  int i = 0;
  for (const auto& s : seeds) {
    std::ofstream f(dir / ("seed-" + std::to_string(i++)), std::ios::binary);
    f.write(reinterpret_cast<const char*>(s.data()), static_cast<std::streamsize>(s.size()));
  }
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: fuzz_seeds DIR\n");
    return 2;
  }
  const std::filesystem::path root = argv[1];
  wire::Header h{"n1", "127.0.0.1:7946"};
  std::vector<Bytes> envelopes = {
      wire::encode(h, {}),
      wire::encode(h, {wire::encode_part(wire::PartType::ping, json::array({1, "n2"}))}),
      wire::encode(h, {wire::encode_part(wire::PartType::alive, json::array({"n3", "127.0.0.1:7947", 4})),
                       wire::encode_part(wire::PartType::delta, json::object({{"r", json::array()}}))}),
  };
  write(root / "envelope_fuzz", envelopes);
  return 0;
}
