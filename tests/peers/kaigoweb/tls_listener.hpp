#pragma once
// The Kaigo WEB stand-in's HTTPS transport (PROTOCOL.md §1, §9): TLS 1.3 only, a client
// certificate of the service's CA required in the handshake, the office (subject serialNumber) and
// certificate fingerprint of each connection, concurrent connections counted per office, and the
// transport faults a handler asks for per answer (cut the answer after processing it, close before
// answering, delay). Like adapters/common/http/https_server, but with those hooks, which the
// shared server has no place for: one strand per connection; handlers run on a worker thread so
// that SQLite never blocks the network thread.

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "adapters/common/http/asio.hpp"
#include "adapters/common/http/message.hpp"
#include "adapters/common/http/tls_config.hpp"

namespace kakehashi::standin::kaigoweb {

// Who is on the other end of one connection (from its verified client certificate).
struct Connection {
  std::string office_no;           // subject serialNumber ("" when the certificate has none)
  std::string cert_sha256;         // hex SHA-256 of the DER certificate
  std::size_t office_connections;  // open connections of this office, this one included
};

// What to do with one answer besides sending it.
enum class Delivery {
  kNormal,
  kCutAfter,         // write half of the answer, then close (the request was processed)
  kCloseUnanswered,  // close without an answer (the request was not processed)
  kCloseAfter,       // send the whole answer, then close
};

struct Reply {
  adapters::http::Response response;
  Delivery delivery = Delivery::kNormal;
  int delay_ms = 0;
};

struct ListenerOptions {
  std::size_t max_body_bytes = 32ull * 1024 * 1024;
  std::chrono::milliseconds read_timeout{30000};
  // The answer to a body over max_body_bytes (sent, then the connection is closed).
  std::function<adapters::http::Response()> body_too_large;
  // Where connection failures go (not the harmless ones); empty: std::clog. Never payloads.
  std::function<void(const std::string&)> on_error;
};

struct ListenerFaults {
  std::atomic<bool> refuse_tls{false};  // close each new connection before the handshake
};

class TlsListener {
 public:
  // Called on a worker thread for each request; returns what to send.
  using Handler = std::function<Reply(const adapters::http::Request&, const Connection&)>;

  TlsListener(boost::asio::io_context& io, const adapters::http::TlsConfig& tls, Handler handler,
              ListenerOptions options = {});
  ~TlsListener();
  TlsListener(const TlsListener&) = delete;
  TlsListener& operator=(const TlsListener&) = delete;

  std::uint16_t listen(const std::string& address = "127.0.0.1", std::uint16_t port = 0);
  void stop();  // stops accepting and closes open connections; waits for the worker
  std::uint16_t port() const { return port_; }
  ListenerFaults& faults() { return *faults_; }
  // TCP connections accepted so far (tests: "no HTTP call" after a refused handshake).
  std::uint64_t accepted_connections() const;
  // Requests read so far (a refused handshake reads none).
  std::uint64_t requests_read() const;

 private:
  struct Impl;
  std::shared_ptr<Impl> impl_;
  std::shared_ptr<ListenerFaults> faults_;
  std::uint16_t port_ = 0;
};

// The subject serialNumber of a DER certificate ("" when absent or unreadable).
std::string office_of_certificate(const std::string& der);
std::string sha256_hex(std::string_view bytes);

}  // namespace kakehashi::standin::kaigoweb
