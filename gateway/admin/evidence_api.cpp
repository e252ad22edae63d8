#include "gateway/admin/evidence_api.hpp"

#include <exception>

#include "gateway/admin/admin_server.hpp"
#include "gateway/audit/evidence_bundle.hpp"
#include "gateway/engine/log.hpp"

namespace kakehashi::gateway::admin {

http::Response api_audit_evidence(ApiContext& ctx, const QueryParams& q) {
  const auto param = [&q](const char* key) {
    const auto it = q.find(key);
    return it == q.end() ? std::string() : it->second;
  };
  const std::string office = param("office");
  const std::string month = param("month");
  if (office.size() != 10 || office.find_first_not_of("0123456789") != std::string::npos)
    throw ApiError{400, "bad_request", "office: needs a 10-digit office number"};
  if (!audit::month_range(month))
    throw ApiError{400, "bad_request", "month: needs a month as YYYYMM (e.g. 202506)"};
  if (!ctx.sources.evidence)
    throw ApiError{404, "not_found", "this gateway makes no evidence bundles (no audit signer)"};
  std::string file;
  try {
    file = ctx.sources.evidence(office, month, ctx.now);
  } catch (const store::SqlError&) {
    throw;  // the pool's handler answers 503 and reconnects, as for every store failure
  } catch (const std::exception& e) {
    log(LogLevel::kError, "evidence-failed",
        {{"office", office}, {"month", month}, {"error", e.what()}});
    throw ApiError{500, "evidence_failed", e.what()};
  }
  http::Response r;
  r.status = 200;
  r.headers = {{"content-type", "application/json; charset=utf-8"},
               {"content-disposition",
                "attachment; filename=\"evidence-" + office + "-" + month + ".json\""},
               {"cache-control", "no-store"}};
  r.body = std::move(file);
  return r;
}

}  // namespace kakehashi::gateway::admin
