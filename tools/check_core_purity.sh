#!/usr/bin/env bash
# Fails when core/ reaches for anything that would break determinism or purity:
# Boost, threads, clocks, files, the environment, std distributions or global
# randomness. core/ gets time and randomness only from its inputs.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
pattern='#include *<(boost/|thread>|mutex>|future>|atomic>|chrono>|random>|filesystem>|fstream>|iostream>|ctime>|sys/|unistd\.h|arpa/|netinet/)|random_device|std::thread|(system|steady|high_resolution)_clock|std::(uniform|normal|exponential|bernoulli|poisson|discrete)_[a-z_]*distribution|\brand\(|\bsrand\(|getenv\(|\btime\(|fopen\(|std::unordered_(map|set)<[^>]*>::iterator'
if hits=$(grep -rnE "$pattern" "$root/core"); then
  echo "core/ must stay pure and deterministic; found:" >&2
  echo "$hits" >&2
  exit 1
fi
echo "core/ is pure: no clocks, threads, Boost, files or global randomness"
