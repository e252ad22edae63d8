#pragma once
// The running gateway, wired from a loaded config: the relay engine with one adapter per network
// (from the adapter registry, with its traits and typed settings), the office registry service,
// time-based audit checkpoints, the admin listener, and the signals (SIGTERM/SIGINT drain and
// stop, SIGHUP reloads credentials and the routing overrides). `kakehashi run` only parses its
// arguments, loads the config and calls run_daemon.

#include <string>
#include <utility>
#include <vector>

#include "gateway/adapter/office_sessions.hpp"
#include "gateway/daemon/gateway_config.hpp"

namespace kakehashi::gateway::engine {
class Engine;
}

namespace kakehashi::gateway::daemon {

// Every network's operator side of per-office logins (Adapter::office_logins(): the Kaigo WEB
// type), by network name, once the engine has started its adapters: what the admin listener's
// login routes reach (kaigoweb PROTOCOL.md §7.3). Owned by the adapters; empty when no network
// has per-office logins.
using NetworkOfficeLogins = std::vector<std::pair<std::string, OfficeLogins*>>;
NetworkOfficeLogins office_logins_of(engine::Engine& engine, const GatewayConfig& config);

// Runs until SIGTERM or SIGINT has drained the engine; a clean stop seals the audit tail.
// Startup errors (keys, credentials, trust domains, the store, the overrides file, the admin
// listener) throw: std::exception, or store::SqlError from the store.
void run_daemon(const GatewayConfig& config, const std::string& version);

}  // namespace kakehashi::gateway::daemon
