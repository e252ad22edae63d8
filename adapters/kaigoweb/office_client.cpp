#include "adapters/kaigoweb/office_client.hpp"

#include "adapters/kaigoweb/kaigoweb_codec.hpp"

#include <openssl/err.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>

#include <algorithm>
#include <array>
#include <cstdio>

namespace kakehashi::adapters::kaigoweb {
namespace {

http::ClientOptions client_options(const OfficeClientOptions& o) {
  http::ClientOptions c;
  c.host = o.host;
  c.port = o.port;
  c.tls.ca_file = o.ca_file;
  c.tls.cert_file = o.cert_file;
  c.tls.key_file = o.key_file;
  c.tls.allow_tls12 = false;  // TLS 1.3 only (PROTOCOL.md §1)
  c.tls.server_name = o.host;
  c.timeout = o.timeout;
  c.max_connections = o.max_connections;
  c.max_body_bytes = 48ull * 1024 * 1024;
  c.on_verify_failure = o.on_verify_failure;
  return c;
}

// POST /sent-items: its own small pool, never repeated by the HTTP layer (see never_repeat).
http::ClientOptions send_options(const OfficeClientOptions& o) {
  auto c = client_options(o);
  c.max_connections = std::max<std::size_t>(1, o.max_connections / 2);
  return c;
}

}  // namespace

std::string certificate_alert(const boost::system::error_code& ec) {
  if (!ec || ec.category() != boost::asio::error::get_ssl_category()) return {};
  const int reason = ERR_GET_REASON(static_cast<unsigned long>(ec.value()));
  // Received alerts are reported as SSL_AD_REASON_OFFSET + the alert's number.
  switch (reason - SSL_AD_REASON_OFFSET) {
    case SSL3_AD_BAD_CERTIFICATE:
      return "bad_certificate";
    case SSL3_AD_UNSUPPORTED_CERTIFICATE:
      return "unsupported_certificate";
    case SSL3_AD_CERTIFICATE_REVOKED:
      return "certificate_revoked";
    case SSL3_AD_CERTIFICATE_EXPIRED:
      return "certificate_expired";
    case SSL3_AD_CERTIFICATE_UNKNOWN:
      return "certificate_unknown";
    case TLS1_AD_UNKNOWN_CA:
      return "unknown_ca";
    case TLS13_AD_CERTIFICATE_REQUIRED:
      return "certificate_required";
    default:
      return {};
  }
}

std::string new_request_id() {
  std::array<unsigned char, 16> b{};
  if (RAND_bytes(b.data(), static_cast<int>(b.size())) != 1) {
    for (auto& x : b) x = static_cast<unsigned char>(std::rand());  // not a secret: an id
  }
  b[6] = static_cast<unsigned char>((b[6] & 0x0F) | 0x40);
  b[8] = static_cast<unsigned char>((b[8] & 0x3F) | 0x80);
  std::array<char, 37> out{};
  std::snprintf(out.data(), out.size(),
                "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", b[0], b[1],
                b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13], b[14],
                b[15]);
  return out.data();
}

OfficeClient::OfficeClient(boost::asio::any_io_executor executor, OfficeClientOptions options)
    : executor_(executor),
      options_(std::move(options)),
      client_(std::make_unique<http::HttpsClient>(executor, client_options(options_))),
      sends_(std::make_unique<http::HttpsClient>(executor, send_options(options_))),
      timer_(executor),
      tokens_(options_.rate_burst),
      refilled_(std::chrono::steady_clock::now()) {
  sends_->never_repeat();
}

OfficeClient::~OfficeClient() = default;

void OfficeClient::close() {
  closed_ = true;
  timer_.cancel();
  sends_->close();
  auto waiting = std::move(waiting_);
  waiting_.clear();
  for (auto& go : waiting) go();  // each sees closed_ and fails
  client_->close();
}

// Token bucket (PROTOCOL.md §7.5): calls wait their turn instead of drawing 429s.
void OfficeClient::admit(std::function<void()> go) {
  waiting_.push_back(std::move(go));
  pump();
}

void OfficeClient::pump() {
  const auto now = std::chrono::steady_clock::now();
  const double elapsed = std::chrono::duration<double>(now - refilled_).count();
  tokens_ = std::min<double>(options_.rate_burst, tokens_ + elapsed * options_.rate_per_second);
  refilled_ = now;
  while (!waiting_.empty() && tokens_ >= 1.0) {
    tokens_ -= 1.0;
    auto go = std::move(waiting_.front());
    waiting_.pop_front();
    go();
  }
  if (waiting_.empty() || timer_armed_) return;
  timer_armed_ = true;
  const auto wait = std::chrono::duration<double>((1.0 - tokens_) / options_.rate_per_second);
  timer_.expires_after(std::chrono::duration_cast<std::chrono::steady_clock::duration>(wait) +
                       std::chrono::milliseconds(1));
  timer_.async_wait([self = shared_from_this()](boost::system::error_code ec) {
    self->timer_armed_ = false;
    if (!ec && !self->closed_) self->pump();
  });
}

void OfficeClient::call(std::string method, std::string target, std::string body,
                        std::string bearer, Done done) {
  if (closed_) {
    CallOutcome out;
    out.ec = boost::asio::error::operation_aborted;
    boost::asio::post(executor_, [done = std::move(done), out = std::move(out)]() mutable {
      done(std::move(out));
    });
    return;
  }
  admit([this, self = shared_from_this(), method = std::move(method), target = std::move(target),
         body = std::move(body), bearer = std::move(bearer), done = std::move(done)]() mutable {
    if (closed_) {
      CallOutcome out;
      out.ec = boost::asio::error::operation_aborted;
      return done(std::move(out));
    }
    http::Request req;
    req.method = std::move(method);
    req.target = std::move(target);
    const std::string request_id = new_request_id();
    req.headers.emplace_back("x-request-id", request_id);
    req.headers.emplace_back("user-agent", "kakehashi/1");
    req.headers.emplace_back("accept", "application/json");
    if (!bearer.empty()) req.headers.emplace_back("authorization", "Bearer " + bearer);
    if (req.method != "GET") {
      req.headers.emplace_back("content-type", "application/json; charset=utf-8");
      req.body = std::move(body);
    }
    const bool send = req.method == "POST" && req.target == kSentItemsPath;
    (send ? sends_ : client_)
        ->request(std::move(req), [done = std::move(done), request_id](boost::system::error_code ec,
                                                                       http::Response resp) {
          CallOutcome out;
          out.request_id = request_id;
          out.ec = ec;
          if (!ec) {
            out.kind = CallOutcome::Kind::kAnswer;
            out.response = std::move(resp);
          } else if (auto alert = certificate_alert(ec); !alert.empty()) {
            out.kind = CallOutcome::Kind::kCertificateRefused;
            out.alert = std::move(alert);
          }
          done(std::move(out));
        });
  });
}

}  // namespace kakehashi::adapters::kaigoweb
