#include "tests/peers/national/national_standin.hpp"

#include <algorithm>
#include <array>
#include <fstream>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <regex>
#include <set>
#include <sstream>
#include <stdexcept>
#include <variant>

#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include "adapters/national/ncp_codec.hpp"
#include "gateway/pki/key_file.hpp"
#include "gateway/pki/trust_domain_loader.hpp"
#include "mapping/careplan/inspector.hpp"
#include "mapping/cms/content_converter.hpp"
#include "mapping/cms/envelope.hpp"
#include "mapping/cms/parse.hpp"
#include "mapping/cms/signer_identity.hpp"
#include "mapping/cms/verify.hpp"
#include "mapping/common/iso_time.hpp"
#include "tests/peers/national/sqlite_db.hpp"

namespace kakehashi::standin {
namespace {

namespace cms = mapping::cms;
using adapters::national::base64_decode;
using adapters::national::base64_encode;
using Writer = rapidjson::Writer<rapidjson::StringBuffer>;

constexpr std::size_t kMaxFiles = 64;
constexpr std::size_t kMaxMessage = 2000;
// Internal marker from handle() to serve(): cut this response short. Never sent.
constexpr const char* kDropHeader = "x-kakehashi-standin-drop";

std::int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string sha256_hex(std::string_view bytes) {
  std::array<unsigned char, EVP_MAX_MD_SIZE> md{};
  unsigned int n = 0;
  EVP_Digest(bytes.data(), bytes.size(), md.data(), &n, EVP_sha256(), nullptr);
  static constexpr std::string_view kHex = "0123456789abcdef";
  std::string out;
  for (unsigned int i = 0; i < n; ++i) {
    out += kHex[md[i] >> 4];
    out += kHex[md[i] & 15];
  }
  return out;
}

std::string random_token() {
  std::array<unsigned char, 24> raw{};
  RAND_bytes(raw.data(), static_cast<int>(raw.size()));
  std::string out;
  static constexpr std::string_view kHex = "0123456789abcdef";
  for (const auto c : raw) {
    out += kHex[c >> 4];
    out += kHex[c & 15];
  }
  return out;
}

cms::ByteView view(std::string_view s) {
  return {reinterpret_cast<const std::uint8_t*>(s.data()), s.size()};
}
std::string to_string(const cms::Bytes& b) {
  return {b.begin(), b.end()};
}

void put(Writer& w, std::string_view key, std::string_view value) {
  w.Key(key.data(), static_cast<rapidjson::SizeType>(key.size()));
  w.String(value.data(), static_cast<rapidjson::SizeType>(value.size()));
}

void put_office(Writer& w, std::string_view key, std::string_view office_no,
                std::string_view service_type) {
  w.Key(key.data(), static_cast<rapidjson::SizeType>(key.size()));
  w.StartObject();
  put(w, "office_no", office_no);
  put(w, "service_type", service_type);
  w.EndObject();
}

std::string string_field(const rapidjson::Value& v, const char* key) {
  if (!v.IsObject()) return {};
  const auto m = v.FindMember(key);
  return m != v.MemberEnd() && m->value.IsString() ? m->value.GetString() : std::string();
}

bool valid_office_ref(const mapping::OfficeRef& o) {
  static const std::regex kNo("^[0-9A-Z]{10}$");
  static const std::regex kType("^[0-9A-Z]{2}$");
  return std::regex_match(o.office_no, kNo) && std::regex_match(o.service_type, kType);
}

std::optional<mapping::OfficeRef> office_ref(const rapidjson::Value& v, const char* key) {
  if (!v.IsObject()) return std::nullopt;
  const auto m = v.FindMember(key);
  if (m == v.MemberEnd() || !m->value.IsObject()) return std::nullopt;
  mapping::OfficeRef o{string_field(m->value, "office_no"), string_field(m->value, "service_type")};
  if (!valid_office_ref(o)) return std::nullopt;
  return o;
}

adapters::http::Response json_response(int status, std::string body) {
  adapters::http::Response r;
  r.status = status;
  r.headers.emplace_back("content-type", "application/json");
  r.body = std::move(body);
  return r;
}

adapters::http::Response error(int status, std::string_view code, std::string_view message,
                               std::string_view details = "{}") {
  return json_response(status, adapters::national::error_body(code, message, details));
}

std::string details_of(std::initializer_list<std::pair<std::string_view, std::string_view>> kv) {
  rapidjson::StringBuffer b;
  Writer w(b);
  w.StartObject();
  for (const auto& [k, v] : kv) put(w, k, v);
  w.EndObject();
  return b.GetString();
}

std::vector<std::string> split_path(std::string_view target) {
  const auto q = target.find('?');
  std::string_view path = target.substr(0, q);
  std::vector<std::string> parts;
  while (!path.empty()) {
    if (path.front() == '/') {
      path.remove_prefix(1);
      continue;
    }
    const auto slash = path.find('/');
    parts.push_back(adapters::national::url_decode(path.substr(0, slash)));
    if (slash == std::string_view::npos) break;
    path.remove_prefix(slash);
  }
  return parts;
}

int parse_limit(const std::string& text, int fallback, int max) {
  if (text.empty()) return fallback;
  if (text.size() > 5 || text.find_first_not_of("0123456789") != std::string::npos) return -1;
  const int n = std::stoi(text);
  return n >= 1 && n <= max ? n : -1;
}

struct Principal {
  std::string user_id;
  std::string kind;  // office | proxy
  std::string office_no;
  std::string document_cert_der;
};

}  // namespace

StandinOptions options_from_pki(const std::string& pki_dir, const std::string& state_file) {
  StandinOptions o;
  o.tls.ca_file = pki_dir + "/tls/national-ca.pem";
  o.tls.cert_file = pki_dir + "/tls/national-standin-server.cert.pem";
  o.tls.key_file = pki_dir + "/tls/national-standin-server.key.pem";
  o.tls.require_peer_cert = true;
  o.state_file = state_file;
  o.national_domain_dir = pki_dir + "/national";
  o.proxied_domain_dir = pki_dir + "/regional";
  return o;
}

struct NationalStandin::Impl {
  Impl(boost::asio::io_context& io, StandinOptions o)
      : options(std::move(o)),
        db(options.state_file),
        national(gateway::pki::load_trust_domain(options.national_domain_dir)),
        ca_certs(gateway::pki::load_certificates(options.tls.ca_file)),
        server(io, options.tls,
               [this](adapters::http::Request req,
                      std::function<void(adapters::http::Response)> respond) {
                 serve(std::move(req), std::move(respond));
               }) {
    if (!options.proxied_domain_dir.empty()) {
      proxied = gateway::pki::load_trust_domain(options.proxied_domain_dir);
    }
    db.exec(R"(
      CREATE TABLE IF NOT EXISTS accounts(user_id TEXT PRIMARY KEY, password_hash TEXT NOT NULL,
        kind TEXT NOT NULL, office_no TEXT NOT NULL);
      CREATE TABLE IF NOT EXISTS sessions(token TEXT PRIMARY KEY, user_id TEXT NOT NULL,
        tls_cert_hash TEXT NOT NULL, document_cert BLOB NOT NULL, expires_ms INTEGER NOT NULL);
      CREATE TABLE IF NOT EXISTS represented(user_id TEXT, office_no TEXT, service_type TEXT,
        PRIMARY KEY(user_id, office_no, service_type));
      CREATE TABLE IF NOT EXISTS offices(office_no TEXT PRIMARY KEY, service_types TEXT NOT NULL,
        name TEXT NOT NULL, kana TEXT NOT NULL, prefecture TEXT NOT NULL, status TEXT NOT NULL,
        updated_at TEXT NOT NULL);
      CREATE TABLE IF NOT EXISTS transmissions(seq INTEGER PRIMARY KEY AUTOINCREMENT,
        id TEXT UNIQUE, sender_user TEXT, sender_office TEXT, sender_type TEXT,
        recipient_office TEXT, recipient_type TEXT, unit_kind TEXT, sequence TEXT, message TEXT,
        state TEXT, reason TEXT, downloads INTEGER DEFAULT 0, idempotency_key TEXT,
        accepted_at TEXT);
      CREATE TABLE IF NOT EXISTS files(transmission_id TEXT, idx INTEGER, name TEXT,
        signed_data BLOB, size INTEGER, PRIMARY KEY(transmission_id, idx));
      CREATE TABLE IF NOT EXISTS idempotency(user_id TEXT, key TEXT, body_hash TEXT,
        status INTEGER, response TEXT, replays INTEGER DEFAULT 0, PRIMARY KEY(user_id, key));
      CREATE TABLE IF NOT EXISTS updates(seq INTEGER PRIMARY KEY AUTOINCREMENT,
        transmission_id TEXT, state TEXT, reason TEXT, at TEXT);
    )");
    if (options.bench) {
      db.exec(
          "CREATE TABLE IF NOT EXISTS bench_enveloped(transmission_id TEXT, name TEXT, "
          "enveloped BLOB, PRIMARY KEY(transmission_id, name))");
    }
  }

  // ---- plumbing -------------------------------------------------------------------------

  void serve(adapters::http::Request req,
             const std::function<void(adapters::http::Response)>& respond) {
    adapters::http::Response r = handle(req);
    // A counted drop (PROTOCOL §12): the server sends half of this response, then closes.
    const auto marker = std::find_if(r.headers.begin(), r.headers.end(),
                                     [](const auto& h) { return h.first == kDropHeader; });
    if (marker != r.headers.end()) {
      r.headers.erase(marker);
      server.faults().drop_responses.store(1);
    }
    respond(std::move(r));
  }

  adapters::http::Response handle(const adapters::http::Request& req) {
    std::lock_guard lock(mutex);
    try {
      const auto path = split_path(req.target);
      if (path.size() >= 2 && path[0] == "admin" && path[1] == "v1") return admin(req, path);
      if (path.size() < 2 || path[0] != "ncp" || path[1] != "v1") {
        return error(404, "not_found", "no such route");
      }
      if (auto f = injected_fault(); f) return *f;
      adapters::http::Response r = route(req, path);
      if (malformed > 0 && r.status < 300) {
        --malformed;
        r.body = "{\"items\": [ {\"transmission_id\": ";  // cut short on purpose
      }
      if (drops > 0) {
        --drops;
        r.headers.emplace_back(kDropHeader, "1");
      }
      return r;
    } catch (const std::exception& e) {
      return error(500, "internal_error", e.what());
    }
  }

  std::optional<adapters::http::Response> injected_fault() {
    if (maintenance) {
      auto r = error(503, "maintenance", "maintenance window");
      r.headers.emplace_back("retry-after", std::to_string(maintenance_retry_after));
      return r;
    }
    if (fault_count > 0) {
      --fault_count;
      const std::string code = fault_status == 429   ? "rate_limited"
                               : fault_status == 503 ? "maintenance"
                                                     : "internal_error";
      auto r = error(fault_status, code, "injected by the test controls");
      if (fault_status != 500)
        r.headers.emplace_back("retry-after", std::to_string(fault_retry_after));
      return r;
    }
    return std::nullopt;
  }

  adapters::http::Response route(const adapters::http::Request& req,
                                 const std::vector<std::string>& p) {
    const std::string& m = req.method;
    const std::size_t n = p.size();
    if (n == 3 && p[2] == "sessions" && m == "POST") return login(req);
    std::variant<Principal, adapters::http::Response> auth = authenticate(req);
    if (auto* r = std::get_if<adapters::http::Response>(&auth)) return *r;
    const Principal& who = std::get<Principal>(auth);
    if (n == 4 && p[2] == "sessions" && p[3] == "current" && m == "DELETE") {
      db.prepare("DELETE FROM sessions WHERE token=?").bind(1, bearer(req)).run();
      return adapters::http::Response{204, {}, {}};
    }
    if (n == 4 && p[2] == "proxy" && p[3] == "offices") {
      if (who.kind != "proxy")
        return error(403, "forbidden", "only proxy agents represent offices");
      if (m == "PUT") return put_represented(who.user_id, req.body);
      if (m == "GET") return represented_body(who.user_id);
    }
    if (n == 3 && p[2] == "transmissions" && m == "POST") return send(req, who);
    if (n == 4 && p[2] == "transmissions" && m == "GET") return show(who, p[3]);
    if (n == 4 && p[2] == "transmissions" && m == "DELETE") return withdraw(who, p[3]);
    if (n == 5 && p[2] == "transmissions" && p[4] == "receipt" && m == "POST") {
      return receipt(who, p[3], req.body);
    }
    if (n == 6 && p[2] == "transmissions" && p[4] == "files" && m == "GET") {
      return download(who, p[3], p[5]);
    }
    if (n == 3 && p[2] == "inbox" && m == "GET") return inbox(who, req.target);
    if (n == 4 && p[2] == "outbox" && p[3] == "updates" && m == "GET") {
      return updates(who, req.target);
    }
    if (n == 3 && p[2] == "offices" && m == "GET") return offices(req.target);
    return error(404, "not_found", "no such route");
  }

  static std::string bearer(const adapters::http::Request& req) {
    const std::string* h = req.header("authorization");
    if (h == nullptr || h->rfind("Bearer ", 0) != 0) return {};
    return h->substr(7);
  }

  // ---- sessions -------------------------------------------------------------------------

  bool issued_by_national_ca(X509* cert) const {
    for (const auto& ca : ca_certs) {
      if (X509_check_issued(ca.get(), cert) == X509_V_OK &&
          X509_verify(cert, X509_get0_pubkey(ca.get())) == 1) {
        return true;
      }
    }
    return false;
  }

  adapters::http::Response login(const adapters::http::Request& req) {
    rapidjson::Document d;
    d.Parse(req.body.data(), req.body.size());
    if (d.HasParseError() || !d.IsObject())
      return error(400, "invalid_request", "body is not a JSON object");
    const std::string user = string_field(d, "user_id");
    const std::string password = string_field(d, "password");
    static const std::regex kUser("^KJ[0-9]{12}$");
    if (!std::regex_match(user, kUser)) {
      return error(400, "invalid_request", "user_id must be KJ and 12 digits",
                   details_of({{"field", "user_id"}}));
    }
    if (password.empty() || password.size() > 128) {
      return error(400, "invalid_request", "password must be 1-128 characters",
                   details_of({{"field", "password"}}));
    }
    std::string document_cert = req.peer_cert_der;
    const std::string enc = string_field(d, "encryption_certificate");
    if (!enc.empty()) {
      const auto der = base64_decode(enc);
      auto cert = der ? cms::parse_certificate(view(*der))
                      : cms::Result<cms::X509Ptr>(cms::Error{cms::ErrorCode::kMalformed, "base64"});
      if (!cert.ok() || !issued_by_national_ca(cert.value().get())) {
        return error(400, "invalid_request",
                     "encryption_certificate is not a national CA certificate",
                     details_of({{"field", "encryption_certificate"}}));
      }
      document_cert = *der;
    }
    auto st = db.prepare("SELECT password_hash, kind, office_no FROM accounts WHERE user_id=?");
    st.bind(1, user);
    if (!st.step() || st.text(0) != sha256_hex(user + ":" + password)) {
      return error(401, "login_failed", "unknown user ID or wrong password");
    }
    const std::string kind = st.text(1);
    const std::string office_no = st.text(2);
    const std::string token = random_token();
    const std::int64_t expires = now_ms() + options.session_ttl.count() * 1000;
    db.prepare("INSERT INTO sessions VALUES(?,?,?,?,?)")
        .bind(1, token)
        .bind(2, user)
        .bind(3, sha256_hex(req.peer_cert_der))
        .bind_blob(4, document_cert)
        .bind(5, expires)
        .run();
    rapidjson::StringBuffer b;
    Writer w(b);
    w.StartObject();
    put(w, "token", token);
    put(w, "expires_at", mapping::common::format_iso_ms(expires));
    w.Key("expires_in");
    w.Int64(options.session_ttl.count());
    w.Key("principal");
    w.StartObject();
    put(w, "kind", kind);
    put(w, "user_id", user);
    if (kind == "office") put(w, "office_no", office_no);
    w.EndObject();
    w.EndObject();
    return json_response(201, b.GetString());
  }

  std::variant<Principal, adapters::http::Response> authenticate(
      const adapters::http::Request& req) {
    const std::string token = bearer(req);
    if (token.empty()) return error(401, "unauthenticated", "no bearer token");
    auto st = db.prepare(
        "SELECT s.user_id, s.tls_cert_hash, s.document_cert, s.expires_ms, a.kind, a.office_no "
        "FROM sessions s JOIN accounts a ON a.user_id = s.user_id WHERE s.token=?");
    st.bind(1, token);
    if (!st.step()) return error(401, "unauthenticated", "unknown token");
    if (st.integer(3) <= now_ms()) return error(401, "session_expired", "log in again");
    if (st.text(1) != sha256_hex(req.peer_cert_der)) {
      return error(403, "certificate_mismatch", "token used with another client certificate");
    }
    return Principal{st.text(0), st.text(4), st.text(5), st.text(2)};
  }

  // ---- represented offices ---------------------------------------------------------------

  void set_represented(const std::string& user, const std::vector<mapping::OfficeRef>& offices) {
    db.exec("BEGIN");
    db.prepare("DELETE FROM represented WHERE user_id=?").bind(1, user).run();
    for (const auto& o : offices) {
      db.prepare("INSERT OR IGNORE INTO represented VALUES(?,?,?)")
          .bind(1, user)
          .bind(2, o.office_no)
          .bind(3, o.service_type)
          .run();
    }
    db.exec("COMMIT");
  }

  std::optional<std::vector<mapping::OfficeRef>> parse_offices_list(const rapidjson::Value& d) {
    if (!d.IsObject() || !d.HasMember("offices") || !d["offices"].IsArray() ||
        d["offices"].Size() > 10000) {
      return std::nullopt;
    }
    std::vector<mapping::OfficeRef> out;
    for (const auto& o : d["offices"].GetArray()) {
      mapping::OfficeRef r{string_field(o, "office_no"), string_field(o, "service_type")};
      if (!valid_office_ref(r)) return std::nullopt;
      out.push_back(r);
    }
    return out;
  }

  adapters::http::Response put_represented(const std::string& user, const std::string& body) {
    rapidjson::Document d;
    d.Parse(body.data(), body.size());
    const auto list = d.HasParseError() ? std::nullopt : parse_offices_list(d);
    if (!list) return error(400, "invalid_request", "offices: a list of {office_no, service_type}");
    set_represented(user, *list);
    return represented_body(user);
  }

  adapters::http::Response represented_body(const std::string& user) {
    rapidjson::StringBuffer b;
    Writer w(b);
    w.StartObject();
    w.Key("offices");
    w.StartArray();
    auto st =
        db.prepare("SELECT office_no, service_type FROM represented WHERE user_id=? ORDER BY 1, 2");
    st.bind(1, user);
    while (st.step()) {
      w.StartObject();
      put(w, "office_no", st.text(0));
      put(w, "service_type", st.text(1));
      w.EndObject();
    }
    w.EndArray();
    w.EndObject();
    return json_response(200, b.GetString());
  }

  bool represents(const std::string& user, const mapping::OfficeRef& o) {
    auto st =
        db.prepare("SELECT 1 FROM represented WHERE user_id=? AND office_no=? AND service_type=?");
    st.bind(1, user).bind(2, o.office_no).bind(3, o.service_type);
    return st.step();
  }

  bool receives_for(const Principal& who, const std::string& office_no, const std::string& type) {
    if (who.kind == "office") return who.office_no == office_no;
    return represents(who.user_id, {office_no, type});
  }

  // ---- send -----------------------------------------------------------------------------

  adapters::http::Response send(const adapters::http::Request& req, const Principal& who) {
    static const std::regex kKey("^[A-Za-z0-9._:-]{1,128}$");
    const std::string* key = req.header("idempotency-key");
    if (key == nullptr || !std::regex_match(*key, kKey)) {
      return error(400, "idempotency_key_required", "Idempotency-Key: 1-128 of [A-Za-z0-9._:-]");
    }
    const std::string body_hash = sha256_hex(req.body);
    auto st =
        db.prepare("SELECT body_hash, status, response FROM idempotency WHERE user_id=? AND key=?");
    st.bind(1, who.user_id).bind(2, *key);
    if (st.step()) {
      if (st.text(0) != body_hash) {
        // The conflict names the transmission the key's first body made, when it made one, so
        // that a client that re-signed the same unit learns where it went (§4).
        std::string first_id;
        if (st.integer(1) / 100 == 2) {
          rapidjson::Document first;
          const std::string first_body = st.text(2);
          first.Parse(first_body.data(), first_body.size());
          if (!first.HasParseError() && first.IsObject() && first.HasMember("transmission_id") &&
              first["transmission_id"].IsString())
            first_id = first["transmission_id"].GetString();
        }
        return error(409, "idempotency_conflict", "the key was used with another body",
                     first_id.empty()
                         ? details_of({{"idempotency_key", *key}})
                         : details_of({{"idempotency_key", *key}, {"transmission_id", first_id}}));
      }
      db.prepare("UPDATE idempotency SET replays = replays + 1 WHERE user_id=? AND key=?")
          .bind(1, who.user_id)
          .bind(2, *key)
          .run();
      adapters::http::Response r = json_response(static_cast<int>(st.integer(1)), st.text(2));
      r.headers.emplace_back("idempotent-replay", "true");
      return r;
    }
    db.exec("BEGIN IMMEDIATE");
    try {
      adapters::http::Response r = accept(req.body, who, *key);
      if (r.status != 401 && r.status != 429 && r.status < 500) {
        db.prepare(
              "INSERT INTO idempotency(user_id, key, body_hash, status, response) "
              "VALUES(?,?,?,?,?)")
            .bind(1, who.user_id)
            .bind(2, *key)
            .bind(3, body_hash)
            .bind(4, std::int64_t{r.status})
            .bind(5, r.body)
            .run();
      }
      db.exec("COMMIT");
      return r;
    } catch (...) {
      db.exec("ROLLBACK");
      throw;
    }
  }

  struct IncomingFile {
    std::string name;
    std::string signed_data;
    std::string content;
  };

  // Checks one file's signatures; an error response, or nullopt when they are right.
  std::optional<adapters::http::Response> check_signatures(const IncomingFile& f,
                                                           const Principal& who,
                                                           const mapping::OfficeRef& sender) {
    const auto file = details_of({{"file", f.name}});
    const auto first = cms::verify_signed_data(view(f.signed_data), std::nullopt, national);
    const std::size_t count = std::max<std::size_t>(first.signer_count, 1);
    if (who.kind == "office") {
      if (!first.valid()) {
        return error(422, "invalid_signature", "signature does not verify",
                     details_of({{"file", f.name}, {"reason", cms::to_string(first.failure)}}));
      }
      for (std::size_t i = 0; i < count; ++i) {
        const auto v =
            cms::verify_signed_data(view(f.signed_data), std::nullopt, national, {std::nullopt, i});
        if (v.valid() && v.signer && cms::signer_holds_office(*v.signer, sender.office_no))
          return std::nullopt;
      }
      return error(422, "signer_mismatch", "no signature of the sender office", file);
    }
    // Proxy: its own co-signature (document certificate) plus the sender's under the proxied
    // domain.
    auto doc = cms::parse_certificate(view(who.document_cert_der));
    if (!doc.ok())
      return error(422, "signer_mismatch", "no document certificate for the proxy", file);
    const auto proxy_id = cms::describe_signer(doc.value().get(), national.office_rule);
    bool proxy_signed = false;
    bool sender_signed = false;
    cms::VerifyFailure failure = first.failure;
    for (std::size_t i = 0; i < count; ++i) {
      const auto v =
          cms::verify_signed_data(view(f.signed_data), std::nullopt, national, {std::nullopt, i});
      if (v.valid() && v.signer && v.signer->serial == proxy_id.serial &&
          v.signer->issuer == proxy_id.issuer) {
        proxy_signed = true;
        continue;
      }
      if (!proxied) continue;
      const auto s =
          cms::verify_signed_data(view(f.signed_data), std::nullopt, *proxied, {std::nullopt, i});
      if (s.valid() && s.signer && cms::signer_holds_office(*s.signer, sender.office_no)) {
        sender_signed = true;
      } else if (!s.valid() && s.failure != cms::VerifyFailure::kUnknownCa) {
        failure = s.failure;
      }
    }
    if (proxy_signed && sender_signed) return std::nullopt;
    if (failure != cms::VerifyFailure::kNone && failure != cms::VerifyFailure::kUnknownCa) {
      return error(422, "invalid_signature", "signature does not verify",
                   details_of({{"file", f.name}, {"reason", cms::to_string(failure)}}));
    }
    return error(
        422, "signer_mismatch",
        proxy_signed ? "no signature of the sender office" : "no co-signature of the proxy", file);
  }

  adapters::http::Response accept(const std::string& body, const Principal& who,
                                  const std::string& key) {
    rapidjson::Document d;
    d.Parse(body.data(), body.size());
    if (d.HasParseError() || !d.IsObject())
      return error(400, "invalid_request", "body is not a JSON object");
    const auto sender = office_ref(d, "sender");
    const auto recipient = office_ref(d, "recipient");
    if (!sender || !recipient) {
      return error(400, "invalid_request",
                   "sender and recipient need office_no (10) and service_type (2)");
    }
    const std::string unit_kind = string_field(d, "unit_kind");
    const std::string message = string_field(d, "message");
    if (unit_kind.empty() || unit_kind.size() > 8)
      return error(400, "invalid_request", "unit_kind missing",
                   details_of({{"field", "unit_kind"}}));
    if (message.size() > kMaxMessage * 3)
      return error(400, "invalid_request", "message too long", details_of({{"field", "message"}}));
    if (!d.HasMember("files") || !d["files"].IsArray() || d["files"].Empty() ||
        d["files"].Size() > kMaxFiles) {
      return error(400, "invalid_request", "files: 1-64 entries", details_of({{"field", "files"}}));
    }
    std::vector<IncomingFile> files;
    std::set<std::string> names;
    for (const auto& f : d["files"].GetArray()) {
      IncomingFile in{string_field(f, "name"), {}, {}};
      const auto der = base64_decode(string_field(f, "signed_data"));
      if (in.name.empty() || in.name.size() > 255 || !der || der->empty() ||
          !names.insert(in.name).second) {
        return error(400, "invalid_request", "each file needs a unique name and base64 signed_data",
                     details_of({{"field", "files"}}));
      }
      in.signed_data = *der;
      files.push_back(std::move(in));
    }
    if (who.kind == "office" && who.office_no != sender->office_no) {
      return error(403, "sender_mismatch", "an office sends only as itself");
    }
    if (who.kind == "proxy" && !represents(who.user_id, *sender)) {
      return error(403, "not_represented", "the proxy does not represent the sender",
                   details_of({{"office_no", sender->office_no}}));
    }
    for (const auto& f : files) {
      const auto parsed = mapping::parse_file_name(f.name);
      if (!parsed.name || parsed.name->from != *sender || parsed.name->to != *recipient) {
        return error(422, "invalid_file_name",
                     "file name unknown or not for this sender and recipient",
                     details_of({{"file", f.name}}));
      }
    }
    for (auto& f : files) {
      const auto content = cms::embedded_content(view(f.signed_data));
      if (!content) {
        return error(422, "invalid_signature", "signed_data is not attached CMS SignedData",
                     details_of({{"file", f.name}, {"reason", "not-attached"}}));
      }
      if (content->size() > options.max_file_bytes) {
        return error(413, "payload_too_large", "file over the size limit",
                     details_of({{"file", f.name}}));
      }
      f.content = to_string(*content);
      if (options.bench) continue;
      if (auto bad = check_signatures(f, who, *sender)) return *bad;
    }
    if (options.bench)
      return store_transmission(files, who, *sender, *recipient, unit_kind, message, key,
                                mapping::parse_file_name(files[0].name).name->sequence);
    std::vector<mapping::InputFile> inputs;
    for (const auto& f : files) inputs.push_back({f.name, f.content, f.content.size()});
    const auto report = mapping::inspect(inputs);
    std::string sequence;
    if (report.units.size() != 1 || !report.units[0].acceptable() ||
        report.units[0].combination == nullptr || report.units[0].combination->id != unit_kind) {
      rapidjson::StringBuffer b;
      Writer w(b);
      w.StartObject();
      w.Key("findings");
      w.StartArray();
      for (const auto& u : report.units) {
        for (const auto& finding : u.findings) {
          w.String(finding.code.c_str());
        }
      }
      w.EndArray();
      put(w, "unit_kind",
          report.units.size() == 1 && report.units[0].combination ? report.units[0].combination->id
                                                                  : std::string());
      w.EndObject();
      return error(422, "invalid_unit", "the files are not one complete unit of unit_kind",
                   b.GetString());
    }
    sequence = report.units[0].key ? report.units[0].key->sequence : std::string();
    auto master = db.prepare("SELECT service_types, status FROM offices WHERE office_no=?");
    master.bind(1, recipient->office_no);
    if (!master.step() || ("," + master.text(0) + ",").find("," + recipient->service_type + ",") ==
                              std::string::npos) {
      return error(422, "recipient_unknown", "recipient not in the office master",
                   details_of({{"office_no", recipient->office_no}}));
    }
    if (master.text(1) != "ACTIVE") {
      return error(422, "recipient_inactive", "recipient is not ACTIVE",
                   details_of({{"office_no", recipient->office_no}, {"status", master.text(1)}}));
    }
    return store_transmission(files, who, *sender, *recipient, unit_kind, message, key, sequence);
  }

  adapters::http::Response store_transmission(const std::vector<IncomingFile>& files,
                                              const Principal& who,
                                              const mapping::OfficeRef& sender_ref,
                                              const mapping::OfficeRef& recipient_ref,
                                              const std::string& unit_kind,
                                              const std::string& message, const std::string& key,
                                              const std::string& sequence) {
    const auto* sender = &sender_ref;
    const auto* recipient = &recipient_ref;
    const std::string accepted_at = mapping::common::format_iso_ms(now_ms());
    db.prepare(
          "INSERT INTO transmissions(sender_user, sender_office, sender_type, recipient_office, "
          "recipient_type, unit_kind, sequence, message, state, reason, idempotency_key, "
          "accepted_at) VALUES(?,?,?,?,?,?,?,?,'WAITING','',?,?)")
        .bind(1, who.user_id)
        .bind(2, sender->office_no)
        .bind(3, sender->service_type)
        .bind(4, recipient->office_no)
        .bind(5, recipient->service_type)
        .bind(6, unit_kind)
        .bind(7, sequence)
        .bind(8, message)
        .bind(9, key)
        .bind(10, accepted_at)
        .run();
    const std::int64_t seq = db.last_insert_id();
    std::array<char, 24> idbuf{};
    std::snprintf(idbuf.data(), idbuf.size(), "T%012lld", static_cast<long long>(seq));
    const std::string id = idbuf.data();
    db.prepare("UPDATE transmissions SET id=? WHERE seq=?").bind(1, id).bind(2, seq).run();
    if (!poison_next.empty()) poisoned[id] = std::exchange(poison_next, std::string());
    std::int64_t idx = 0;
    for (const auto& f : files) {
      db.prepare("INSERT INTO files VALUES(?,?,?,?,?)")
          .bind(1, id)
          .bind(2, idx++)
          .bind(3, f.name)
          .bind_blob(4, f.signed_data)
          .bind(5, static_cast<std::int64_t>(f.content.size()))
          .run();
    }
    rapidjson::StringBuffer b;
    Writer w(b);
    w.StartObject();
    put(w, "transmission_id", id);
    put(w, "state", "WAITING");
    put(w, "accepted_at", accepted_at);
    w.EndObject();
    return json_response(201, b.GetString());
  }

  // ---- reading transmissions ------------------------------------------------------------

  struct Row {
    std::int64_t seq = 0;
    std::string id, sender_user, sender_office, sender_type, recipient_office, recipient_type,
        unit_kind, message, state, accepted_at;
    std::int64_t downloads = 0;
  };

  static constexpr const char* kRowColumns =
      "seq, id, sender_user, sender_office, sender_type, recipient_office, recipient_type, "
      "unit_kind, message, state, accepted_at, downloads";

  static Row read_row(const Statement& st) {
    return Row{st.integer(0), st.text(1), st.text(2), st.text(3), st.text(4),  st.text(5),
               st.text(6),    st.text(7), st.text(8), st.text(9), st.text(10), st.integer(11)};
  }

  std::optional<Row> find(const std::string& id) {
    auto st = db.prepare(std::string("SELECT ") + kRowColumns + " FROM transmissions WHERE id=?");
    st.bind(1, id);
    if (!st.step()) return std::nullopt;
    return read_row(st);
  }

  void write_item(Writer& w, const Row& r, bool with_cursor) {
    w.StartObject();
    put(w, "transmission_id", r.id);
    if (with_cursor) put(w, "cursor", adapters::national::make_cursor("inbox", r.seq));
    put_office(w, "sender", r.sender_office, r.sender_type);
    put_office(w, "recipient", r.recipient_office, r.recipient_type);
    put(w, "unit_kind", r.unit_kind);
    put(w, "message", r.message);
    put(w, "accepted_at", r.accepted_at);
    put(w, "state", r.state);
    if (poison_of(r.id) == "no_files") {  // listed without its files
      w.EndObject();
      return;
    }
    w.Key("files");
    w.StartArray();
    auto st = db.prepare("SELECT name, size FROM files WHERE transmission_id=? ORDER BY idx");
    st.bind(1, r.id);
    while (st.step()) {
      w.StartObject();
      put(w, "name", st.text(0));
      w.Key("size");
      w.Int64(st.integer(1));
      w.EndObject();
    }
    w.EndArray();
    w.EndObject();
  }

  adapters::http::Response show(const Principal& who, const std::string& id) {
    const auto row = find(id);
    if (!row) return error(404, "not_found", "no such transmission");
    if (row->sender_user != who.user_id &&
        !receives_for(who, row->recipient_office, row->recipient_type)) {
      return error(403, "forbidden", "neither sender nor recipient");
    }
    rapidjson::StringBuffer b;
    Writer w(b);
    write_item(w, *row, false);
    return json_response(200, b.GetString());
  }

  adapters::http::Response inbox(const Principal& who, const std::string& target) {
    const auto cursor =
        adapters::national::read_cursor("inbox", adapters::national::query_param(target, "cursor"));
    const int limit = parse_limit(adapters::national::query_param(target, "limit"), 50, 200);
    if (!cursor || limit < 0) return error(400, "invalid_request", "bad cursor or limit");
    auto st = db.prepare(std::string("SELECT ") + kRowColumns +
                         " FROM transmissions WHERE seq > ? AND state <> 'WITHDRAWN' ORDER BY seq");
    st.bind(1, *cursor);
    std::vector<Row> rows;
    bool more = false;
    while (st.step()) {
      Row r = read_row(st);
      if (!receives_for(who, r.recipient_office, r.recipient_type)) continue;
      if (static_cast<int>(rows.size()) == limit) {
        more = true;
        break;
      }
      rows.push_back(std::move(r));
    }
    const bool twice = duplicate_inbox > 0;
    if (twice) --duplicate_inbox;
    rapidjson::StringBuffer b;
    Writer w(b);
    w.StartObject();
    w.Key("items");
    w.StartArray();
    for (const auto& r : rows) {
      write_item(w, r, true);
      if (twice) write_item(w, r, true);
    }
    w.EndArray();
    put(w, "next_cursor",
        adapters::national::make_cursor("inbox", rows.empty() ? *cursor : rows.back().seq));
    w.Key("has_more");
    w.Bool(more);
    w.EndObject();
    return json_response(200, b.GetString());
  }

  adapters::http::Response download(const Principal& who, const std::string& id,
                                    const std::string& name) {
    const auto row = find(id);
    if (!row) return error(404, "not_found", "no such transmission");
    if (!receives_for(who, row->recipient_office, row->recipient_type)) {
      return error(403, "forbidden", "not addressed to the caller");
    }
    if (row->state == "WITHDRAWN") return error(410, "withdrawn", "withdrawn by the sender");
    auto st = db.prepare("SELECT signed_data FROM files WHERE transmission_id=? AND name=?");
    st.bind(1, id).bind(2, name);
    if (!st.step()) return error(404, "not_found", "no such file in the transmission");
    if (options.bench) {
      auto pre =
          db.prepare("SELECT enveloped FROM bench_enveloped WHERE transmission_id=? AND name=?");
      pre.bind(1, id).bind(2, name);
      if (pre.step()) {
        db.prepare("UPDATE transmissions SET downloads = downloads + 1 WHERE id=?")
            .bind(1, id)
            .run();
        adapters::http::Response r;
        r.status = 200;
        r.headers.emplace_back("content-type", "application/pkcs7-mime; smime-type=enveloped-data");
        r.body = pre.text(0);
        return r;
      }
    }
    std::string signed_data = st.text(0);
    auto cert = cms::parse_certificate(view(who.document_cert_der));
    if (!cert.ok()) return error(500, "internal_error", "session has no usable certificate");
    std::vector<cms::X509Ptr> recipients;
    const std::string poison = poison_of(id);
    if (poison == "no_content") {
      // The sender's SignedData without its embedded content (detached).
      auto detached = cms::detach_content(view(signed_data));
      if (!detached.ok()) return error(500, "internal_error", "cannot detach");
      signed_data = to_string(detached.value().signature);
    }
    if (poison == "undecryptable") {
      // Encrypted to another certificate (the stand-in's own): the caller cannot open it.
      recipients.push_back(gateway::pki::load_certificate(options.tls.cert_file));
    } else {
      recipients.push_back(std::move(cert.value()));
    }
    auto enveloped = cms::encrypt(view(signed_data), recipients);
    if (!enveloped.ok()) return error(500, "internal_error", "encryption failed");
    db.prepare("UPDATE transmissions SET downloads = downloads + 1 WHERE id=?").bind(1, id).run();
    adapters::http::Response r;
    r.status = 200;
    r.headers.emplace_back("content-type", "application/pkcs7-mime; smime-type=enveloped-data");
    r.body = to_string(enveloped.value());
    return r;
  }

  // ---- receipts, updates, withdraw --------------------------------------------------------

  adapters::http::Response receipt(const Principal& who, const std::string& id,
                                   const std::string& body) {
    rapidjson::Document d;
    d.Parse(body.data(), body.size());
    const std::string state = d.HasParseError() ? std::string() : string_field(d, "state");
    const std::string reason = d.HasParseError() ? std::string() : string_field(d, "reason");
    if (state != "DOWNLOADED" && state != "REJECTED") {
      return error(400, "invalid_request", "state: DOWNLOADED or REJECTED",
                   details_of({{"field", "state"}}));
    }
    if (reason.size() > kMaxMessage * 3) return error(400, "invalid_request", "reason too long");
    const auto row = find(id);
    if (!row) return error(404, "not_found", "no such transmission");
    if (!receives_for(who, row->recipient_office, row->recipient_type)) {
      return error(403, "forbidden", "not addressed to the caller");
    }
    if (row->state == "WITHDRAWN") return error(410, "withdrawn", "withdrawn by the sender");
    if (row->state != "WAITING" && row->state != state) {
      return error(409, "receipt_conflict", "a receipt with another state was posted",
                   details_of({{"state", row->state}}));
    }
    if (row->state == "WAITING") {
      db.exec("BEGIN");
      db.prepare("UPDATE transmissions SET state=?, reason=? WHERE id=?")
          .bind(1, state)
          .bind(2, reason)
          .bind(3, id)
          .run();
      db.prepare("INSERT INTO updates(transmission_id, state, reason, at) VALUES(?,?,?,?)")
          .bind(1, id)
          .bind(2, state)
          .bind(3, reason)
          .bind(4, mapping::common::format_iso_ms(now_ms()))
          .run();
      db.exec("COMMIT");
    }
    rapidjson::StringBuffer b;
    Writer w(b);
    w.StartObject();
    put(w, "transmission_id", id);
    put(w, "state", state);
    w.EndObject();
    return json_response(200, b.GetString());
  }

  adapters::http::Response updates(const Principal& who, const std::string& target) {
    const auto cursor = adapters::national::read_cursor(
        "updates", adapters::national::query_param(target, "cursor"));
    const int limit = parse_limit(adapters::national::query_param(target, "limit"), 50, 200);
    if (!cursor || limit < 0) return error(400, "invalid_request", "bad cursor or limit");
    auto st = db.prepare(
        "SELECT u.seq, u.transmission_id, u.state, u.reason, u.at FROM updates u "
        "JOIN transmissions t ON t.id = u.transmission_id WHERE u.seq > ? AND t.sender_user = ? "
        "ORDER BY u.seq LIMIT ?");
    st.bind(1, *cursor).bind(2, who.user_id).bind(3, std::int64_t{limit + 1});
    rapidjson::StringBuffer b;
    Writer w(b);
    w.StartObject();
    w.Key("updates");
    w.StartArray();
    std::int64_t last = *cursor;
    int n = 0;
    bool more = false;
    while (st.step()) {
      if (n++ == limit) {
        more = true;
        break;
      }
      last = st.integer(0);
      w.StartObject();
      put(w, "transmission_id", st.text(1));
      put(w, "cursor", adapters::national::make_cursor("updates", last));
      put(w, "state", st.text(2));
      put(w, "reason", st.text(3));
      put(w, "at", st.text(4));
      w.EndObject();
    }
    w.EndArray();
    put(w, "next_cursor", adapters::national::make_cursor("updates", last));
    w.Key("has_more");
    w.Bool(more);
    w.EndObject();
    return json_response(200, b.GetString());
  }

  adapters::http::Response withdraw(const Principal& who, const std::string& id) {
    const auto row = find(id);
    if (!row) return error(404, "not_found", "no such transmission");
    if (row->sender_user != who.user_id)
      return error(403, "forbidden", "only the sender withdraws");
    if (row->state != "WITHDRAWN") {
      if (row->downloads > 0 || row->state != "WAITING") {
        return error(409, "already_downloaded", "the recipient has downloaded it");
      }
      db.prepare("UPDATE transmissions SET state='WITHDRAWN' WHERE id=?").bind(1, id).run();
    }
    rapidjson::StringBuffer b;
    Writer w(b);
    w.StartObject();
    put(w, "transmission_id", id);
    put(w, "state", "WITHDRAWN");
    w.EndObject();
    return json_response(200, b.GetString());
  }

  // ---- office master --------------------------------------------------------------------

  void upsert_office(const OfficeRecord& o) {
    std::string types;
    for (const auto& t : o.service_types) types += (types.empty() ? "" : ",") + t;
    db.prepare("INSERT OR REPLACE INTO offices VALUES(?,?,?,?,?,?,?)")
        .bind(1, o.office_no)
        .bind(2, types)
        .bind(3, o.name)
        .bind(4, o.kana)
        .bind(5, o.prefecture)
        .bind(6, o.status)
        .bind(7, mapping::common::format_iso_ms(now_ms()))
        .run();
  }

  static std::optional<std::vector<OfficeRecord>> parse_office_records(const rapidjson::Value& d) {
    if (!d.IsObject() || !d.HasMember("offices") || !d["offices"].IsArray()) return std::nullopt;
    std::vector<OfficeRecord> out;
    static const std::regex kNo("^[0-9A-Z]{10}$");
    for (const auto& v : d["offices"].GetArray()) {
      OfficeRecord o{string_field(v, "office_no"),  {},
                     string_field(v, "name"),       string_field(v, "kana"),
                     string_field(v, "prefecture"), string_field(v, "status")};
      if (!std::regex_match(o.office_no, kNo)) return std::nullopt;
      if (o.status != "ACTIVE" && o.status != "SUSPENDED" && o.status != "CLOSED")
        return std::nullopt;
      if (!v.HasMember("service_types") || !v["service_types"].IsArray()) return std::nullopt;
      for (const auto& t : v["service_types"].GetArray()) {
        if (!t.IsString() || t.GetStringLength() != 2) return std::nullopt;
        o.service_types.emplace_back(t.GetString());
      }
      out.push_back(std::move(o));
    }
    return out;
  }

  adapters::http::Response offices(const std::string& target) {
    const std::string since = adapters::national::query_param(target, "changed_since");
    const auto cursor = adapters::national::read_cursor(
        "offices", adapters::national::query_param(target, "cursor"));
    const int limit = parse_limit(adapters::national::query_param(target, "limit"), 500, 1000);
    if (!cursor || limit < 0 || since.size() > 40) {
      return error(400, "invalid_request", "bad cursor, limit or changed_since");
    }
    const std::string as_of = mapping::common::format_iso_ms(now_ms());
    auto st = db.prepare(
        "SELECT office_no, service_types, name, kana, prefecture, status, updated_at FROM offices "
        "WHERE updated_at >= ? ORDER BY updated_at, office_no LIMIT ? OFFSET ?");
    st.bind(1, since).bind(2, std::int64_t{limit + 1}).bind(3, *cursor);
    rapidjson::StringBuffer b;
    Writer w(b);
    w.StartObject();
    w.Key("offices");
    w.StartArray();
    int n = 0;
    bool more = false;
    while (st.step()) {
      if (n == limit) {
        more = true;
        break;
      }
      ++n;
      w.StartObject();
      put(w, "office_no", st.text(0));
      w.Key("service_types");
      w.StartArray();
      std::stringstream types(st.text(1));
      for (std::string t; std::getline(types, t, ',');) w.String(t.c_str());
      w.EndArray();
      put(w, "name", st.text(2));
      put(w, "kana", st.text(3));
      put(w, "prefecture", st.text(4));
      put(w, "status", st.text(5));
      put(w, "updated_at", st.text(6));
      w.EndObject();
    }
    w.EndArray();
    put(w, "next_cursor", adapters::national::make_cursor("offices", *cursor + n));
    w.Key("has_more");
    w.Bool(more);
    put(w, "as_of", as_of);
    w.EndObject();
    return json_response(200, b.GetString());
  }

  // ---- administration -------------------------------------------------------------------

  void add_account(const std::string& user, const std::string& password, const std::string& kind,
                   const std::string& office_no) {
    db.prepare("INSERT OR REPLACE INTO accounts VALUES(?,?,?,?)")
        .bind(1, user)
        .bind(2, sha256_hex(user + ":" + password))
        .bind(3, kind)
        .bind(4, office_no)
        .run();
  }

  adapters::http::Response admin(const adapters::http::Request& req,
                                 const std::vector<std::string>& p) {
    const std::string* auth = req.header("authorization");
    if (auth == nullptr || *auth != "Admin " + options.admin_token) {
      return error(403, "forbidden", "admin token required");
    }
    rapidjson::Document d;
    if (req.method != "GET") {
      d.Parse(req.body.data(), req.body.size());
      if (d.HasParseError() || !d.IsObject())
        return error(400, "invalid_request", "body is not a JSON object");
    }
    const std::string what = p.size() >= 3 ? p[2] : "";
    const std::string sub = p.size() >= 4 ? p[3] : "";
    if (what == "accounts" && req.method == "POST") {
      const std::string kind = string_field(d, "kind");
      static const std::regex kUser("^KJ[0-9]{12}$");
      if (!std::regex_match(string_field(d, "user_id"), kUser) ||
          string_field(d, "password").empty() || (kind != "office" && kind != "proxy") ||
          (kind == "office" && string_field(d, "office_no").size() != 10)) {
        return error(400, "invalid_request", "user_id, password, kind office|proxy, office_no");
      }
      add_account(string_field(d, "user_id"), string_field(d, "password"), kind,
                  kind == "office" ? string_field(d, "office_no") : "");
      return json_response(200, "{}");
    }
    if (what == "offices" && req.method == "PUT") {
      const auto list = parse_office_records(d);
      if (!list) return error(400, "invalid_request", "offices: office-master entries");
      for (const auto& o : *list) upsert_office(o);
      return json_response(200, "{}");
    }
    if (what == "proxy-offices" && req.method == "PUT") {
      const auto list = parse_offices_list(d);
      if (!list || string_field(d, "user_id").empty())
        return error(400, "invalid_request", "user_id and offices");
      set_represented(string_field(d, "user_id"), *list);
      return json_response(200, "{}");
    }
    if (what == "faults" && req.method == "POST") return set_faults(d);
    if (what == "sessions" && sub == "expire" && req.method == "POST") {
      db.exec("UPDATE sessions SET expires_ms = 0");
      return json_response(200, "{}");
    }
    if (what == "deliveries" && req.method == "GET") return deliveries();
    return error(404, "not_found", "no such admin route");
  }

  static int int_field(const rapidjson::Value& d, const char* key, int fallback) {
    const auto m = d.FindMember(key);
    return m != d.MemberEnd() && m->value.IsInt() ? m->value.GetInt() : fallback;
  }

  adapters::http::Response set_faults(const rapidjson::Document& d) {
    if (d.HasMember("status")) {
      const int s = int_field(d, "status", 0);
      if (s != 429 && s != 500 && s != 503)
        return error(400, "invalid_request", "status: 429, 500 or 503");
      fault_status = s;
      fault_count = int_field(d, "count", 1);
      fault_retry_after = int_field(d, "retry_after", 1);
    }
    if (d.HasMember("maintenance") && d["maintenance"].IsBool()) {
      maintenance = d["maintenance"].GetBool();
      maintenance_retry_after = int_field(d, "retry_after", 60);
    }
    drops = int_field(d, "drop", drops);
    malformed = int_field(d, "malformed", malformed);
    duplicate_inbox = int_field(d, "duplicate_inbox", duplicate_inbox);
    if (d.HasMember("poison_next") && d["poison_next"].IsString()) {
      const std::string kind = d["poison_next"].GetString();
      if (kind != "undecryptable" && kind != "no_content" && kind != "no_files" && !kind.empty())
        return error(400, "invalid_request", "poison_next: undecryptable, no_content or no_files");
      poison_next = kind;
    }
    if (d.HasMember("delay_ms")) server.faults().delay_ms.store(int_field(d, "delay_ms", 0));
    if (d.HasMember("refuse_tls") && d["refuse_tls"].IsBool()) {
      server.faults().refuse_tls.store(d["refuse_tls"].GetBool());
    }
    return json_response(200, "{}");
  }

  adapters::http::Response deliveries() {
    auto st = db.prepare(
        "SELECT t.idempotency_key, t.sender_user, t.id, t.sequence, t.sender_office, "
        "t.sender_type, t.recipient_office, t.recipient_type, COALESCE(i.replays, 0), t.state, "
        "t.downloads FROM transmissions t LEFT JOIN idempotency i ON i.user_id = t.sender_user "
        "AND i.key = t.idempotency_key ORDER BY t.seq");
    rapidjson::StringBuffer b;
    Writer w(b);
    w.StartObject();
    w.Key("deliveries");
    w.StartArray();
    while (st.step()) {
      w.StartObject();
      put(w, "idempotency_key", st.text(0));
      put(w, "user_id", st.text(1));
      put(w, "transmission_id", st.text(2));
      put(w, "sequence", st.text(3));
      put_office(w, "sender", st.text(4), st.text(5));
      put_office(w, "recipient", st.text(6), st.text(7));
      w.Key("replays");
      w.Int64(st.integer(8));
      put(w, "state", st.text(9));
      w.Key("downloads");
      w.Int64(st.integer(10));
      w.EndObject();
    }
    w.EndArray();
    w.EndObject();
    return json_response(200, b.GetString());
  }

  StandinOptions options;
  std::mutex mutex;
  SqliteDb db;
  cms::TrustDomain national;
  std::optional<cms::TrustDomain> proxied;
  std::vector<cms::X509Ptr> ca_certs;
  adapters::http::HttpsServer server;

  bool maintenance = false;
  int maintenance_retry_after = 60;
  int fault_status = 503;
  int fault_count = 0;
  int fault_retry_after = 1;
  int drops = 0;
  int malformed = 0;
  int duplicate_inbox = 0;
  // Poison items (issue 14): the next transmission accepted is served broken for good, its kind
  // kept by id (in memory: a restart of the stand-in heals it).
  std::string poison_next;
  std::map<std::string, std::string> poisoned;
  std::string poison_of(const std::string& id) const {
    const auto it = poisoned.find(id);
    return it == poisoned.end() ? std::string() : it->second;
  }
};

NationalStandin::NationalStandin(boost::asio::io_context& io, StandinOptions options)
    : impl_(std::make_unique<Impl>(io, std::move(options))) {}

NationalStandin::~NationalStandin() {
  impl_->server.stop();
}

std::uint16_t NationalStandin::listen(std::uint16_t port) {
  return impl_->server.listen("127.0.0.1", port);
}

void NationalStandin::stop() {
  impl_->server.stop();
}

adapters::http::Response NationalStandin::handle(const adapters::http::Request& request) {
  return impl_->handle(request);
}

void NationalStandin::add_account(const std::string& user_id, const std::string& password,
                                  const std::string& kind, const std::string& office_no) {
  std::lock_guard lock(impl_->mutex);
  impl_->add_account(user_id, password, kind, office_no);
}

void NationalStandin::upsert_office(const OfficeRecord& office) {
  std::lock_guard lock(impl_->mutex);
  impl_->upsert_office(office);
}

void NationalStandin::set_represented(const std::string& user_id,
                                      const std::vector<mapping::OfficeRef>& offices) {
  std::lock_guard lock(impl_->mutex);
  impl_->set_represented(user_id, offices);
}

void NationalStandin::load_offices_file(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw std::runtime_error("cannot read " + path);
  std::stringstream text;
  text << in.rdbuf();
  const std::string s = text.str();
  rapidjson::Document d;
  d.Parse(s.data(), s.size());
  const auto list = d.HasParseError() ? std::nullopt : Impl::parse_office_records(d);
  if (!list) throw std::runtime_error(path + ": not {\"offices\":[office-master entries]}");
  std::lock_guard lock(impl_->mutex);
  for (const auto& o : *list) impl_->upsert_office(o);
}

adapters::http::ServerFaults& NationalStandin::faults() {
  return impl_->server.faults();
}

}  // namespace kakehashi::standin
