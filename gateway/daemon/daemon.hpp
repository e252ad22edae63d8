#pragma once
// The running gateway, wired from a loaded config: the relay engine with one adapter per network
// (from the adapter registry, with its traits and typed settings), the office registry service,
// time-based audit checkpoints, the admin listener, and the signals (SIGTERM/SIGINT drain and
// stop, SIGHUP reloads credentials and the routing overrides). `kakehashi run` only parses its
// arguments, loads the config and calls run_daemon.

#include <string>

#include "gateway/daemon/gateway_config.hpp"

namespace kakehashi::gateway::daemon {

// Runs until SIGTERM or SIGINT has drained the engine; a clean stop seals the audit tail.
// Startup errors (keys, credentials, trust domains, the store, the overrides file, the admin
// listener) throw: std::exception, or store::SqlError from the store.
void run_daemon(const GatewayConfig& config, const std::string& version);

}  // namespace kakehashi::gateway::daemon
