#include "gateway/daemon/daemon.hpp"

#include <chrono>
#include <filesystem>
#include <map>

#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/thread_pool.hpp>

#include "gateway/audit/checkpoint_scheduler.hpp"
#include "gateway/daemon/adapter_registry.hpp"
#include "gateway/daemon/run_admin.hpp"
#include "gateway/engine/log.hpp"
#include "gateway/pki/key_file.hpp"
#include "gateway/pki/trust_domain_loader.hpp"
#include "gateway/registry/policy_file.hpp"
#include "gateway/registry/registry_service.hpp"
#include "gateway/registry/sync_network.hpp"

namespace kakehashi::gateway::daemon {

namespace fs = std::filesystem;

namespace {

// An adapter's event as a log line naming its network (AdapterContext::events).
void log_adapter_event(const std::string& network, AdapterLogLevel level, std::string_view event,
                       const AdapterLogFields& fields) {
  AdapterLogFields all;
  all.reserve(fields.size() + 1);
  all.emplace_back("network", network);
  all.insert(all.end(), fields.begin(), fields.end());
  const LogLevel l = level == AdapterLogLevel::kError     ? LogLevel::kError
                     : level == AdapterLogLevel::kWarning ? LogLevel::kWarning
                                                          : LogLevel::kInfo;
  log_fields(l, event, all);
}

std::shared_ptr<const mapping::cms::Credential> load_cred(const CredentialPaths& p) {
  return std::make_shared<mapping::cms::Credential>(
      pki::load_credential(p.certificate_file, p.key_file));
}

// routing.overrides_file (throws with every problem when the file is invalid).
mapping::registry::Policy load_routing_policy(const GatewayConfig& config) {
  if (config.overrides_file.empty()) return {config.route_preference, {}};
  std::vector<std::string> names;
  for (const auto& n : config.networks) names.push_back(n.name);
  auto file = registry::load_policy_file(config.overrides_file, names, config.route_preference);
  if (!file.ok()) {
    std::string all;
    for (const auto& e : file.errors) all += (all.empty() ? "" : "; ") + e;
    throw std::runtime_error("routing.overrides_file: " + config.overrides_file + ": " + all);
  }
  return std::move(file.policy);
}

std::int64_t wall_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace

NetworkOfficeLogins office_logins_of(engine::Engine& engine, const GatewayConfig& config) {
  NetworkOfficeLogins out;
  for (const auto& net : config.networks) {
    Adapter* adapter = engine.adapter(net.name);
    if (OfficeLogins* logins = adapter ? adapter->office_logins() : nullptr)
      out.emplace_back(net.name, logins);
  }
  return out;
}

void run_daemon(const GatewayConfig& config, const std::string& version) {
  if (!fs::exists(config.payload_key_file)) {
    engine::PayloadCipher::create_key_file(config.payload_key_file);
    log(LogLevel::kInfo, "payload-key-created", {{"file", config.payload_key_file}});
  }
  auto cipher = engine::PayloadCipher::from_key_file(config.payload_key_file);
  auto receipt_signer = load_cred(config.receipt_signer);
  boost::asio::io_context io_context;
  const auto store_config = config.store;
  // The registry service below feeds the router; the engine fetches no directory itself.
  auto engine_options = config.engine;
  engine_options.refresh_directories = false;
  engine::Engine engine(
      io_context, engine_options, [store_config] { return open_store(store_config); },
      std::move(cipher), receipt_signer, config.route_preference);
  std::map<std::string, std::shared_ptr<const AdapterCounters>> adapter_counters;
  for (const auto& net : config.networks) {
    const auto* type = find_adapter_type(net.type);
    std::vector<ConfigError> errors;
    ConfigNode settings(net.settings.get(), "networks." + net.name + ".settings", &errors);
    engine::NetworkBinding b;
    b.name = net.name;
    // The adapter's logger and counters (issue 15): log lines name the network; the
    // counters go to the admin listener's metrics and alerts.
    auto counters = std::make_shared<AdapterCounters>();
    adapter_counters[net.name] = counters;
    auto prepared = type->prepare(settings);
    b.make_adapter = [make = std::move(prepared.make), counters,
                      name = net.name](AdapterContext ctx) {
      ctx.events.counters = counters;
      ctx.events.sink = [name](AdapterLogLevel level, std::string_view event,
                               const AdapterLogFields& fields) {
        log_adapter_event(name, level, event, fields);
      };
      return make(std::move(ctx));
    };
    b.outbound_form = type->traits.outbound_form;
    b.trust = std::make_shared<mapping::cms::TrustDomain>(pki::load_trust_domain(net.trust_domain));
    if (net.cosign) b.cosigner = load_cred(*net.cosign);
    b.senders_must_be_members = type->traits.senders_must_be_members;
    // A network that signs nothing: its units are signed with the cosign credential instead.
    b.inbound_signed = type->traits.inbound_signed;
    if (!b.inbound_signed && !b.cosigner)
      throw std::runtime_error("networks." + net.name + ": a " + net.type +
                               " network carries no signatures; it needs a cosign credential "
                               "(the gateway signs its units as the proxy)");
    engine.add_network(std::move(b));
    // The offices the config declares as this gateway's publication on a network (the
    // national represented offices) are never native offices there (no relay loops). This
    // seeds a new store; once the registry has published, its stored publication replaces
    // the seed.
    engine.router().with_registry([&](mapping::registry::Registry& registry) {
      registry::seed_declared_publication(registry, net.name, prepared.declared_publication);
    });
  }
  engine.router().set_policy(load_routing_policy(config));
  // The office registry (issue 6): synced at start and every relay.directory_refresh,
  // recorded with its diff, published to each side; the router runs on it.
  registry::RegistryServiceOptions registry_options;
  registry_options.sync_every = config.engine.directory_refresh;
  registry::RegistryService registry_service(
      io_context, engine.router(),
      [store_config]() -> std::unique_ptr<store::SqlConnection> {
        if (store_config.type == "postgres") return store::open_postgres(store_config.dsn);
        return store::open_sqlite(store_config.path, store_config.synchronous_full);
      },
      wall_ms, registry_options);
  // Time-based audit checkpoints: the tail is sealed every audit.checkpoint_every even when
  // no record arrives to trigger it (one store connection, on its own thread).
  boost::asio::thread_pool audit_worker(1);
  std::shared_ptr<store::Store> audit_store;
  audit::CheckpointScheduler checkpoints(
      io_context.get_executor(), audit_worker.get_executor(),
      std::chrono::milliseconds(config.store.audit.checkpoint_every_ms),
      [&audit_store, store_config] {
        if (!audit_store) audit_store = open_store(store_config);
        return audit_store->checkpoint(wall_ms());
      });
  // The admin listener (metrics, health, console), when the config has an admin section.
  auto admin_server = start_admin(io_context, config, engine, version, adapter_counters);
  boost::asio::signal_set stop_signals(io_context, SIGTERM, SIGINT);
  boost::asio::signal_set reload_signal(io_context, SIGHUP);
  stop_signals.async_wait([&](boost::system::error_code ec, int sig) {
    if (ec) return;
    log(LogLevel::kInfo, "signal", {{"signal", std::to_string(sig)}, {"action", "drain and stop"}});
    reload_signal.cancel();
    if (admin_server) admin_server->stop();
    registry_service.stop();
    checkpoints.stop();
    engine.stop([&] { io_context.stop(); });
  });
  std::function<void()> wait_reload = [&] {
    reload_signal.async_wait([&](boost::system::error_code ec, int) {
      if (ec) return;
      try {
        for (const auto& net : config.networks) {
          engine.reload_credentials(
              net.name,
              std::make_shared<mapping::cms::TrustDomain>(pki::load_trust_domain(net.trust_domain)),
              net.cosign ? load_cred(*net.cosign) : nullptr);
        }
        engine.reload_receipt_signer(load_cred(config.receipt_signer));
        log(LogLevel::kInfo, "credentials-reloaded", {});
      } catch (const std::exception& e) {
        log(LogLevel::kError, "credentials-reload-failed", {{"error", e.what()}});
      }
      // The per-office overrides file; an invalid one keeps the policy in force.
      try {
        registry_service.set_policy(load_routing_policy(config));
        log(LogLevel::kInfo, "routing-policy-reloaded", {{"file", config.overrides_file}});
      } catch (const std::exception& e) {
        log(LogLevel::kError, "routing-policy-reload-failed", {{"error", e.what()}});
      }
      wait_reload();
    });
  };
  wait_reload();
  engine.start();
  // The per-office logins of the networks that have them, for the admin listener's login routes.
  const NetworkOfficeLogins office_logins = office_logins_of(engine, config);
  if (!office_logins.empty())
    log(LogLevel::kInfo, "office-logins", {{"networks", std::to_string(office_logins.size())}});
  for (const auto& net : config.networks)
    registry_service.add_network(registry::sync_network_for(
        net.name, find_adapter_type(net.type)->traits.directory, engine.adapter(net.name)));
  registry_service.start();
  checkpoints.start();
  io_context.run();
  audit_worker.join();
  // A clean stop seals the tail: the engine has drained, nothing writes records any more.
  checkpoints.seal_now("stop");
}

}  // namespace kakehashi::gateway::daemon
