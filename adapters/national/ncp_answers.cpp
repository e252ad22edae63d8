#include "adapters/national/ncp_answers.hpp"

#include <rapidjson/document.h>

#include "adapters/national/ncp_codec.hpp"

namespace kakehashi::adapters::national {
namespace {

std::string str(const rapidjson::Value& v, const char* key) {
  if (!v.IsObject()) return {};
  const auto m = v.FindMember(key);
  return m != v.MemberEnd() && m->value.IsString() ? m->value.GetString() : std::string();
}

gateway::OfficeRef office(const rapidjson::Value& v, const char* key) {
  if (!v.IsObject() || !v.HasMember(key)) return {};
  return {str(v[key], "office_no"), str(v[key], "service_type")};
}

bool has_more(const rapidjson::Value& d) {
  return d.HasMember("has_more") && d["has_more"].IsBool() && d["has_more"].GetBool();
}

// Parses `body` unless it is nested deeper than any answer of the contract (see kMaxJsonDepth).
void parse(rapidjson::Document& d, std::string_view body) {
  if (json_nesting_within(body)) {
    d.Parse(body.data(), body.size());
  } else {
    d.SetNull();  // and HasParseError() stays false: callers check the shape
  }
}

// An object whose `key` is an array, or nullptr.
const rapidjson::Value* array_member(const rapidjson::Document& d, const char* key) {
  if (d.HasParseError() || !d.IsObject() || !d.HasMember(key) || !d[key].IsArray()) return nullptr;
  return &d[key];
}

}  // namespace

std::optional<NcpInboxPage> parse_inbox_page(std::string_view body) {
  rapidjson::Document d;
  parse(d, body);
  const rapidjson::Value* items = array_member(d, "items");
  if (!items) return std::nullopt;
  NcpInboxPage page;
  page.more = has_more(d);
  for (const auto& v : items->GetArray()) {
    NcpInboxItem item;
    item.id = str(v, "transmission_id");
    item.cursor = str(v, "cursor");
    if (item.id.empty() || item.cursor.empty()) {
      ++page.skipped;
      continue;
    }
    item.unit.source_id = item.id;
    item.unit.sender = office(v, "sender");
    item.unit.recipient = office(v, "recipient");
    item.unit.subject = str(v, "unit_kind");
    item.unit.message = str(v, "message");
    item.unit.cursor = item.cursor;
    if (!v.HasMember("files") || !v["files"].IsArray()) {
      item.problem = "files: missing or not an array";
    } else if (v["files"].Empty() || v["files"].Size() > kMaxTransmissionFiles) {
      item.problem = "files: " + std::to_string(v["files"].Size()) +
                     " entries, the contract allows 1-" + std::to_string(kMaxTransmissionFiles);
    } else {
      for (rapidjson::SizeType i = 0; i < v["files"].Size(); ++i) {
        std::string name = str(v["files"][i], "name");
        if (name.empty()) {
          item.problem = "files[" + std::to_string(i) + "].name: missing or empty";
          item.names.clear();
          break;
        }
        item.names.push_back(std::move(name));
      }
    }
    page.items.push_back(std::move(item));
  }
  return page;
}

std::optional<NcpUpdatesPage> parse_updates_page(std::string_view body) {
  rapidjson::Document d;
  parse(d, body);
  const rapidjson::Value* updates = array_member(d, "updates");
  if (!updates) return std::nullopt;
  NcpUpdatesPage page;
  for (const auto& u : updates->GetArray()) {
    gateway::InboundReceipt rc;
    rc.remote_id = str(u, "transmission_id");
    rc.cursor = str(u, "cursor");
    const std::string state = str(u, "state");
    rc.state =
        state == "REJECTED" ? gateway::ReceiptState::kRejected : gateway::ReceiptState::kDelivered;
    rc.reason = str(u, "reason");
    if (rc.remote_id.empty() || rc.cursor.empty() ||
        (state != "REJECTED" && state != "DOWNLOADED")) {
      return std::nullopt;
    }
    page.receipts.push_back(std::move(rc));
  }
  page.more = has_more(d);
  return page;
}

std::optional<NcpOfficePage> parse_office_page(std::string_view body) {
  rapidjson::Document d;
  parse(d, body);
  const rapidjson::Value* offices = array_member(d, "offices");
  if (!offices) return std::nullopt;
  NcpOfficePage page;
  page.as_of = str(d, "as_of");
  for (const auto& o : offices->GetArray()) {
    if (!o.IsObject() || !o.HasMember("service_types") || !o["service_types"].IsArray()) continue;
    for (const auto& t : o["service_types"].GetArray()) {
      if (!t.IsString()) continue;
      gateway::DirectoryEntry e;
      e.office = {str(o, "office_no"), t.GetString()};
      e.name = str(o, "name");
      e.kana = str(o, "kana");
      e.prefecture = str(o, "prefecture");
      e.status = str(o, "status");
      e.updated_at = str(o, "updated_at");
      page.entries.push_back(std::move(e));
    }
  }
  page.more = has_more(d);
  page.next_cursor = str(d, "next_cursor");
  return page;
}

std::string answer_string(std::string_view body, const char* key) {
  rapidjson::Document d;
  parse(d, body);
  return d.HasParseError() ? std::string() : str(d, key);
}

}  // namespace kakehashi::adapters::national
