#include "runtime/dns_cache.h"

#include <algorithm>
#include <cassert>
#include <utility>

#include <boost/asio/error.hpp>
#include <boost/asio/post.hpp>
#include <fmt/format.h>

namespace heck::runtime {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;

DnsCache::DnsCache(asio::io_context& io, DnsCacheOptions options)
    : io_(io), options_(options), resolver_(io), alive_(std::make_shared<DnsCache*>(this)) {
  assert(options_.max_entries > 0);
  assert(options_.max_pending > 0);
  assert(options_.max_waiters > 0);
}

DnsCache::~DnsCache() {
  alive_.reset();
  resolver_.cancel();
}

const DnsCache::Answer* DnsCache::find(std::string_view host) {
  auto it = entries_.find(host);
  if (it == entries_.end() || Clock::now() >= it->second.expires) return nullptr;
  if (it->second.answer.ok()) {
    ++counters_.hits;
  } else {
    ++counters_.negative_hits;
  }
  return &it->second.answer;
}

void DnsCache::resolve(std::string_view host, Callback done) {
  assert(!host.empty());
  if (auto it = pending_.find(host); it != pending_.end()) {
    if (it->second.size() >= options_.max_waiters) {
      refuse(std::move(done), fmt::format("too many checks waiting for the lookup of '{}' (limit {})", host,
                                          options_.max_waiters));
      return;
    }
    ++counters_.coalesced;
    it->second.push_back(std::move(done));
    return;
  }
  if (pending_.size() >= options_.max_pending) {
    refuse(std::move(done), fmt::format("too many DNS lookups in flight (limit {})", options_.max_pending));
    return;
  }
  auto [it, inserted] = pending_.emplace(std::string(host), std::vector<Callback>{});
  assert(inserted);
  it->second.push_back(std::move(done));
  ++counters_.lookups;
  // address_configured: no IPv6 answers on a host without IPv6, and so on.
  resolver_.async_resolve(
      it->first, "", tcp::resolver::address_configured | tcp::resolver::numeric_service,
      [alive = std::weak_ptr<DnsCache*>(alive_), host = it->first](
          const boost::system::error_code& ec, const tcp::resolver::results_type& results) {
        if (auto self = alive.lock()) (*self)->on_resolved(host, ec, results);
      });
}

void DnsCache::cancel() { resolver_.cancel(); }

void DnsCache::refuse(Callback done, std::string why) {
  ++counters_.refused;
  asio::post(io_, [done = std::move(done), why = std::move(why)]() mutable { done(Answer(Error{std::move(why)})); });
}

void DnsCache::on_resolved(const std::string& host, const boost::system::error_code& ec,
                           const tcp::resolver::results_type& results) {
  auto it = pending_.find(host);
  if (it == pending_.end()) return;  // cannot happen: one lookup per pending name
  std::vector<Callback> waiters = std::move(it->second);
  pending_.erase(it);

  Answer answer(Error{});
  if (ec == asio::error::operation_aborted) {
    answer = Error{fmt::format("lookup of '{}' cancelled", host)};
  } else if (ec) {
    ++counters_.failures;
    answer = Error{fmt::format("'{}' did not resolve: {}", host, ec.message())};
    store(host, answer, options_.negative_ttl);
  } else {
    auto addresses = std::make_shared<std::vector<asio::ip::address>>();
    for (const auto& r : results) {
      const auto a = r.endpoint().address();
      if (std::find(addresses->begin(), addresses->end(), a) == addresses->end()) addresses->push_back(a);
    }
    if (addresses->empty()) {
      ++counters_.failures;
      answer = Error{fmt::format("'{}' resolved to no addresses", host)};
      store(host, answer, options_.negative_ttl);
    } else {
      answer = Addresses(std::move(addresses));
      store(host, answer, options_.ttl);
    }
  }
  // A waiter may call resolve() or find() again; `answer` is our own copy.
  for (auto& w : waiters) w(answer);
}

void DnsCache::store(const std::string& host, Answer answer, Duration ttl) {
  const auto expires = Clock::now() + std::chrono::nanoseconds(ttl.ns());
  if (auto it = entries_.find(host); it != entries_.end()) {
    it->second.answer = std::move(answer);
    it->second.expires = expires;
    order_.splice(order_.end(), order_, it->second.order);  // refreshed: now the newest
    return;
  }
  while (entries_.size() >= options_.max_entries) {
    entries_.erase(order_.front());
    order_.pop_front();
    ++counters_.evictions;
  }
  order_.push_back(host);
  entries_.emplace(host, Entry{std::move(answer), expires, std::prev(order_.end())});
}

}  // namespace heck::runtime
