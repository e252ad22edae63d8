#include "adapters/common/http/https_server.hpp"

#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <algorithm>
#include <cctype>
#include <iostream>
#include <mutex>
#include <optional>
#include <sstream>
#include <vector>

namespace kakehashi::adapters::http {
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

// Errors that mean "the peer went away" or "we are stopping", not a failure worth reporting.
bool harmless(const error_code& ec) {
  return ec == net::error::eof || ec == net::error::operation_aborted ||
         ec == net::error::connection_reset || ec == net::error::broken_pipe ||
         ec == ssl::error::stream_truncated || ec == bhttp::error::end_of_stream ||
         ec == net::error::bad_descriptor;
}

struct PeerIdentity {
  std::string der;
  std::string subject;
};

PeerIdentity peer_identity(SSL* ssl_handle) {
  PeerIdentity id;
  X509* cert = SSL_get1_peer_certificate(ssl_handle);
  if (cert == nullptr) return id;
  const int len = i2d_X509(cert, nullptr);
  if (len > 0) {
    id.der.resize(static_cast<std::size_t>(len));
    auto* p = reinterpret_cast<unsigned char*>(id.der.data());
    i2d_X509(cert, &p);
  }
  // Same format as the CMS signer identity (RFC 2253, UTF-8 kept), so logs line up.
  if (BIO* bio = BIO_new(BIO_s_mem())) {
    X509_NAME_print_ex(bio, X509_get_subject_name(cert), 0,
                       XN_FLAG_RFC2253 & ~ASN1_STRFLGS_ESC_MSB);
    char* data = nullptr;
    const long n = BIO_get_mem_data(bio, &data);
    if (n > 0) id.subject.assign(data, static_cast<std::size_t>(n));
    BIO_free(bio);
  }
  X509_free(cert);
  return id;
}

// What every connection of one server shares; kept alive by its connections.
struct ServerShared {
  ServerShared(const TlsConfig& tls, Handler handler_in, ServerOptions options_in,
               std::shared_ptr<ServerFaults> faults_in)
      : ctx(make_server_context(tls)),
        handler(std::move(handler_in)),
        options(std::move(options_in)),
        faults(std::move(faults_in)) {}

  // The one place that knows which errors are worth reporting.
  void fail(const error_code& ec, const char* what) const {
    if (harmless(ec)) return;
    report(std::string(what) + ": " + ec.message());
  }
  void refused(const std::string& line) const {
    if (options.on_refused) return options.on_refused(line);
    report(line);
  }
  void report(const std::string& line) const {
    if (options.on_error) {
      options.on_error(line);
    } else {
      std::clog << "https server: " << line << '\n';
    }
  }

  ssl::context ctx;
  Handler handler;
  ServerOptions options;
  std::shared_ptr<ServerFaults> faults;
};

class Session;

}  // namespace

struct HttpsServer::Impl : std::enable_shared_from_this<HttpsServer::Impl> {
  Impl(net::io_context& io_in, const TlsConfig& tls, Handler handler, ServerOptions options,
       std::shared_ptr<ServerFaults> faults)
      : io(io_in),
        shared(std::make_shared<ServerShared>(tls, std::move(handler), std::move(options),
                                              std::move(faults))),
        acceptor(net::make_strand(io_in)) {}

  void do_accept();
  void on_accept(error_code ec, tcp::socket socket);
  void stop();

  net::io_context& io;
  std::shared_ptr<ServerShared> shared;
  tcp::acceptor acceptor;  // used only on its own strand once listening
  std::atomic<std::uint64_t> accepted{0};

  std::mutex mutex;  // guards sessions and stopped
  std::vector<std::weak_ptr<Session>> sessions;
  bool stopped = false;
};

namespace {

// One TLS connection: handshake, then read request / call handler / write response until the
// client or the server closes it. Every step runs on the connection's strand.
class Session : public std::enable_shared_from_this<Session> {
 public:
  Session(std::shared_ptr<ServerShared> server, tcp::socket socket)
      : server_(std::move(server)),
        stream_(std::move(socket), server_->ctx),
        delay_timer_(stream_.get_executor()) {}

  void start() {
    net::dispatch(stream_.get_executor(), [self = shared_from_this()] { self->do_handshake(); });
  }

  // Any thread: closing the socket makes every pending operation complete with an error.
  void close() {
    net::post(stream_.get_executor(), [self = shared_from_this()] { self->close_now(); });
  }

 private:
  void do_handshake() {
    if (closed_) return;
    if (server_->faults->refuse_tls.load()) {
      close_now();
      return;
    }
    beast::get_lowest_layer(stream_).expires_after(server_->options.read_timeout);
    stream_.async_handshake(ssl::stream_base::server,
                            [self = shared_from_this()](error_code ec) { self->on_handshake(ec); });
  }

  void on_handshake(error_code ec) {
    if (ec) return fail(ec, "handshake");
    PeerIdentity id = peer_identity(stream_.native_handle());
    if (server_->options.accept_peer && !server_->options.accept_peer(id.der)) {
      server_->refused("peer not accepted: " +
                       (id.subject.empty() ? "no certificate" : id.subject));
      return close_now();
    }
    peer_der_ = std::move(id.der);
    peer_subject_ = std::move(id.subject);
    do_read();
  }

  void do_read() {
    if (closed_) return;
    parser_.emplace();
    parser_->body_limit(server_->options.max_body_bytes);
    parser_->header_limit(static_cast<std::uint32_t>(
        std::min<std::size_t>(server_->options.max_header_bytes, UINT32_MAX)));
    beast::get_lowest_layer(stream_).expires_after(server_->options.read_timeout);
    bhttp::async_read(
        stream_, buffer_, *parser_,
        [self = shared_from_this()](error_code ec, std::size_t) { self->on_read(ec); });
  }

  void on_read(error_code ec) {
    if (ec == bhttp::error::end_of_stream) return do_shutdown();
    if (ec == bhttp::error::body_limit) {
      server_->refused("request body over " + std::to_string(server_->options.max_body_bytes) +
                       " bytes");
      return send_error(413, "request body too large");
    }
    if (ec == bhttp::error::header_limit) return send_error(431, "request header too large");
    if (ec && ec.category() == bhttp::make_error_code(bhttp::error::bad_target).category() &&
        ec != bhttp::error::partial_message) {
      return send_error(400, "malformed request");
    }
    if (ec == beast::error::timeout && buffer_.size() == 0 && !parser_->got_some()) {
      return close_now();  // an idle keep-alive connection timing out is routine
    }
    if (ec) return fail(ec, "read");
    beast::get_lowest_layer(stream_).expires_never();  // the handler may take its time

    auto& message = parser_->get();
    // Belt and braces: Beast 1.74 lets some bodies past the parser's limit (see the client).
    if (message.body().size() > server_->options.max_body_bytes) {
      server_->refused("request body over " + std::to_string(server_->options.max_body_bytes) +
                       " bytes");
      return send_error(413, "request body too large");
    }
    keep_alive_ = message.keep_alive();
    Request request;
    request.method = std::string(message.method_string());
    request.target = std::string(message.target());
    for (const auto& field : message) {
      request.headers.emplace_back(lower(field.name_string()), std::string(field.value()));
    }
    request.body = std::move(message.body());
    request.peer_cert_der = peer_der_;
    request.peer_subject = peer_subject_;
    parser_.reset();

    // The handler may answer from any thread, later: hop back to this connection's strand.
    // The flag makes a second answer harmless instead of a second write.
    auto answered = std::make_shared<std::atomic<bool>>(false);
    auto respond = [self = shared_from_this(), answered](Response response) {
      if (answered->exchange(true)) return;
      net::post(self->stream_.get_executor(), [self, response = std::move(response)]() mutable {
        self->on_response(std::move(response));
      });
    };
    try {
      server_->handler(std::move(request), respond);
    } catch (const std::exception& e) {
      server_->report(std::string("handler threw: ") + e.what());
      respond(Response{500, {}, "internal error\n"});
    }
  }

  // A request we cannot serve: answer once, then close (the stream position is unknown).
  void send_error(int status, const char* body) {
    keep_alive_ = false;
    on_response(Response{status, {{"content-type", "text/plain"}}, std::string(body) + "\n"});
  }

  void on_response(Response response) {
    if (closed_) return;
    response_ = std::move(response);
    const int delay = server_->faults->delay_ms.load();
    if (delay > 0) {
      delay_timer_.expires_after(std::chrono::milliseconds(delay));
      delay_timer_.async_wait([self = shared_from_this()](error_code ec) {
        if (ec) return self->fail(ec, "delay");
        self->do_write();
      });
      return;
    }
    do_write();
  }

  void do_write() {
    if (closed_) return;
    res_ = {};
    res_.version(11);
    res_.result(static_cast<unsigned>(response_.status));
    for (const auto& [name, value] : response_.headers) res_.set(name, value);
    res_.body() = std::move(response_.body);
    res_.keep_alive(keep_alive_);
    res_.prepare_payload();  // Content-Length

    beast::get_lowest_layer(stream_).expires_after(server_->options.read_timeout);
    if (take_drop_fault()) {
      std::ostringstream head;
      head << res_.base();
      const std::string all = head.str();
      partial_ = all.substr(0, all.size() / 2);
      net::async_write(stream_, net::buffer(partial_),
                       [self = shared_from_this()](error_code, std::size_t) { self->close_now(); });
      return;
    }
    bhttp::async_write(stream_, res_, [self = shared_from_this()](error_code ec, std::size_t) {
      self->on_write(ec);
    });
  }

  bool take_drop_fault() {
    auto& drops = server_->faults->drop_responses;
    int n = drops.load();
    while (n > 0) {
      if (drops.compare_exchange_weak(n, n - 1)) return true;
    }
    return false;
  }

  void on_write(error_code ec) {
    if (ec) return fail(ec, "write");
    if (!keep_alive_) return do_shutdown();
    do_read();
  }

  void do_shutdown() {
    if (closed_) return;
    beast::get_lowest_layer(stream_).expires_after(kShutdownTimeout);
    stream_.async_shutdown([self = shared_from_this()](error_code) { self->close_now(); });
  }

  void close_now() {
    if (closed_) return;
    closed_ = true;
    delay_timer_.cancel();
    error_code ignored;
    beast::get_lowest_layer(stream_).socket().shutdown(tcp::socket::shutdown_both, ignored);
    beast::get_lowest_layer(stream_).close();
  }

  void fail(const error_code& ec, const char* what) {
    if (!closed_) server_->fail(ec, what);
    close_now();
  }

  std::shared_ptr<ServerShared> server_;
  beast::ssl_stream<beast::tcp_stream> stream_;
  net::steady_timer delay_timer_;
  beast::flat_buffer buffer_;
  std::optional<bhttp::request_parser<bhttp::string_body>> parser_;
  Response response_;
  bhttp::response<bhttp::string_body> res_;
  std::string partial_;
  std::string peer_der_;
  std::string peer_subject_;
  bool keep_alive_ = true;
  bool closed_ = false;
};

}  // namespace

void HttpsServer::Impl::do_accept() {
  // Each connection gets its own strand: the io_context may be run by several threads.
  acceptor.async_accept(net::make_strand(io),
                        [self = shared_from_this()](error_code ec, tcp::socket socket) {
                          self->on_accept(ec, std::move(socket));
                        });
}

void HttpsServer::Impl::on_accept(error_code ec, tcp::socket socket) {
  if (ec == net::error::operation_aborted || !acceptor.is_open()) return;
  if (ec) {
    shared->fail(ec, "accept");  // e.g. out of descriptors: keep accepting, others are unaffected
  } else {
    ++accepted;
    // Answers span several TLS records: without this, Nagle holds the last one until the
    // client's delayed ACK (about 40 ms per answer).
    error_code ignored;
    socket.set_option(tcp::no_delay(true), ignored);
    auto session = std::make_shared<Session>(shared, std::move(socket));
    bool start = false;
    bool over_cap = false;
    {
      std::lock_guard lock(mutex);
      if (!stopped) {
        std::erase_if(sessions, [](const auto& w) { return w.expired(); });
        const std::size_t cap = shared->options.max_connections;
        over_cap = cap > 0 && sessions.size() >= cap;
        if (!over_cap) {
          sessions.push_back(session);
          start = true;
        }
      }
    }
    if (start) session->start();
    if (over_cap) {
      shared->refused("connection over the cap of " +
                      std::to_string(shared->options.max_connections));
      session->close();
    }
  }
  do_accept();
}

void HttpsServer::Impl::stop() {
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
    if (auto session = weak.lock()) session->close();
  }
}

HttpsServer::HttpsServer(net::io_context& io, const TlsConfig& tls, Handler handler,
                         ServerOptions options)
    : faults_(std::make_shared<ServerFaults>()) {
  impl_ = std::make_shared<Impl>(io, tls, std::move(handler), std::move(options), faults_);
}

HttpsServer::~HttpsServer() {
  stop();
}

std::uint16_t HttpsServer::listen(const std::string& address, std::uint16_t port) {
  const tcp::endpoint endpoint(net::ip::make_address(address), port);
  auto& acceptor = impl_->acceptor;
  acceptor.open(endpoint.protocol());
  acceptor.set_option(net::socket_base::reuse_address(true));
  acceptor.bind(endpoint);
  acceptor.listen(net::socket_base::max_listen_connections);
  const std::uint16_t bound = acceptor.local_endpoint().port();
  net::dispatch(acceptor.get_executor(), [impl = impl_] { impl->do_accept(); });
  return bound;
}

void HttpsServer::stop() {
  impl_->stop();
}

std::uint64_t HttpsServer::accepted_connections() const {
  return impl_->accepted.load();
}

std::size_t HttpsServer::open_connections() const {
  std::lock_guard lock(impl_->mutex);
  return static_cast<std::size_t>(std::count_if(impl_->sessions.begin(), impl_->sessions.end(),
                                                [](const auto& w) { return !w.expired(); }));
}

}  // namespace kakehashi::adapters::http
