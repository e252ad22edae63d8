// `kakehashi kaigoweb ...` (adapters/kaigoweb/kaigoweb_command.hpp) run directly, and the
// command line's dispatch of network types' subcommands (gateway/cli/type_commands.hpp):
// credentials add/list/check/remove against a TLS 1.3 service stand-in made here (client
// certificates required, 401 without a token), login/offices against a stand-in of the admin API.
#define BOOST_TEST_MODULE kaigoweb_command
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/test/unit_test.hpp>
#include <filesystem>
#include <future>
#include <mutex>
#include <sstream>
#include <thread>

#include "adapters/common/http/https_server.hpp"
#include "adapters/kaigoweb/credentials.hpp"
#include "adapters/kaigoweb/kaigoweb_command.hpp"
#include "gateway/admin/admin_server.hpp"
#include "gateway/cli/command.hpp"
#include "gateway/cli/type_commands.hpp"
#include "gateway/store/store.hpp"
#include "tests/cli/test_office_pki.hpp"

namespace fs = std::filesystem;
namespace kw = kakehashi::adapters::kaigoweb;
namespace http = kakehashi::adapters::http;
using kakehashi::testing::TestCa;
using kakehashi::testing::write_text;

namespace {

const std::string kOffice = "3271500013";
const std::string kPassword = "s3cret-Passw0rd";
const std::string kToken = "operator-token-123";
const std::string kOtp = "483920";

struct Run {
  int code = -1;
  std::string out, err;
};

// An io_context on its own thread for the servers the command talks to.
struct ServerThread {
  boost::asio::io_context io;
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> guard{io.get_executor()};
  std::thread thread{[this] { io.run(); }};
  ~ServerThread() {
    guard.reset();
    io.stop();
    thread.join();
  }
};

struct Fixture {
  fs::path dir;
  TestCa ca;
  TestCa other_ca;
  TestCa::Issued office = ca.office(kOffice);
  ServerThread service_thread;
  std::unique_ptr<http::HttpsServer> service;
  std::uint16_t service_port = 0;
  std::atomic<int> service_calls{0};
  std::atomic<bool> saw_authorization{false};

  Fixture() {
    dir = fs::temp_directory_path() / ("kh-kw-cmd-" + std::to_string(::getpid()));
    fs::remove_all(dir);
    fs::create_directories(dir / "pki");
    ::chmod(dir.c_str(), 0700);
    write_text(dir / "pki" / "ca.pem", kakehashi::testing::cert_pem(ca.cert.get()));
    // The service: TLS 1.3 only, a client certificate of `ca` required, 401 S4011 without a token.
    kakehashi::testing::CertSpec server_spec;
    server_spec.common_name = "localhost";
    server_spec.server_for_localhost = true;
    auto server_key = kakehashi::testing::make_rsa_key();
    auto server_cert = kakehashi::testing::make_certificate(server_spec, server_key.get(),
                                                            ca.cert.get(), ca.key.get());
    write_text(dir / "pki" / "server.cert.pem", kakehashi::testing::cert_pem(server_cert.get()));
    write_text(dir / "pki" / "server.key.pem", kakehashi::testing::key_pem(server_key.get()));
    http::TlsConfig tls;
    tls.cert_file = (dir / "pki" / "server.cert.pem").string();
    tls.key_file = (dir / "pki" / "server.key.pem").string();
    tls.ca_file = (dir / "pki" / "ca.pem").string();
    tls.require_peer_cert = true;
    http::ServerOptions quiet;
    quiet.on_error = [](const std::string&) {};
    service = std::make_unique<http::HttpsServer>(
        service_thread.io, tls,
        [this](http::Request req, std::function<void(http::Response)> respond) {
          ++service_calls;
          if (req.header("authorization") != nullptr) saw_authorization = true;
          respond(
              {401,
               {{"content-type", "application/json"}},
               R"({"result":"NG","request_id":"r1","errors":[{"code":"S4011","message":"no token"}]})"});
        },
        quiet);
    service_port = service->listen("127.0.0.1", 0);
    write_config();
    // Source files for `credentials add`.
    write_text(dir / "office.cert.pem", office.cert_pem);
    write_text(dir / "office.key.pem", office.key_pem);
    write_text(dir / "password", kPassword + "\n");
  }
  ~Fixture() {
    service->stop();
    std::error_code ec;
    fs::remove_all(dir, ec);
  }

  void write_config(std::uint16_t admin_port = 0) {
    std::ostringstream c;
    c << "// a gateway config, only what `kakehashi kaigoweb` reads\n{\n"
      << R"( "admin": {"listen": "127.0.0.1:)" << admin_port
      << R"(", "client_certificates": {"ca_file": "pki/ca.pem"}},)"
      << "\n"
      << R"( "networks": {"regional": {"type": "regional", "settings": {}},)"
      << "\n"
      << R"(   "kaigo": {"type": "kaigoweb", "settings": {"base_url": "https://127.0.0.1:)"
      << service_port << R"(", "tls": {"ca_file": "pki/ca.pem"}, "credentials_dir": "credentials",)"
      << R"( "certificate_alert_days": 90}}}})"
      << "\n";
    write_text(dir / "kakehashi.json", c.str(), 0644);
  }

  std::string config() const { return (dir / "kakehashi.json").string(); }
  fs::path credentials() const { return dir / "credentials"; }

  Run run(std::vector<std::string> args, kw::KaigowebCommandOptions options = {}) {
    const auto command = kw::kaigoweb_command(std::move(options));
    std::ostringstream out, err;
    Run r;
    r.code = command.run(args, out, err);
    r.out = out.str();
    r.err = err.str();
    BOOST_TEST_MESSAGE("exit " << r.code << "\n" << r.out << r.err);
    return r;
  }

  Run add(const std::string& cert, const std::string& key) {
    return run({"credentials", "add", "kaigo", kOffice, "--config", config(), "--cert", cert,
                "--key", key, "--user-id", "kk-gw-" + kOffice, "--password-file",
                (dir / "password").string(), "--receive-from", "2027-04-01T09:00:00+09:00"});
  }
};

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

mode_t mode_of(const fs::path& p) {
  struct stat st {};
  ::stat(p.c_str(), &st);
  return st.st_mode & 07777;
}

}  // namespace

BOOST_FIXTURE_TEST_CASE(credentials_add_list_check_remove, Fixture) {
  auto r = add((dir / "office.cert.pem").string(), (dir / "office.key.pem").string());
  BOOST_TEST(r.code == 0);
  BOOST_TEST(mode_of(credentials()) == 0700u);
  BOOST_TEST(mode_of(credentials() / kOffice) == 0700u);
  BOOST_TEST(mode_of(credentials() / kOffice / "password") == 0600u);
  BOOST_TEST(mode_of(credentials() / kOffice / "key.pem") == 0600u);
  BOOST_TEST(!contains(r.out + r.err, kPassword));
  const auto stored = kw::read_office_credentials(credentials(), kOffice);
  BOOST_REQUIRE(std::holds_alternative<kw::OfficeCredentials>(stored));
  BOOST_TEST(std::get<kw::OfficeCredentials>(stored).receive_from == "2027-04-01T00:00:00Z");
  BOOST_TEST(std::get<kw::OfficeCredentials>(stored).password == kPassword);

  // The network may be left out: the config has one kaigoweb network.
  r = run({"credentials", "list", "--config", config()});
  BOOST_TEST(r.code == 0);
  BOOST_TEST(contains(r.out, kOffice));
  BOOST_TEST(contains(r.out, "ok"));
  BOOST_TEST(!contains(r.out, kPassword));

  r = run({"credentials", "check", "kaigo", kOffice, "--config", config()});
  BOOST_TEST(r.code == 0);
  BOOST_TEST(contains(r.out, "accepted the certificate"));
  BOOST_TEST(service_calls.load() == 1);
  BOOST_TEST(!saw_authorization.load());  // never a token, never the password
  BOOST_TEST(!contains(r.out + r.err, kPassword));

  r = run({"credentials", "check", "--config", config(), "--no-connect"});
  BOOST_TEST(r.code == 0);
  BOOST_TEST(service_calls.load() == 1);

  r = run({"credentials", "remove", kOffice, "--config", config()});
  BOOST_TEST(r.code == 0);
  BOOST_TEST(!fs::exists(credentials() / kOffice));
  r = run({"credentials", "remove", kOffice, "--config", config()});
  BOOST_TEST(r.code == 1);
}

BOOST_FIXTURE_TEST_CASE(credentials_add_refuses_what_the_gateway_would_refuse, Fixture) {
  // A key file others can read.
  write_text(dir / "open.key.pem", office.key_pem, 0644);
  auto r = add((dir / "office.cert.pem").string(), (dir / "open.key.pem").string());
  BOOST_TEST(r.code == 2);
  BOOST_TEST(contains(r.err, "chmod 600 " + (dir / "open.key.pem").string()));
  // Another office's key.
  const auto stranger = ca.office(kOffice);
  write_text(dir / "other.key.pem", stranger.key_pem);
  r = add((dir / "office.cert.pem").string(), (dir / "other.key.pem").string());
  BOOST_TEST(r.code == 1);
  BOOST_TEST(contains(r.err, "does not match"));
  // A certificate of another CA.
  const auto foreign = other_ca.office(kOffice);
  write_text(dir / "foreign.cert.pem", foreign.cert_pem);
  write_text(dir / "foreign.key.pem", foreign.key_pem);
  r = add((dir / "foreign.cert.pem").string(), (dir / "foreign.key.pem").string());
  BOOST_TEST(r.code == 1);
  BOOST_TEST(contains(r.err, "does not verify"));
  BOOST_TEST(!fs::exists(credentials() / kOffice));
  // Usage.
  r = run({"credentials", "add", "kaigo", "not-an-office", "--config", config()});
  BOOST_TEST(r.code == 2);
  r = run({"credentials", "list"});
  BOOST_TEST(r.code == 2);
  BOOST_TEST(contains(r.err, "--config"));
}

BOOST_FIXTURE_TEST_CASE(credentials_check_finds_each_problem, Fixture) {
  // Stored directly (as if copied by hand): a certificate of another CA, which the service
  // refuses in the handshake; then open modes.
  const auto foreign = other_ca.office(kOffice);
  kakehashi::testing::write_office_folder(credentials(), kOffice, foreign, "kk-gw", kPassword);
  auto r = run({"credentials", "check", "--config", config()});
  BOOST_TEST(r.code == 1);
  BOOST_TEST(contains(r.out, "chain"));
  ::chmod((credentials() / kOffice / "password").c_str(), 0644);
  r = run({"credentials", "check", "--config", config()});
  BOOST_TEST(r.code == 1);
  BOOST_TEST(contains(r.out, "chmod 600"));
  r = run({"credentials", "list", "--config", config()});
  BOOST_TEST(r.code == 0);
  BOOST_TEST(contains(r.out, "PROBLEM"));
}

BOOST_FIXTURE_TEST_CASE(credentials_check_warns_within_the_alert_period, Fixture) {
  // 60 days left: within certificate_alert_days (90), still valid, accepted by the service.
  const auto expiring = ca.office(kOffice, kakehashi::testing::valid_between(-86400, 60L * 86400));
  kakehashi::testing::write_office_folder(credentials(), kOffice, expiring, "kk-gw", kPassword);
  const auto r = run({"credentials", "check", "--config", config()});
  BOOST_TEST(r.code == 0);
  BOOST_TEST(contains(r.out, "RENEW SOON"));
  BOOST_TEST(contains(r.out, "accepted the certificate"));
}

BOOST_FIXTURE_TEST_CASE(credentials_check_fails_when_the_service_refuses_the_handshake, Fixture) {
  // The chain is fine for the gateway's view, but the service trusts another CA.
  write_text(dir / "pki" / "ca.pem", kakehashi::testing::cert_pem(ca.cert.get()));
  kakehashi::testing::write_office_folder(credentials(), kOffice, office, "kk-gw", kPassword);
  service->stop();
  http::TlsConfig tls;
  tls.cert_file = (dir / "pki" / "server.cert.pem").string();
  tls.key_file = (dir / "pki" / "server.key.pem").string();
  write_text(dir / "pki" / "other-ca.pem", kakehashi::testing::cert_pem(other_ca.cert.get()));
  tls.ca_file = (dir / "pki" / "other-ca.pem").string();
  tls.require_peer_cert = true;
  http::ServerOptions quiet;
  quiet.on_error = [](const std::string&) {};
  service = std::make_unique<http::HttpsServer>(
      service_thread.io, tls,
      [](http::Request, std::function<void(http::Response)> respond) {
        respond({401, {}, "{}"});
      },
      quiet);
  service_port = service->listen("127.0.0.1", 0);
  write_config();
  const auto r = run({"credentials", "check", kOffice, "--config", config()});
  BOOST_TEST(r.code == 1);
  BOOST_TEST(contains(r.out, "handshake"));
}

namespace {

// A stand-in of the daemon's admin API for one office: login, otp, offices.
struct AdminStandIn {
  ServerThread thread;
  std::unique_ptr<http::HttpsServer> server;
  std::uint16_t port = 0;
  std::mutex mutex;
  std::vector<std::string> calls;  // "METHOD target body"
  std::string login_state = "awaiting_otp";

  AdminStandIn(const fs::path& pki) {
    http::TlsConfig tls;
    tls.cert_file = (pki / "server.cert.pem").string();
    tls.key_file = (pki / "server.key.pem").string();
    tls.require_peer_cert = false;
    http::ServerOptions quiet;
    quiet.on_error = [](const std::string&) {};
    server = std::make_unique<http::HttpsServer>(
        thread.io, tls,
        [this](http::Request req, std::function<void(http::Response)> respond) {
          respond(answer(req));
        },
        quiet);
    port = server->listen("127.0.0.1", 0);
  }
  ~AdminStandIn() { server->stop(); }

  http::Response answer(const http::Request& req) {
    std::lock_guard lock(mutex);
    calls.push_back(req.method + " " + req.target + " " + req.body);
    const auto* auth = req.header("authorization");
    if (auth == nullptr || *auth != "Bearer " + kToken) {
      return {401, {}, R"({"error":"unauthorized","reason":"no"})"};
    }
    const std::string base = "/api/networks/kaigo/offices/" + kOffice;
    if (req.method == "POST" && req.target == base + "/login") {
      if (login_state == "locked") {
        return {200, {}, R"({"state":"locked","locked_until":"2027-04-01T01:00:00Z"})"};
      }
      return {
          200,
          {},
          R"({"state":"awaiting_otp","otp_delivery":"sms","otp_destination_hint":"***-****-1234","otp_expires_at":"2027-04-01T00:05:00Z"})"};
    }
    if (req.method == "POST" && req.target == base + "/login/otp") {
      if (req.body == R"({"otp":")" + kOtp + R"("})") {
        return {200, {}, R"({"state":"active","refresh_expires_at":"2027-04-01T08:00:00Z"})"};
      }
      return {200, {}, R"({"state":"awaiting_otp","error":"KW1003","message":"wrong code"})"};
    }
    if (req.method == "GET" && req.target == "/api/networks/kaigo/offices") {
      return {
          200,
          {},
          R"({"network":"kaigo","offices":[{"office_no":")" + kOffice +
              R"(","state":"login_required","refresh_expires_at":"","certificate_not_after":"2029-01-01T00:00:00Z","detail":"the 8-hour session lapsed"}]})"};
    }
    return {404, {}, R"({"error":"not_found","reason":"no such network or office"})"};
  }
};

}  // namespace

BOOST_FIXTURE_TEST_CASE(login_through_the_admin_api, Fixture) {
  AdminStandIn admin(dir / "pki");
  write_config(admin.port);
  write_text(dir / "operator.token", kToken + "\n");
  write_text(dir / "otp", kOtp + " (sent by the stand-in)\n");
  const std::vector<std::string> access{"--config", config(), "--token-file",
                                        (dir / "operator.token").string()};
  auto with = [&](std::vector<std::string> args) {
    args.insert(args.end(), access.begin(), access.end());
    return args;
  };
  auto r = run(with({"login", "kaigo", kOffice, "--otp-file", (dir / "otp").string()}));
  BOOST_TEST(r.code == kw::kLoginActive);
  BOOST_TEST(contains(r.out, "sms to ***-****-1234"));  // shown to the person logging in
  BOOST_TEST(contains(r.out, "2027-04-01T08:00:00Z"));
  BOOST_TEST(!contains(r.out + r.err, kOtp));
  {
    std::lock_guard lock(admin.mutex);
    BOOST_REQUIRE(admin.calls.size() == 2u);
    BOOST_TEST(contains(admin.calls[1], "/login/otp"));
  }

  // Prompted: a wrong code, asked again, then the right one.
  int asked = 0;
  kw::KaigowebCommandOptions prompted;
  prompted.read_otp = [&](std::ostream&) -> std::optional<std::string> {
    return ++asked == 1 ? "000000" : kOtp;
  };
  r = run(with({"login", "kaigo", kOffice}), prompted);
  BOOST_TEST(r.code == kw::kLoginActive);
  BOOST_TEST(asked == 2);
  BOOST_TEST(contains(r.err, "KW1003"));

  // A wrong code in a file: exit 1.
  write_text(dir / "otp", "111111\n");
  r = run(with({"login", "kaigo", kOffice, "--otp-file", (dir / "otp").string()}));
  BOOST_TEST(r.code == kw::kLoginCodeRefused);

  {
    std::lock_guard lock(admin.mutex);
    admin.login_state = "locked";
  }
  r = run(with({"login", "kaigo", kOffice, "--otp-file", (dir / "otp").string()}));
  BOOST_TEST(r.code == kw::kLoginLocked);
  BOOST_TEST(contains(r.err, "2027-04-01T01:00:00Z"));

  r = run(with({"login", "kaigo", "3271500021", "--otp-file", (dir / "otp").string()}));
  BOOST_TEST(r.code == kw::kLoginRefused);

  r = run(with({"offices", "kaigo"}));
  BOOST_TEST(r.code == 0);
  BOOST_TEST(contains(r.out, kOffice + "  login_required"));

  // A wrong token; then no daemon at all.
  write_text(dir / "operator.token", "wrong\n");
  r = run(with({"offices", "kaigo"}));
  BOOST_TEST(r.code == kw::kLoginRefused);
  admin.server->stop();
  r = run({"offices", "kaigo", "--admin", "https://127.0.0.1:1", "--admin-ca",
           (dir / "pki" / "ca.pem").string(), "--token-file", (dir / "operator.token").string()});
  BOOST_TEST(r.code == kw::kLoginDaemonUnreachable);
}

namespace {

// The office logins of a network as its adapter would offer them: one office, code 483920.
struct OneOfficeLogins : kakehashi::gateway::OfficeLogins {
  std::string state = "login_required";
  void begin_login(std::string office,
                   std::function<void(kakehashi::gateway::LoginStep)> done) override {
    kakehashi::gateway::LoginStep step;
    if (office != kOffice) {
      step.state = "unknown_office";
    } else {
      state = step.state = "awaiting_otp";
      step.otp_delivery = "email";
      step.otp_destination_hint = "k***@example.jp";
      step.otp_expires_at = "2027-04-01T00:05:00Z";
    }
    done(step);
  }
  void submit_otp(std::string, std::string otp,
                  std::function<void(kakehashi::gateway::LoginStep)> done) override {
    kakehashi::gateway::LoginStep step;
    if (otp == kOtp) {
      state = step.state = "active";
      step.refresh_expires_at = "2027-04-01T08:00:00Z";
    } else {
      step.state = "awaiting_otp";
      step.error = "KW1003";
    }
    done(step);
  }
  void office_states(
      std::function<void(std::vector<kakehashi::gateway::OfficeSessionView>)> done) override {
    kakehashi::gateway::OfficeSessionView v;
    v.office_no = kOffice;
    v.state = state;
    done({v});
  }
};

}  // namespace

// The command against the real admin listener (gateway/admin) and its office endpoints, with a
// fake network's OfficeLogins: the paths and answers the command reads are the listener's.
BOOST_FIXTURE_TEST_CASE(login_through_the_real_admin_listener, Fixture) {
  namespace admin = kakehashi::gateway::admin;
  namespace store = kakehashi::gateway::store;
  kakehashi::testing::CertSpec spec;
  spec.common_name = "kakehashi-admin";
  spec.server_for_localhost = true;
  auto key = kakehashi::testing::make_rsa_key();
  auto cert = kakehashi::testing::make_certificate(spec, key.get(), ca.cert.get(), ca.key.get());
  write_text(dir / "pki" / "admin.cert.pem", kakehashi::testing::cert_pem(cert.get()));
  write_text(dir / "pki" / "admin.key.pem", kakehashi::testing::key_pem(key.get()));
  write_text(dir / "tokens",
             "operator " + kToken + " test-operator\nauditor auditor-token-0123456789 a\n");
  write_text(dir / "operator.token", kToken + "\n");
  write_text(dir / "auditor.token", "auditor-token-0123456789\n");
  const std::string db = (dir / "store.db").string();
  const auto open = [db] {
    return std::make_unique<store::Store>(store::open_sqlite(db), store::AuditOptions{});
  };
  open()->migrate();
  admin::AdminConfig listener_config;
  listener_config.enabled = true;
  listener_config.port = 0;
  listener_config.certificate_file = (dir / "pki" / "admin.cert.pem").string();
  listener_config.key_file = (dir / "pki" / "admin.key.pem").string();
  listener_config.tokens_file = (dir / "tokens").string();
  auto logins = std::make_shared<OneOfficeLogins>();
  admin::AdminSources sources;
  sources.instance = "cli-test";
  sources.open_store = open;
  sources.office_logins = [logins] {
    return admin::OfficeLoginsByNetwork{{"kaigo", logins.get()}};
  };
  ServerThread listener_thread;
  auto listener =
      std::make_unique<admin::AdminServer>(listener_thread.io, listener_config, std::move(sources));
  const auto port = listener->start(0);
  write_config(port);
  write_text(dir / "otp", std::string(kOtp) + "\n");

  const auto as = [&](const char* token, std::vector<std::string> args) {
    for (const auto& a :
         {std::string("--config"), config(), std::string("--token-file"), (dir / token).string()})
      args.push_back(a);
    return run(args);
  };
  auto r = as("operator.token", {"offices", "kaigo"});
  BOOST_TEST(r.code == 0);
  BOOST_TEST(contains(r.out, kOffice + "  login_required"));
  r = as("operator.token", {"login", "kaigo", kOffice, "--otp-file", (dir / "otp").string()});
  BOOST_TEST(r.code == kw::kLoginActive);
  BOOST_TEST(contains(r.out, "email to k***@example.jp"));
  BOOST_TEST(contains(r.out, "2027-04-01T08:00:00Z"));
  BOOST_TEST(logins->state == "active");
  r = as("operator.token", {"login", "kaigo", "3271500021", "--otp-file", (dir / "otp").string()});
  BOOST_TEST(r.code == kw::kLoginRefused);
  r = as("operator.token", {"offices", "regional"});
  BOOST_TEST(r.code == kw::kLoginRefused);
  r = as("auditor.token", {"offices", "kaigo"});
  BOOST_TEST(r.code == kw::kLoginRefused);
  BOOST_TEST(contains(r.err, "operator"));

  std::promise<void> stopped;
  boost::asio::post(listener_thread.io, [&] {
    listener->stop();
    stopped.set_value();
  });
  stopped.get_future().wait();
}

BOOST_AUTO_TEST_CASE(network_types_subcommands_are_dispatched_and_listed) {
  namespace cli = kakehashi::gateway::cli;
  std::vector<kakehashi::gateway::daemon::AdapterType> types(2);
  types[0].type = "plain";  // no subcommands
  types[1].type = "testnet";
  std::vector<std::string> seen;
  types[1].command.summary = "the test network's subcommands";
  types[1].command.help = "Usage: kakehashi testnet ...\n";
  types[1].command.run = [&](std::span<const std::string> args, std::ostream& out, std::ostream&) {
    seen.assign(args.begin(), args.end());
    out << "ran\n";
    return 7;
  };
  const auto commands = cli::type_commands(types);
  BOOST_REQUIRE(commands.size() == 1u);
  BOOST_TEST(commands[0].name == "testnet");

  std::ostringstream out, err;
  const std::vector<std::string> argv{"kakehashi", "testnet", "credentials", "list"};
  BOOST_TEST(cli::run_cli(argv, {out, err}, commands) == 7);
  BOOST_TEST(seen == (std::vector<std::string>{"credentials", "list"}),
             boost::test_tools::per_element());
  BOOST_TEST(out.str() == "ran\n");

  std::ostringstream help_out, help_err;
  const std::vector<std::string> help{"kakehashi", "--help"};
  BOOST_TEST(cli::run_cli(help, {help_out, help_err}, commands) == 0);
  BOOST_TEST(contains(help_out.str(), "testnet"));
  BOOST_TEST(contains(help_out.str(), "the test network's subcommands"));

  // The real list: every registered type with a command is there (the built-in ones are too).
  const auto all = cli::all_commands();
  BOOST_TEST(std::any_of(all.begin(), all.end(), [](const auto& c) { return c.name == "run"; }));
  for (const auto& t : kakehashi::gateway::daemon::adapter_types()) {
    const bool listed =
        std::any_of(all.begin(), all.end(), [&](const auto& c) { return c.name == t.type; });
    BOOST_TEST(listed == static_cast<bool>(t.command.run), t.type);
  }
}
