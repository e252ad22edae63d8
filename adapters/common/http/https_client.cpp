#include "adapters/common/http/https_client.hpp"

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <poll.h>

#include <algorithm>
#include <cctype>
#include <deque>
#include <optional>
#include <vector>

namespace kakehashi::adapters::http {
namespace {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
namespace ssl = boost::asio::ssl;
using tcp = net::ip::tcp;
using boost::system::error_code;

constexpr std::uint32_t kMaxHeaderBytes = 64 * 1024;

std::string lower(beast::string_view s) {
  std::string out(s.data(), s.size());
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

bool is_ip_address(const std::string& host) {
  error_code ec;
  net::ip::make_address(host, ec);
  return !ec;
}

// What a server closing an idle keep-alive connection looks like to the next request on it.
bool stale_connection_error(const error_code& ec) {
  return ec == net::error::eof || ec == net::error::connection_reset ||
         ec == net::error::broken_pipe || ec == ssl::error::stream_truncated ||
         ec == bhttp::error::end_of_stream;
}

// One kept-alive TLS connection to the peer. Used by one exchange at a time.
struct Connection {
  Connection(const net::strand<net::any_io_executor>& strand, std::shared_ptr<ssl::context> ctx_in)
      : ctx(std::move(ctx_in)), stream(strand, *ctx), resolver(strand) {}

  void close() {
    resolver.cancel();
    error_code ignored;
    beast::get_lowest_layer(stream).socket().shutdown(tcp::socket::shutdown_both, ignored);
    beast::get_lowest_layer(stream).close();
  }

  std::shared_ptr<ssl::context> ctx;  // outlives the stream built on it
  beast::ssl_stream<beast::tcp_stream> stream;
  tcp::resolver resolver;
  beast::flat_buffer buffer;
  std::uint64_t generation = 0;
};

// Whether the server has closed an idle kept-alive connection (its close_notify or FIN has
// arrived: an HTTP/1.1 server sends nothing unasked, so anything readable means the end).
// Found before a request is written on it rather than by the request failing.
bool peer_closed(Connection& conn) {
  if (conn.buffer.size() != 0) return true;
  pollfd p{};
  p.fd = beast::get_lowest_layer(conn.stream).socket().native_handle();
  p.events = POLLIN;
  return ::poll(&p, 1, 0) != 0;  // readable, hung up, in error, or poll itself failed
}

// One request from submission to `done`. Every pending operation's handler also holds the
// connection it runs on: a timeout releases the exchange's hold while the operation is pending.
struct Exchange {
  explicit Exchange(const net::strand<net::any_io_executor>& strand) : deadline(strand) {}

  bhttp::request<bhttp::string_body> request;
  HttpsClient::Callback done;
  net::steady_timer deadline;
  std::shared_ptr<Connection> connection;
  std::optional<bhttp::response_parser<bhttp::string_body>> parser;
  bool finished = false;
  bool reused = false;   // on a connection that already carried a response
  bool retried = false;  // a stale reused connection is retried once, on a fresh one
};

using ExchangePtr = std::shared_ptr<Exchange>;

}  // namespace

// All state below is touched only on `strand`; the public methods post onto it.
struct HttpsClient::Impl : std::enable_shared_from_this<HttpsClient::Impl> {
  Impl(net::any_io_executor executor_in, ClientOptions options_in)
      : executor(std::move(executor_in)),
        strand(net::make_strand(executor)),
        options(std::move(options_in)),
        ctx(std::make_shared<ssl::context>(make_client_context(options.tls))),
        server_name(options.tls.server_name.empty() ? options.host : options.tls.server_name),
        host_header(options.host + ":" + std::to_string(options.port)) {
    options.max_connections = std::max<std::size_t>(options.max_connections, 1);
  }

  void submit(Request request, Callback done);
  void pump();
  void do_resolve(const ExchangePtr& ex);
  void on_resolve(const ExchangePtr& ex, error_code ec, const tcp::resolver::results_type& results);
  void on_connect(const ExchangePtr& ex, error_code ec);
  void on_handshake(const ExchangePtr& ex, error_code ec);
  void do_write(const ExchangePtr& ex);
  void on_write(const ExchangePtr& ex, error_code ec);
  void do_read(const ExchangePtr& ex);
  void on_read_header(const ExchangePtr& ex, error_code ec);
  void on_read(const ExchangePtr& ex, error_code ec);
  bool retry_if_stale(const ExchangePtr& ex, const error_code& ec, bool request_incomplete);
  void complete(const ExchangePtr& ex, error_code ec, Response response, bool reusable);
  void close_idle_and_queue();
  void shutdown();
  std::shared_ptr<Connection> new_connection();

  net::any_io_executor executor;
  net::strand<net::any_io_executor> strand;
  ClientOptions options;
  std::shared_ptr<ssl::context> ctx;
  std::string server_name;
  std::string host_header;

  std::deque<ExchangePtr> queue;
  std::vector<ExchangePtr> in_flight;
  std::vector<std::shared_ptr<Connection>> idle;
  std::size_t connections = 0;   // idle + in use + connecting
  std::uint64_t generation = 0;  // close() retires connections of earlier generations
  bool shut_down = false;
  bool never_repeat = false;  // never_repeat(): no repeat on a stale connection
};

std::shared_ptr<Connection> HttpsClient::Impl::new_connection() {
  auto conn = std::make_shared<Connection>(strand, ctx);
  conn->generation = generation;
  ++connections;
  return conn;
}

void HttpsClient::Impl::submit(Request request, Callback done) {
  if (shut_down) {
    net::post(executor,
              [done = std::move(done)] { done(net::error::operation_aborted, Response{}); });
    return;
  }
  auto ex = std::make_shared<Exchange>(strand);
  ex->done = std::move(done);
  auto& req = ex->request;
  req.version(11);
  const auto verb = bhttp::string_to_verb(request.method);
  if (verb == bhttp::verb::unknown) {
    req.method_string(request.method);
  } else {
    req.method(verb);
  }
  req.target(request.target.empty() ? "/" : request.target);
  req.set(bhttp::field::host, host_header);
  for (const auto& [name, value] : request.headers) {
    const std::string key = lower(name);
    if (key == "content-length" || key == "transfer-encoding" || key == "connection") continue;
    if (key == "host") {
      req.set(bhttp::field::host, value);
    } else {
      req.insert(key, value);
    }
  }
  req.body() = std::move(request.body);
  req.keep_alive(true);
  req.prepare_payload();

  // The deadline covers the whole request, time spent queued included.
  ex->deadline.expires_after(options.timeout);
  ex->deadline.async_wait([weak = weak_from_this(), ex](error_code ec) {
    if (ec) return;  // cancelled: the exchange finished first
    if (auto self = weak.lock()) self->complete(ex, net::error::timed_out, {}, false);
  });
  queue.push_back(ex);
  in_flight.push_back(ex);
  pump();
}

void HttpsClient::Impl::pump() {
  while (!queue.empty() && !shut_down) {
    std::shared_ptr<Connection> conn;
    bool reused = false;
    if (!idle.empty()) {
      conn = idle.back();  // the most recently used is the least likely to be stale
      idle.pop_back();
      if (peer_closed(*conn)) {
        conn->close();
        --connections;
        continue;
      }
      reused = true;
    } else if (connections < options.max_connections) {
      conn = new_connection();
    } else {
      break;
    }
    ExchangePtr ex = queue.front();
    queue.pop_front();
    ex->connection = conn;
    ex->reused = reused;
    if (reused) {
      do_write(ex);
    } else {
      do_resolve(ex);
    }
  }
}

void HttpsClient::Impl::do_resolve(const ExchangePtr& ex) {
  ex->connection->resolver.async_resolve(
      options.host, std::to_string(options.port),
      [self = shared_from_this(), ex, conn = ex->connection](
          error_code ec, const tcp::resolver::results_type& results) {
        self->on_resolve(ex, ec, results);
      });
}

void HttpsClient::Impl::on_resolve(const ExchangePtr& ex, error_code ec,
                                   const tcp::resolver::results_type& results) {
  if (ex->finished) return;
  if (ec) return complete(ex, ec, {}, false);
  beast::get_lowest_layer(ex->connection->stream)
      .async_connect(results,
                     [self = shared_from_this(), ex, conn = ex->connection](
                         error_code ec2, const tcp::endpoint&) { self->on_connect(ex, ec2); });
}

void HttpsClient::Impl::on_connect(const ExchangePtr& ex, error_code ec) {
  if (ex->finished) return;
  if (ec) return complete(ex, ec, {}, false);
  auto& stream = ex->connection->stream;
  // Request/response over TLS: a message spans several records (writes), and Nagle would hold
  // the last one until the peer's delayed ACK (about 40 ms per exchange).
  error_code ignored;
  beast::get_lowest_layer(stream).socket().set_option(tcp::no_delay(true), ignored);
  // SNI only for names: RFC 6066 forbids IP literals in server_name.
  // (SSL_set_tlsext_host_name spelled out: the macro uses a C cast.)
  if (!is_ip_address(server_name) &&
      SSL_ctrl(stream.native_handle(), SSL_CTRL_SET_TLSEXT_HOSTNAME, TLSEXT_NAMETYPE_host_name,
               const_cast<char*>(server_name.c_str())) != 1) {
    return complete(ex,
                    error_code(static_cast<int>(::ERR_get_error()), net::error::get_ssl_category()),
                    {}, false);
  }
  // Checks DNS names and IP addresses (IP:127.0.0.1 SAN) against the certificate.
  stream.set_verify_callback(ssl::host_name_verification(server_name), ec);
  if (ec) return complete(ex, ec, {}, false);
  stream.async_handshake(ssl::stream_base::client,
                         [self = shared_from_this(), ex, conn = ex->connection](error_code ec2) {
                           self->on_handshake(ex, ec2);
                         });
}

void HttpsClient::Impl::on_handshake(const ExchangePtr& ex, error_code ec) {
  if (ex->finished) return;
  if (ec) {
    // A certificate that did not verify (unknown CA, expired, wrong name) is worth a log line;
    // a reset or timeout during the handshake is an ordinary transport failure.
    const long verify = SSL_get_verify_result(ex->connection->stream.native_handle());
    if (verify != X509_V_OK && options.on_verify_failure) {
      options.on_verify_failure(options.host + ":" + std::to_string(options.port),
                                X509_verify_cert_error_string(verify));
    }
    return complete(ex, ec, {}, false);
  }
  do_write(ex);
}

void HttpsClient::Impl::do_write(const ExchangePtr& ex) {
  bhttp::async_write(ex->connection->stream, ex->request,
                     [self = shared_from_this(), ex, conn = ex->connection](
                         error_code ec, std::size_t) { self->on_write(ex, ec); });
}

void HttpsClient::Impl::on_write(const ExchangePtr& ex, error_code ec) {
  if (ex->finished) return;
  if (ec) {
    // The write failed: the request's last bytes never left, so the server cannot have acted.
    if (retry_if_stale(ex, ec, true)) return;
    return complete(ex, ec, {}, false);
  }
  do_read(ex);
}

void HttpsClient::Impl::do_read(const ExchangePtr& ex) {
  ex->parser.emplace();
  ex->parser->body_limit(options.max_body_bytes);
  ex->parser->header_limit(kMaxHeaderBytes);
  bhttp::async_read_header(ex->connection->stream, ex->connection->buffer, *ex->parser,
                           [self = shared_from_this(), ex, conn = ex->connection](
                               error_code ec, std::size_t) { self->on_read_header(ex, ec); });
}

// Beast 1.74's async_read does not stop at the parser's body limit for responses (measured:
// a 4 KiB body passes a 1 KiB limit), so the declared length is checked here, after the header,
// and the received size again at the end (chunked or close-delimited bodies).
void HttpsClient::Impl::on_read_header(const ExchangePtr& ex, error_code ec) {
  if (ex->finished) return;
  if (ec) {
    if (retry_if_stale(ex, ec, false)) return;
    return complete(ex, ec, {}, false);
  }
  const auto length = ex->parser->content_length();
  if (length && *length > options.max_body_bytes) {
    return complete(ex, bhttp::error::body_limit, {}, false);
  }
  bhttp::async_read(ex->connection->stream, ex->connection->buffer, *ex->parser,
                    [self = shared_from_this(), ex, conn = ex->connection](
                        error_code ec2, std::size_t) { self->on_read(ex, ec2); });
}

void HttpsClient::Impl::on_read(const ExchangePtr& ex, error_code ec) {
  if (ex->finished) return;
  if (ec) {
    if (retry_if_stale(ex, ec, false)) return;
    return complete(ex, ec, {}, false);
  }
  auto& message = ex->parser->get();
  if (message.body().size() > options.max_body_bytes) {
    return complete(ex, bhttp::error::body_limit, {}, false);
  }
  Response response;
  response.status = static_cast<int>(message.result_int());
  for (const auto& field : message) {
    response.headers.emplace_back(lower(field.name_string()), std::string(field.value()));
  }
  response.body = std::move(message.body());
  const bool reusable = message.keep_alive() && !ex->parser->need_eof();
  complete(ex, {}, std::move(response), reusable);
}

// A reused connection the server has meanwhile closed fails before any response byte: retry
// once on a fresh connection. Nothing else is retried (the request may have been acted on).
// With never_repeat only a request that was not written whole is retried: one written whole
// may have been acted on before the server closed.
bool HttpsClient::Impl::retry_if_stale(const ExchangePtr& ex, const error_code& ec,
                                       bool request_incomplete) {
  auto& conn = ex->connection;
  const bool nothing_received =
      conn->buffer.size() == 0 && (!ex->parser || !ex->parser->got_some());
  if ((never_repeat && !request_incomplete) || !ex->reused || ex->retried || shut_down ||
      !nothing_received || !stale_connection_error(ec)) {
    return false;
  }
  conn->close();
  --connections;
  ex->retried = true;
  ex->reused = false;
  ex->parser.reset();
  conn = new_connection();
  do_resolve(ex);
  return true;
}

void HttpsClient::Impl::complete(const ExchangePtr& ex, error_code ec, Response response,
                                 bool reusable) {
  if (ex->finished) return;
  ex->finished = true;
  ex->deadline.cancel();
  if (auto conn = std::exchange(ex->connection, nullptr)) {
    if (!ec && reusable && !shut_down && conn->generation == generation) {
      idle.push_back(std::move(conn));
    } else {
      conn->close();  // cancels whatever is pending on it; those handlers see `finished`
      --connections;
    }
  } else {
    std::erase(queue, ex);
  }
  std::erase(in_flight, ex);
  net::post(executor, [done = std::move(ex->done), ec, response = std::move(response)]() mutable {
    done(ec, std::move(response));
  });
  pump();
}

void HttpsClient::Impl::close_idle_and_queue() {
  ++generation;  // connections in use now are closed when their exchange ends
  for (auto& conn : idle) {
    conn->close();
    --connections;
  }
  idle.clear();
  auto queued = std::move(queue);
  queue.clear();
  for (auto& ex : queued) complete(ex, net::error::operation_aborted, {}, false);
}

void HttpsClient::Impl::shutdown() {
  shut_down = true;
  close_idle_and_queue();
  auto active = in_flight;
  for (auto& ex : active) complete(ex, net::error::operation_aborted, {}, false);
}

HttpsClient::HttpsClient(net::any_io_executor executor, ClientOptions options)
    : impl_(std::make_shared<Impl>(std::move(executor), std::move(options))) {}

HttpsClient::~HttpsClient() {
  // Requests in flight end with operation_aborted; their handlers keep Impl alive until then.
  net::post(impl_->strand, [impl = impl_] { impl->shutdown(); });
}

void HttpsClient::request(Request request, Callback done) {
  net::post(impl_->strand,
            [impl = impl_, request = std::move(request), done = std::move(done)]() mutable {
              impl->submit(std::move(request), std::move(done));
            });
}

void HttpsClient::never_repeat() {
  net::post(impl_->strand, [impl = impl_] { impl->never_repeat = true; });
}

void HttpsClient::close() {
  net::post(impl_->strand, [impl = impl_] { impl->close_idle_and_queue(); });
}

}  // namespace kakehashi::adapters::http
