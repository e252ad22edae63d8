#pragma once
// The admin listener's API plumbing and router: a request target parsed, the context a handler
// runs in (the thread's store and registry connections, the engine snapshot), the JSON answer
// and refusal forms, and `route`, which picks the endpoint (endpoints.hpp, metrics.hpp) for an
// authenticated request to /metrics or /api/.

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>

#include "adapters/common/http/message.hpp"
#include "gateway/admin/access.hpp"
#include "gateway/admin/admin_server.hpp"
#include "gateway/admin/office_endpoints.hpp"
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

adapters::http::Response json_response(int status, std::string body);
adapters::http::Response error_response(const ApiError& error);

// Query parameters as the endpoints read them; a bad value throws ApiError 400.
std::optional<std::string> text_param(const QueryParams& q, const char* key);  // absent or ""
// time_param: "2025-06-01" or "2025-06-01T09:00:00Z" as `kakehashi relay|audit` read them (ms).
std::int64_t time_param(const QueryParams& q, const char* key, std::int64_t fallback);
std::int64_t parse_id(const std::string& text, const char* what);  // a non-negative number
inline constexpr std::size_t kMaxLimit = 500;                      // items in one answer

// Work for the listener's pool: runs with the thread's connections, answers or throws ApiError.
using Work = std::function<adapters::http::Response(ApiContext&)>;

// The router's decision for an authenticated request to /metrics or /api/...: the endpoint's
// work for the pool, an office-login request, or a refusal answered at once (before any store
// work).
struct Routed {
  Work work;
  std::optional<ApiError> refusal;
  bool cross_site = false;  // the refusal is a cross-site request: the server logs it
  // An office-login endpoint (office_endpoints.hpp): served on the io thread, not the pool.
  std::optional<OfficeRequest> office;
};
Routed route(adapters::http::Request req, const Target& target, const Principal& who);

}  // namespace kakehashi::gateway::admin
