// The HTTP side of the etcd store: etcd v3's JSON gateway over Boost.Beast
// (HTTP/1.1, no gRPC). Two kinds of exchange, both asynchronous on the
// agent's io_context:
// - call(): one POST with a JSON body, answered once (EtcdReply): a fresh
//   connection per call, the whole exchange bounded by call_timeout. A
//   connect that fails at once (refused) tries the next endpoint; any failure
//   moves the next call to the next endpoint, so a dead member is left
//   behind. An HTTP status other than 200 is a failure with etcd's message.
//   An answer may be up to 512 MiB (one range of the whole prefix).
// - the watch: one long POST to /v3/watch whose chunked answer is a stream
//   of newline-separated JSON messages, each handed to on_message. No
//   timeout once open (a quiet stream is normal); a stream that ends or
//   breaks is reported once to on_closed. Opening another closes the first.
// The callbacks run on the io_context; none runs after stop().
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <boost/asio/io_context.hpp>

#include "core/result.h"
#include "core/store/etcd_store.h"
#include "core/time.h"

namespace heck::runtime {

struct EtcdEndpoint {
  std::string host;
  std::string port;
  std::string to_string() const { return host + ":" + port; }
};

// "http://127.0.0.1:2379[,http://...]" -> endpoints; only http:// with a
// host and a port, no path.
Result<std::vector<EtcdEndpoint>> parse_etcd_endpoints(std::string_view text);

class EtcdClient {
 public:
  EtcdClient(boost::asio::io_context& io, std::vector<EtcdEndpoint> endpoints,
             Duration call_timeout = Duration::seconds(2));
  ~EtcdClient();
  EtcdClient(const EtcdClient&) = delete;
  EtcdClient& operator=(const EtcdClient&) = delete;

  void call(std::string path, std::string body, std::function<void(store::EtcdReply)> done);
  void open_watch(std::string body, std::function<void(std::string_view)> on_message,
                  std::function<void(std::string)> on_closed);
  void close_watch();
  // Cancels everything; no callback runs afterwards.
  void stop();

  const EtcdEndpoint& current_endpoint() const { return endpoints_[current_ % endpoints_.size()]; }

 private:
  struct Call;
  struct Watch;
  void attempt(std::shared_ptr<Call> call);
  void failed_on(std::size_t endpoint);

  boost::asio::io_context& io_;
  std::vector<EtcdEndpoint> endpoints_;
  Duration call_timeout_;
  std::size_t current_ = 0;
  std::shared_ptr<bool> alive_;
  std::shared_ptr<Watch> watch_;
};

}  // namespace heck::runtime
