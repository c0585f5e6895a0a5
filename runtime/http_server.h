// A small, bounded HTTP/1.1 server (Beast) on an io_context, used by the
// agent's API (runtime/api_server.h) and by the demo targets
// (runtime/demo_targets.h). It knows nothing about routes: every request is
// handed to a Handler, which answers through a Reply callback, at once or
// later (a demo target that answers slowly, or never).
//
// Limits, all in HttpServerOptions:
//  - at most `max_connections` connections at once; a connection beyond that
//    gets a best-effort "503" and is closed at once;
//  - a request's header and body are bounded (431 / 413, then close);
//  - a whole request must arrive within `read_timeout` (slowloris), and an
//    idle keep-alive connection is closed after the same time;
//  - a response must be written within `write_timeout`;
//  - malformed HTTP gets a 400 and the connection is closed.
// HEAD: the handler sees the request as it came; the server never sends a
// body in a response to HEAD (it keeps Content-Length).
//
// Threading: everything on the io_context's thread. The server may be
// destroyed while connections are open (they share its state and close when
// stop() is called or their operations complete).
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>

#include "core/result.h"
#include "core/time.h"
#include "runtime/agent_config.h"

namespace heck::runtime {

struct HttpRequest {
  std::string method;  // as sent, e.g. "GET"
  std::string target;  // path and query, as sent
  std::string body;
  bool keep_alive = true;
  std::string authorization;  // the Authorization header, as sent ("" if none)
  // The Idempotency-Key header, as sent (nullopt if none; the API server
  // validates it). Sent twice: the values joined by ", " (invalid).
  std::optional<std::string> idempotency_key;
};

struct HttpResponse {
  unsigned status = 200;
  std::string content_type = "application/json";
  std::string body;
  std::string allow;  // the Allow header, when set (405)
  std::string www_authenticate;  // the WWW-Authenticate header, when set (401)
  bool replayed = false;  // "Idempotent-Replayed: true": the first answer to this Idempotency-Key
};

struct HttpServerOptions {
  std::size_t max_connections = 64;
  std::size_t max_header_bytes = 8 * 1024;
  std::size_t max_body_bytes = 64 * 1024;
  Duration read_timeout = Duration::seconds(10);
  Duration write_timeout = Duration::seconds(10);
  std::size_t max_requests_per_connection = 10'000;
  std::string server_header = "heck";
};

struct HttpServerCounters {
  std::uint64_t accepted = 0;
  std::uint64_t rejected = 0;       // over max_connections
  std::uint64_t accept_errors = 0;
  std::uint64_t requests = 0;       // handed to the handler
  std::uint64_t bad_requests = 0;   // malformed or over a limit
  std::uint64_t timeouts = 0;       // read or write took too long
  std::size_t open = 0;             // connections open now
};

class HttpServer {
 public:
  // Sends the response; call it once. Dropping it without calling closes the
  // connection.
  using Reply = std::function<void(HttpResponse)>;
  using Handler = std::function<void(const HttpRequest&, Reply)>;
  // Told every response's status code (including 400s the server makes).
  using Observer = std::function<void(unsigned status)>;

  HttpServer(boost::asio::io_context& io, Handler handler, HttpServerOptions options = {},
             Observer observer = {});
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // Binds and listens (does not accept yet). The error says where and why,
  // e.g. "cannot listen on 127.0.0.1:7700: Address already in use".
  Result<boost::asio::ip::tcp::endpoint> listen(const HostPort& address);
  // Starts accepting. REQUIRES: listen() succeeded.
  void start();
  // Stops accepting and closes every open connection. Idempotent.
  void stop();

  boost::asio::ip::tcp::endpoint local_endpoint() const;
  const HttpServerCounters& counters() const;

  struct State;  // implementation detail, shared with the connections

 private:
  std::shared_ptr<State> state_;
};

}  // namespace heck::runtime
