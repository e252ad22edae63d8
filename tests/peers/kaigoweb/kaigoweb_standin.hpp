#pragma once
// The Kaigo WEB Service stand-in (adapters/kaigoweb/PROTOCOL.md §9): a real HTTPS server with TLS
// 1.3 and per-office client certificates that enforces our model of the care-plan API v1 (login
// with a one-time password, tokens bound to the certificate, sends checked with
// mapping/standard5, feeds, acks, business errors in HTTP 200), keeps its state in SQLite so a
// restart loses nothing, and offers the admin surface the tests drive it with.

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "adapters/common/http/asio.hpp"
#include "adapters/common/http/message.hpp"
#include "adapters/common/http/tls_config.hpp"
#include "tests/peers/kaigoweb/tls_listener.hpp"

namespace kakehashi::standin::kaigoweb {

// What POST /admin/v1/settings may change at run time (§9's flags of the same names).
struct Settings {
  std::int64_t access_ttl = 3600;  // seconds
  std::int64_t refresh_ttl = 28800;
  std::int64_t otp_ttl = 300;
  std::int64_t lockout_after = 5;
  std::int64_t lockout_seconds = 1800;
  std::int64_t rate_per_office = 10;  // requests per second (token bucket)
  std::int64_t rate_burst = 20;
  std::int64_t auth_rate_per_minute = 10;
  std::int64_t delivery_delay_ms = 0;
  // Benchmark mode (--bench): a send is checked for its envelope only (JSON, metadata, sender),
  // not for the document's schema, characters or 4.1 rendering, so that the stand-in stays cheap
  // beside the gateway it measures (tests/bench/relay/README.md). Never in tests of behaviour.
  bool bench = false;
};

struct StandinOptions {
  adapters::http::TlsConfig tls;  // server certificate; ca_file = the kaigoweb CA
  std::string state_file;         // SQLite file; created when missing
  std::string otp_dir;            // "" = otp/ beside the state file
  std::string admin_token = "admin";
  Settings settings;
  std::size_t max_connections_per_office = 8;
  std::size_t max_body_bytes = 32ull * 1024 * 1024;
};

// Paths inside a development PKI made by deploy/pki.sh (DIR/kaigoweb/...).
StandinOptions options_from_pki(const std::string& pki_dir, const std::string& state_file);

struct Account {
  std::string office_no;
  std::string user_id;
  std::string password;
  std::string otp_delivery = "sms";  // email | sms
  std::string destination_hint;      // "" = made up from the delivery
};

// "OFFICE_NO:USER_ID:PASSWORD[:email|sms]" (the --account flag and the accounts file's lines).
std::optional<Account> parse_account(const std::string& spec);

struct OfficeRecord {
  std::string office_no;
  std::vector<std::string> service_types;
  std::string name;
  std::string kana;
  std::string prefecture;
  std::string status = "ACTIVE";  // ACTIVE | SUSPENDED | CLOSED
};

class KaigoWebStandin {
 public:
  // Opens (or creates) the state file; throws on failure (startup only).
  KaigoWebStandin(boost::asio::io_context& io, StandinOptions options);
  ~KaigoWebStandin();
  KaigoWebStandin(const KaigoWebStandin&) = delete;
  KaigoWebStandin& operator=(const KaigoWebStandin&) = delete;

  // Starts serving on 127.0.0.1; returns the port (0: any free port).
  std::uint16_t listen(std::uint16_t port = 0);
  std::uint16_t port() const;
  // Stops accepting and closes open connections (asynchronous, on the io_context).
  void stop();

  // One request as the server hands it over; thread-safe (tests may call it directly).
  Reply handle(const adapters::http::Request& request, const Connection& connection);

  // Set-up without HTTP (the same effects as the admin calls).
  void add_account(const Account& account);
  void upsert_office(const OfficeRecord& office);
  void load_accounts_file(
      const std::string& path);  // --accounts: lines of parse_account, # comments
  void load_offices_file(const std::string& path);  // --offices: {"offices":[…]}

  // Transport switches that cannot be set over TLS (refuse_tls).
  ListenerFaults& server_faults();
  // Connections accepted and requests read (a handshake refusal reads none).
  std::uint64_t accepted_connections() const;
  std::uint64_t requests_read() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// The stand-in on its own io_context thread, listening on 127.0.0.1 (tests, in-process use).
class StandinThread {
 public:
  explicit StandinThread(StandinOptions options, std::uint16_t port = 0);
  ~StandinThread();  // stops the server and joins the thread
  StandinThread(const StandinThread&) = delete;
  StandinThread& operator=(const StandinThread&) = delete;

  std::uint16_t port() const { return port_; }
  KaigoWebStandin& standin() { return *standin_; }
  ListenerFaults& server_faults() { return standin_->server_faults(); }
  void stop();

 private:
  boost::asio::io_context io_;
  std::optional<boost::asio::executor_work_guard<boost::asio::io_context::executor_type>> work_;
  std::unique_ptr<KaigoWebStandin> standin_;
  std::uint16_t port_ = 0;
  std::thread thread_;
};

}  // namespace kakehashi::standin::kaigoweb
