#include "adapters/kaigoweb/session_record.hpp"

#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

namespace kakehashi::adapters::kaigoweb {
namespace {

using Writer = rapidjson::Writer<rapidjson::StringBuffer>;

struct Field {
  const char* key;
  std::string SessionRecord::*member;
};

constexpr Field kFields[] = {
    {"office_no", &SessionRecord::office_no},
    {"user_id", &SessionRecord::user_id},
    {"state", &SessionRecord::state},
    {"access_token", &SessionRecord::access_token},
    {"access_expires_at", &SessionRecord::access_expires_at},
    {"refresh_token", &SessionRecord::refresh_token},
    {"refresh_expires_at", &SessionRecord::refresh_expires_at},
    {"login_at", &SessionRecord::login_at},
    {"certificate_sha256", &SessionRecord::certificate_sha256},
    {"updated_at", &SessionRecord::updated_at},
};

struct HandoffField {
  const char* key;
  std::string LoginHandoff::*member;
};

constexpr HandoffField kHandoffFields[] = {
    {"request", &LoginHandoff::request},
    {"op", &LoginHandoff::op},
    {"otp", &LoginHandoff::otp},
    {"expires_at", &LoginHandoff::expires_at},
    {"state", &LoginHandoff::state},
    {"step_state", &LoginHandoff::step_state},
    {"step_error", &LoginHandoff::step_error},
    {"step_message", &LoginHandoff::step_message},
    {"otp_delivery", &LoginHandoff::otp_delivery},
    {"otp_destination_hint", &LoginHandoff::otp_destination_hint},
    {"otp_expires_at", &LoginHandoff::otp_expires_at},
    {"refresh_expires_at", &LoginHandoff::refresh_expires_at},
    {"locked_until", &LoginHandoff::locked_until},
};

template <class Record, class Fields>
std::string write_fields(const Record& r, const Fields& fields) {
  rapidjson::StringBuffer b;
  Writer w(b);
  w.StartObject();
  for (const auto& f : fields) {
    const std::string& v = r.*(f.member);
    if (v.empty()) continue;
    w.Key(f.key);
    w.String(v.data(), static_cast<rapidjson::SizeType>(v.size()));
  }
  w.EndObject();
  return b.GetString();
}

template <class Record, class Fields>
std::optional<Record> read_fields(std::string_view text, const Fields& fields) {
  rapidjson::Document doc;
  doc.Parse(text.data(), text.size());
  if (doc.HasParseError() || !doc.IsObject()) return std::nullopt;
  Record r;
  for (const auto& f : fields) {
    const auto it = doc.FindMember(f.key);
    if (it == doc.MemberEnd()) continue;
    if (!it->value.IsString()) return std::nullopt;
    (r.*(f.member)).assign(it->value.GetString(), it->value.GetStringLength());
  }
  return r;
}

}  // namespace

std::string write_login_handoff(const LoginHandoff& h) { return write_fields(h, kHandoffFields); }

std::optional<LoginHandoff> read_login_handoff(std::string_view text) {
  auto h = read_fields<LoginHandoff>(text, kHandoffFields);
  if (h && (h->request.empty() || h->state.empty())) return std::nullopt;
  return h;
}

std::string write_session_record(const SessionRecord& r) {
  rapidjson::StringBuffer b;
  Writer w(b);
  w.StartObject();
  for (const auto& f : kFields) {
    w.Key(f.key);
    const std::string& v = r.*(f.member);
    w.String(v.data(), static_cast<rapidjson::SizeType>(v.size()));
  }
  w.EndObject();
  return b.GetString();
}

std::optional<SessionRecord> read_session_record(std::string_view text) {
  rapidjson::Document doc;
  doc.Parse(text.data(), text.size());
  if (doc.HasParseError() || !doc.IsObject()) return std::nullopt;
  SessionRecord r;
  for (const auto& f : kFields) {
    const auto it = doc.FindMember(f.key);
    if (it == doc.MemberEnd()) continue;
    if (!it->value.IsString()) return std::nullopt;
    (r.*(f.member)).assign(it->value.GetString(), it->value.GetStringLength());
  }
  return r;
}

std::string session_key(std::string_view network, std::string_view office_no) {
  return "kaigoweb:" + std::string(network) + ":" + std::string(office_no) + ":session";
}

std::string login_key(std::string_view network, std::string_view office_no) {
  return "kaigoweb:" + std::string(network) + ":" + std::string(office_no) + ":login";
}

std::string network_prefix(std::string_view network) {
  return "kaigoweb:" + std::string(network) + ":";
}

std::string doubt_prefix(std::string_view network, std::string_view office_no) {
  return "kaigoweb:" + std::string(network) + ":" + std::string(office_no) + ":doubt:";
}

std::string doubt_key(std::string_view network, std::string_view office_no,
                      std::string_view reference) {
  return doubt_prefix(network, office_no) + std::string(reference);
}

}  // namespace kakehashi::adapters::kaigoweb
