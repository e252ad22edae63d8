#pragma once
// One office's HTTPS connection to the Kaigo WEB Service (PROTOCOL.md §1): TLS 1.3 only, the
// office's client certificate and key, the service's CA and host-name checks (never disabled),
// the headers every call carries, and a client-side token bucket (§7.5). A TLS alert about the
// client certificate received before the first answer byte is reported as a certificate refusal,
// apart from ordinary transport faults. Never logs or returns a header or body it was given.

#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <string>

#include "adapters/common/http/https_client.hpp"

namespace kakehashi::adapters::kaigoweb {

struct CallOutcome {
  enum class Kind {
    kAnswer,              // an HTTP answer (any status): see `response`
    kTransport,           // connect refused, reset, timeout, cut answer, TLS failure not below
    kCertificateRefused,  // the service refused the office's certificate in the handshake
  };
  Kind kind = Kind::kTransport;
  boost::system::error_code ec;
  std::string alert;  // kCertificateRefused: the TLS alert's name (unknown_ca, ...)
  http::Response response;
  std::string request_id;  // the X-Request-Id sent
};

struct OfficeClientOptions {
  std::string host;
  std::uint16_t port = 443;
  std::string ca_file;
  std::string cert_file;  // the office's certificate and key, as files under credentials_dir
  std::string key_file;
  std::chrono::milliseconds timeout{20'000};
  std::size_t max_connections = 4;
  double rate_per_second = 8;
  int rate_burst = 16;
  std::function<void(const std::string& peer, const std::string& reason)> on_verify_failure;
};

// The TLS alert name of a received certificate alert in `ec`, or "" when `ec` is not one.
std::string certificate_alert(const boost::system::error_code& ec);

// Held by shared_ptr: pending timers and calls keep it alive.
class OfficeClient : public std::enable_shared_from_this<OfficeClient> {
 public:
  using Done = std::function<void(CallOutcome)>;
  // Throws std::runtime_error naming the file when the certificate, key or CA cannot be loaded.
  OfficeClient(boost::asio::any_io_executor executor, OfficeClientOptions options);
  ~OfficeClient();
  OfficeClient(const OfficeClient&) = delete;
  OfficeClient& operator=(const OfficeClient&) = delete;

  // `bearer` empty: no Authorization header. `done` runs on the executor, exactly once.
  void call(std::string method, std::string target, std::string body, std::string bearer,
            Done done);
  // Fails calls still waiting for the bucket (operation_aborted) and closes idle connections.
  void close();

 private:
  void pump();
  void admit(std::function<void()> go);

  boost::asio::any_io_executor executor_;
  OfficeClientOptions options_;
  std::unique_ptr<http::HttpsClient> client_;
  // POST /sent-items alone: never repeated by the HTTP layer on a stale connection (the service
  // may have stored the item; §6 decides, not the transport).
  std::unique_ptr<http::HttpsClient> sends_;
  boost::asio::steady_timer timer_;
  double tokens_;
  std::chrono::steady_clock::time_point refilled_;
  std::deque<std::function<void()>> waiting_;
  bool timer_armed_ = false;
  bool closed_ = false;
};

std::string new_request_id();  // UUID v4

}  // namespace kakehashi::adapters::kaigoweb
