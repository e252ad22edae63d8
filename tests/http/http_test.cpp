// HTTPS server and client: mutual TLS, keep-alive, pooling, limits, timeouts and the server's
// fault switches, all on 127.0.0.1 with certificates made by deploy/pki.sh for this run.
#define BOOST_TEST_MODULE kakehashi_http
#include <boost/test/unit_test.hpp>

#include <openssl/ssl.h>
#include <sys/stat.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <future>
#include <memory>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "adapters/common/http/asio.hpp"
#include "adapters/common/http/https_client.hpp"
#include "adapters/common/http/https_server.hpp"
#include "adapters/common/http/tls_config.hpp"

namespace {

namespace net = boost::asio;
namespace ssl = boost::asio::ssl;
namespace fs = std::filesystem;
using tcp = net::ip::tcp;
using boost::system::error_code;
using kakehashi::adapters::http::ClientOptions;
using kakehashi::adapters::http::HttpsClient;
using kakehashi::adapters::http::HttpsServer;
using kakehashi::adapters::http::Request;
using kakehashi::adapters::http::Response;
using kakehashi::adapters::http::ServerOptions;
using kakehashi::adapters::http::TlsConfig;

constexpr auto kWait = std::chrono::seconds(5);  // only reached when something is broken

// One PKI for the whole run: deploy/pki.sh takes seconds, the tests then take milliseconds.
struct Pki {
  Pki() {
    std::string pattern = (fs::temp_directory_path() / "kakehashi-http-XXXXXX").string();
    if (::mkdtemp(pattern.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
    root = pattern;
    const std::string command = std::string("'") + KAKEHASHI_PKI_SCRIPT + "' '" +
                                (root / "pki").string() + "' >'" + (root / "pki.log").string() +
                                "' 2>&1";
    if (std::system(command.c_str()) != 0) throw std::runtime_error("deploy/pki.sh failed");
    instance = this;
  }
  ~Pki() {
    std::error_code ignored;
    fs::remove_all(root, ignored);
  }
  static std::string tls(const std::string& name) {
    return (instance->root / "pki" / "tls" / name).string();
  }
  fs::path root;
  static inline Pki* instance = nullptr;
};
BOOST_TEST_GLOBAL_FIXTURE(Pki);

TlsConfig national_server_tls() {
  TlsConfig tls;
  tls.ca_file = Pki::tls("national-ca.pem");
  tls.cert_file = Pki::tls("national-standin-server.cert.pem");
  tls.key_file = Pki::tls("national-standin-server.key.pem");
  return tls;
}

TlsConfig gateway_national_client_tls() {
  TlsConfig tls;
  tls.ca_file = Pki::tls("national-ca.pem");
  tls.cert_file = Pki::tls("gateway-national-client-rsa.cert.pem");
  tls.key_file = Pki::tls("gateway-national-client-rsa.key.pem");
  return tls;
}

// An io_context run by two threads (so that strands matter) for the duration of a test.
struct Loop {
  Loop() {
    for (int i = 0; i < 2; ++i) threads.emplace_back([this] { io.run(); });
  }
  ~Loop() {
    work.reset();
    io.stop();
    for (auto& t : threads) t.join();
  }
  net::io_context io;
  std::optional<net::executor_work_guard<net::io_context::executor_type>> work{
      net::make_work_guard(io)};
  std::vector<std::thread> threads;
};

struct Result {
  error_code ec;
  Response response;
};

std::future<Result> send(HttpsClient& client, Request request) {
  auto promise = std::make_shared<std::promise<Result>>();
  auto future = promise->get_future();
  client.request(std::move(request), [promise](error_code ec, Response response) {
    promise->set_value(Result{ec, std::move(response)});
  });
  return future;
}

Result wait(std::future<Result>& future) {
  BOOST_REQUIRE(future.wait_for(kWait) == std::future_status::ready);
  return future.get();
}

Request get(const std::string& target) {
  Request r;
  r.method = "GET";
  r.target = target;
  return r;
}

// Echoes the request: status 200, the body back, the client subject in a header.
void echo(Request request, std::function<void(Response)> respond) {
  Response r;
  r.headers.emplace_back("x-method", request.method);
  r.headers.emplace_back("x-target", request.target);
  r.headers.emplace_back("x-subject", request.peer_subject);
  r.headers.emplace_back("x-cert-bytes", std::to_string(request.peer_cert_der.size()));
  if (const auto* v = request.header("x-test")) r.headers.emplace_back("x-test-seen", *v);
  r.body = request.body;
  respond(std::move(r));
}

ServerOptions quiet_options() {
  ServerOptions options;
  options.on_error = [](const std::string&) {};  // refusals are what these tests provoke
  return options;
}

ClientOptions client_options(std::uint16_t port) {
  ClientOptions options;
  options.port = port;
  options.tls = gateway_national_client_tls();
  options.timeout = std::chrono::milliseconds(3000);
  return options;
}

// A raw TLS client handshake with the protocol versions limited as given.
error_code raw_handshake(std::uint16_t port, int min_version, int max_version) {
  ssl::context ctx(ssl::context::tls_client);
  SSL_CTX_set_min_proto_version(ctx.native_handle(), min_version);
  SSL_CTX_set_max_proto_version(ctx.native_handle(), max_version);
  // Security level 0 so that this client really offers the old versions.
  SSL_CTX_set_cipher_list(ctx.native_handle(), "ALL:@SECLEVEL=0");
  ctx.load_verify_file(Pki::tls("national-ca.pem"));
  ctx.use_certificate_chain_file(Pki::tls("gateway-national-client-rsa.cert.pem"));
  ctx.use_private_key_file(Pki::tls("gateway-national-client-rsa.key.pem"), ssl::context::pem);
  ctx.set_verify_mode(ssl::verify_peer);
  net::io_context io;
  ssl::stream<tcp::socket> stream(io, ctx);
  stream.next_layer().connect(tcp::endpoint(net::ip::make_address("127.0.0.1"), port));
  error_code ec;
  stream.handshake(ssl::stream_base::client, ec);
  return ec;
}

}  // namespace

BOOST_AUTO_TEST_CASE(round_trip_with_mutual_tls) {
  Loop loop;
  HttpsServer server(loop.io, national_server_tls(), echo);
  const auto port = server.listen();
  HttpsClient client(loop.io.get_executor(), client_options(port));

  Request request;
  request.method = "POST";
  request.target = "/ncp/v1/transmissions?x=1";
  request.headers.emplace_back("X-Test", "yes");
  request.body = "{\"hello\":1}";
  auto future = send(client, request);
  const Result result = wait(future);
  BOOST_REQUIRE(!result.ec);
  BOOST_TEST(result.response.status == 200);
  BOOST_TEST(result.response.body == "{\"hello\":1}");
  BOOST_TEST(*result.response.header("x-method") == "POST");
  BOOST_TEST(*result.response.header("x-target") == "/ncp/v1/transmissions?x=1");
  BOOST_TEST(*result.response.header("x-test-seen") == "yes");
  BOOST_TEST(result.response.header("content-length") != nullptr);
  const std::string subject = *result.response.header("x-subject");
  BOOST_TEST(subject.find("CN=") != std::string::npos, subject);
  BOOST_TEST(std::stoi(*result.response.header("x-cert-bytes")) > 100);
}

BOOST_AUTO_TEST_CASE(keep_alive_reuses_one_connection) {
  Loop loop;
  HttpsServer server(loop.io, national_server_tls(), echo);
  const auto port = server.listen();
  HttpsClient client(loop.io.get_executor(), client_options(port));
  for (int i = 0; i < 5; ++i) {
    auto future = send(client, get("/n/" + std::to_string(i)));
    const Result result = wait(future);
    BOOST_REQUIRE(!result.ec);
    BOOST_TEST(*result.response.header("x-target") == "/n/" + std::to_string(i));
  }
  BOOST_TEST(server.accepted_connections() == 1u);
}

// The server closes a kept-alive connection that stays idle past its read timeout. A client
// that never repeats a request (the Kaigo WEB send) must not write one on that connection: it
// sees the close before use and opens a new one, so the request succeeds instead of failing as
// "may have been acted on".
BOOST_AUTO_TEST_CASE(an_idle_connection_the_server_closed_is_not_reused) {
  Loop loop;
  auto options = quiet_options();
  options.read_timeout = std::chrono::milliseconds(200);
  HttpsServer server(loop.io, national_server_tls(), echo, options);
  const auto port = server.listen();
  HttpsClient client(loop.io.get_executor(), client_options(port));
  client.never_repeat();
  auto first = send(client, get("/1"));
  BOOST_REQUIRE(!wait(first).ec);
  // The server's idle timeout ends its side of the connection.
  const auto deadline = std::chrono::steady_clock::now() + kWait;
  while (server.open_connections() != 0 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  BOOST_REQUIRE(server.open_connections() == 0u);
  for (int i = 2; i <= 3; ++i) {
    auto next = send(client, get("/" + std::to_string(i)));
    const Result result = wait(next);
    BOOST_REQUIRE_MESSAGE(!result.ec, result.ec.message());
    BOOST_TEST(*result.response.header("x-target") == "/" + std::to_string(i));
  }
  BOOST_TEST(server.accepted_connections() == 2u);
}

BOOST_AUTO_TEST_CASE(requests_beyond_the_pool_queue_and_complete) {
  Loop loop;
  HttpsServer server(loop.io, national_server_tls(), echo);
  const auto port = server.listen();
  auto options = client_options(port);
  options.max_connections = 2;
  HttpsClient client(loop.io.get_executor(), options);
  std::vector<std::future<Result>> futures;
  for (int i = 0; i < 10; ++i) futures.push_back(send(client, get("/q/" + std::to_string(i))));
  for (int i = 0; i < 10; ++i) {
    const Result result = wait(futures[static_cast<std::size_t>(i)]);
    BOOST_REQUIRE_MESSAGE(!result.ec, result.ec.message());
    BOOST_TEST(*result.response.header("x-target") == "/q/" + std::to_string(i));
  }
  BOOST_TEST(server.accepted_connections() <= 2u);
}

BOOST_AUTO_TEST_CASE(client_without_certificate_is_refused) {
  Loop loop;
  bool called = false;
  HttpsServer server(
      loop.io, national_server_tls(),
      [&called](Request r, std::function<void(Response)> respond) {
        called = true;
        echo(std::move(r), std::move(respond));
      },
      quiet_options());
  const auto port = server.listen();
  auto options = client_options(port);
  options.tls.cert_file.clear();
  options.tls.key_file.clear();
  HttpsClient client(loop.io.get_executor(), options);
  auto future = send(client, get("/"));
  BOOST_TEST(wait(future).ec.failed());
  BOOST_TEST(!called);
}

BOOST_AUTO_TEST_CASE(client_certificate_of_the_other_network_is_refused) {
  Loop loop;
  HttpsServer server(loop.io, national_server_tls(), echo, quiet_options());
  const auto port = server.listen();
  auto options = client_options(port);
  options.tls.cert_file = Pki::tls("regional-standin-client.cert.pem");
  options.tls.key_file = Pki::tls("regional-standin-client.key.pem");
  HttpsClient client(loop.io.get_executor(), options);
  auto future = send(client, get("/"));
  BOOST_TEST(wait(future).ec.failed());
}

BOOST_AUTO_TEST_CASE(server_certificate_must_match_the_name) {
  Loop loop;
  HttpsServer server(loop.io, national_server_tls(), echo, quiet_options());
  const auto port = server.listen();
  auto options = client_options(port);
  options.tls.server_name = "wrong.example";
  HttpsClient client(loop.io.get_executor(), options);
  auto future = send(client, get("/"));
  BOOST_TEST(wait(future).ec.failed());

  options.tls.server_name = "localhost";  // the stand-in's SAN holds both localhost and the IP
  HttpsClient by_name(loop.io.get_executor(), options);
  auto ok = send(by_name, get("/"));
  BOOST_TEST(!wait(ok).ec);
}

BOOST_AUTO_TEST_CASE(server_certificate_from_another_ca_is_refused) {
  Loop loop;
  TlsConfig tls;
  tls.ca_file = Pki::tls("national-ca.pem");
  tls.cert_file = Pki::tls("regional-standin-server.cert.pem");
  tls.key_file = Pki::tls("regional-standin-server.key.pem");
  HttpsServer server(loop.io, tls, echo, quiet_options());
  const auto port = server.listen();
  HttpsClient client(loop.io.get_executor(), client_options(port));
  auto future = send(client, get("/"));
  BOOST_TEST(wait(future).ec.failed());
}

BOOST_AUTO_TEST_CASE(tls_1_0_and_1_1_are_refused) {
  Loop loop;
  auto tls = national_server_tls();
  tls.allow_tls12 = true;  // even then
  HttpsServer server(loop.io, tls, echo, quiet_options());
  const auto port = server.listen();
  BOOST_TEST(raw_handshake(port, TLS1_VERSION, TLS1_1_VERSION).failed());
  BOOST_TEST(raw_handshake(port, TLS1_VERSION, TLS1_VERSION).failed());
  BOOST_TEST(!raw_handshake(port, TLS1_2_VERSION, TLS1_2_VERSION).failed());
}

BOOST_AUTO_TEST_CASE(tls_1_2_only_when_allowed) {
  Loop loop;
  HttpsServer strict(loop.io, national_server_tls(), echo, quiet_options());
  const auto strict_port = strict.listen();
  BOOST_TEST(raw_handshake(strict_port, TLS1_2_VERSION, TLS1_2_VERSION).failed());
  BOOST_TEST(!raw_handshake(strict_port, TLS1_3_VERSION, TLS1_3_VERSION).failed());

  auto tls = national_server_tls();
  tls.allow_tls12 = true;
  HttpsServer lenient(loop.io, tls, echo, quiet_options());
  const auto lenient_port = lenient.listen();
  BOOST_TEST(!raw_handshake(lenient_port, TLS1_2_VERSION, TLS1_2_VERSION).failed());
}

BOOST_AUTO_TEST_CASE(timeout_fires_against_a_slow_server) {
  Loop loop;
  HttpsServer server(loop.io, national_server_tls(), echo, quiet_options());
  const auto port = server.listen();
  server.faults().delay_ms = 2000;
  auto options = client_options(port);
  options.timeout = std::chrono::milliseconds(200);
  HttpsClient client(loop.io.get_executor(), options);
  const auto start = std::chrono::steady_clock::now();
  auto future = send(client, get("/slow"));
  const Result result = wait(future);
  BOOST_TEST((result.ec == net::error::timed_out));
  BOOST_TEST((std::chrono::steady_clock::now() - start < std::chrono::milliseconds(1500)));
}

BOOST_AUTO_TEST_CASE(dropped_response_is_an_error_then_the_next_request_succeeds) {
  Loop loop;
  HttpsServer server(loop.io, national_server_tls(), echo, quiet_options());
  const auto port = server.listen();
  server.faults().drop_responses = 1;
  HttpsClient client(loop.io.get_executor(), client_options(port));
  auto first = send(client, get("/1"));
  BOOST_TEST(wait(first).ec.failed());
  auto second = send(client, get("/2"));
  const Result result = wait(second);
  BOOST_REQUIRE(!result.ec);
  BOOST_TEST(*result.response.header("x-target") == "/2");
}

BOOST_AUTO_TEST_CASE(refused_tls_is_an_error) {
  Loop loop;
  HttpsServer server(loop.io, national_server_tls(), echo, quiet_options());
  const auto port = server.listen();
  server.faults().refuse_tls = true;
  HttpsClient client(loop.io.get_executor(), client_options(port));
  auto future = send(client, get("/"));
  BOOST_TEST(wait(future).ec.failed());
}

BOOST_AUTO_TEST_CASE(garbage_from_a_plain_tcp_server_is_an_error) {
  Loop loop;
  tcp::acceptor acceptor(loop.io, tcp::endpoint(net::ip::make_address("127.0.0.1"), 0));
  const auto port = acceptor.local_endpoint().port();
  std::thread peer([&acceptor] {
    error_code ec;
    tcp::socket socket = acceptor.accept(ec);
    if (ec) return;
    const std::string garbage = "HTTP/1.1 200 OK\r\nnot tls at all\r\n\r\n";
    net::write(socket, net::buffer(garbage), ec);
    socket.shutdown(tcp::socket::shutdown_both, ec);
  });
  HttpsClient client(loop.io.get_executor(), client_options(port));
  auto future = send(client, get("/"));
  BOOST_TEST(wait(future).ec.failed());
  peer.join();
}

BOOST_AUTO_TEST_CASE(malformed_http_inside_tls_is_an_error) {
  Loop loop;
  auto ctx = kakehashi::adapters::http::make_server_context(national_server_tls());
  tcp::acceptor acceptor(loop.io, tcp::endpoint(net::ip::make_address("127.0.0.1"), 0));
  const auto port = acceptor.local_endpoint().port();
  std::thread peer([&acceptor, &ctx] {
    net::io_context io;
    error_code ec;
    ssl::stream<tcp::socket> stream(io, ctx);
    acceptor.accept(stream.next_layer(), ec);
    if (ec) return;
    stream.handshake(ssl::stream_base::server, ec);
    if (ec) return;
    char buf[4096];
    stream.read_some(net::buffer(buf), ec);
    const std::string garbage = "HTTP/1.1 2x0 OK\r\nContent-Length: zz\r\n\r\n";
    net::write(stream, net::buffer(garbage), ec);
    stream.shutdown(ec);
  });
  HttpsClient client(loop.io.get_executor(), client_options(port));
  auto future = send(client, get("/"));
  const Result result = wait(future);
  BOOST_TEST(result.ec.failed());
  peer.join();
}

BOOST_AUTO_TEST_CASE(request_body_too_large_gets_413) {
  Loop loop;
  auto server_options = quiet_options();
  server_options.max_body_bytes = 1024;
  HttpsServer server(loop.io, national_server_tls(), echo, server_options);
  const auto port = server.listen();
  HttpsClient client(loop.io.get_executor(), client_options(port));
  Request request;
  request.method = "POST";
  request.target = "/big";
  request.body.assign(4096, 'x');
  auto future = send(client, request);
  const Result result = wait(future);
  BOOST_REQUIRE_MESSAGE(!result.ec, result.ec.message());
  BOOST_TEST(result.response.status == 413);
  auto next = send(client, get("/after"));
  BOOST_TEST(!wait(next).ec);
}

BOOST_AUTO_TEST_CASE(response_body_too_large_is_a_client_error) {
  Loop loop;
  HttpsServer server(loop.io, national_server_tls(), echo);
  const auto port = server.listen();
  auto options = client_options(port);
  options.max_body_bytes = 1024;
  HttpsClient client(loop.io.get_executor(), options);
  Request request;
  request.method = "PUT";
  request.target = "/big";
  request.body.assign(900, 'x');  // accepted by the server, echoed back
  auto ok = send(client, request);
  BOOST_TEST(!wait(ok).ec);
  request.body.assign(4096, 'x');
  auto future = send(client, request);
  const Result result = wait(future);
  BOOST_TEST((result.ec == boost::beast::http::error::body_limit),
             result.ec.message() << " status " << result.response.status << " body "
                                 << result.response.body.size());
}

BOOST_AUTO_TEST_CASE(stop_with_a_request_in_flight_ends_it_with_an_error) {
  Loop loop;
  std::promise<void> arrived;
  std::mutex mutex;
  std::function<void(Response)> pending;
  HttpsServer server(
      loop.io, national_server_tls(),
      [&](Request, std::function<void(Response)> respond) {
        {
          std::lock_guard lock(mutex);
          pending = std::move(respond);
        }
        arrived.set_value();
      },
      quiet_options());
  const auto port = server.listen();
  HttpsClient client(loop.io.get_executor(), client_options(port));
  auto future = send(client, get("/hang"));
  BOOST_REQUIRE(arrived.get_future().wait_for(kWait) == std::future_status::ready);
  server.stop();
  BOOST_TEST(wait(future).ec.failed());
  std::lock_guard lock(mutex);
  pending(Response{});  // a late answer to a closed connection is dropped quietly
  pending = nullptr;
}

BOOST_AUTO_TEST_CASE(close_aborts_queued_requests) {
  Loop loop;
  HttpsServer server(loop.io, national_server_tls(), echo);
  const auto port = server.listen();
  auto options = client_options(port);
  options.max_connections = 1;
  HttpsClient client(loop.io.get_executor(), options);
  auto first = send(client, get("/1"));
  auto second = send(client, get("/2"));
  auto third = send(client, get("/3"));
  client.close();
  BOOST_TEST(!wait(first).ec);
  BOOST_TEST((wait(second).ec == net::error::operation_aborted));
  BOOST_TEST((wait(third).ec == net::error::operation_aborted));
  auto after = send(client, get("/4"));  // close() is not the end of the client
  BOOST_TEST(!wait(after).ec);
}

BOOST_AUTO_TEST_CASE(destroying_the_client_with_requests_in_flight_is_safe) {
  Loop loop;
  std::promise<void> arrived;
  std::mutex mutex;
  std::function<void(Response)> pending;
  HttpsServer server(
      loop.io, national_server_tls(),
      [&](Request, std::function<void(Response)> respond) {
        {
          std::lock_guard lock(mutex);
          pending = std::move(respond);
        }
        arrived.set_value();
      },
      quiet_options());
  const auto port = server.listen();
  std::future<Result> in_flight;
  std::future<Result> queued;
  {
    auto options = client_options(port);
    options.max_connections = 1;
    HttpsClient client(loop.io.get_executor(), options);
    in_flight = send(client, get("/hang"));
    queued = send(client, get("/queued"));
    BOOST_REQUIRE(arrived.get_future().wait_for(kWait) == std::future_status::ready);
  }
  BOOST_TEST((wait(in_flight).ec == net::error::operation_aborted));
  BOOST_TEST((wait(queued).ec == net::error::operation_aborted));
  std::lock_guard lock(mutex);
  pending(Response{});
  pending = nullptr;
}

BOOST_AUTO_TEST_CASE(key_readable_by_others_is_refused) {
  const fs::path key = Pki::instance->root / "loose.key.pem";
  fs::copy_file(Pki::tls("national-standin-server.key.pem"), key,
                fs::copy_options::overwrite_existing);
  fs::permissions(key, fs::perms::owner_read | fs::perms::owner_write | fs::perms::group_read |
                           fs::perms::others_read);
  auto tls = national_server_tls();
  tls.key_file = key.string();
  try {
    kakehashi::adapters::http::make_server_context(tls);
    BOOST_FAIL("a world-readable key was accepted");
  } catch (const std::runtime_error& e) {
    BOOST_TEST(std::string(e.what()).find(key.string()) != std::string::npos, e.what());
  }
}
