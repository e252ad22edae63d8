#include <filesystem>
#include <ostream>

#include "gateway/cli/args.hpp"
#include "gateway/cli/daemon_commands.hpp"
#include "gateway/daemon/daemon.hpp"
#include "gateway/daemon/gateway_config.hpp"
#include "gateway/store/sql_connection.hpp"

namespace kakehashi::gateway::cli {
namespace fs = std::filesystem;
using namespace kakehashi::gateway;

namespace {

constexpr const char* kRunHelp = R"(Usage: kakehashi run --config FILE

Runs the gateway: every network of the config relays to the others through the relay engine
(intake, admission, durable accept, routing, translation, delivery, receipts and rejections back).
Relative paths in the config are relative to the config file's directory.
Signals: SIGTERM or SIGINT drain in-flight work and exit 0; SIGHUP reloads trust domains and
certificates (rollover without downtime) and routing.overrides_file. The office registry is
synced at start and every relay.directory_refresh (recorded like `kakehashi registry sync`);
audit checkpoints are also written every audit.checkpoint_every (5m) and when the gateway stops
cleanly, so a stopped gateway leaves no record unsealed. Logs are JSON lines on stderr.
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
      daemon::run_daemon(config, KAKEHASHI_VERSION);
      return kExitOk;
    } catch (const store::SqlError& e) {
      io.err << "kakehashi run: store: " << e.what() << "\n";
      return kExitUsage;
    } catch (const std::exception& e) {
      io.err << "kakehashi run: " << e.what() << "\n";
      return kExitUsage;
    }
  };
  return c;
}

}  // namespace kakehashi::gateway::cli
