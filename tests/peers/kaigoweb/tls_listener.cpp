#include "tests/peers/kaigoweb/tls_listener.hpp"

#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <algorithm>
#include <array>
#include <boost/asio/post.hpp>
#include <boost/asio/thread_pool.hpp>
#include <cctype>
#include <iostream>
#include <map>
#include <mutex>
#include <optional>
#include <sstream>
#include <vector>

namespace kakehashi::standin::kaigoweb {
namespace {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
namespace ssl = boost::asio::ssl;
using tcp = net::ip::tcp;
using boost::system::error_code;

constexpr std::chrono::seconds kShutdownTimeout{2};

std::string lower(beast::string_view s) {
  std::string out(s.data(), s.size());
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

bool harmless(const error_code& ec) {
  return ec == net::error::eof || ec == net::error::operation_aborted ||
         ec == net::error::connection_reset || ec == net::error::broken_pipe ||
         ec == ssl::error::stream_truncated || ec == bhttp::error::end_of_stream ||
         ec == net::error::bad_descriptor || ec == beast::error::timeout;
}

std::string peer_der(SSL* handle) {
  std::string der;
  X509* cert = SSL_get1_peer_certificate(handle);
  if (cert == nullptr) return der;
  const int len = i2d_X509(cert, nullptr);
  if (len > 0) {
    der.resize(static_cast<std::size_t>(len));
    auto* p = reinterpret_cast<unsigned char*>(der.data());
    i2d_X509(cert, &p);
  }
  X509_free(cert);
  return der;
}

}  // namespace

std::string sha256_hex(std::string_view bytes) {
  std::array<unsigned char, EVP_MAX_MD_SIZE> md{};
  unsigned int n = 0;
  EVP_Digest(bytes.data(), bytes.size(), md.data(), &n, EVP_sha256(), nullptr);
  static constexpr std::string_view kHex = "0123456789abcdef";
  std::string out;
  for (unsigned int i = 0; i < n; ++i) {
    out += kHex[md[i] >> 4];
    out += kHex[md[i] & 15];
  }
  return out;
}

std::string office_of_certificate(const std::string& der) {
  const auto* p = reinterpret_cast<const unsigned char*>(der.data());
  X509* cert = d2i_X509(nullptr, &p, static_cast<long>(der.size()));
  if (cert == nullptr) return {};
  std::string out;
  const X509_NAME* name = X509_get_subject_name(cert);
  const int idx = X509_NAME_get_index_by_NID(name, NID_serialNumber, -1);
  if (idx >= 0) {
    const ASN1_STRING* s = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(name, idx));
    out.assign(reinterpret_cast<const char*>(ASN1_STRING_get0_data(s)),
               static_cast<std::size_t>(ASN1_STRING_length(s)));
  }
  X509_free(cert);
  return out;
}

namespace {

struct Shared {
  Shared(const adapters::http::TlsConfig& tls, TlsListener::Handler h, ListenerOptions o,
         std::shared_ptr<ListenerFaults> f)
      : ctx(adapters::http::make_server_context(tls)),
        handler(std::move(h)),
        options(std::move(o)),
        faults(std::move(f)) {}

  void fail(const error_code& ec, const char* what) const {
    if (harmless(ec)) return;
    report(std::string(what) + ": " + ec.message());
  }
  void report(const std::string& line) const {
    if (options.on_error) return options.on_error(line);
    std::clog << "kaigoweb stand-in: " << line << '\n';
  }
  std::size_t open_office(const std::string& office) {
    std::lock_guard lock(mutex);
    return ++per_office[office];
  }
  void close_office(const std::string& office) {
    std::lock_guard lock(mutex);
    auto it = per_office.find(office);
    if (it != per_office.end() && --it->second == 0) per_office.erase(it);
  }

  ssl::context ctx;
  TlsListener::Handler handler;
  ListenerOptions options;
  std::shared_ptr<ListenerFaults> faults;
  net::thread_pool worker{1};
  std::atomic<std::uint64_t> requests{0};
  std::mutex mutex;
  std::map<std::string, std::size_t> per_office;
};

class Session : public std::enable_shared_from_this<Session> {
 public:
  Session(std::shared_ptr<Shared> shared, tcp::socket socket)
      : shared_(std::move(shared)),
        stream_(std::move(socket), shared_->ctx),
        timer_(stream_.get_executor()) {}
  ~Session() {
    if (counted_) shared_->close_office(conn_.office_no);
  }

  void start() {
    net::dispatch(stream_.get_executor(), [self = shared_from_this()] { self->do_handshake(); });
  }
  void close() {
    net::post(stream_.get_executor(), [self = shared_from_this()] { self->close_now(); });
  }

 private:
  void do_handshake() {
    if (closed_) return;
    if (shared_->faults->refuse_tls.load()) return close_now();
    beast::get_lowest_layer(stream_).expires_after(shared_->options.read_timeout);
    stream_.async_handshake(ssl::stream_base::server,
                            [self = shared_from_this()](error_code ec) { self->on_handshake(ec); });
  }

  void on_handshake(error_code ec) {
    if (ec) return fail(ec, "handshake");
    der_ = peer_der(stream_.native_handle());
    conn_.cert_sha256 = sha256_hex(der_);
    conn_.office_no = office_of_certificate(der_);
    counted_ = true;
    shared_->open_office(conn_.office_no);
    do_read();
  }

  void do_read() {
    if (closed_) return;
    parser_.emplace();
    parser_->body_limit(shared_->options.max_body_bytes);
    parser_->header_limit(64 * 1024);
    beast::get_lowest_layer(stream_).expires_after(shared_->options.read_timeout);
    bhttp::async_read(stream_, buffer_, *parser_,
                      [self = shared_from_this()](error_code e, std::size_t) { self->on_read(e); });
  }

  void on_read(error_code ec) {
    if (ec == bhttp::error::end_of_stream) return do_shutdown();
    if (ec == bhttp::error::body_limit) {
      // Nothing beyond the limit is read: answer and close.
      Reply r;
      r.response = shared_->options.body_too_large
                       ? shared_->options.body_too_large()
                       : adapters::http::Response{400, {}, "request body too large\n"};
      r.delivery = Delivery::kCloseAfter;
      return on_reply(std::move(r));
    }
    if (ec == beast::error::timeout && buffer_.size() == 0 && !parser_->got_some()) {
      return close_now();
    }
    if (ec) return fail(ec, "read");
    beast::get_lowest_layer(stream_).expires_never();
    auto& message = parser_->get();
    keep_alive_ = message.keep_alive();
    adapters::http::Request request;
    request.method = std::string(message.method_string());
    request.target = std::string(message.target());
    for (const auto& field : message) {
      request.headers.emplace_back(lower(field.name_string()), std::string(field.value()));
    }
    request.body = std::move(message.body());
    request.peer_cert_der = der_;
    parser_.reset();
    ++shared_->requests;
    {
      std::lock_guard lock(shared_->mutex);
      auto it = shared_->per_office.find(conn_.office_no);
      conn_.office_connections = it == shared_->per_office.end() ? 0 : it->second;
    }
    net::post(shared_->worker, [self = shared_from_this(), request = std::move(request)] {
      Reply reply;
      try {
        reply = self->shared_->handler(request, self->conn_);
      } catch (const std::exception& e) {
        self->shared_->report(std::string("handler threw: ") + e.what());
        reply.response = adapters::http::Response{500, {}, "internal error\n"};
      }
      net::post(self->stream_.get_executor(),
                [self, reply = std::move(reply)]() mutable { self->on_reply(std::move(reply)); });
    });
  }

  void on_reply(Reply reply) {
    if (closed_) return;
    reply_ = std::move(reply);
    if (reply_.delivery == Delivery::kCloseUnanswered) return close_now();
    if (reply_.delay_ms > 0) {
      timer_.expires_after(std::chrono::milliseconds(reply_.delay_ms));
      timer_.async_wait([self = shared_from_this()](error_code ec) {
        if (ec) return self->close_now();
        self->do_write();
      });
      return;
    }
    do_write();
  }

  void do_write() {
    if (closed_) return;
    if (reply_.delivery == Delivery::kCloseAfter) keep_alive_ = false;
    res_ = {};
    res_.version(11);
    res_.result(static_cast<unsigned>(reply_.response.status));
    for (const auto& [name, value] : reply_.response.headers) res_.set(name, value);
    res_.body() = std::move(reply_.response.body);
    res_.keep_alive(keep_alive_);
    res_.prepare_payload();
    beast::get_lowest_layer(stream_).expires_after(shared_->options.read_timeout);
    if (reply_.delivery == Delivery::kCutAfter) {
      std::ostringstream all;
      all << res_.base() << res_.body();
      const std::string text = all.str();
      partial_ = text.substr(0, text.size() / 2);
      net::async_write(stream_, net::buffer(partial_),
                       [self = shared_from_this()](error_code, std::size_t) { self->close_now(); });
      return;
    }
    bhttp::async_write(stream_, res_, [self = shared_from_this()](error_code ec, std::size_t) {
      if (ec) return self->fail(ec, "write");
      if (!self->keep_alive_) return self->do_shutdown();
      self->do_read();
    });
  }

  void do_shutdown() {
    if (closed_) return;
    beast::get_lowest_layer(stream_).expires_after(kShutdownTimeout);
    stream_.async_shutdown([self = shared_from_this()](error_code) { self->close_now(); });
  }

  void close_now() {
    if (closed_) return;
    closed_ = true;
    timer_.cancel();
    error_code ignored;
    beast::get_lowest_layer(stream_).socket().shutdown(tcp::socket::shutdown_both, ignored);
    beast::get_lowest_layer(stream_).close();
  }

  void fail(const error_code& ec, const char* what) {
    if (!closed_) shared_->fail(ec, what);
    close_now();
  }

  std::shared_ptr<Shared> shared_;
  beast::ssl_stream<beast::tcp_stream> stream_;
  net::steady_timer timer_;
  beast::flat_buffer buffer_;
  std::optional<bhttp::request_parser<bhttp::string_body>> parser_;
  Reply reply_;
  bhttp::response<bhttp::string_body> res_;
  std::string partial_;
  std::string der_;
  Connection conn_;
  bool counted_ = false;
  bool keep_alive_ = true;
  bool closed_ = false;
};

}  // namespace

struct TlsListener::Impl : std::enable_shared_from_this<TlsListener::Impl> {
  Impl(net::io_context& io_in, const adapters::http::TlsConfig& tls, Handler handler,
       ListenerOptions options, std::shared_ptr<ListenerFaults> faults)
      : io(io_in),
        shared(std::make_shared<Shared>(tls, std::move(handler), std::move(options),
                                        std::move(faults))),
        acceptor(net::make_strand(io_in)) {}

  void do_accept() {
    acceptor.async_accept(net::make_strand(io),
                          [self = shared_from_this()](error_code ec, tcp::socket socket) {
                            self->on_accept(ec, std::move(socket));
                          });
  }

  void on_accept(error_code ec, tcp::socket socket) {
    if (ec == net::error::operation_aborted || !acceptor.is_open()) return;
    if (ec) {
      shared->fail(ec, "accept");
    } else {
      ++accepted;
      error_code ignored;
      socket.set_option(tcp::no_delay(true), ignored);
      auto session = std::make_shared<Session>(shared, std::move(socket));
      bool start = false;
      {
        std::lock_guard lock(mutex);
        if (!stopped) {
          std::erase_if(sessions, [](const auto& w) { return w.expired(); });
          sessions.push_back(session);
          start = true;
        }
      }
      if (start) session->start();
    }
    do_accept();
  }

  void stop() {
    std::vector<std::weak_ptr<Session>> open;
    {
      std::lock_guard lock(mutex);
      if (stopped) return;
      stopped = true;
      open.swap(sessions);
    }
    net::dispatch(acceptor.get_executor(), [self = shared_from_this()] {
      error_code ignored;
      self->acceptor.close(ignored);
    });
    for (auto& weak : open) {
      if (auto s = weak.lock()) s->close();
    }
  }

  net::io_context& io;
  std::shared_ptr<Shared> shared;
  tcp::acceptor acceptor;
  std::atomic<std::uint64_t> accepted{0};
  std::mutex mutex;
  std::vector<std::weak_ptr<Session>> sessions;
  bool stopped = false;
};

TlsListener::TlsListener(net::io_context& io, const adapters::http::TlsConfig& tls, Handler handler,
                         ListenerOptions options)
    : faults_(std::make_shared<ListenerFaults>()) {
  impl_ = std::make_shared<Impl>(io, tls, std::move(handler), std::move(options), faults_);
}

TlsListener::~TlsListener() {
  stop();
  impl_->shared->worker.join();
}

std::uint16_t TlsListener::listen(const std::string& address, std::uint16_t port) {
  const tcp::endpoint endpoint(net::ip::make_address(address), port);
  auto& acceptor = impl_->acceptor;
  acceptor.open(endpoint.protocol());
  acceptor.set_option(net::socket_base::reuse_address(true));
  acceptor.bind(endpoint);
  acceptor.listen(net::socket_base::max_listen_connections);
  port_ = acceptor.local_endpoint().port();
  net::dispatch(acceptor.get_executor(), [impl = impl_] { impl->do_accept(); });
  return port_;
}

void TlsListener::stop() {
  impl_->stop();
}

std::uint64_t TlsListener::accepted_connections() const {
  return impl_->accepted.load();
}

std::uint64_t TlsListener::requests_read() const {
  return impl_->shared->requests.load();
}

}  // namespace kakehashi::standin::kaigoweb
