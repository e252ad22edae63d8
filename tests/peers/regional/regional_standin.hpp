#pragma once
// The regional network stand-in (RHN API v1, adapters/regional/PROTOCOL.md): an HTTPS server with
// mutual TLS on loopback that keeps members, directory, mailboxes and receipts in SQLite,
// verifies every document signature, sends push notices, and obeys test controls (§12).

#include <atomic>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>

#include "adapters/common/http/https_server.hpp"
#include "adapters/common/http/tls_config.hpp"

namespace kakehashi::adapters::regional::standin {

struct StandinOptions {
  // Development PKI made by deploy/pki.sh; fills every path below that is left empty.
  std::filesystem::path pki_dir;
  adapters::http::TlsConfig tls;  // server certificate; ca_file: the regional CA (members' certs)
  adapters::http::TlsConfig
      push_tls;  // client identity for push notices; ca_file: the members' server CA
  std::filesystem::path regional_domain;  // trust domain of facility members' signers
  std::filesystem::path proxied_domain;   // trust domain of gateway members' senders (national)
  std::filesystem::path state_file;       // required
  std::filesystem::path seed_directory;   // optional JSON (README.md), applied at each start
  std::string address = "127.0.0.1";
  std::uint16_t port = 0;
  std::size_t max_message_bytes = 64ull * 1024 * 1024;
  // Benchmark mode (tests/bench/relay only): document signatures are not verified, so that the
  // stand-in stays cheap beside the gateway it measures. Never for tests of the contract.
  bool bench = false;
};

class RegionalStandin {
 public:
  // Loads PKI, state and seed; throws std::runtime_error (startup only).
  explicit RegionalStandin(StandinOptions options);
  ~RegionalStandin();
  RegionalStandin(const RegionalStandin&) = delete;
  RegionalStandin& operator=(const RegionalStandin&) = delete;

  // Listens and serves on an own I/O thread; returns the port.
  std::uint16_t start();
  // Closes the listener and connections and joins the thread (state stays in the file).
  void stop();

  std::uint16_t port() const { return port_; }
  // Transport-level faults (refuse TLS, drop responses, delay).
  adapters::http::ServerFaults& server_faults();
  // Push notices answered 2xx by a member's callback so far.
  int notices_delivered() const { return notices_delivered_.load(); }

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
  std::uint16_t port_ = 0;
  std::atomic<int> notices_delivered_{0};
};

}  // namespace kakehashi::adapters::regional::standin
