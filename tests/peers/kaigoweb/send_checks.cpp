#include "tests/peers/kaigoweb/send_checks.hpp"

#include <regex>

#include <rapidjson/document.h>
#include <rapidjson/error/en.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include "mapping/careplan/inspector.hpp"
#include "mapping/common/base64.hpp"
#include "mapping/standard5/translate.hpp"

namespace kakehashi::standin::kaigoweb {
namespace {

namespace s5 = mapping::standard5;

constexpr std::size_t kMaxErrors = 100;
constexpr std::size_t kMaxAttachmentBytes = 10ull * 1024 * 1024;

std::string str(const rapidjson::Value& v, const char* key) {
  if (!v.IsObject()) return {};
  const auto m = v.FindMember(key);
  return m != v.MemberEnd() && m->value.IsString()
             ? std::string(m->value.GetString(), m->value.GetStringLength())
             : std::string();
}

const rapidjson::Value* member(const rapidjson::Value& v, const std::string& key) {
  if (!v.IsObject()) return nullptr;
  const auto m = v.FindMember(rapidjson::StringRef(key.data(), key.size()));
  return m == v.MemberEnd() ? nullptr : &m->value;
}

std::string member_str(const rapidjson::Value* v, const std::string& key) {
  const rapidjson::Value* m = v == nullptr ? nullptr : member(*v, key);
  return m != nullptr && m->IsString() ? std::string(m->GetString(), m->GetStringLength())
                                       : std::string();
}

// Decodes UTF-8 (already validated by the parser) and reports the first code point outside the
// model's JIS X 0213 approximation.
bool has_outside(std::string_view s) {
  for (std::size_t i = 0; i < s.size();) {
    const auto c = static_cast<unsigned char>(s[i]);
    char32_t cp = c;
    std::size_t len = 1;
    if (c >= 0xF0) {
      len = 4;
      cp = c & 0x07;
    } else if (c >= 0xE0) {
      len = 3;
      cp = c & 0x0F;
    } else if (c >= 0xC0) {
      len = 2;
      cp = c & 0x1F;
    }
    for (std::size_t k = 1; k < len && i + k < s.size(); ++k) {
      cp = (cp << 6) | (static_cast<unsigned char>(s[i + k]) & 0x3F);
    }
    if (outside_jis_model(cp)) return true;
    i += len;
  }
  return false;
}

void scan_characters(const rapidjson::Value& v, std::string& path, std::vector<ApiError>& out) {
  if (out.size() >= kMaxErrors) return;
  if (v.IsString()) {
    if (has_outside({v.GetString(), v.GetStringLength()})) {
      out.push_back({"KW2003", "JIS X 0213 の範囲外の文字があります", path});
    }
  } else if (v.IsObject()) {
    for (const auto& m : v.GetObject()) {
      const std::size_t mark = path.size();
      const std::string_view key(m.name.GetString(), m.name.GetStringLength());
      s5::append_pointer_token(path, key);
      if (has_outside(key)) {
        out.push_back({"KW2003", "JIS X 0213 の範囲外の文字があります", path});
      } else {
        scan_characters(m.value, path, out);
      }
      path.resize(mark);
    }
  } else if (v.IsArray()) {
    for (rapidjson::SizeType i = 0; i < v.Size(); ++i) {
      const std::size_t mark = path.size();
      s5::append_pointer_index(path, i);
      scan_characters(v[i], path, out);
      path.resize(mark);
    }
  }
}

int month_index(std::string_view yyyymm) {
  return std::stoi(std::string(yyyymm.substr(0, 4))) * 12 +
         std::stoi(std::string(yyyymm.substr(4, 2))) - 1;
}

// §5.1: the first ファイル対象年月 (model order) that is not 000000, else the sequence's month.
std::string document_month(const rapidjson::Value& doc) {
  const auto& model = s5::Model::builtin();
  const auto& keys = model.keys();
  const rapidjson::Value* forms = member(doc, keys.forms);
  for (const auto& kind : model.kinds()) {
    const rapidjson::Value* form = forms == nullptr ? nullptr : member(*forms, kind.key);
    const std::string month = member_str(form, keys.name_month);
    if (!month.empty() && month != "000000") return month;
  }
  return member_str(&doc, keys.sequence).substr(0, 6);
}

std::string unit_combination(const s5::FromV5Result& rendered) {
  std::vector<mapping::InputFile> inputs;
  for (const auto& f : rendered.files) inputs.push_back({f.name, f.bytes, f.bytes.size()});
  const auto report = mapping::inspect(inputs);
  if (report.units.size() != 1 || report.units.front().combination == nullptr) return {};
  return report.units.front().combination->id;
}

bool accepted_media_type(std::string_view t) {
  return t == "application/pdf" || t == "image/jpeg" || t == "image/png" || t == "image/gif" ||
         t == "text/plain";
}

SendCheck fail(int status, std::string code, std::string message, std::string field) {
  SendCheck c;
  c.status = status;
  c.errors.push_back({std::move(code), std::move(message), std::move(field)});
  return c;
}

}  // namespace

std::string target_month_of(std::string_view document_json) {
  rapidjson::Document d;
  d.Parse(document_json.data(), document_json.size());
  if (d.HasParseError() || !d.IsObject()) return {};
  return document_month(d);
}

bool outside_jis_model(char32_t cp) {
  if (cp >= 0xE000 && cp <= 0xF8FF) return true;
  if (cp >= 0xF0000) return true;
  if (cp >= 0xFDD0 && cp <= 0xFDEF) return true;
  return (cp & 0xFFFE) == 0xFFFE;
}

SendCheck check_send(std::string_view body, const std::string& session_office, int current_month,
                     bool full) {
  rapidjson::Document d;
  d.Parse<rapidjson::kParseValidateEncodingFlag>(body.data(), body.size());
  if (d.HasParseError()) return fail(400, "S4001", "リクエストを読み取れません", "");
  if (!d.IsObject()) return fail(400, "S4002", "リクエストの形式が正しくありません", "");
  static const std::regex kReference("^[A-Za-z0-9._:-]{1,64}$");
  static const std::regex kOffice("^[0-9A-Z]{10}$");
  static const std::regex kType("^[0-9A-Z]{2}$");
  static const std::regex kKind("^(K[1-6]|P[1-9])$");
  static const std::regex kMonth("^[0-9]{4}(0[1-9]|1[0-2])$");
  SendCheck c;
  CheckedSend& s = c.send;
  s.sender_reference = str(d, "sender_reference");
  if (!std::regex_match(s.sender_reference, kReference))
    return fail(400, "S4002", "項目の値が正しくありません", "/sender_reference");
  const rapidjson::Value* recipient = member(d, "recipient");
  s.recipient = {member_str(recipient, "office_no"), member_str(recipient, "service_type")};
  if (!std::regex_match(s.recipient.office_no, kOffice))
    return fail(400, "S4002", "項目の値が正しくありません", "/recipient/office_no");
  if (!std::regex_match(s.recipient.service_type, kType))
    return fail(400, "S4002", "項目の値が正しくありません", "/recipient/service_type");
  s.kind = str(d, "kind");
  if (!std::regex_match(s.kind, kKind))
    return fail(400, "S4002", "項目の値が正しくありません", "/kind");
  s.target_month = str(d, "target_month");
  if (!std::regex_match(s.target_month, kMonth))
    return fail(400, "S4002", "項目の値が正しくありません", "/target_month");
  const rapidjson::Value* doc = member(d, "document");
  if (doc == nullptr || !doc->IsObject())
    return fail(400, "S4002", "項目の値が正しくありません", "/document");

  const auto& keys = s5::Model::builtin().keys();
  const rapidjson::Value* from = member(*doc, keys.sender);
  const rapidjson::Value* from_no = from == nullptr ? nullptr : member(*from, keys.office_no);
  if (from_no != nullptr && from_no->IsString() && from_no->GetString() != session_office) {
    std::string field = "/document";
    s5::append_pointer_token(field, keys.sender);
    s5::append_pointer_token(field, keys.office_no);
    return fail(200, "KW2004", "送信元事業所がログイン中の事業所と一致しません", field);
  }

  rapidjson::StringBuffer buffer;
  rapidjson::Writer<rapidjson::StringBuffer> writer(buffer);
  doc->Accept(writer);
  s.document_json.assign(buffer.GetString(), buffer.GetSize());
  if (!full) {
    s.sender = {session_office, member_str(from, keys.service_type)};
    return c;
  }

  std::string path = "/document";
  scan_characters(*doc, path, c.errors);
  for (const auto& f : s5::validate_v5(s.document_json)) {
    if (c.errors.size() >= kMaxErrors) break;
    if (f.severity != s5::Severity::kError) continue;
    const bool missing = f.message == "required item is missing";
    c.errors.push_back({missing ? "KW2002" : "KW2001",
                        missing ? "必須項目がありません" : "帳票の内容が標準仕様に適合しません",
                        "/document" + (f.json_path == "/" ? std::string() : f.json_path)});
  }
  if (!c.errors.empty()) return c;

  s5::FromV5Options options;
  options.characters.substitute = true;  // JIS X 0213 text MS932 lacks is still valid 5.0
  const s5::FromV5Result rendered = s5::from_v5(s.document_json, options);
  for (const auto& f : rendered.findings) {
    if (c.errors.size() >= kMaxErrors) break;
    if (f.severity != s5::Severity::kError) continue;
    c.errors.push_back({"KW2001", "帳票の内容が標準仕様に適合しません",
                        f.json_path.empty() || f.json_path == "/" ? std::string("/document")
                                                                  : "/document" + f.json_path});
  }
  if (!c.errors.empty()) return c;

  s.sender = rendered.sender;
  if (rendered.recipient != s.recipient) {
    c.errors.push_back({"KW2004", "送信先が帳票の送信先と一致しません", "/recipient"});
  }
  if (document_month(*doc) != s.target_month) {
    c.errors.push_back({"KW2004", "対象年月が帳票と一致しません", "/target_month"});
  }
  if (unit_combination(rendered) != s.kind) {
    c.errors.push_back({"KW2202", "種別が帳票の組合せと一致しません", "/kind"});
  }
  const int month = month_index(s.target_month);
  if (month < current_month - 12 || month > current_month + 3) {
    c.errors.push_back({"KW2201", "対象年月が受付範囲外です", "/target_month"});
  }
  if (!c.errors.empty()) return c;

  const auto& attach = s5::Model::builtin().attachments();
  const rapidjson::Value* list = member(*doc, keys.attachments);
  if (list != nullptr && list->IsArray()) {
    for (rapidjson::SizeType i = 0; i < list->Size(); ++i) {
      const auto& a = (*list)[i];
      const std::string type = member_str(&a, attach.media_type);
      const auto bytes = mapping::common::base64_decode(member_str(&a, attach.content));
      if (!accepted_media_type(type) || !bytes || bytes->size() > kMaxAttachmentBytes) {
        std::string field = "/document";
        s5::append_pointer_token(field, keys.attachments);
        s5::append_pointer_index(field, i);
        c.errors.push_back({"KW2301", "添付ファイルの種類または大きさが受け付けられません", field});
      }
    }
  }
  return c;
}

}  // namespace kakehashi::standin::kaigoweb
