#pragma once
// The "admin" section of the gateway config: the HTTPS admin listener (metrics, health, the
// console's API), who may use it (bearer tokens and/or client certificates, operator or auditor)
// and the alert thresholds. Parsed and validated with key paths like the rest of the config.

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "gateway/config/config_node.hpp"

namespace kakehashi::gateway::admin {

struct AdminConfig {
  bool enabled = false;  // the section is present
  std::string address = "127.0.0.1";
  std::uint16_t port = 9443;
  std::string certificate_file;  // the listener's TLS server certificate (chain) and key
  std::string key_file;
  bool allow_tls12 = true;                     // TLS 1.3 always; 1.2 unless switched off
  std::string tokens_file;                     // lines "ROLE TOKEN [NAME]" (mode 0600)
  std::string client_ca_file;                  // client certificates issued by this CA ...
  std::vector<std::string> operator_subjects;  // ... with one of these subjects (RFC 2253)
  std::vector<std::string> auditor_subjects;
  std::size_t workers = 2;  // threads running the handlers' store work
  // Alerts (log records and metrics).
  std::int64_t certificate_expiry_days = 30;
  std::int64_t crl_expiry_days = 2;  // CRLs are reissued often: alert when the next is this close
  std::chrono::milliseconds network_unreachable{std::chrono::minutes(15)};
  std::chrono::milliseconds registry_stale{std::chrono::hours(26)};
  std::chrono::milliseconds alert_every{std::chrono::minutes(1)};
  // Offices that log in themselves (office-login-due, office-certificate-expiring).
  std::chrono::milliseconds office_login_due{std::chrono::minutes(30)};
  std::int64_t office_certificate_expiry_days = 90;  // the national CA's own notice period
  // How long an office-login request waits for the adapter's answer (then 202 pending).
  std::chrono::milliseconds office_login_wait{std::chrono::seconds(20)};
};

// Reads `node` (the "admin" object; absent: disabled) and checks the files it names, the token
// file's permissions and lines. Errors go to the node's error list with their key paths.
AdminConfig parse_admin_config(const ConfigNode& node);

}  // namespace kakehashi::gateway::admin
