// The DNS cache, with names that resolve without a network: numeric
// addresses (getaddrinfo answers them itself), "localhost" (/etc/hosts), and
// names under .invalid, which never resolve (RFC 6761).
#include "runtime/dns_cache.h"

#include <algorithm>
#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace heck::runtime {
namespace {

using namespace std::chrono_literals;
namespace asio = boost::asio;

struct DnsHarness {
  explicit DnsHarness(DnsCacheOptions options = {}) : cache(io, options) {}

  // Resolves `host` and runs the io_context until the answer (at most 15 s).
  std::optional<DnsCache::Answer> resolve(const std::string& host) {
    std::optional<DnsCache::Answer> out;
    cache.resolve(host, [&](const DnsCache::Answer& a) { out = a; });
    run_until([&] { return out.has_value(); });
    return out;
  }

  template <typename Pred>
  bool run_until(Pred done) {
    const auto end = std::chrono::steady_clock::now() + 15s;
    while (!done() && std::chrono::steady_clock::now() < end) {
      if (io.stopped()) io.restart();
      io.run_one_for(20ms);
    }
    return done();
  }

  asio::io_context io{1};
  DnsCache cache;
};

TEST(DnsCache, ResolvesAndCaches) {
  DnsHarness h;
  EXPECT_EQ(h.cache.find("127.0.0.7"), nullptr);
  auto a = h.resolve("127.0.0.7");
  ASSERT_TRUE(a && a->ok()) << (a ? a->error() : "no answer");
  ASSERT_EQ(a->value()->size(), 1u);
  EXPECT_EQ(a->value()->front(), asio::ip::make_address("127.0.0.7"));
  const DnsCache::Answer* cached = h.cache.find("127.0.0.7");
  ASSERT_NE(cached, nullptr);
  EXPECT_TRUE(cached->ok());
  EXPECT_EQ(h.cache.counters().lookups, 1u);
  EXPECT_EQ(h.cache.counters().hits, 1u);
}

TEST(DnsCache, LocalhostResolves) {
  DnsHarness h;
  auto a = h.resolve("localhost");
  ASSERT_TRUE(a && a->ok()) << (a ? a->error() : "no answer");
  EXPECT_FALSE(a->value()->empty());
  for (const auto& addr : *a->value()) EXPECT_TRUE(addr.is_loopback()) << addr.to_string();
}

TEST(DnsCache, ConcurrentLookupsOfOneNameAreCoalesced) {
  DnsHarness h;
  std::vector<DnsCache::Answer> answers;
  for (int i = 0; i < 5; ++i) h.cache.resolve("localhost", [&](const DnsCache::Answer& a) { answers.push_back(a); });
  EXPECT_TRUE(answers.empty()) << "never called from inside resolve()";
  EXPECT_EQ(h.cache.pending(), 1u);
  ASSERT_TRUE(h.run_until([&] { return answers.size() == 5; }));
  for (const auto& a : answers) EXPECT_TRUE(a.ok());
  EXPECT_EQ(h.cache.counters().lookups, 1u);
  EXPECT_EQ(h.cache.counters().coalesced, 4u);
  EXPECT_EQ(h.cache.pending(), 0u);
}

TEST(DnsCache, FailuresAreCachedForTheNegativeTtl) {
  DnsHarness h;
  auto a = h.resolve("nothing-here.heck-test.invalid");
  ASSERT_TRUE(a.has_value());
  ASSERT_FALSE(a->ok());
  EXPECT_THAT(a->error(), ::testing::HasSubstr("nothing-here.heck-test.invalid"));
  const DnsCache::Answer* cached = h.cache.find("nothing-here.heck-test.invalid");
  ASSERT_NE(cached, nullptr);
  EXPECT_FALSE(cached->ok());
  EXPECT_EQ(h.cache.counters().negative_hits, 1u);
  EXPECT_EQ(h.cache.counters().failures, 1u);
}

TEST(DnsCache, ExpiredEntriesAreMisses) {
  DnsCacheOptions options;
  options.ttl = Duration::zero();
  options.negative_ttl = Duration::zero();
  DnsHarness h(options);
  ASSERT_TRUE(h.resolve("127.0.0.8")->ok());
  EXPECT_EQ(h.cache.find("127.0.0.8"), nullptr);
  ASSERT_TRUE(h.resolve("127.0.0.8")->ok());
  EXPECT_EQ(h.cache.counters().lookups, 2u);
  EXPECT_EQ(h.cache.size(), 1u) << "a refresh replaces the entry";
}

TEST(DnsCache, SizeIsBoundedAndTheOldestIsEvicted) {
  DnsCacheOptions options;
  options.max_entries = 2;
  DnsHarness h(options);
  for (const char* host : {"127.0.0.1", "127.0.0.2", "127.0.0.3"}) ASSERT_TRUE(h.resolve(host)->ok()) << host;
  EXPECT_EQ(h.cache.size(), 2u);
  EXPECT_EQ(h.cache.find("127.0.0.1"), nullptr) << "the oldest went";
  EXPECT_NE(h.cache.find("127.0.0.2"), nullptr);
  EXPECT_NE(h.cache.find("127.0.0.3"), nullptr);
  EXPECT_EQ(h.cache.counters().evictions, 1u);
}

TEST(DnsCache, TooManyPendingLookupsFailFast) {
  DnsCacheOptions options;
  options.max_pending = 1;
  DnsHarness h(options);
  std::vector<DnsCache::Answer> answers;
  h.cache.resolve("127.0.0.1", [&](const DnsCache::Answer& a) { answers.push_back(a); });
  h.cache.resolve("127.0.0.2", [&](const DnsCache::Answer& a) { answers.push_back(a); });
  ASSERT_TRUE(h.run_until([&] { return answers.size() == 2; }));
  EXPECT_EQ(h.cache.counters().refused, 1u);
  EXPECT_EQ(std::count_if(answers.begin(), answers.end(), [](const auto& a) { return !a.ok(); }), 1);
}

TEST(DnsCache, TooManyWaitersOnOneLookupFailFast) {
  DnsCacheOptions options;
  options.max_waiters = 2;
  DnsHarness h(options);
  std::vector<DnsCache::Answer> answers;
  for (int i = 0; i < 3; ++i) h.cache.resolve("localhost", [&](const DnsCache::Answer& a) { answers.push_back(a); });
  ASSERT_TRUE(h.run_until([&] { return answers.size() == 3; }));
  EXPECT_EQ(h.cache.counters().refused, 1u);
  EXPECT_EQ(h.cache.counters().lookups, 1u);
  const auto refused = std::find_if(answers.begin(), answers.end(), [](const auto& a) { return !a.ok(); });
  ASSERT_NE(refused, answers.end());
  EXPECT_THAT(refused->error(), ::testing::HasSubstr("waiting"));
  EXPECT_EQ(std::count_if(answers.begin(), answers.end(), [](const auto& a) { return a.ok(); }), 2);
}

TEST(DnsCache, DestroyingTheCacheWithLookupsRunningIsSafe) {
  asio::io_context io{1};
  int calls = 0;
  {
    DnsCache cache(io);
    cache.resolve("localhost", [&](const DnsCache::Answer&) { ++calls; });
  }
  io.run_for(10s);
  EXPECT_TRUE(io.stopped());
  EXPECT_EQ(calls, 0) << "waiters of a destroyed cache are dropped";
}

}  // namespace
}  // namespace heck::runtime
