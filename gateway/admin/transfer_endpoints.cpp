#include <algorithm>

#include <rapidjson/document.h>

#include "gateway/admin/endpoints.hpp"
#include "gateway/admin/json_writer.hpp"
#include "gateway/admin/transfer_json.hpp"
#include "gateway/operations/transfer_actions.hpp"

namespace kakehashi::gateway::admin {

adapters::http::Response api_transfers(ApiContext& ctx, const QueryParams& q) {
  store::TransferFilter f;
  f.state = text_param(q, "state");
  f.office = text_param(q, "office");
  f.kind = text_param(q, "kind");
  f.direction = text_param(q, "direction");
  f.from = time_param(q, "from", 0);
  f.to = time_param(q, "to", INT64_MAX);
  const auto limit = text_param(q, "limit");
  f.limit = limit ? static_cast<std::size_t>(
                        std::clamp<std::int64_t>(parse_id(*limit, "limit"), 1, kMaxLimit))
                  : 50;
  const auto offset = text_param(q, "offset");
  f.offset = offset ? static_cast<std::size_t>(parse_id(*offset, "offset")) : 0;
  f.newest_first = true;
  const std::size_t wanted = f.limit;
  f.limit = wanted + 1;  // one more tells whether there is a next page
  auto list = ctx.store().list(f);
  const bool more = list.size() > wanted;
  if (more) list.resize(wanted);
  JsonWriter j;
  j.w().StartObject();
  j.key("items");
  j.w().StartArray();
  for (const auto& t : list) write_transfer(j, ctx, t);
  j.w().EndArray();
  j.kv("limit", static_cast<std::int64_t>(wanted));
  j.kv("offset", static_cast<std::int64_t>(f.offset));
  j.kv_bool("more", more);
  j.w().EndObject();
  return json_response(200, j.done());
}

adapters::http::Response api_transfer(ApiContext& ctx, std::int64_t id) {
  const auto t = ctx.store().get(id);
  if (!t) throw ApiError{404, "not_found", "no transfer " + std::to_string(id)};
  const auto events = ctx.store().events(id);
  // The audit records with their chain positions and hashes.
  store::AuditQuery q;
  q.transfer_id = id;
  const auto rows = ctx.store().audit_export(q);
  JsonWriter j;
  j.w().StartObject();
  j.key("transfer");
  write_transfer(j, ctx, *t);
  j.key("lineage");
  j.w().StartArray();
  const auto stage = [&](const char* name, const store::Event& e, bool ok) {
    j.w().StartObject();
    j.kv("stage", name);
    j.time("at", e.at);
    j.kv("kind", e.kind);
    j.kv("actor", e.actor);
    j.kv("detail", e.detail);
    j.kv_bool("ok", ok);
    j.w().EndObject();
  };
  for (const auto& e : events) {
    const auto& k = e.kind;
    if (k == "accepted" || k == "refused" || k == "duplicate") {
      stage("intake", e, k != "refused");
      if (k != "duplicate") stage("checks", e, k == "accepted");
    } else if (k == "translation-receipt") {
      stage("translation", e, true);
    } else if (k == "delivered" || k == "attempt-failed" || k == "released" || k == "superseded") {
      stage("delivery", e, k == "delivered" || k == "superseded");
    } else if (k.rfind("receipt-", 0) == 0 || k.rfind("notice-sent-", 0) == 0) {
      stage("receipt", e, k.find("rejected") == std::string::npos);
    } else if (k == "rejected-by-destination" || k == "route-refused") {
      stage("rejection", e, false);
    } else if (k == "parked") {
      stage("parking", e, false);
    } else if (k == "redriven") {
      stage("operator", e, true);
    } else {
      stage("other", e, true);
    }
  }
  j.w().EndArray();
  j.key("events");
  j.w().StartArray();
  for (const auto& r : rows) {
    j.w().StartObject();
    j.kv("id", r.record.id);
    j.key("seq");
    if (r.record.seq) {
      j.w().Int64(*r.record.seq);
    } else {
      j.w().Null();
    }
    j.time("at", r.record.at);
    j.kv("kind", r.record.kind);
    j.kv("actor", r.record.actor);
    j.kv("detail", r.record.detail);
    j.kv("hash", r.record.hash);
    j.w().EndObject();
  }
  j.w().EndArray();
  j.w().EndObject();
  return json_response(200, j.done());
}

adapters::http::Response api_parked(ApiContext& ctx) {
  store::TransferFilter f;
  f.state = store::kParked;
  f.limit = kMaxLimit;
  JsonWriter j;
  j.w().StartObject();
  j.key("items");
  j.w().StartArray();
  for (const auto& t : ctx.store().list(f)) write_transfer(j, ctx, t);
  j.w().EndArray();
  j.w().EndObject();
  return json_response(200, j.done());
}

adapters::http::Response api_act(ApiContext& ctx, std::int64_t id, const std::string& action,
                                 const Principal& who, const std::string& body) {
  if (who.role != Role::kOperator)
    throw ApiError{403, "forbidden", "the auditor role may read and export, not " + action};
  std::string reason;
  if (action == "park" && !body.empty()) {
    rapidjson::Document doc;
    doc.Parse(body.data(), body.size());
    if (doc.HasParseError() || !doc.IsObject())
      throw ApiError{400, "bad_request",
                     "the body must be a JSON object like {\"reason\": \"...\"}"};
    if (doc.HasMember("reason")) {
      if (!doc["reason"].IsString()) throw ApiError{400, "bad_request", "reason must be a string"};
      reason.assign(doc["reason"].GetString(), doc["reason"].GetStringLength());
    }
  }
  // Recorded like `kakehashi relay retry|park ID [--reason TEXT] --actor NAME` records it.
  std::string command = "relay " + action + " " + std::to_string(id);
  if (!reason.empty()) command += " --reason " + reason;
  auto& s = ctx.store();
  s.record_operator_command(who.actor(), command, ctx.now);
  const auto result = action == "retry"
                          ? operations::retry_transfer(s, id, who.actor(), ctx.now)
                          : operations::park_transfer(
                                s, id, reason.empty() ? operations::kDefaultParkReason : reason,
                                who.actor(), ctx.now);
  if (result.outcome == operations::ActionOutcome::kNotFound)
    throw ApiError{404, "not_found", result.detail};
  if (!result.ok()) throw ApiError{409, "conflict", result.detail};
  JsonWriter j;
  j.w().StartObject();
  j.kv("id", id);
  j.kv("state", result.state);
  j.kv("result", action == "retry" ? "re-driven" : "parked");
  j.w().EndObject();
  return json_response(200, j.done());
}

}  // namespace kakehashi::gateway::admin
