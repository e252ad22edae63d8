#include <filesystem>
#include <ostream>

#include <boost/asio/signal_set.hpp>

#include "gateway/cli/args.hpp"
#include "gateway/cli/daemon_commands.hpp"
#include "gateway/daemon/adapter_registry.hpp"
#include "gateway/daemon/gateway_config.hpp"
#include "gateway/engine/log.hpp"
#include "gateway/pki/key_file.hpp"
#include "gateway/pki/trust_domain_loader.hpp"

namespace kakehashi::cli {
namespace fs = std::filesystem;
using namespace kakehashi::gateway;

namespace {

constexpr const char* kRunHelp = R"(Usage: kakehashi run --config FILE

Runs the gateway: every network of the config relays to the others through the relay engine
(intake, admission, durable accept, routing, translation, delivery, receipts and rejections back).
Relative paths in the config are relative to the config file's directory.
Signals: SIGTERM or SIGINT drain in-flight work and exit 0; SIGHUP reloads trust domains and
certificates (rollover without downtime). Logs are JSON lines on stderr.
A missing payload key file is created (mode 0600) on first start.
Exit status: 0 after a clean stop, 2 for a config or startup error.
)";

// Reads the config after moving into its directory, so relative paths work from anywhere.
daemon::LoadedConfig enter_and_load(const std::string& path) {
  const fs::path abs = fs::absolute(path);
  std::error_code ec;
  fs::current_path(abs.parent_path(), ec);
  if (ec) {
    daemon::LoadedConfig out;
    out.errors.push_back({path, "cannot enter the config's directory: " + ec.message()});
    return out;
  }
  return daemon::load_gateway_config(abs.string());
}

std::shared_ptr<const mapping::cms::Credential> load_cred(const daemon::CredentialPaths& p) {
  return std::make_shared<mapping::cms::Credential>(pki::load_credential(p.certificate_file, p.key_file));
}

}  // namespace

daemon::LoadedConfig load_config_or_report(const std::string& path, CommandIo io) {
  auto loaded = enter_and_load(path);
  for (const auto& e : loaded.errors)
    io.err << path << ": " << (e.path.empty() ? "(top)" : e.path) << ": " << e.message << "\n";
  return loaded;
}

Command run_command() {
  Command c;
  c.name = "run";
  c.summary = "run the gateway daemon (relay between the configured networks)";
  c.help = kRunHelp;
  c.run = [](std::span<const std::string> argv, CommandIo io) {
    const Args args(argv, {}, {"--config"});
    const auto file = args.option("--config");
    if (!file) throw UsageError{"--config FILE is required"};
    auto loaded = load_config_or_report(*file, io);
    if (!loaded.ok()) return kExitUsage;
    const auto& config = loaded.config;
    try {
      if (!fs::exists(config.payload_key_file)) {
        engine::PayloadCipher::create_key_file(config.payload_key_file);
        log(LogLevel::kInfo, "payload-key-created", {{"file", config.payload_key_file}});
      }
      auto cipher = engine::PayloadCipher::from_key_file(config.payload_key_file);
      auto receipt_signer = load_cred(config.receipt_signer);
      boost::asio::io_context io_context;
      const auto store_config = config.store;
      engine::Engine engine(io_context, config.engine,
                            [store_config] { return daemon::open_store(store_config); },
                            std::move(cipher), receipt_signer, config.route_preference);
      for (const auto& net : config.networks) {
        const auto* type = daemon::find_adapter_type(net.type);
        std::vector<ConfigError> errors;
        ConfigNode settings(net.settings.get(), "networks." + net.name + ".settings", &errors);
        engine::NetworkBinding b;
        b.name = net.name;
        b.make_adapter = type->prepare(settings);
        b.outbound_form = type->outbound_form;
        b.trust = std::make_shared<mapping::cms::TrustDomain>(pki::load_trust_domain(net.trust_domain));
        if (net.cosign) b.cosigner = load_cred(*net.cosign);
        engine.add_network(std::move(b));
        // The offices this gateway declares as represented on the national side are its own
        // publication there: never native national offices (no relay loops).
        if (net.type == "national" && net.settings->IsObject() &&
            net.settings->HasMember("represented_offices") &&
            (*net.settings)["represented_offices"].IsArray()) {
          std::vector<mapping::registry::OfficeKey> published;
          for (const auto& o : (*net.settings)["represented_offices"].GetArray()) {
            if (o.IsObject() && o.HasMember("office_no") && o.HasMember("service_type") &&
                o["office_no"].IsString() && o["service_type"].IsString())
              published.push_back({o["office_no"].GetString(), o["service_type"].GetString()});
          }
          engine.router().set_published(net.name, published);
        }
      }
      boost::asio::signal_set stop_signals(io_context, SIGTERM, SIGINT);
      boost::asio::signal_set reload_signal(io_context, SIGHUP);
      stop_signals.async_wait([&](boost::system::error_code ec, int sig) {
        if (ec) return;
        log(LogLevel::kInfo, "signal", {{"signal", std::to_string(sig)}, {"action", "drain and stop"}});
        reload_signal.cancel();
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
          wait_reload();
        });
      };
      wait_reload();
      engine.start();
      io_context.run();
      return kExitOk;
    } catch (const std::exception& e) {
      io.err << "kakehashi run: " << e.what() << "\n";
      return kExitUsage;
    } catch (const store::SqlError& e) {
      io.err << "kakehashi run: store: " << e.message << "\n";
      return kExitUsage;
    }
  };
  return c;
}

}  // namespace kakehashi::cli
