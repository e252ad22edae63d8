#include "gateway/admin/transfer_json.hpp"

#include <algorithm>
#include <cctype>

#include "gateway/audit/delivery_status.hpp"

namespace kakehashi::gateway::admin {

void write_office(JsonWriter& j, ApiContext& ctx, std::string_view key,
                  const std::string& office_no, const std::string& service_type) {
  j.key(key);
  j.w().StartObject();
  j.kv("office_no", office_no);
  j.kv("service_type", service_type);
  j.kv("name", ctx.office_name(office_no, service_type));
  j.w().EndObject();
}

// The finding code of a reason: the leading "CODE" word (what refusal_summary and the store
// write), else the first "[CODE]". A code starts with a capital letter: a reason's detail may
// quote a file name pattern such as "PREFIX[_YYYYMM]_...", which is not one.
std::string code_of(const std::string& reason) {
  const auto code_char = [](char c) {
    return std::isupper(static_cast<unsigned char>(c)) || c == '_' ||
           std::isdigit(static_cast<unsigned char>(c));
  };
  const auto is_code = [&](std::string_view s) {
    return s.size() >= 3 && std::isupper(static_cast<unsigned char>(s[0])) &&
           std::all_of(s.begin(), s.end(), code_char);
  };
  std::size_t n = 0;
  while (n < reason.size() && code_char(reason[n])) ++n;
  if (is_code(std::string_view(reason).substr(0, n))) return reason.substr(0, n);
  for (auto open = reason.find('['); open != std::string::npos; open = reason.find('[', open + 1)) {
    const auto close = reason.find(']', open);
    if (close == std::string::npos) break;
    const auto code = reason.substr(open + 1, close - open - 1);
    if (is_code(code)) return code;
  }
  return {};
}

void write_transfer(JsonWriter& j, ApiContext& ctx, const store::Transfer& t) {
  j.w().StartObject();
  j.kv("id", t.id);
  j.kv("state", t.state);
  // The delivery status offices read (受付/配信/受領/既読/差し戻し/保留; README "Delivery status").
  j.kv("status", audit::status_code(audit::status_of(t.state, t.receipt_state)));
  j.kv("direction", t.direction);
  j.kv("source_network", t.source_adapter);
  j.kv("source_id", t.source_id);
  j.kv("destination_network", t.dest_adapter);
  write_office(j, ctx, "sender", t.sender_office, t.sender_type);
  write_office(j, ctx, "recipient", t.recipient_office, t.recipient_type);
  j.kv("sequence", t.sequence);
  j.kv("kind", t.unit_kind);
  j.kv("attempts", t.attempts);
  j.kv("remote_id", t.remote_id);
  j.kv("receipt", t.receipt_state);
  j.kv("reason", t.reason);
  j.kv("code", code_of(t.reason));
  j.kv("last_error", t.last_error);
  j.time("created_at", t.created_at);
  j.time("updated_at", t.updated_at);
  j.time("finished_at", t.finished_at);
  j.time("next_attempt_at", t.state == store::kAccepted ? t.next_attempt_at : 0);
  j.kv_bool("payload_retained", t.has_payload);
  j.w().EndObject();
}

}  // namespace kakehashi::gateway::admin
