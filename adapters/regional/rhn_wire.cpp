#include "adapters/regional/rhn_wire.hpp"

#include <algorithm>
#include <set>

#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include "adapters/common/http/json_depth.hpp"
#include "mapping/common/media_type.hpp"

namespace kakehashi::adapters::regional {

namespace {

using Writer = rapidjson::Writer<rapidjson::StringBuffer>;

void put(Writer& w, const char* key, std::string_view value) {
  w.Key(key);
  w.String(value.data(), static_cast<rapidjson::SizeType>(value.size()));
}

bool charset_ok(std::string_view s, bool allow_punct, bool allow_lower) {
  return std::all_of(s.begin(), s.end(), [&](char c) {
    if (c >= '0' && c <= '9') return true;
    if (c >= 'A' && c <= 'Z') return true;
    if (allow_lower && c >= 'a' && c <= 'z') return true;
    return allow_punct && (c == '.' || c == '_' || c == ':' || c == '-');
  });
}

// Reads a member as a string; nullopt when absent or not a string.
std::optional<std::string> str(const rapidjson::Value& obj, const char* key) {
  if (!obj.IsObject()) return std::nullopt;
  auto it = obj.FindMember(key);
  if (it == obj.MemberEnd() || !it->value.IsString()) return std::nullopt;
  return std::string(it->value.GetString(), it->value.GetStringLength());
}

std::optional<std::int64_t> int64(const rapidjson::Value& obj, const char* key) {
  if (!obj.IsObject()) return std::nullopt;
  auto it = obj.FindMember(key);
  if (it == obj.MemberEnd() || !it->value.IsInt64()) return std::nullopt;
  return it->value.GetInt64();
}

const rapidjson::Value* member(const rapidjson::Value& obj, const char* key) {
  if (!obj.IsObject()) return nullptr;
  auto it = obj.FindMember(key);
  return it == obj.MemberEnd() ? nullptr : &it->value;
}

bool parse(rapidjson::Document& doc, std::string_view json) {
  if (!http::json_nesting_within(json)) return false;
  doc.Parse(json.data(), json.size());
  return !doc.HasParseError();
}

RhnError invalid(std::string field, std::string message) {
  RhnError e;
  e.status = 400;
  e.code = "INVALID_REQUEST";
  e.message = std::move(message);
  e.field = std::move(field);
  return e;
}

RhnError invalid_document(std::string field, std::string filename, std::string message) {
  RhnError e;
  e.status = 400;
  e.code = "INVALID_DOCUMENT";
  e.message = std::move(message);
  e.field = std::move(field);
  e.filename = std::move(filename);
  return e;
}

void write_office_ref(Writer& w, const mapping::OfficeRef& o) {
  put(w, "office_no", o.office_no);
  put(w, "service_type", o.service_type);
}

// {office_no, service_type} with the §2 rules; error names `path`.
std::optional<RhnError> read_office_ref(const rapidjson::Value& obj, const std::string& path,
                                        mapping::OfficeRef& out) {
  if (!obj.IsObject()) return invalid(path, "must be an object");
  auto no = str(obj, "office_no");
  if (!no || !valid_office_no(*no)) {
    return invalid(path + ".office_no", "must be 10 characters of 0-9A-Z");
  }
  auto type = str(obj, "service_type");
  if (!type || !valid_service_type(*type)) {
    return invalid(path + ".service_type", "must be 2 characters of 0-9A-Z");
  }
  out.office_no = *no;
  out.service_type = *type;
  return std::nullopt;
}

bool read_sender(const rapidjson::Value& obj, RhnSender& out) {
  auto fac = str(obj, "facility_id");
  auto no = str(obj, "office_no");
  auto type = str(obj, "service_type");
  if (!fac || !no || !type) return false;
  out.facility_id = *fac;
  out.office.office_no = *no;
  out.office.service_type = *type;
  return true;
}

bool read_ref(const rapidjson::Value& obj, mapping::OfficeRef& out) {
  auto no = str(obj, "office_no");
  auto type = str(obj, "service_type");
  if (!no || !type) return false;
  out.office_no = *no;
  out.service_type = *type;
  return true;
}

bool read_documents(const rapidjson::Value& arr, std::vector<RhnDocument>& out) {
  if (!arr.IsArray()) return false;
  for (const auto& d : arr.GetArray()) {
    RhnDocument doc;
    auto name = str(d, "filename");
    auto type = str(d, "media_type");
    auto content = str(d, "content");
    auto sig = str(d, "signature");
    if (!name || !type || !content || !sig) return false;
    auto c = base64_decode(*content);
    auto s = base64_decode(*sig);
    if (!c || !s) return false;
    doc.filename = *name;
    doc.media_type = *type;
    doc.content = std::move(*c);
    doc.signature = std::move(*s);
    out.push_back(std::move(doc));
  }
  return true;
}

}  // namespace

bool valid_message_id(std::string_view id) {
  return !id.empty() && id.size() <= kMaxMessageIdBytes && charset_ok(id, true, true);
}

bool valid_facility_id(std::string_view id) {
  return !id.empty() && id.size() <= kMaxFacilityIdBytes && charset_ok(id, true, true);
}

bool valid_office_no(std::string_view office_no) {
  return office_no.size() == 10 && charset_ok(office_no, false, false);
}

bool valid_service_type(std::string_view service_type) {
  return service_type.size() == 2 && charset_ok(service_type, false, false);
}

bool valid_status(std::string_view status) {
  return status == "ACTIVE" || status == "SUSPENDED" || status == "CLOSED";
}

std::string encode_message(const RhnMessage& m) {
  rapidjson::StringBuffer sb;
  Writer w(sb);
  w.StartObject();
  put(w, "message_id", m.message_id);
  put(w, "service", m.service);
  w.Key("from");
  w.StartObject();
  put(w, "facility_id", m.from.facility_id);
  write_office_ref(w, m.from.office);
  w.EndObject();
  w.Key("to");
  w.StartObject();
  write_office_ref(w, m.to);
  w.EndObject();
  put(w, "subject", m.subject);
  put(w, "body", m.body);
  w.Key("documents");
  w.StartArray();
  for (const auto& d : m.documents) {
    w.StartObject();
    put(w, "filename", d.filename);
    put(w, "media_type", d.media_type);
    put(w, "content", base64_encode(d.content));
    put(w, "signature", base64_encode(d.signature));
    w.EndObject();
  }
  w.EndArray();
  w.EndObject();
  return std::string(sb.GetString(), sb.GetSize());
}

std::variant<RhnMessage, RhnError> decode_message(std::string_view json, bool check_names) {
  rapidjson::Document doc;
  if (!parse(doc, json) || !doc.IsObject()) return invalid("", "body is not a JSON object");
  RhnMessage m;
  auto id = str(doc, "message_id");
  if (!id || !valid_message_id(*id)) {
    return invalid("message_id", "must be 1-128 characters of A-Za-z0-9._:-");
  }
  m.message_id = *id;
  auto service = str(doc, "service");
  if (!service || *service != "careplan") return invalid("service", "must be \"careplan\"");
  m.service = *service;
  const auto* from = member(doc, "from");
  if (from == nullptr) return invalid("from", "missing");
  auto fac = str(*from, "facility_id");
  if (!fac || !valid_facility_id(*fac)) {
    return invalid("from.facility_id", "must be 1-64 characters of A-Za-z0-9._:-");
  }
  m.from.facility_id = *fac;
  if (auto e = read_office_ref(*from, "from", m.from.office)) return *e;
  const auto* to = member(doc, "to");
  if (to == nullptr) return invalid("to", "missing");
  if (auto e = read_office_ref(*to, "to", m.to)) return *e;
  if (const auto* s = member(doc, "subject")) {
    if (!s->IsString() || s->GetStringLength() > kMaxSubjectBytes) {
      return invalid("subject", "must be a string of at most 200 characters");
    }
    m.subject.assign(s->GetString(), s->GetStringLength());
  }
  if (const auto* b = member(doc, "body")) {
    if (!b->IsString() || b->GetStringLength() > kMaxBodyBytes) {
      return invalid("body", "must be a string of at most 4000 bytes");
    }
    m.body.assign(b->GetString(), b->GetStringLength());
  }
  const auto* docs = member(doc, "documents");
  if (docs == nullptr || !docs->IsArray() || docs->Empty() || docs->Size() > kMaxDocuments) {
    return invalid("documents", "must be an array of 1-100 documents");
  }
  std::set<std::string> names;
  for (rapidjson::SizeType i = 0; i < docs->Size(); ++i) {
    const auto& d = (*docs)[i];
    const std::string path = "documents[" + std::to_string(i) + "]";
    auto name = str(d, "filename");
    auto type = str(d, "media_type");
    auto content = str(d, "content");
    auto sig = str(d, "signature");
    if (!name || name->empty() || name->size() > kMaxFilenameBytes ||
        name->find_first_of(std::string_view("/\\\0", 3)) != std::string::npos) {
      return invalid(path + ".filename", "must be 1-255 bytes without / \\ or NUL");
    }
    if (!type) return invalid(path + ".media_type", "missing");
    if (!content) return invalid(path + ".content", "missing");
    if (!sig) return invalid(path + ".signature", "missing");
    RhnDocument out;
    out.filename = *name;
    if (!mapping::common::is_known_media_type(*type)) {
      return invalid_document(path + ".media_type", out.filename, "media type not allowed");
    }
    out.media_type = *type;
    if (!names.insert(out.filename).second) {
      return invalid_document(path + ".filename", out.filename, "duplicate filename");
    }
    auto c = base64_decode(*content);
    if (!c) return invalid_document(path + ".content", out.filename, "not base64");
    if (c->size() > kMaxDocumentBytes) {
      return invalid_document(path + ".content", out.filename, "larger than 10 MiB");
    }
    auto s = base64_decode(*sig);
    if (!s || s->empty()) {
      return invalid_document(path + ".signature", out.filename, "not base64");
    }
    if (check_names) {
      const auto parsed = mapping::parse_file_name(out.filename);
      if (!parsed.name) {
        return invalid_document(path + ".filename", out.filename,
                                "not a file name of the care-plan standard");
      }
      // v3 names carry no service types; compare the office numbers then.
      const bool v3 = parsed.name->generation == mapping::NameGeneration::kV3;
      const auto same = [v3](const mapping::OfficeRef& a, const mapping::OfficeRef& b) {
        return a.office_no == b.office_no && (v3 || a.service_type == b.service_type);
      };
      if (!same(parsed.name->from, m.from.office) || !same(parsed.name->to, m.to)) {
        return invalid_document(path + ".filename", out.filename,
                                "offices in the name differ from from/to");
      }
    }
    out.content = std::move(*c);
    out.signature = std::move(*s);
    m.documents.push_back(std::move(out));
  }
  return m;
}

std::string encode_notice(const RhnNotice& n) {
  rapidjson::StringBuffer sb;
  Writer w(sb);
  w.StartObject();
  put(w, "notice_id", n.notice_id);
  w.Key("to");
  w.StartObject();
  put(w, "office_no", n.to.office_no);
  if (!n.to.service_type.empty()) put(w, "service_type", n.to.service_type);
  w.EndObject();
  put(w, "text", n.text);
  w.EndObject();
  return std::string(sb.GetString(), sb.GetSize());
}

std::variant<RhnNotice, RhnError> decode_notice(std::string_view json) {
  rapidjson::Document doc;
  if (!http::json_nesting_within(json)) return invalid("", "body is not a JSON object");
  doc.Parse<rapidjson::kParseValidateEncodingFlag>(json.data(), json.size());
  if (doc.HasParseError() || !doc.IsObject())
    return invalid("", "body is not a JSON object of valid UTF-8");
  RhnNotice n;
  auto id = str(doc, "notice_id");
  if (!id || !valid_message_id(*id)) {
    return invalid("notice_id", "must be 1-128 characters of A-Za-z0-9._:-");
  }
  n.notice_id = *id;
  const auto* to = member(doc, "to");
  if (to == nullptr || !to->IsObject()) return invalid("to", "must be an object");
  auto no = str(*to, "office_no");
  if (!no || !valid_office_no(*no)) return invalid("to.office_no", "must be 10 characters of 0-9A-Z");
  n.to.office_no = *no;
  if (member(*to, "service_type") != nullptr) {
    auto type = str(*to, "service_type");
    if (!type || !valid_service_type(*type))
      return invalid("to.service_type", "must be 2 characters of 0-9A-Z when present");
    n.to.service_type = *type;
  }
  auto text = str(doc, "text");
  if (!text || text->empty() || text->size() > kMaxNoticeTextBytes)
    return invalid("text", "must be a string of 1-2000 bytes");
  for (const char c : *text) {
    const auto u = static_cast<unsigned char>(c);
    if ((u < 0x20 && c != '\n') || u == 0x7F)
      return invalid("text", "plain text only: no control characters but line feeds");
  }
  n.text = std::move(*text);
  return n;
}

std::optional<RhnNoticeAnswer> decode_notice_answer(std::string_view json) {
  rapidjson::Document doc;
  if (!parse(doc, json) || !doc.IsObject()) return std::nullopt;
  auto id = str(doc, "id");
  auto notice_id = str(doc, "notice_id");
  auto at = str(doc, "accepted_at");
  if (!id || id->empty() || !notice_id || !at) return std::nullopt;
  return RhnNoticeAnswer{*id, *notice_id, *at};
}

std::string cut_notice_text(std::string text) {
  if (text.size() <= kMaxNoticeTextBytes) return text;
  std::size_t end = kMaxNoticeTextBytes;
  // Back to the first byte of a character (continuation bytes are 10xxxxxx).
  while (end > 0 && (static_cast<unsigned char>(text[end]) & 0xC0) == 0x80) --end;
  text.resize(end);
  return text;
}

std::string encode_error(const RhnError& e) {
  rapidjson::StringBuffer sb;
  Writer w(sb);
  w.StartObject();
  w.Key("error");
  w.StartObject();
  put(w, "code", e.code);
  put(w, "message", e.message);
  w.Key("details");
  w.StartObject();
  if (!e.field.empty()) put(w, "field", e.field);
  if (!e.reason.empty()) put(w, "reason", e.reason);
  if (!e.filename.empty()) put(w, "filename", e.filename);
  if (!e.office.empty()) put(w, "office", e.office);
  w.EndObject();
  w.EndObject();
  w.EndObject();
  return std::string(sb.GetString(), sb.GetSize());
}

RhnError decode_error(int status, std::string_view body) {
  RhnError e;
  e.status = status;
  rapidjson::Document doc;
  const rapidjson::Value* err = nullptr;
  if (parse(doc, body)) err = member(doc, "error");
  auto code = err != nullptr ? str(*err, "code") : std::nullopt;
  if (!code || code->empty()) {
    e.code = "HTTP_" + std::to_string(status);
    e.message = "answer without the contract's error body";
    return e;
  }
  e.code = *code;
  e.message = str(*err, "message").value_or("");
  if (const auto* details = member(*err, "details")) {
    e.field = str(*details, "field").value_or("");
    e.reason = str(*details, "reason").value_or("");
    e.filename = str(*details, "filename").value_or("");
    e.office = str(*details, "office").value_or("");
  }
  return e;
}

std::optional<RhnSendAnswer> decode_send_answer(std::string_view json) {
  rapidjson::Document doc;
  if (!parse(doc, json)) return std::nullopt;
  auto id = str(doc, "id");
  if (!id || id->empty()) return std::nullopt;
  RhnSendAnswer a;
  a.id = *id;
  a.message_id = str(doc, "message_id").value_or("");
  a.accepted_at = str(doc, "accepted_at").value_or("");
  return a;
}

namespace {

std::optional<RhnMailboxItem> read_item(const rapidjson::Value& v, bool full) {
  RhnMailboxItem item;
  auto seq = int64(v, "sequence");
  auto id = str(v, "id");
  const auto* from = member(v, "from");
  const auto* to = member(v, "to");
  if (!seq || *seq <= 0 || !id || id->empty() || from == nullptr || to == nullptr) {
    return std::nullopt;
  }
  if (!read_sender(*from, item.from) || !read_ref(*to, item.to)) return std::nullopt;
  item.sequence = *seq;
  item.id = *id;
  item.message_id = str(v, "message_id").value_or("");
  item.subject = str(v, "subject").value_or("");
  item.state = str(v, "state").value_or("");
  item.received_at = str(v, "received_at").value_or("");
  item.document_count = int64(v, "document_count").value_or(0);
  if (full) {
    item.body = str(v, "body").value_or("");
    const auto* docs = member(v, "documents");
    if (docs == nullptr || !read_documents(*docs, item.documents)) return std::nullopt;
  }
  return item;
}

}  // namespace

std::variant<RhnMailboxItem, RhnItemProblem> read_mailbox_message(std::string_view json) {
  const auto problem = [](std::string reason) { return RhnItemProblem{false, std::move(reason)}; };
  if (!http::json_nesting_within(json)) {
    return problem("body: nested deeper than " + std::to_string(http::kMaxJsonDepth) + " levels");
  }
  rapidjson::Document doc;
  doc.Parse(json.data(), json.size());
  if (doc.HasParseError()) return RhnItemProblem{true, "body: not JSON"};
  if (!doc.IsObject()) return problem("body: not a JSON object");
  RhnMailboxItem item;
  const auto need = [](const rapidjson::Value& obj, const char* key) -> std::optional<std::string> {
    auto v = str(obj, key);
    if (!v || v->empty()) return std::nullopt;
    return v;
  };
  auto seq = int64(doc, "sequence");
  if (!seq || *seq <= 0) return problem("sequence: missing or not a positive integer");
  item.sequence = *seq;
  auto id = need(doc, "id");
  if (!id) return problem("id: missing or empty");
  item.id = *id;
  const auto* from = member(doc, "from");
  if (from == nullptr || !from->IsObject()) return problem("from: missing or not an object");
  for (const char* key : {"facility_id", "office_no", "service_type"}) {
    if (!need(*from, key)) return problem(std::string("from.") + key + ": missing or empty");
  }
  read_sender(*from, item.from);
  const auto* to = member(doc, "to");
  if (to == nullptr || !to->IsObject()) return problem("to: missing or not an object");
  for (const char* key : {"office_no", "service_type"}) {
    if (!need(*to, key)) return problem(std::string("to.") + key + ": missing or empty");
  }
  read_ref(*to, item.to);
  item.message_id = str(doc, "message_id").value_or("");
  item.subject = str(doc, "subject").value_or("");
  item.body = str(doc, "body").value_or("");
  item.state = str(doc, "state").value_or("");
  item.received_at = str(doc, "received_at").value_or("");
  item.document_count = int64(doc, "document_count").value_or(0);
  const auto* docs = member(doc, "documents");
  if (docs == nullptr || !docs->IsArray()) return problem("documents: missing or not an array");
  if (docs->Empty() || docs->Size() > kMaxDocuments) {
    return problem("documents: " + std::to_string(docs->Size()) +
                   " entries, the contract allows 1-" + std::to_string(kMaxDocuments));
  }
  for (rapidjson::SizeType i = 0; i < docs->Size(); ++i) {
    const auto& d = (*docs)[i];
    const std::string path = "documents[" + std::to_string(i) + "]";
    RhnDocument out;
    for (const char* key : {"filename", "media_type", "content", "signature"}) {
      if (!str(d, key)) return problem(path + "." + key + ": missing or not a string");
    }
    out.filename = *str(d, "filename");
    out.media_type = *str(d, "media_type");
    auto content = base64_decode(*str(d, "content"));
    if (!content) return problem(path + ".content: not base64 (RFC 4648, padded, no line breaks)");
    if (content->size() > kMaxDocumentBytes) return problem(path + ".content: larger than 10 MiB");
    auto signature = base64_decode(*str(d, "signature"));
    if (!signature || signature->empty()) {
      return problem(path + ".signature: not base64 (RFC 4648, padded, no line breaks)");
    }
    out.content = std::move(*content);
    out.signature = std::move(*signature);
    item.documents.push_back(std::move(out));
  }
  return item;
}

std::optional<RhnMailboxPage> decode_mailbox_page(std::string_view json) {
  rapidjson::Document doc;
  if (!parse(doc, json)) return std::nullopt;
  const auto* items = member(doc, "items");
  auto next = int64(doc, "next_since");
  if (items == nullptr || !items->IsArray() || !next) return std::nullopt;
  RhnMailboxPage page;
  page.next_since = *next;
  const auto* more = member(doc, "more");
  page.more = more != nullptr && more->IsBool() && more->GetBool();
  for (const auto& v : items->GetArray()) {
    auto item = read_item(v, false);
    if (item) {
      page.items.push_back(std::move(*item));
      continue;
    }
    // One malformed entry does not spoil the page: with a sequence and an id the message is
    // fetched (and refused if it cannot be read); without, it is left out.
    auto seq = int64(v, "sequence");
    auto id = str(v, "id");
    if (seq && *seq > 0 && id && !id->empty()) {
      RhnMailboxItem partial;
      partial.sequence = *seq;
      partial.id = *id;
      page.items.push_back(std::move(partial));
    } else {
      ++page.skipped;
      if (seq && *seq > 0) page.skipped_sequences.push_back(*seq);
    }
  }
  return page;
}

std::optional<RhnMailboxItem> decode_mailbox_item(std::string_view json) {
  rapidjson::Document doc;
  if (!parse(doc, json)) return std::nullopt;
  return read_item(doc, true);
}

std::optional<RhnReceiptPage> decode_receipt_page(std::string_view json) {
  rapidjson::Document doc;
  if (!parse(doc, json)) return std::nullopt;
  const auto* items = member(doc, "items");
  auto next = int64(doc, "next_since");
  if (items == nullptr || !items->IsArray() || !next) return std::nullopt;
  RhnReceiptPage page;
  page.next_since = *next;
  const auto* more = member(doc, "more");
  page.more = more != nullptr && more->IsBool() && more->GetBool();
  for (const auto& v : items->GetArray()) {
    RhnReceipt r;
    auto seq = int64(v, "sequence");
    auto id = str(v, "id");
    auto state = str(v, "state");
    if (!seq || *seq <= 0 || !id || !state || (*state != "READ" && *state != "REJECTED")) {
      return std::nullopt;
    }
    r.sequence = *seq;
    r.id = *id;
    r.state = *state;
    r.message_id = str(v, "message_id").value_or("");
    r.reason = str(v, "reason").value_or("");
    r.at = str(v, "at").value_or("");
    page.items.push_back(std::move(r));
  }
  return page;
}

std::optional<std::vector<RhnFacility>> decode_directory(std::string_view json) {
  rapidjson::Document doc;
  if (!parse(doc, json)) return std::nullopt;
  const auto* facilities = member(doc, "facilities");
  if (facilities == nullptr || !facilities->IsArray()) return std::nullopt;
  std::vector<RhnFacility> out;
  for (const auto& f : facilities->GetArray()) {
    RhnFacility fac;
    auto id = str(f, "facility_id");
    const auto* offices = member(f, "offices");
    if (!id || offices == nullptr || !offices->IsArray()) return std::nullopt;
    fac.facility_id = *id;
    fac.name = str(f, "name").value_or("");
    fac.kana = str(f, "kana").value_or("");
    fac.prefecture = str(f, "prefecture").value_or("");
    fac.published_by = str(f, "published_by").value_or("");
    const auto* ext = member(f, "external");
    fac.external = ext != nullptr && ext->IsBool() && ext->GetBool();
    for (const auto& o : offices->GetArray()) {
      RhnOffice office;
      if (!read_ref(o, office.office)) return std::nullopt;
      office.name = str(o, "name").value_or("");
      office.kana = str(o, "kana").value_or("");
      office.prefecture = str(o, "prefecture").value_or(fac.prefecture);
      office.status = str(o, "status").value_or("");
      office.updated_at = str(o, "updated_at").value_or("");
      fac.offices.push_back(std::move(office));
    }
    out.push_back(std::move(fac));
  }
  return out;
}

std::string encode_external_directory(const std::vector<RhnOffice>& offices) {
  rapidjson::StringBuffer sb;
  Writer w(sb);
  w.StartObject();
  w.Key("offices");
  w.StartArray();
  for (const auto& o : offices) {
    w.StartObject();
    write_office_ref(w, o.office);
    put(w, "name", o.name);
    put(w, "kana", o.kana);
    put(w, "prefecture", o.prefecture);
    put(w, "status", o.status);
    w.EndObject();
  }
  w.EndArray();
  w.EndObject();
  return std::string(sb.GetString(), sb.GetSize());
}

std::variant<std::vector<RhnOffice>, RhnError> decode_external_directory(std::string_view json) {
  rapidjson::Document doc;
  if (!parse(doc, json) || !doc.IsObject()) return invalid("", "body is not a JSON object");
  const auto* offices = member(doc, "offices");
  if (offices == nullptr || !offices->IsArray() || offices->Size() > 100000) {
    return invalid("offices", "must be an array of at most 100000 offices");
  }
  std::vector<RhnOffice> out;
  for (rapidjson::SizeType i = 0; i < offices->Size(); ++i) {
    const auto& o = (*offices)[i];
    const std::string path = "offices[" + std::to_string(i) + "]";
    RhnOffice office;
    if (auto e = read_office_ref(o, path, office.office)) return *e;
    auto status = str(o, "status");
    if (!status || !valid_status(*status)) {
      return invalid(path + ".status", "must be ACTIVE, SUSPENDED or CLOSED");
    }
    office.status = *status;
    office.name = str(o, "name").value_or("");
    office.kana = str(o, "kana").value_or("");
    office.prefecture = str(o, "prefecture").value_or("");
    out.push_back(std::move(office));
  }
  return out;
}

}  // namespace kakehashi::adapters::regional
