#pragma once
// An asynchronous HTTPS client with mutual TLS for the adapters: keep-alive connections to one
// peer (a small pool), a timeout per request, and errors as error_code, never exceptions.

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "adapters/common/http/asio.hpp"
#include "adapters/common/http/message.hpp"
#include "adapters/common/http/tls_config.hpp"

namespace kakehashi::adapters::http {

struct ClientOptions {
  std::string host = "127.0.0.1";
  std::uint16_t port = 0;
  TlsConfig tls;
  std::chrono::milliseconds timeout{15000};  // whole request: connect, handshake, write, read
  std::size_t max_connections = 4;           // kept alive and reused
  std::size_t max_body_bytes = 64ull * 1024 * 1024;
  // Called when the server's certificate fails verification (issue 14): the peer as
  // "host:port" and OpenSSL's reason (no certificate contents). On the client's executor.
  std::function<void(const std::string& peer, const std::string& reason)> on_verify_failure;
};

class HttpsClient {
 public:
  using Callback = std::function<void(boost::system::error_code, Response)>;

  HttpsClient(boost::asio::any_io_executor executor, ClientOptions options);
  ~HttpsClient();
  HttpsClient(const HttpsClient&) = delete;
  HttpsClient& operator=(const HttpsClient&) = delete;

  // Sends one request. `done` runs on the client's executor exactly once, with an error code
  // for transport failures (connect refused, TLS failure, timeout, reset, malformed HTTP) and
  // with the response otherwise, whatever its status. A timeout is
  // boost::asio::error::timed_out; a body over max_body_bytes is beast::http::error::body_limit.
  // An idle connection the server has closed (readable before use) is not reused. Only a
  // request that fails on a reused connection before any response byte (the server closed it
  // while idle) is retried, once, on a fresh connection.
  void request(Request request, Callback done);
  // Turns that one repeat off for every later request once the request was written whole: for
  // requests that are not idempotent where the server may have acted before closing (the Kaigo
  // WEB send, which has no idempotency key), so that the caller sees the failure and decides.
  // A request whose write failed never reached the server whole and is still retried.
  void never_repeat();
  // Closes idle connections and fails queued requests with operation_aborted. Requests in
  // flight finish, and their connections are then closed; later requests open new ones.
  // The destructor does the same and also ends requests in flight with operation_aborted.
  void close();

 private:
  struct Impl;
  std::shared_ptr<Impl> impl_;
};

}  // namespace kakehashi::adapters::http
