#include "gateway/audit/evidence_bundle.hpp"

#include <cstdio>
#include <ctime>

#include <openssl/bn.h>
#include <openssl/cms.h>
#include <openssl/err.h>
#include <openssl/x509.h>

#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include "gateway/audit/evidence_report.hpp"
#include "mapping/cms/ossl.hpp"
#include "mapping/cms/signer.hpp"
#include "mapping/common/base64.hpp"

namespace kakehashi::gateway::audit {
namespace {

using Writer = rapidjson::Writer<rapidjson::StringBuffer>;

void kv(Writer& w, const char* key, const std::string& value) {
  w.Key(key);
  w.String(value.c_str(), static_cast<rapidjson::SizeType>(value.size()));
}
void kv(Writer& w, const char* key, std::int64_t value) {
  w.Key(key);
  w.Int64(value);
}

void write_office(Writer& w, const char* key, const EvidenceOffice& o) {
  w.Key(key);
  w.StartObject();
  kv(w, "office_no", o.office_no);
  kv(w, "service_type", o.service_type);
  kv(w, "name", o.name);
  w.EndObject();
}

// Reading: every member is required and typed; the first problem names its JSON path.
struct Reader {
  std::string error;

  const rapidjson::Value* member(const rapidjson::Value& v, const char* key,
                                 const std::string& path) {
    if (!error.empty()) return nullptr;
    if (!v.IsObject() || !v.HasMember(key)) {
      error = path + "." + key + ": missing";
      return nullptr;
    }
    return &v[key];
  }
  std::string str(const rapidjson::Value& v, const char* key, const std::string& path) {
    const auto* m = member(v, key, path);
    if (m == nullptr) return {};
    if (!m->IsString()) {
      error = path + "." + key + ": must be a string";
      return {};
    }
    return {m->GetString(), m->GetStringLength()};
  }
  std::int64_t num(const rapidjson::Value& v, const char* key, const std::string& path) {
    const auto* m = member(v, key, path);
    if (m == nullptr) return 0;
    if (!m->IsInt64()) {
      error = path + "." + key + ": must be an integer";
      return 0;
    }
    return m->GetInt64();
  }
  const rapidjson::Value* array(const rapidjson::Value& v, const char* key,
                                const std::string& path) {
    const auto* m = member(v, key, path);
    if (m == nullptr) return nullptr;
    if (!m->IsArray()) {
      error = path + "." + key + ": must be an array";
      return nullptr;
    }
    return m;
  }
  EvidenceOffice office(const rapidjson::Value& v, const char* key, const std::string& path) {
    EvidenceOffice o;
    const auto* m = member(v, key, path);
    if (m == nullptr) return o;
    const std::string p = path + "." + key;
    o.office_no = str(*m, "office_no", p);
    o.service_type = str(*m, "service_type", p);
    o.name = str(*m, "name", p);
    return o;
  }
};

}  // namespace

std::string body_json(const EvidenceBody& b) {
  rapidjson::StringBuffer buf;
  Writer w(buf);
  w.StartObject();
  kv(w, "format", std::string(kEvidenceFormat));
  kv(w, "office_no", b.office_no);
  kv(w, "office_name", b.office_name);
  kv(w, "month", b.month);
  kv(w, "from_ms", b.from_ms);
  kv(w, "to_ms", b.to_ms);
  kv(w, "generated_at", b.generated_at);
  kv(w, "gateway_certificate", b.gateway_certificate);
  w.Key("chain");
  w.StartArray();
  for (const auto& c : b.chain) w.String(c.c_str(), static_cast<rapidjson::SizeType>(c.size()));
  w.EndArray();
  w.Key("units");
  w.StartArray();
  for (const auto& u : b.units) {
    w.StartObject();
    kv(w, "transfer_id", u.transfer_id);
    kv(w, "role", u.role);
    write_office(w, "sender", u.sender);
    write_office(w, "recipient", u.recipient);
    kv(w, "path", u.path);
    kv(w, "kind", u.kind);
    kv(w, "sequence", u.sequence);
    kv(w, "status", u.status);
    kv(w, "status_ja", u.status_ja);
    kv(w, "accepted_at", u.accepted_at);
    kv(w, "delivered_at", u.delivered_at);
    kv(w, "receipt_at", u.receipt_at);
    kv(w, "rejected_at", u.rejected_at);
    kv(w, "reason", u.reason);
    w.Key("files");
    w.StartArray();
    for (const auto& f : u.files) {
      w.StartObject();
      kv(w, "name", f.name);
      kv(w, "sha256", f.sha256);
      kv(w, "size", f.size);
      kv(w, "signature", f.signature);
      kv(w, "signer", f.signer);
      w.EndObject();
    }
    w.EndArray();
    w.Key("records");
    w.StartArray();
    for (auto s : u.records) w.Int64(s);
    w.EndArray();
    w.EndObject();
  }
  w.EndArray();
  w.Key("records");
  w.StartArray();
  for (const auto& r : b.records) {
    w.StartObject();
    kv(w, "seq", r.seq.value_or(0));
    kv(w, "transfer_id", r.transfer_id);
    kv(w, "at", r.at);
    kv(w, "kind", r.kind);
    kv(w, "actor", r.actor);
    kv(w, "detail", r.detail);
    kv(w, "prev_hash", r.prev_hash);
    kv(w, "hash", r.hash);
    w.EndObject();
  }
  w.EndArray();
  w.Key("checkpoints");
  w.StartArray();
  for (const auto& c : b.checkpoints) {
    w.StartObject();
    kv(w, "number", c.number);
    kv(w, "seq", c.seq);
    kv(w, "hash", c.hash);
    kv(w, "at", c.at);
    kv(w, "signature", c.signature);
    w.EndObject();
  }
  w.EndArray();
  w.EndObject();
  return buf.GetString();
}

std::optional<EvidenceBody> parse_body(const std::string& json, std::string& error) {
  rapidjson::Document d;
  d.Parse(json.c_str(), json.size());
  if (d.HasParseError() || !d.IsObject()) {
    error = "body: not a JSON object";
    return std::nullopt;
  }
  Reader rd;
  EvidenceBody b;
  const std::string format = rd.str(d, "format", "body");
  if (rd.error.empty() && format != kEvidenceFormat)
    rd.error = "body.format: \"" + format + "\" is not " + kEvidenceFormat;
  b.office_no = rd.str(d, "office_no", "body");
  b.office_name = rd.str(d, "office_name", "body");
  b.month = rd.str(d, "month", "body");
  b.from_ms = rd.num(d, "from_ms", "body");
  b.to_ms = rd.num(d, "to_ms", "body");
  b.generated_at = rd.num(d, "generated_at", "body");
  b.gateway_certificate = rd.str(d, "gateway_certificate", "body");
  if (const auto* chain = rd.array(d, "chain", "body")) {
    for (const auto& c : chain->GetArray()) {
      if (!c.IsString()) {
        rd.error = "body.chain: must hold PEM strings";
        break;
      }
      b.chain.emplace_back(c.GetString(), c.GetStringLength());
    }
  }
  if (const auto* units = rd.array(d, "units", "body")) {
    for (rapidjson::SizeType i = 0; i < units->Size() && rd.error.empty(); ++i) {
      const auto& v = (*units)[i];
      const std::string p = "body.units[" + std::to_string(i) + "]";
      EvidenceUnit u;
      u.transfer_id = rd.num(v, "transfer_id", p);
      u.role = rd.str(v, "role", p);
      u.sender = rd.office(v, "sender", p);
      u.recipient = rd.office(v, "recipient", p);
      u.path = rd.str(v, "path", p);
      u.kind = rd.str(v, "kind", p);
      u.sequence = rd.str(v, "sequence", p);
      u.status = rd.str(v, "status", p);
      u.status_ja = rd.str(v, "status_ja", p);
      u.accepted_at = rd.num(v, "accepted_at", p);
      u.delivered_at = rd.num(v, "delivered_at", p);
      u.receipt_at = rd.num(v, "receipt_at", p);
      u.rejected_at = rd.num(v, "rejected_at", p);
      u.reason = rd.str(v, "reason", p);
      if (const auto* files = rd.array(v, "files", p)) {
        for (rapidjson::SizeType j = 0; j < files->Size() && rd.error.empty(); ++j) {
          const auto& fv = (*files)[j];
          const std::string fp = p + ".files[" + std::to_string(j) + "]";
          EvidenceFile f;
          f.name = rd.str(fv, "name", fp);
          f.sha256 = rd.str(fv, "sha256", fp);
          f.size = rd.num(fv, "size", fp);
          f.signature = rd.str(fv, "signature", fp);
          f.signer = rd.str(fv, "signer", fp);
          u.files.push_back(std::move(f));
        }
      }
      if (const auto* records = rd.array(v, "records", p)) {
        for (const auto& s : records->GetArray()) {
          if (!s.IsInt64()) {
            rd.error = p + ".records: must hold chain positions";
            break;
          }
          u.records.push_back(s.GetInt64());
        }
      }
      b.units.push_back(std::move(u));
    }
  }
  if (const auto* records = rd.array(d, "records", "body")) {
    for (rapidjson::SizeType i = 0; i < records->Size() && rd.error.empty(); ++i) {
      const auto& v = (*records)[i];
      const std::string p = "body.records[" + std::to_string(i) + "]";
      AuditRecord r;
      r.seq = rd.num(v, "seq", p);
      r.transfer_id = rd.num(v, "transfer_id", p);
      r.at = rd.num(v, "at", p);
      r.kind = rd.str(v, "kind", p);
      r.actor = rd.str(v, "actor", p);
      r.detail = rd.str(v, "detail", p);
      r.prev_hash = rd.str(v, "prev_hash", p);
      r.hash = rd.str(v, "hash", p);
      b.records.push_back(std::move(r));
    }
  }
  if (const auto* checkpoints = rd.array(d, "checkpoints", "body")) {
    for (rapidjson::SizeType i = 0; i < checkpoints->Size() && rd.error.empty(); ++i) {
      const auto& v = (*checkpoints)[i];
      const std::string p = "body.checkpoints[" + std::to_string(i) + "]";
      Checkpoint c;
      c.number = rd.num(v, "number", p);
      c.seq = rd.num(v, "seq", p);
      c.hash = rd.str(v, "hash", p);
      c.at = rd.num(v, "at", p);
      c.signature = rd.str(v, "signature", p);
      b.checkpoints.push_back(std::move(c));
    }
  }
  if (!rd.error.empty()) {
    error = rd.error;
    return std::nullopt;
  }
  return b;
}

mapping::cms::Result<EvidenceBundle> seal_bundle(const EvidenceBody& body,
                                                 const mapping::cms::Credential& gateway) {
  EvidenceBundle out;
  out.body = body_json(body);
  const mapping::cms::ByteView content(reinterpret_cast<const std::uint8_t*>(out.body.data()),
                                       out.body.size());
  auto signed_data =
      mapping::cms::sign(content, gateway, mapping::cms::SignOptions{.detached = true});
  if (!signed_data) return signed_data.error();
  const auto& der = signed_data.value();
  out.signature = mapping::common::base64_encode(
      std::string_view(reinterpret_cast<const char*>(der.data()), der.size()));
  out.report_html = render_report(body);
  return out;
}

std::string bundle_json(const EvidenceBundle& bundle) {
  rapidjson::StringBuffer buf;
  Writer w(buf);
  w.StartObject();
  kv(w, "format", std::string(kEvidenceFormat));
  kv(w, "body", bundle.body);
  kv(w, "signature", bundle.signature);
  kv(w, "report_html", bundle.report_html);
  w.EndObject();
  return std::string(buf.GetString()) + "\n";
}

std::optional<EvidenceBundle> parse_bundle(const std::string& json, std::string& error) {
  rapidjson::Document d;
  d.Parse(json.c_str(), json.size());
  if (d.HasParseError() || !d.IsObject()) {
    error = "not a JSON object (offset " + std::to_string(d.GetErrorOffset()) + ")";
    return std::nullopt;
  }
  Reader rd;
  EvidenceBundle b;
  const std::string format = rd.str(d, "format", "$");
  if (rd.error.empty() && format != kEvidenceFormat)
    rd.error = "$.format: \"" + format + "\" is not " + kEvidenceFormat;
  b.body = rd.str(d, "body", "$");
  b.signature = rd.str(d, "signature", "$");
  b.report_html = rd.str(d, "report_html", "$");
  if (!rd.error.empty()) {
    error = rd.error;
    return std::nullopt;
  }
  return b;
}

EvidenceFile evidence_file(const std::string& name, const std::string& content,
                           const std::string& der) {
  EvidenceFile f;
  f.name = name;
  f.sha256 = sha256_hex(content);
  f.size = static_cast<std::int64_t>(content.size());
  f.signature = mapping::common::base64_encode(der);
  const mapping::cms::ByteView view(reinterpret_cast<const std::uint8_t*>(der.data()), der.size());
  mapping::cms::CmsPtr parsed = der.empty() ? nullptr : mapping::cms::parse_cms_der(view);
  if (parsed) {
    auto* infos = CMS_get0_SignerInfos(parsed.get());
    STACK_OF(X509)* certs = CMS_get1_certs(parsed.get());
    if (infos != nullptr && sk_CMS_SignerInfo_num(infos) > 0) {
      CMS_SignerInfo* si = sk_CMS_SignerInfo_value(infos, 0);
      for (int i = 0; certs != nullptr && i < sk_X509_num(certs); ++i) {
        X509* cert = sk_X509_value(certs, i);
        if (CMS_SignerInfo_cert_cmp(si, cert) != 0) continue;
        char subject[512];
        X509_NAME_oneline(X509_get_subject_name(cert), subject, sizeof subject);
        BIGNUM* serial = ASN1_INTEGER_to_BN(X509_get0_serialNumber(cert), nullptr);
        char* hex = serial != nullptr ? BN_bn2hex(serial) : nullptr;
        f.signer = std::string(subject) + " serial " + (hex != nullptr ? hex : "?");
        OPENSSL_free(hex);
        BN_free(serial);
      }
    }
    sk_X509_pop_free(certs, X509_free);
  }
  ERR_clear_error();
  return f;
}

std::string jst_time(std::int64_t ms) {
  if (ms == 0) return {};
  const std::time_t s = static_cast<std::time_t>(ms / 1000 + 9 * 3600);
  std::tm tm{};
  gmtime_r(&s, &tm);
  char buf[64];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02d %02d:%02d", tm.tm_year + 1900, tm.tm_mon + 1,
                tm.tm_mday, tm.tm_hour, tm.tm_min);
  return buf;
}

std::optional<std::pair<std::int64_t, std::int64_t>> month_range(const std::string& m) {
  if (m.size() != 6 || m.find_first_not_of("0123456789") != std::string::npos) return std::nullopt;
  const int year = std::stoi(m.substr(0, 4));
  const int month = std::stoi(m.substr(4, 2));
  if (year < 2000 || month < 1 || month > 12) return std::nullopt;
  const auto start = [](int y, int mo) {
    std::tm tm{};
    tm.tm_year = y - 1900;
    tm.tm_mon = mo - 1;
    tm.tm_mday = 1;
    return (static_cast<std::int64_t>(timegm(&tm)) - 9 * 3600) * 1000;  // 00:00 JST
  };
  return std::make_pair(start(year, month),
                        month == 12 ? start(year + 1, 1) : start(year, month + 1));
}

}  // namespace kakehashi::gateway::audit
