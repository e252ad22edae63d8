#pragma once
// GET /api/audit/evidence?office=N&month=YYYYMM: the evidence bundle of one office and month
// (gateway/audit/EVIDENCE-FORMAT.md) as a download, for operators and auditors alike (it writes
// nothing). Made on a pool thread by AdminSources::evidence.

#include "gateway/admin/api.hpp"

namespace kakehashi::gateway::admin {

http::Response api_audit_evidence(ApiContext& ctx, const QueryParams& query);

}  // namespace kakehashi::gateway::admin
