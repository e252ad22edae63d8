#include "gateway/admin/admin_config.hpp"

#include <sys/stat.h>

#include <filesystem>

#include "gateway/admin/access.hpp"
#include "gateway/pki/key_file.hpp"

namespace kakehashi::gateway::admin {
namespace fs = std::filesystem;

AdminConfig parse_admin_config(const ConfigNode& node) {
  AdminConfig c;
  if (!node.present()) return c;
  c.enabled = true;
  node.reject_unknown({"listen", "tls", "tokens_file", "client_certificates", "workers", "alerts"});

  const auto listen = node.string("listen", std::string("127.0.0.1:9443"));
  const auto colon = listen.rfind(':');
  bool listen_ok = colon != std::string::npos && colon > 0 && colon + 1 < listen.size();
  if (listen_ok) {
    c.address = listen.substr(0, colon);
    if (c.address.size() > 2 && c.address.front() == '[' && c.address.back() == ']')
      c.address = c.address.substr(1, c.address.size() - 2);
    try {
      std::size_t n = 0;
      const auto port = std::stol(listen.substr(colon + 1), &n);
      listen_ok = n == listen.size() - colon - 1 && port >= 0 && port <= 65535;
      c.port = static_cast<std::uint16_t>(port);
    } catch (...) {
      listen_ok = false;
    }
  }
  if (!listen_ok) node.error("listen", "must be ADDRESS:PORT, e.g. 127.0.0.1:9443");

  const auto tls = node.child("tls");
  if (!tls.present()) node.error("tls", "missing (certificate_file and key_file of the listener)");
  tls.reject_unknown({"certificate_file", "key_file", "allow_tls12"});
  c.certificate_file = tls.string("certificate_file");
  c.key_file = tls.string("key_file");
  c.allow_tls12 = tls.boolean("allow_tls12", true);
  if (!c.certificate_file.empty() && !fs::exists(c.certificate_file))
    tls.error("certificate_file", "file not found: " + c.certificate_file);
  if (!c.key_file.empty()) {
    if (!fs::exists(c.key_file)) {
      tls.error("key_file", "file not found: " + c.key_file);
    } else if (auto problem = pki::secret_file_problem(c.key_file, "private key")) {
      tls.error("key_file", *problem);
    }
  }

  c.tokens_file = node.string("tokens_file", std::string());
  if (!c.tokens_file.empty()) {
    for (const auto& e : read_token_file(c.tokens_file).errors) node.error("tokens_file", e);
  }
  const auto certs = node.child("client_certificates");
  if (certs.present()) {
    certs.reject_unknown({"ca_file", "operators", "auditors"});
    c.client_ca_file = certs.string("ca_file");
    if (!c.client_ca_file.empty() && !fs::exists(c.client_ca_file))
      certs.error("ca_file", "file not found: " + c.client_ca_file);
    c.operator_subjects = certs.strings("operators");
    c.auditor_subjects = certs.strings("auditors");
    if (c.operator_subjects.empty() && c.auditor_subjects.empty())
      certs.error("", "lists no subjects (operators, auditors)");
  }
  if (c.tokens_file.empty() && !certs.present())
    node.error("", "needs tokens_file or client_certificates (who may use the listener)");
  c.workers = static_cast<std::size_t>(node.integer("workers", 2, 1, 16));

  const auto alerts = node.child("alerts");
  alerts.reject_unknown({"certificate_expiry_days", "crl_expiry_days", "network_unreachable",
                         "registry_stale", "check_every", "office_login_due",
                         "office_certificate_expiry_days"});
  c.certificate_expiry_days = alerts.integer("certificate_expiry_days", 30, 0, 3650);
  c.crl_expiry_days = alerts.integer("crl_expiry_days", 2, 0, 3650);
  c.network_unreachable = alerts.duration("network_unreachable", std::chrono::minutes(15));
  c.registry_stale = alerts.duration("registry_stale", std::chrono::hours(26));
  c.alert_every = alerts.duration("check_every", std::chrono::minutes(1));
  if (c.alert_every.count() < 100) alerts.error("check_every", "must be at least 100ms");
  c.office_login_due = alerts.duration("office_login_due", std::chrono::minutes(30));
  c.office_certificate_expiry_days = alerts.integer("office_certificate_expiry_days", 90, 0, 3650);
  return c;
}

}  // namespace kakehashi::gateway::admin
