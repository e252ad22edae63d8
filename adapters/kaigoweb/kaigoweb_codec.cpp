#include "adapters/kaigoweb/kaigoweb_codec.hpp"

#include <openssl/evp.h>

#include <array>
#include <cstdio>

#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include "adapters/common/http/json_depth.hpp"
#include "mapping/standard5/model.hpp"

namespace kakehashi::adapters::kaigoweb {
namespace {

using Writer = rapidjson::Writer<rapidjson::StringBuffer>;
using Value = rapidjson::Value;

// A fetched item carries a 5.0 document, which nests deeper than the API's own objects.
constexpr int kMaxAnswerDepth = 64;

void put(Writer& w, const char* key, std::string_view value) {
  w.Key(key);
  w.String(value.data(), static_cast<rapidjson::SizeType>(value.size()));
}

std::string str(const Value& object, const char* key) {
  const auto it = object.FindMember(key);
  if (it == object.MemberEnd() || !it->value.IsString()) return {};
  return {it->value.GetString(), it->value.GetStringLength()};
}

bool has_string(const Value& object, const char* key) {
  const auto it = object.FindMember(key);
  return it != object.MemberEnd() && it->value.IsString() && it->value.GetStringLength() > 0;
}

gateway::OfficeRef office(const Value& object, const char* key) {
  gateway::OfficeRef o;
  const auto it = object.FindMember(key);
  if (it == object.MemberEnd() || !it->value.IsObject()) return o;
  o.office_no = str(it->value, "office_no");
  o.service_type = str(it->value, "service_type");
  return o;
}

// The parsed envelope, with `data` left in the document for the typed reader.
template <class T>
const Value* envelope(std::string_view body, rapidjson::Document& doc, Answer<T>& a) {
  a.kind = AnswerKind::kGarbled;
  if (!http::json_nesting_within(body, kMaxAnswerDepth)) {
    a.problem = "/: nested too deeply";
    return nullptr;
  }
  doc.Parse(body.data(), body.size());
  if (doc.HasParseError() || !doc.IsObject()) {
    a.problem = "/: not a JSON object";
    return nullptr;
  }
  a.request_id = str(doc, "request_id");
  const std::string result = str(doc, "result");
  if (result == "NG") {
    const auto errors = doc.FindMember("errors");
    if (errors == doc.MemberEnd() || !errors->value.IsArray() || errors->value.Empty()) {
      a.problem = "/errors: missing or empty";
      return nullptr;
    }
    for (rapidjson::SizeType i = 0; i < errors->value.Size(); ++i) {
      const Value& e = errors->value[i];
      if (!e.IsObject() || !has_string(e, "code")) {
        a.problem = "/errors/" + std::to_string(i) + "/code: missing";
        a.errors.clear();
        return nullptr;
      }
      ApiError err;
      err.code = str(e, "code");
      err.message = str(e, "message");
      err.field = str(e, "field");
      err.locked_until = str(e, "locked_until");
      const auto ra = e.FindMember("retry_after");
      if (ra != e.MemberEnd() && ra->value.IsInt64() && ra->value.GetInt64() > 0)
        err.retry_after = std::chrono::seconds(ra->value.GetInt64());
      a.errors.push_back(std::move(err));
    }
    a.kind = AnswerKind::kNg;
    return nullptr;
  }
  if (result != "OK") {
    a.problem = "/result: neither OK nor NG";
    return nullptr;
  }
  const auto data = doc.FindMember("data");
  if (data == doc.MemberEnd() || !data->value.IsObject()) {
    a.problem = "/data: missing or not an object";
    return nullptr;
  }
  return &data->value;
}

template <class T>
Answer<T> garbled(Answer<T> a, std::string problem) {
  a.kind = AnswerKind::kGarbled;
  a.problem = std::move(problem);
  return a;
}

// Fills `e` from one listed entry; "" or the JSON member that is missing.
std::string read_entry(const Value& v, ItemEntry& e) {
  if (!v.IsObject()) return "";
  if (!has_string(v, "item_id")) return "item_id";
  e.item_id = str(v, "item_id");
  e.cursor = str(v, "cursor");
  e.sender_reference = str(v, "sender_reference");
  e.sender = office(v, "sender");
  e.recipient = office(v, "recipient");
  e.kind = str(v, "kind");
  e.target_month = str(v, "target_month");
  e.accepted_at = str(v, "accepted_at");
  e.delivered_at = str(v, "delivered_at");
  e.status = str(v, "status");
  e.status_at = str(v, "status_at");
  const auto reject = v.FindMember("reject");
  if (reject != v.MemberEnd() && reject->value.IsObject()) {
    e.reject_by = str(reject->value, "by");
    e.reject_code = str(reject->value, "code");
    e.reject_reason = str(reject->value, "reason");
  }
  return {};
}

// Proleptic Gregorian days since 1970-01-01 (H. Hinnant's algorithm).
std::int64_t days_from_civil(std::int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  const std::int64_t era = (y >= 0 ? y : y - 399) / 400;
  const auto yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<std::int64_t>(doe) - 719468;
}

bool digits(std::string_view s, std::size_t at, std::size_t n, int& out) {
  if (at + n > s.size()) return false;
  out = 0;
  for (std::size_t i = at; i < at + n; ++i) {
    if (s[i] < '0' || s[i] > '9') return false;
    out = out * 10 + (s[i] - '0');
  }
  return true;
}

}  // namespace

// ---- targets --------------------------------------------------------------------------------

std::string url_encode(std::string_view text) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (const char ch : text) {
    const auto c = static_cast<unsigned char>(ch);
    if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
        c == '.' || c == '_' || c == '~') {
      out.push_back(ch);
    } else {
      out.push_back('%');
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 15]);
    }
  }
  return out;
}

std::string sent_feed_target(std::string_view since, int limit) {
  std::string t(kSentItemsPath);
  t += "?limit=" + std::to_string(limit);
  if (!since.empty()) t += "&since=" + url_encode(since);
  return t;
}

std::string sent_by_time_target(std::string_view accepted_from, std::string_view accepted_to,
                                std::string_view page, int limit) {
  std::string t(kSentItemsPath);
  t += "?accepted_from=" + url_encode(accepted_from);
  if (!accepted_to.empty()) t += "&accepted_to=" + url_encode(accepted_to);
  if (!page.empty()) t += "&page=" + url_encode(page);
  t += "&limit=" + std::to_string(limit);
  return t;
}

std::string received_list_target(std::string_view since, int limit) {
  std::string t = "/kaigo/careplan/v1/received-items?limit=" + std::to_string(limit);
  if (!since.empty()) t += "&since=" + url_encode(since);
  return t;
}

std::string received_item_target(std::string_view item_id) {
  return "/kaigo/careplan/v1/received-items/" + url_encode(item_id);
}

std::string ack_target(std::string_view item_id) {
  return received_item_target(item_id) + "/ack";
}

std::string offices_target(std::string_view changed_since, std::string_view cursor, int limit) {
  std::string t = "/kaigo/careplan/v1/offices?limit=" + std::to_string(limit);
  if (!changed_since.empty()) t += "&changed_since=" + url_encode(changed_since);
  if (!cursor.empty()) t += "&cursor=" + url_encode(cursor);
  return t;
}

// ---- bodies ---------------------------------------------------------------------------------

std::string login_body(std::string_view user_id, std::string_view password) {
  rapidjson::StringBuffer b;
  Writer w(b);
  w.StartObject();
  put(w, "user_id", user_id);
  put(w, "password", password);
  w.EndObject();
  return b.GetString();
}

std::string otp_body(std::string_view challenge_id, std::string_view otp) {
  rapidjson::StringBuffer b;
  Writer w(b);
  w.StartObject();
  put(w, "challenge_id", challenge_id);
  put(w, "otp", otp);
  w.EndObject();
  return b.GetString();
}

std::string refresh_body(std::string_view refresh_token) {
  rapidjson::StringBuffer b;
  Writer w(b);
  w.StartObject();
  put(w, "refresh_token", refresh_token);
  w.EndObject();
  return b.GetString();
}

std::string send_body(std::string_view sender_reference, const gateway::OfficeRef& recipient,
                      std::string_view kind, std::string_view target_month,
                      std::string_view document_json) {
  rapidjson::StringBuffer b;
  Writer w(b);
  w.StartObject();
  put(w, "sender_reference", sender_reference);
  w.Key("recipient");
  w.StartObject();
  put(w, "office_no", recipient.office_no);
  put(w, "service_type", recipient.service_type);
  w.EndObject();
  put(w, "kind", kind);
  put(w, "target_month", target_month);
  w.Key("document");
  w.RawValue(document_json.data(), document_json.size(), rapidjson::kObjectType);
  w.EndObject();
  return b.GetString();
}

std::string ack_body(std::string_view result, std::string_view reason) {
  constexpr std::size_t kMaxReason = 2000;  // characters
  std::size_t chars = 0, cut = 0;
  for (; cut < reason.size(); ++cut) {
    const auto c = static_cast<unsigned char>(reason[cut]);
    if ((c & 0xC0) != 0x80 && chars++ == kMaxReason) break;
  }
  rapidjson::StringBuffer b;
  Writer w(b);
  w.StartObject();
  put(w, "result", result);
  if (result == "rejected") put(w, "reason", reason.substr(0, cut));
  w.EndObject();
  return b.GetString();
}

// ---- identity -------------------------------------------------------------------------------

std::string sha256_hex(std::string_view bytes) {
  std::array<unsigned char, EVP_MAX_MD_SIZE> md{};
  unsigned int n = 0;
  EVP_Digest(bytes.data(), bytes.size(), md.data(), &n, EVP_sha256(), nullptr);
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(2 * n);
  for (unsigned i = 0; i < n; ++i) {
    out.push_back(kHex[md[i] >> 4]);
    out.push_back(kHex[md[i] & 15]);
  }
  return out;
}

std::string sender_reference(std::string_view idempotency_key) {
  return std::string(kReferencePrefix) + sha256_hex(idempotency_key).substr(0, 32);
}

std::string target_month_of(std::string_view document_json) {
  rapidjson::Document doc;
  if (!http::json_nesting_within(document_json, kMaxAnswerDepth)) return {};
  doc.Parse(document_json.data(), document_json.size());
  if (doc.HasParseError() || !doc.IsObject()) return {};
  const auto forms = doc.FindMember("帳票");
  if (forms != doc.MemberEnd() && forms->value.IsObject()) {
    for (const auto& kind : mapping::standard5::Model::builtin().kinds()) {
      const auto form = forms->value.FindMember(
          rapidjson::StringRef(kind.key.data(), static_cast<rapidjson::SizeType>(kind.key.size())));
      if (form == forms->value.MemberEnd() || !form->value.IsObject()) continue;
      const std::string month = str(form->value, "ファイル対象年月");
      if (month.size() == 6 && month != "000000") return month;
    }
  }
  const std::string sequence = str(doc, "ファイル連番");
  return sequence.size() >= 6 ? sequence.substr(0, 6) : std::string();
}

// ---- times ----------------------------------------------------------------------------------

std::optional<TimePoint> parse_time(std::string_view s) {
  int y = 0, mo = 0, d = 0, h = 0, mi = 0, se = 0;
  if (!digits(s, 0, 4, y) || s.size() < 20 || s[4] != '-' || !digits(s, 5, 2, mo) || s[7] != '-' ||
      !digits(s, 8, 2, d) || (s[10] != 'T' && s[10] != 't') || !digits(s, 11, 2, h) ||
      s[13] != ':' || !digits(s, 14, 2, mi) || s[16] != ':' || !digits(s, 17, 2, se))
    return std::nullopt;
  if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || se > 60) return std::nullopt;
  std::size_t i = 19;
  std::int64_t millis = 0;
  if (i < s.size() && s[i] == '.') {
    ++i;
    int scale = 100;
    const std::size_t start = i;
    while (i < s.size() && s[i] >= '0' && s[i] <= '9') {
      millis += (s[i] - '0') * scale;
      scale /= 10;
      ++i;
    }
    if (i == start) return std::nullopt;
  }
  std::int64_t offset_min = 0;
  if (i < s.size() && (s[i] == 'Z' || s[i] == 'z')) {
    ++i;
  } else if (i < s.size() && (s[i] == '+' || s[i] == '-')) {
    int oh = 0, om = 0;
    if (!digits(s, i + 1, 2, oh) || i + 3 >= s.size() || s[i + 3] != ':' ||
        !digits(s, i + 4, 2, om))
      return std::nullopt;
    offset_min = (oh * 60 + om) * (s[i] == '-' ? -1 : 1);
    i += 6;
  } else {
    return std::nullopt;
  }
  if (i != s.size()) return std::nullopt;
  const std::int64_t secs =
      days_from_civil(y, static_cast<unsigned>(mo), static_cast<unsigned>(d)) * 86400 + h * 3600 +
      mi * 60 + se - offset_min * 60;
  return TimePoint(std::chrono::duration_cast<TimePoint::duration>(
      std::chrono::milliseconds(secs * 1000 + millis)));
}

std::string format_utc_ms(TimePoint t) {
  const auto ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
  std::int64_t secs = ms / 1000;
  std::int64_t frac = ms % 1000;
  if (frac < 0) {
    frac += 1000;
    --secs;
  }
  std::int64_t days = secs / 86400;
  std::int64_t rem = secs % 86400;
  if (rem < 0) {
    rem += 86400;
    --days;
  }
  // civil_from_days (H. Hinnant)
  days += 719468;
  const std::int64_t era = (days >= 0 ? days : days - 146096) / 146097;
  const auto doe = static_cast<unsigned>(days - era * 146097);
  const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  std::int64_t y = static_cast<std::int64_t>(yoe) + era * 400;
  const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const unsigned mp = (5 * doy + 2) / 153;
  const unsigned d = doy - (153 * mp + 2) / 5 + 1;
  const unsigned m = mp < 10 ? mp + 3 : mp - 9;
  y += m <= 2;
  char buf[40];
  std::snprintf(buf, sizeof buf, "%04lld-%02u-%02uT%02lld:%02lld:%02lld.%03lldZ",
                static_cast<long long>(y), m, d, static_cast<long long>(rem / 3600),
                static_cast<long long>(rem / 60 % 60), static_cast<long long>(rem % 60),
                static_cast<long long>(frac));
  return buf;
}

// ---- answers --------------------------------------------------------------------------------

Answer<Empty> read_envelope(std::string_view body) {
  Answer<Empty> a;
  rapidjson::Document doc;
  if (envelope(body, doc, a) != nullptr) a.kind = AnswerKind::kOk;
  return a;
}

Answer<Challenge> read_challenge(std::string_view body) {
  Answer<Challenge> a;
  rapidjson::Document doc;
  const Value* data = envelope(body, doc, a);
  if (data == nullptr) return a;
  if (!has_string(*data, "challenge_id")) return garbled(std::move(a), "/data/challenge_id");
  a.data.challenge_id = str(*data, "challenge_id");
  a.data.otp_delivery = str(*data, "otp_delivery");
  a.data.otp_destination_hint = str(*data, "otp_destination_hint");
  a.data.otp_expires_at = str(*data, "otp_expires_at");
  if (!parse_time(a.data.otp_expires_at)) return garbled(std::move(a), "/data/otp_expires_at");
  const auto len = data->FindMember("otp_length");
  if (len != data->MemberEnd() && len->value.IsInt()) a.data.otp_length = len->value.GetInt();
  a.kind = AnswerKind::kOk;
  return a;
}

Answer<Tokens> read_tokens(std::string_view body, bool with_refresh_token) {
  Answer<Tokens> a;
  rapidjson::Document doc;
  const Value* data = envelope(body, doc, a);
  if (data == nullptr) return a;
  if (!has_string(*data, "access_token")) return garbled(std::move(a), "/data/access_token");
  a.data.access_token = str(*data, "access_token");
  a.data.access_expires_at = str(*data, "access_expires_at");
  if (!parse_time(a.data.access_expires_at))
    return garbled(std::move(a), "/data/access_expires_at");
  a.data.refresh_expires_at = str(*data, "refresh_expires_at");
  if (with_refresh_token) {
    if (!has_string(*data, "refresh_token")) return garbled(std::move(a), "/data/refresh_token");
    a.data.refresh_token = str(*data, "refresh_token");
  }
  if (with_refresh_token && !parse_time(a.data.refresh_expires_at))
    return garbled(std::move(a), "/data/refresh_expires_at");
  a.data.user_id = str(*data, "user_id");
  const auto o = data->FindMember("office");
  if (o != data->MemberEnd() && o->value.IsObject()) a.data.office_no = str(o->value, "office_no");
  a.kind = AnswerKind::kOk;
  return a;
}

Answer<SendAccepted> read_send_answer(std::string_view body) {
  Answer<SendAccepted> a;
  rapidjson::Document doc;
  const Value* data = envelope(body, doc, a);
  if (data == nullptr) return a;
  if (!has_string(*data, "item_id")) return garbled(std::move(a), "/data/item_id");
  a.data.item_id = str(*data, "item_id");
  a.data.status = str(*data, "status");
  a.data.accepted_at = str(*data, "accepted_at");
  a.data.sender_reference = str(*data, "sender_reference");
  a.kind = AnswerKind::kOk;
  return a;
}

Answer<ItemPage> read_item_page(std::string_view body) {
  Answer<ItemPage> a;
  rapidjson::Document doc;
  const Value* data = envelope(body, doc, a);
  if (data == nullptr) return a;
  const auto items = data->FindMember("items");
  if (items == data->MemberEnd() || !items->value.IsArray())
    return garbled(std::move(a), "/data/items");
  for (rapidjson::SizeType i = 0; i < items->value.Size(); ++i) {
    ItemEntry e;
    if (!read_entry(items->value[i], e).empty()) {
      ++a.data.skipped;
      continue;
    }
    a.data.items.push_back(std::move(e));
  }
  a.data.next_cursor = str(*data, "next_cursor");
  a.data.next_page = str(*data, "next_page");
  const auto more = data->FindMember("has_more");
  if (more != data->MemberEnd()) {
    if (!more->value.IsBool()) return garbled(std::move(a), "/data/has_more");
    a.data.has_more = more->value.GetBool();
  }
  a.kind = AnswerKind::kOk;
  return a;
}

Answer<ReceivedItem> read_received_item(std::string_view body) {
  Answer<ReceivedItem> a;
  rapidjson::Document doc;
  const Value* data = envelope(body, doc, a);
  if (data == nullptr) return a;
  if (const std::string missing = read_entry(*data, a.data.entry); !missing.empty())
    return garbled(std::move(a), "/data/" + missing);
  const auto document = data->FindMember("document");
  if (document == data->MemberEnd() || !document->value.IsObject())
    return garbled(std::move(a), "/data/document");
  rapidjson::StringBuffer b;
  Writer w(b);
  document->value.Accept(w);
  a.data.document_json.assign(b.GetString(), b.GetSize());
  a.kind = AnswerKind::kOk;
  return a;
}

Answer<OfficePage> read_office_page(std::string_view body) {
  Answer<OfficePage> a;
  rapidjson::Document doc;
  const Value* data = envelope(body, doc, a);
  if (data == nullptr) return a;
  const auto offices = data->FindMember("offices");
  if (offices == data->MemberEnd() || !offices->value.IsArray())
    return garbled(std::move(a), "/data/offices");
  for (rapidjson::SizeType i = 0; i < offices->value.Size(); ++i) {
    const Value& o = offices->value[i];
    const std::string at = "/data/offices/" + std::to_string(i);
    if (!o.IsObject() || !has_string(o, "office_no"))
      return garbled(std::move(a), at + "/office_no");
    const auto types = o.FindMember("service_types");
    if (types == o.MemberEnd() || !types->value.IsArray())
      return garbled(std::move(a), at + "/service_types");
    for (rapidjson::SizeType t = 0; t < types->value.Size(); ++t) {
      if (!types->value[t].IsString())
        return garbled(std::move(a), at + "/service_types/" + std::to_string(t));
      gateway::DirectoryEntry e;
      e.office.office_no = str(o, "office_no");
      e.office.service_type.assign(types->value[t].GetString(), types->value[t].GetStringLength());
      e.name = str(o, "name");
      e.kana = str(o, "kana");
      e.prefecture = str(o, "prefecture");
      e.status = str(o, "status");
      e.updated_at = str(o, "updated_at");
      a.data.entries.push_back(std::move(e));
    }
  }
  a.data.next_cursor = str(*data, "next_cursor");
  a.data.as_of = str(*data, "as_of");
  const auto more = data->FindMember("has_more");
  if (more != data->MemberEnd() && more->value.IsBool()) a.data.has_more = more->value.GetBool();
  a.kind = AnswerKind::kOk;
  return a;
}

// ---- composite cursor -----------------------------------------------------------------------

std::optional<CompositeCursor> read_composite_cursor(std::string_view text) {
  CompositeCursor out;
  if (text.empty()) return out;
  rapidjson::Document doc;
  if (!http::json_nesting_within(text, 4)) return std::nullopt;
  doc.Parse(text.data(), text.size());
  if (doc.HasParseError() || !doc.IsObject()) return std::nullopt;
  const auto v = doc.FindMember("v");
  const auto o = doc.FindMember("o");
  if (v == doc.MemberEnd() || !v->value.IsInt() || v->value.GetInt() != 1) return std::nullopt;
  if (o == doc.MemberEnd() || !o->value.IsObject()) return std::nullopt;
  for (auto it = o->value.MemberBegin(); it != o->value.MemberEnd(); ++it) {
    if (!it->value.IsString()) return std::nullopt;
    out[std::string(it->name.GetString(), it->name.GetStringLength())] =
        std::string(it->value.GetString(), it->value.GetStringLength());
  }
  return out;
}

std::string write_composite_cursor(const CompositeCursor& cursor) {
  rapidjson::StringBuffer b;
  Writer w(b);
  w.StartObject();
  w.Key("v");
  w.Int(1);
  w.Key("o");
  w.StartObject();
  for (const auto& [office_no, position] : cursor) put(w, office_no.c_str(), position);
  w.EndObject();
  w.EndObject();
  return b.GetString();
}

}  // namespace kakehashi::adapters::kaigoweb
