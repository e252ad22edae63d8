#pragma once
// The admin HTTPS listener: /metrics (Prometheus), /healthz, /readyz, the console's JSON API
// (API.md) and the console's files. Requests are parsed and authorised on the io thread, which
// also takes the engine's snapshot; store and registry reads run on the listener's own small
// pool, each thread with its own connections. Alerts are evaluated periodically and logged when
// they start and clear.

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <boost/asio/io_context.hpp>

#include "gateway/adapter/adapter_events.hpp"
#include "gateway/admin/admin_config.hpp"
#include "gateway/admin/office_endpoints.hpp"
#include "gateway/engine/relay_engine.hpp"
#include "gateway/pki/expiry.hpp"
#include "gateway/store/store.hpp"
#include "mapping/registry/policy.hpp"

namespace kakehashi::gateway::admin {

// What the engine shows of itself; taken on the io thread.
struct EngineSnapshot {
  bool running = false;
  engine::EngineCounters counters;
  std::vector<engine::NetworkStatus> networks;
  std::map<std::string, engine::LatencyHistogram> latency;
  // The offices of networks with office logins (asked of their adapters on the io thread before
  // /metrics, /api/dashboard and the alert check; empty otherwise).
  OfficeViews offices;
};

// Watched certificate and CRL files (gateway/pki/expiry.hpp), named here as the daemon and the
// tests have always named them.
using pki::ExpirySource;
using pki::trust_domain_expiry_sources;

struct AdminSources {
  std::string instance;
  std::string version;
  // A new store connection (each pool thread opens its own).
  std::function<std::unique_ptr<store::Store>()> open_store;
  // A new connection for the registry tables; empty: no registry endpoints data.
  std::function<std::unique_ptr<store::SqlConnection>()> open_registry_db;
  mapping::registry::Policy registry_policy;
  // Called on the io thread; empty: no engine (the listener alone, e.g. in tests).
  std::function<EngineSnapshot()> engine;
  // Office display name (thread-safe); empty or "" when unknown: the registry tables are asked.
  std::function<std::string(const std::string& office_no, const std::string& service_type)>
      office_name;
  std::vector<ExpirySource> expiry;
  std::string audit_certificate_file;  // checks the audit checkpoints' signatures
  // The evidence bundle of an office and month (file bytes; throws); empty: none offered.
  std::function<std::string(const std::string& office_no, const std::string& month,
                            std::int64_t now)>
      evidence;
  std::function<std::int64_t()> clock;  // ms since the epoch; empty: the system clock
  // Each network adapter's degraded-path counters (metrics, the inbox-stalled alert).
  std::map<std::string, std::shared_ptr<const AdapterCounters>> adapter_counters;
  // The networks whose offices log in themselves (Adapter::office_logins()), by network. Called
  // on the io thread; the pointers are used there only. Empty: no office endpoints data.
  std::function<OfficeLoginsByNetwork()> office_logins;
};

class AdminServer {
 public:
  AdminServer(boost::asio::io_context& io, AdminConfig config, AdminSources sources);
  ~AdminServer();
  AdminServer(const AdminServer&) = delete;
  AdminServer& operator=(const AdminServer&) = delete;

  // Binds (config address and port; port_override when set, 0 = any) and starts the alert
  // timer. Returns the bound port. Throws on TLS or bind errors (startup).
  std::uint16_t start(std::optional<std::uint16_t> port_override = std::nullopt);
  // Stops listening and the timer; waits for the pool's work to finish.
  void stop();
  // Evaluates the alerts now (as the timer does); `done` runs on the io thread with the active
  // alert kinds.
  void check_alerts(std::function<void(std::vector<std::string>)> done = {});

 private:
  struct Impl;
  std::shared_ptr<Impl> impl_;
};

}  // namespace kakehashi::gateway::admin
