#pragma once
// The console's JSON API (API.md) as plain functions: a request's parameters and a context in,
// a response out; a refusal is thrown as ApiError. They block on the store: the server runs them
// on its pool, never on the io thread. The router (api.cpp) picks one per request.

#include <cstdint>
#include <string>

#include "gateway/admin/access.hpp"
#include "gateway/admin/api.hpp"

namespace kakehashi::gateway::admin {

// status_endpoints.cpp: who is asking, the dashboard, readiness.
adapters::http::Response api_session(ApiContext& ctx, const Principal& who);
adapters::http::Response api_dashboard(ApiContext& ctx);
adapters::http::Response readyz(ApiContext& ctx);

// transfer_endpoints.cpp: listing, one transfer's lineage, the parked list, retry and park.
adapters::http::Response api_transfers(ApiContext& ctx, const QueryParams& query);
adapters::http::Response api_transfer(ApiContext& ctx, std::int64_t id);
adapters::http::Response api_parked(ApiContext& ctx);
// retry or park, recorded as an operator command like `kakehashi relay retry|park`.
adapters::http::Response api_act(ApiContext& ctx, std::int64_t id, const std::string& action,
                                 const Principal& who, const std::string& body);

// registry_endpoints.cpp: the registry's conflicts and its last sync.
adapters::http::Response api_registry_conflicts(ApiContext& ctx);
adapters::http::Response api_registry_last_sync(ApiContext& ctx);

// audit_endpoints.cpp: chain verification, the export and the evidence bundle.
adapters::http::Response api_audit_verify(ApiContext& ctx);
adapters::http::Response api_audit_export(ApiContext& ctx, const QueryParams& query);
// GET /api/audit/evidence?office=N&month=YYYYMM: the evidence bundle of one office and month
// (gateway/audit/EVIDENCE-FORMAT.md) as a download, for operators and auditors alike (it writes
// nothing). Made on a pool thread by AdminSources::evidence.
adapters::http::Response api_audit_evidence(ApiContext& ctx, const QueryParams& query);

}  // namespace kakehashi::gateway::admin
