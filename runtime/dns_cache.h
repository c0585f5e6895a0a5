// An asynchronous, bounded DNS cache for the checker: host name -> addresses.
//
// Contract:
//  - find() answers from the cache only, synchronously: a fresh positive
//    entry (its addresses), a fresh negative entry (the lookup's error), or
//    nothing (absent or expired).
//  - resolve() looks a name up with the system resolver (asio's async_resolve,
//    which runs getaddrinfo off the io_context's thread) and calls `done`
//    exactly once, on the io_context's thread and never from inside resolve().
//    Concurrent resolve() calls for one name are coalesced: one lookup, many
//    waiters. Answers are cached for `ttl`, failures for `negative_ttl` (so a
//    dead name is not hammered); a cancelled lookup is not cached.
//  - At most `max_entries` names are kept (the oldest insertion is evicted),
//    at most `max_pending` distinct names are looked up at once, and at most
//    `max_waiters` calls wait on one lookup; beyond that, resolve() fails fast
//    (through a posted callback) with an error that says so.
//  - IP literals are not special-cased here (they resolve numerically through
//    getaddrinfo); the checker bypasses the cache for them.
//  - Destroying the cache while lookups run is safe: their waiters are dropped
//    without being called (the owner has already answered its own callers).
//
// The cache reads std::chrono::steady_clock for expiry (runtime/ may read
// clocks; core/ may not).
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <list>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/ip/tcp.hpp>

#include "core/result.h"
#include "core/time.h"

namespace heck::runtime {

struct DnsCacheOptions {
  Duration ttl = Duration::seconds(30);
  Duration negative_ttl = Duration::seconds(5);
  std::size_t max_entries = 4096;
  std::size_t max_pending = 256;
  std::size_t max_waiters = 4096;  // resolve() calls waiting on one running lookup
};

struct DnsCacheCounters {
  std::uint64_t hits = 0;            // fresh positive answers from find()
  std::uint64_t negative_hits = 0;   // fresh cached failures from find()
  std::uint64_t lookups = 0;         // getaddrinfo calls started
  std::uint64_t coalesced = 0;       // resolve() calls that joined a running lookup
  std::uint64_t failures = 0;        // lookups that failed (not counting cancels)
  std::uint64_t evictions = 0;       // entries dropped to stay within max_entries
  std::uint64_t refused = 0;         // resolve() calls refused by max_pending or max_waiters
};

class DnsCache {
 public:
  using Addresses = std::shared_ptr<const std::vector<boost::asio::ip::address>>;
  // A resolved name: a non-empty address list, or an error message.
  using Answer = Result<Addresses>;
  using Callback = std::function<void(const Answer&)>;

  DnsCache(boost::asio::io_context& io, DnsCacheOptions options = {});
  ~DnsCache();
  DnsCache(const DnsCache&) = delete;
  DnsCache& operator=(const DnsCache&) = delete;

  // A fresh cached answer for `host`, or nullptr. The pointer is valid until
  // the next call of any non-const member.
  const Answer* find(std::string_view host);

  // Resolves `host` (see the contract). REQUIRES: !host.empty().
  void resolve(std::string_view host, Callback done);

  // Cancels running lookups: their waiters are called with an error.
  void cancel();

  std::size_t size() const { return entries_.size(); }
  std::size_t pending() const { return pending_.size(); }
  const DnsCacheCounters& counters() const { return counters_; }
  const DnsCacheOptions& options() const { return options_; }

 private:
  using Clock = std::chrono::steady_clock;
  struct Entry {
    Answer answer;
    Clock::time_point expires;
    std::list<std::string>::iterator order;  // position in order_
  };

  void on_resolved(const std::string& host, const boost::system::error_code& ec,
                   const boost::asio::ip::tcp::resolver::results_type& results);
  void store(const std::string& host, Answer answer, Duration ttl);
  void refuse(Callback done, std::string why);

  boost::asio::io_context& io_;
  DnsCacheOptions options_;
  boost::asio::ip::tcp::resolver resolver_;
  std::map<std::string, Entry, std::less<>> entries_;
  std::list<std::string> order_;  // oldest insertion first
  std::map<std::string, std::vector<Callback>, std::less<>> pending_;
  std::shared_ptr<DnsCache*> alive_;  // handlers hold a weak_ptr: a destroyed cache is never touched
  DnsCacheCounters counters_;
};

}  // namespace heck::runtime
