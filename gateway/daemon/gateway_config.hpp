#pragma once
// The gateway's configuration file (JSON), parsed once into typed structs. Every error is
// collected with its key path; `kakehashi config check` prints them all. Relative paths are
// resolved against the directory of the config file. Secrets are file paths, never values.

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include <rapidjson/document.h>

#include "gateway/admin/admin_config.hpp"
#include "gateway/config/config_node.hpp"
#include "gateway/engine/relay_engine.hpp"

namespace kakehashi::gateway::daemon {

struct CredentialPaths {
  std::string certificate_file;
  std::string key_file;
};

// The "audit" section: how the store keeps its audit log (gateway/audit, store.hpp).
struct AuditSettings {
  std::string hmac_key_file;  // key for insured-number hashes ("" = numbers only counted)
  std::int64_t checkpoint_every_records = 1000;
  std::int64_t checkpoint_every_ms = 5 * 60 * 1000;  // README "Audit log": the sealing delay
  CredentialPaths signer;                            // signs checkpoints; default: receipt_signer
  std::string role = "operator";  // operator | auditor (auditor: read and export only)
  std::string actor;              // "gateway:<instance>"
};

struct StoreConfig {
  std::string type = "sqlite";   // sqlite | postgres
  std::string path;              // sqlite file
  std::string dsn;               // postgres connection string ("" = libpq environment)
  bool synchronous_full = true;  // sqlite: fsync each commit (FULL) or per checkpoint (NORMAL)
  // Benchmark only (tests/bench/relay, issue 7): history events without the hash chain, its
  // serialised head row or checkpoints, to measure what auditing costs. Never in production.
  bool benchmark_audit_off = false;
  AuditSettings audit;
};

struct NetworkConfig {
  std::string name;          // key under "networks"
  std::string type;          // national | regional | folder
  std::string trust_domain;  // directory made by deploy/pki.sh (verifies what it sends)
  std::optional<CredentialPaths> cosign;  // proxy co-signature (required for type national)
  // The adapter's own settings, kept as a parsed JSON copy and handed to its factory.
  std::shared_ptr<rapidjson::Document> settings;
};

struct GatewayConfig {
  std::string file;  // the config file's path
  std::string instance_id;
  StoreConfig store;
  std::string payload_key_file;
  CredentialPaths receipt_signer;  // signs translation receipts
  engine::EngineOptions engine;
  std::vector<std::string> route_preference;
  // routing.overrides_file: per-office overrides (config/registry-overrides.example.json);
  // "" = none. Read at start and on SIGHUP.
  std::string overrides_file;
  std::vector<NetworkConfig> networks;
  admin::AdminConfig admin;  // the "admin" section: listener, roles, alerts (gateway/admin)
};

struct LoadedConfig {
  GatewayConfig config;
  std::vector<ConfigError> errors;
  bool ok() const { return errors.empty(); }
};

// Parses the file; adapter settings are also validated by each adapter type's own parser.
LoadedConfig load_gateway_config(const std::string& path);

// The store the config names (a new connection each call), keeping the audit log as configured.
std::unique_ptr<store::Store> open_store(const StoreConfig& config);

}  // namespace kakehashi::gateway::daemon
