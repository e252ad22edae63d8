#pragma once
// An HTTPS server with mutual TLS on loopback, for the stand-in networks and the gateway's own
// listeners: one strand per connection, keep-alive, body and header limits, timeouts, and fault
// switches so that clients' error paths can be tested for real.

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "adapters/common/http/asio.hpp"
#include "adapters/common/http/message.hpp"
#include "adapters/common/http/tls_config.hpp"

namespace kakehashi::adapters::http {

// Called for each request; must call `respond` exactly once (from any thread).
using Handler = std::function<void(Request request, std::function<void(Response)> respond)>;

struct ServerOptions {
  std::size_t max_body_bytes = 64ull * 1024 * 1024;
  std::chrono::milliseconds read_timeout{30000};
  // Added: where connection failures go (not the harmless ones: eof, truncation, aborts).
  // Empty: one line on std::clog. Called from the connection's strand; must be thread-safe.
  std::function<void(const std::string& what)> on_error;
  // Added: limit on the request line and headers together.
  std::size_t max_header_bytes = 64 * 1024;
  // Open connections at most (0: no cap); one more is closed at once, before the handshake.
  std::size_t max_connections = 0;
  // When set: called with the client certificate (DER) after the handshake; false closes the
  // connection before anything is read (e.g. http::peer_matches against a pin).
  std::function<bool(const std::string& peer_cert_der)> accept_peer;
  // Where refusals by the two rules above and by max_body_bytes go (one line each, no payload).
  // Empty: reported like errors. Called from the connection's strand; must be thread-safe.
  std::function<void(const std::string& what)> on_refused;
};

// Faults a test can switch on at run time (all off by default). Thread-safe.
struct ServerFaults {
  std::atomic<bool> refuse_tls{false};  // close each new connection before the handshake
  std::atomic<int> drop_responses{0};   // the next N responses: send half, then close
  std::atomic<int> delay_ms{0};         // wait this long before each response
};

class HttpsServer {
 public:
  HttpsServer(boost::asio::io_context& io, const TlsConfig& tls, Handler handler,
              ServerOptions options = {});
  ~HttpsServer();
  HttpsServer(const HttpsServer&) = delete;
  HttpsServer& operator=(const HttpsServer&) = delete;

  // Binds and starts accepting; returns the port (pass 0 for any free port). Throws on failure.
  std::uint16_t listen(const std::string& address = "127.0.0.1", std::uint16_t port = 0);
  // Stops accepting and closes open connections. Asynchronous: the closes run on the
  // io_context; requests in flight see their connection closed and are never answered.
  void stop();

  ServerFaults& faults() { return *faults_; }
  // Added: TCP connections accepted so far (tests check keep-alive reuse with it). Thread-safe.
  std::uint64_t accepted_connections() const;
  // Added: connections open now (their sessions not yet ended). Thread-safe.
  std::size_t open_connections() const;

 private:
  struct Impl;
  std::shared_ptr<Impl> impl_;
  std::shared_ptr<ServerFaults> faults_;
};

}  // namespace kakehashi::adapters::http
