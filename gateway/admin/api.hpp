#pragma once
// The admin listener's handlers as plain functions: a request's parameters and a context (the
// thread's store and registry connections, the engine snapshot) in, a response out. They block
// on the store: the server runs them on its pool, never on the io thread.

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "adapters/common/http/message.hpp"
#include "gateway/admin/access.hpp"
#include "gateway/admin/admin_server.hpp"
#include "mapping/registry/registry.hpp"

namespace kakehashi::gateway::admin {

// A handler's refusal: becomes {"error": code, "reason": reason} with the status.
struct ApiError {
  int status = 400;
  std::string code;
  std::string reason;
};

using QueryParams = std::map<std::string, std::string>;

// The path and decoded query parameters of a request target; nullopt when malformed.
struct Target {
  std::string path;
  QueryParams query;
};
std::optional<Target> parse_target(const std::string& target);

// Per pool thread: its connections and a cached copy of the registry for office names.
struct ThreadState {
  std::unique_ptr<store::Store> store;
  std::unique_ptr<store::SqlConnection> registry_db;
  std::unique_ptr<mapping::registry::Registry> registry;
  std::int64_t registry_loaded_at = 0;
};

struct ApiContext {
  ThreadState& thread;
  const AdminSources& sources;
  const AdminConfig& config;
  const EngineSnapshot& engine;
  std::int64_t now = 0;

  store::Store& store() { return *thread.store; }
  std::string office_name(const std::string& office_no, const std::string& service_type);
  // The registry as the tables hold it now (nullptr without registry tables). Cached a minute.
  const mapping::registry::Registry* registry(bool fresh = false);
};

struct Alert {
  std::string kind;     // parked, certificate-expiry, crl-expiry, network-unreachable,
                        // destination-refusal, registry-stale, conservation-drift, inbox-stalled
  std::string subject;  // which network, file or direction ("" for the gateway as a whole)
  std::string detail;
};
std::vector<Alert> evaluate_alerts(ApiContext& ctx);
// Inbox runs in a row that failed while a network's unit cursor stayed put: inbox-stalled.
inline constexpr std::uint64_t kInboxStalledPolls = 5;

http::Response json_response(int status, std::string body);
http::Response error_response(const ApiError& error);

http::Response api_session(ApiContext& ctx, const Principal& who);
http::Response api_dashboard(ApiContext& ctx);
http::Response api_transfers(ApiContext& ctx, const QueryParams& query);
http::Response api_transfer(ApiContext& ctx, std::int64_t id);
http::Response api_parked(ApiContext& ctx);
// retry or park, recorded as an operator command like `kakehashi relay retry|park`.
http::Response api_act(ApiContext& ctx, std::int64_t id, const std::string& action,
                       const Principal& who, const std::string& body);
http::Response api_registry_conflicts(ApiContext& ctx);
http::Response api_registry_last_sync(ApiContext& ctx);
http::Response api_audit_verify(ApiContext& ctx);
http::Response api_audit_export(ApiContext& ctx, const QueryParams& query);
http::Response metrics(ApiContext& ctx);
http::Response readyz(ApiContext& ctx);

// "2025-06-01" or "2025-06-01T09:00:00Z" as `kakehashi relay|audit` read them; ms since epoch.
std::optional<std::int64_t> parse_time(const std::string& text);

}  // namespace kakehashi::gateway::admin
