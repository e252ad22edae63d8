#include "gateway/daemon/run_admin.hpp"

#include "gateway/daemon/evidence_builder.hpp"

namespace kakehashi::gateway::daemon {

using namespace admin;  // NOLINT(google-build-using-namespace): the listener's own types

std::unique_ptr<AdminServer> start_admin(
    boost::asio::io_context& io, const daemon::GatewayConfig& config, engine::Engine& engine,
    const std::string& version,
    std::map<std::string, std::shared_ptr<const AdapterCounters>> adapter_counters) {
  if (!config.admin.enabled) return nullptr;
  AdminSources s;
  s.adapter_counters = std::move(adapter_counters);
  s.instance = config.instance_id;
  s.version = version;
  const auto store_config = config.store;
  s.open_store = [store_config] { return daemon::open_store(store_config); };
  s.open_registry_db = [store_config]() -> std::unique_ptr<store::SqlConnection> {
    if (store_config.type == "postgres") return store::open_postgres(store_config.dsn);
    return store::open_sqlite(store_config.path, store_config.synchronous_full);
  };
  // The routing preference; per-office overrides change which network is home, not conflicts.
  s.registry_policy = {config.route_preference, {}};
  s.engine = [&engine] {
    EngineSnapshot snap;
    snap.running = true;
    snap.counters = engine.counters();
    snap.networks = engine.network_status();
    snap.latency = engine.latency();
    return snap;
  };
  s.office_name = [&engine](const std::string& office_no, const std::string& service_type) {
    const auto office = engine.router().office({office_no, service_type});
    return office ? office->name : std::string();
  };
  // Networks whose offices log in themselves (issue 16): their adapters' office logins.
  std::vector<std::string> networks;
  for (const auto& n : config.networks) networks.push_back(n.name);
  s.office_logins = [&engine, networks] {
    OfficeLoginsByNetwork out;
    for (const auto& name : networks) {
      if (auto* adapter = engine.adapter(name); adapter && adapter->office_logins())
        out.emplace(name, adapter->office_logins());
    }
    return out;
  };
  for (const auto& n : config.networks) {
    auto domain = trust_domain_expiry_sources(n.name, n.trust_domain);
    s.expiry.insert(s.expiry.end(), domain.begin(), domain.end());
    if (n.cosign)
      s.expiry.push_back({"certificate", "cosign " + n.name, n.cosign->certificate_file});
  }
  s.expiry.push_back({"certificate", "receipt_signer", config.receipt_signer.certificate_file});
  if (config.store.audit.signer.certificate_file != config.receipt_signer.certificate_file)
    s.expiry.push_back({"certificate", "audit.signer", config.store.audit.signer.certificate_file});
  s.expiry.push_back({"certificate", "admin.tls", config.admin.certificate_file});
  s.audit_certificate_file = config.store.audit.signer.certificate_file;
  if (!config.store.audit.signer.key_file.empty()) {
    s.evidence = [config](const std::string& office, const std::string& month, std::int64_t now) {
      return daemon::make_evidence_bundle(config, {office, month, now, false}).file;
    };
  }
  auto server = std::make_unique<AdminServer>(io, config.admin, std::move(s));
  server->start();
  return server;
}

}  // namespace kakehashi::gateway::daemon
