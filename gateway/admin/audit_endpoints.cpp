#include <cctype>
#include <exception>
#include <sstream>

#include "gateway/admin/endpoints.hpp"
#include "gateway/admin/json_writer.hpp"
#include "gateway/audit/evidence_bundle.hpp"
#include "gateway/audit/exporter.hpp"
#include "gateway/audit/verifier.hpp"
#include "gateway/engine/log.hpp"
#include "gateway/pki/key_file.hpp"

namespace kakehashi::gateway::admin {

adapters::http::Response api_audit_verify(ApiContext& ctx) {
  auto& s = ctx.store();
  const auto records = s.audit_records();
  const auto checkpoints = s.audit_checkpoints();
  const auto head = s.audit_head();
  mapping::cms::X509Ptr cert;
  if (!ctx.sources.audit_certificate_file.empty()) {
    try {
      cert = pki::load_certificate(ctx.sources.audit_certificate_file);
    } catch (const std::exception& e) {
      throw ApiError{500, "internal",
                     std::string("cannot read the audit certificate: ") + e.what()};
    }
  }
  audit::VerifyReport r;
  if (!cert && !checkpoints.empty()) {
    r.breakage = audit::Breakage::kCheckpointForged;
    r.detail = "no gateway certificate configured to check the signed checkpoints";
  } else {
    r = audit::verify_chain(records, checkpoints, head, cert.get(), 0);
  }
  const std::int64_t unsealed = r.last_seq - r.last_checkpoint_seq;
  JsonWriter j;
  j.w().StartObject();  // the fields and order of `kakehashi audit verify --json`
  j.kv_bool("intact", r.intact());
  j.kv("result", audit::to_string(r.breakage));
  j.kv("records", static_cast<std::int64_t>(r.records));
  j.kv("last_seq", r.last_seq);
  j.kv("checkpoints", static_cast<std::int64_t>(r.checkpoints));
  j.kv("last_checkpoint_seq", r.last_checkpoint_seq);
  j.kv("unsealed_records", r.intact() ? unsealed : 0);
  if (!r.intact()) {
    j.kv("record_id", r.record_id);
    j.kv("record_seq", r.record_seq);
    j.kv("checkpoint", r.checkpoint);
    j.kv("detail", r.detail);
  }
  j.time("checked_at", ctx.now);
  j.w().EndObject();
  return json_response(200, j.done());
}

adapters::http::Response api_audit_export(ApiContext& ctx, const QueryParams& q) {
  const auto format = text_param(q, "format").value_or("csv");
  if (format != "csv" && format != "jsonl")
    throw ApiError{400, "bad_request", "format must be csv or jsonl"};
  store::AuditQuery aq;
  aq.from = time_param(q, "from", 0);
  aq.to = time_param(q, "to", INT64_MAX);
  aq.office = text_param(q, "office");
  std::string name = "kakehashi-audit";
  if (const auto t = text_param(q, "transfer")) {
    aq.transfer_id = parse_id(*t, "transfer");
    name += "-transfer-" + std::to_string(*aq.transfer_id);
  }
  const auto safe = [](const std::string& v) {
    std::string out;
    for (char c : v) out += std::isalnum(static_cast<unsigned char>(c)) || c == '-' ? c : '_';
    return out;
  };
  if (aq.office) name += "-office-" + safe(*aq.office);
  if (const auto v = text_param(q, "from")) name += "-from-" + safe(*v);
  if (const auto v = text_param(q, "to")) name += "-to-" + safe(*v);
  const auto rows = ctx.store().audit_export(aq);
  std::ostringstream out;
  if (format == "csv") {
    audit::write_csv(rows, out);
  } else {
    audit::write_jsonl(rows, out);
  }
  adapters::http::Response r;
  r.status = 200;
  r.headers = {
      {"content-type", format == "csv" ? "text/csv; charset=utf-8" : "application/x-ndjson"},
      {"content-disposition", "attachment; filename=\"" + name + "." + format + "\""},
      {"cache-control", "no-store"}};
  r.body = out.str();
  return r;
}

adapters::http::Response api_audit_evidence(ApiContext& ctx, const QueryParams& q) {
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
  adapters::http::Response r;
  r.status = 200;
  r.headers = {{"content-type", "application/json; charset=utf-8"},
               {"content-disposition",
                "attachment; filename=\"evidence-" + office + "-" + month + ".json\""},
               {"cache-control", "no-store"}};
  r.body = std::move(file);
  return r;
}

}  // namespace kakehashi::gateway::admin
