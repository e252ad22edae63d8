#pragma once
// The national system stand-in (NCP API v1, adapters/national/PROTOCOL.md): a real HTTPS server
// with mutual TLS that enforces the contract, keeps its state in SQLite and offers test controls.

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "adapters/common/http/https_server.hpp"
#include "adapters/common/http/message.hpp"
#include "adapters/common/http/tls_config.hpp"
#include "mapping/careplan/file_name.hpp"

namespace kakehashi::standin {

struct StandinOptions {
  adapters::http::TlsConfig tls;    // server certificate; ca_file = the national CA
  std::string state_file;           // SQLite file; created when missing
  std::string national_domain_dir;  // trust domain of national signatures (DIR/national)
  std::string proxied_domain_dir;   // trust domain of proxied senders (DIR/regional); optional
  std::string admin_token = "admin";
  std::chrono::seconds session_ttl{3600};
  std::size_t max_file_bytes = 10ull * 1024 * 1024;  // per decoded file (PROTOCOL §6)
  // Benchmark mode (tests/bench/relay only): sends are not checked for signatures or unit
  // completeness, and downloads are served from table bench_enveloped (encrypted ahead of time)
  // when it has the file, so that the stand-in stays cheap beside the gateway it measures.
  bool bench = false;
};

// Paths inside a development PKI made by deploy/pki.sh.
StandinOptions options_from_pki(const std::string& pki_dir, const std::string& state_file);

struct OfficeRecord {
  std::string office_no;
  std::vector<std::string> service_types;
  std::string name;
  std::string kana;
  std::string prefecture;
  std::string status = "ACTIVE";
};

class NationalStandin {
 public:
  // Opens (or creates) the state file and loads the trust domains; throws on failure.
  NationalStandin(boost::asio::io_context& io, StandinOptions options);
  ~NationalStandin();
  NationalStandin(const NationalStandin&) = delete;
  NationalStandin& operator=(const NationalStandin&) = delete;

  // Starts serving on 127.0.0.1; returns the port.
  std::uint16_t listen(std::uint16_t port = 0);
  void stop();

  // One request, synchronously (what the server calls); thread-safe.
  adapters::http::Response handle(const adapters::http::Request& request);

  // Set-up without HTTP (the same effects as the admin endpoints).
  void add_account(const std::string& user_id, const std::string& password, const std::string& kind,
                   const std::string& office_no = "");
  void upsert_office(const OfficeRecord& office);
  void set_represented(const std::string& user_id, const std::vector<mapping::OfficeRef>& offices);
  // Seeds the office master from a JSON file shaped like PUT /admin/v1/offices.
  void load_offices_file(const std::string& path);

  adapters::http::ServerFaults& faults();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace kakehashi::standin
