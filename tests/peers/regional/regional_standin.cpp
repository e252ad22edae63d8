#include "tests/peers/regional/regional_standin.hpp"

#include <openssl/evp.h>
#include <openssl/x509.h>

#include <charconv>
#include <ctime>
#include <fstream>
#include <map>
#include <mutex>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <thread>
#include <utility>

#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include "adapters/common/http/https_client.hpp"
#include "adapters/regional/rhn_wire.hpp"
#include "gateway/pki/trust_domain_loader.hpp"
#include "mapping/cms/verify.hpp"
#include "mapping/common/iso_time.hpp"
#include "tests/peers/regional/standin_store.hpp"

namespace kakehashi::adapters::regional::standin {

namespace asio = boost::asio;
using Writer = rapidjson::Writer<rapidjson::StringBuffer>;

namespace {

std::string now_utc() {
  return mapping::common::format_iso_seconds(std::time(nullptr));
}

std::string sha256_hex(std::string_view bytes) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int n = 0;
  EVP_Digest(bytes.data(), bytes.size(), md, &n, EVP_sha256(), nullptr);
  static const char kHex[] = "0123456789abcdef";
  std::string out;
  for (unsigned int i = 0; i < n; ++i) {
    out += kHex[md[i] >> 4];
    out += kHex[md[i] & 0xF];
  }
  return out;
}

// The subject CN of a DER certificate ("" when absent or unreadable).
std::string common_name(const std::string& der) {
  const auto* p = reinterpret_cast<const unsigned char*>(der.data());
  X509* cert = d2i_X509(nullptr, &p, static_cast<long>(der.size()));
  if (cert == nullptr) return "";
  char buf[256] = {0};
  const int n =
      X509_NAME_get_text_by_NID(X509_get_subject_name(cert), NID_commonName, buf, sizeof buf);
  X509_free(cert);
  return n > 0 ? std::string(buf, static_cast<std::size_t>(n)) : std::string();
}

void put(Writer& w, const char* key, std::string_view v) {
  w.Key(key);
  w.String(v.data(), static_cast<rapidjson::SizeType>(v.size()));
}

std::string finish(rapidjson::StringBuffer& sb) {
  return std::string(sb.GetString(), sb.GetSize());
}

adapters::http::Response json(int status, std::string body) {
  adapters::http::Response r;
  r.status = status;
  r.headers.emplace_back("content-type", "application/json");
  r.body = std::move(body);
  return r;
}

adapters::http::Response error(int status, std::string code, std::string message,
                               std::string field = "", std::string reason = "",
                               std::string filename = "") {
  RhnError e;
  e.status = status;
  e.code = std::move(code);
  e.message = std::move(message);
  e.field = std::move(field);
  e.reason = std::move(reason);
  e.filename = std::move(filename);
  return json(status, encode_error(e));
}

adapters::http::Response error(const RhnError& e) {
  return json(e.status, encode_error(e));
}

void write_item(Writer& w, const StoredMessage& m, bool full) {
  w.StartObject();
  w.Key("sequence");
  w.Int64(m.sequence);
  put(w, "id", m.id);
  put(w, "message_id", m.message_id);
  w.Key("from");
  w.StartObject();
  put(w, "facility_id", m.from.facility_id);
  put(w, "office_no", m.from.office.office_no);
  put(w, "service_type", m.from.office.service_type);
  w.EndObject();
  w.Key("to");
  w.StartObject();
  put(w, "office_no", m.to.office_no);
  put(w, "service_type", m.to.service_type);
  w.EndObject();
  put(w, "subject", m.subject);
  w.Key("document_count");
  w.Int64(m.document_count);
  put(w, "received_at", m.received_at);
  put(w, "state", m.state);
  if (full) {
    put(w, "body", m.body);
    w.Key("documents");
    w.RawValue(m.documents_json.data(), m.documents_json.size(), rapidjson::kArrayType);
  }
  w.EndObject();
}

std::string send_answer(const StoredMessage& m) {
  rapidjson::StringBuffer sb;
  Writer w(sb);
  w.StartObject();
  put(w, "id", m.id);
  put(w, "message_id", m.message_id);
  put(w, "accepted_at", m.received_at);
  w.EndObject();
  return finish(sb);
}

// Query string into a map (the contract's values need no percent-decoding).
std::map<std::string, std::string> query_of(std::string_view target) {
  std::map<std::string, std::string> out;
  const auto q = target.find('?');
  if (q == std::string_view::npos) return out;
  std::string_view rest = target.substr(q + 1);
  while (!rest.empty()) {
    const auto amp = rest.find('&');
    const auto part = rest.substr(0, amp);
    const auto eq = part.find('=');
    out[std::string(part.substr(0, eq))] =
        eq == std::string_view::npos ? "" : std::string(part.substr(eq + 1));
    if (amp == std::string_view::npos) break;
    rest = rest.substr(amp + 1);
  }
  return out;
}

std::optional<std::int64_t> to_int(const std::string& s, std::int64_t lo, std::int64_t hi) {
  std::int64_t v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || p != s.data() + s.size() || v < lo || v > hi) return std::nullopt;
  return v;
}

std::string read_text(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot read " + path.string());
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Test controls of PROTOCOL.md §12 (guarded by the stand-in's mutex).
struct Faults {
  int fail_status = 0;
  int fail_count = 0;
  int retry_after = 1;
  bool maintenance = false;
  int malformed_responses = 0;
  int duplicate_listings = 0;
  int pending_drops = 0;
  int pending_delay_ms = 0;
  std::string only;
  // Poison items (issue 14): the next message accepted is served broken for good by
  // GET /messages/{id}; kinds by id, in memory (a restart of the stand-in heals them).
  std::string poison_next;
  std::map<std::string, std::string> poisoned;
};

bool poison_kind_known(const std::string& kind) {
  return kind == "bad_base64" || kind == "base64_newline" || kind == "missing_field" ||
         kind == "deep_json" || kind == "too_many_documents";
}

// The message body `json` as a poisoned message of `kind` is served.
std::string poison_body(const std::string& json, const std::string& kind) {
  if (kind == "deep_json") {
    // Well-formed, an unknown member (ignored by the contract), nested 40 deep.
    const auto close = json.rfind('}');
    return json.substr(0, close) + ",\"extra\":" + std::string(40, '[') + std::string(40, ']') +
           "}";
  }
  rapidjson::Document d;
  d.Parse(json.data(), json.size());
  auto& docs = d["documents"];
  auto& a = d.GetAllocator();
  if (kind == "bad_base64") {
    docs[0]["content"].SetString("@@not-base64@@", a);
  } else if (kind == "base64_newline") {
    std::string content = docs[0]["content"].GetString();
    content.insert(std::min<std::size_t>(content.size(), 76), "\r\n");
    docs[0]["content"].SetString(content.data(), static_cast<rapidjson::SizeType>(content.size()),
                                 a);
  } else if (kind == "missing_field") {
    d["from"].RemoveMember("office_no");
  } else if (kind == "too_many_documents") {
    rapidjson::Value first(docs[0], a);
    while (docs.Size() <= kMaxDocuments) docs.PushBack(rapidjson::Value(first, a), a);
  }
  rapidjson::StringBuffer sb;
  rapidjson::Writer<rapidjson::StringBuffer> w(sb);
  d.Accept(w);
  return std::string(sb.GetString(), sb.GetSize());
}

}  // namespace

struct RegionalStandin::Impl {
  Impl(StandinOptions opts, std::atomic<int>& delivered)
      : options(std::move(opts)), notices_delivered(delivered) {
    const auto& pki = options.pki_dir;
    auto fill = [&pki](std::string& field, const char* rel) {
      if (field.empty() && !pki.empty()) field = (pki / rel).string();
    };
    fill(options.tls.cert_file, "tls/regional-standin-server.cert.pem");
    fill(options.tls.key_file, "tls/regional-standin-server.key.pem");
    fill(options.tls.ca_file, "tls/regional-ca.pem");
    fill(options.push_tls.cert_file, "tls/regional-standin-client.cert.pem");
    fill(options.push_tls.key_file, "tls/regional-standin-client.key.pem");
    fill(options.push_tls.ca_file, "tls/regional-ca.pem");
    if (options.regional_domain.empty() && !pki.empty()) options.regional_domain = pki / "regional";
    if (options.proxied_domain.empty() && !pki.empty()) options.proxied_domain = pki / "national";
    if (options.state_file.empty()) throw std::runtime_error("regional stand-in: no state file");
    options.tls.require_peer_cert = true;
    regional = gateway::pki::load_trust_domain(options.regional_domain);
    if (!options.proxied_domain.empty())
      proxied = gateway::pki::load_trust_domain(options.proxied_domain);
    store = std::make_unique<StandinStore>(options.state_file);
    if (!options.seed_directory.empty()) seed(read_text(options.seed_directory));
  }

  StandinOptions options;
  std::atomic<int>& notices_delivered;
  mapping::cms::TrustDomain regional;
  std::optional<mapping::cms::TrustDomain> proxied;
  std::unique_ptr<StandinStore> store;
  std::mutex mutex;
  Faults faults;

  asio::io_context io;
  std::optional<asio::executor_work_guard<asio::io_context::executor_type>> work;
  std::unique_ptr<adapters::http::HttpsServer> server;
  std::map<std::string, std::unique_ptr<adapters::http::HttpsClient>> push_clients;  // on io only
  std::thread thread;

  void seed(const std::string& text) {
    rapidjson::Document doc;
    doc.Parse(text.data(), text.size());
    if (doc.HasParseError() || !doc.IsObject()) {
      throw std::runtime_error("seed directory: not a JSON object");
    }
    const auto now = now_utc();
    if (doc.HasMember("facilities") && doc["facilities"].IsArray()) {
      rapidjson::StringBuffer sb;
      Writer w(sb);
      w.StartObject();
      w.Key("facilities");
      doc["facilities"].Accept(w);
      w.EndObject();
      auto facilities = decode_directory(finish(sb));
      if (!facilities) throw std::runtime_error("seed directory: bad facilities");
      for (const auto& f : *facilities) {
        if (!valid_facility_id(f.facility_id)) {
          throw std::runtime_error("seed directory: bad facility_id " + f.facility_id);
        }
        for (const auto& o : f.offices) {
          if (!valid_office_no(o.office.office_no) || !valid_service_type(o.office.service_type) ||
              !valid_status(o.status)) {
            throw std::runtime_error("seed directory: bad office in " + f.facility_id);
          }
        }
        store->upsert_facility(f, now);
      }
    }
    if (doc.HasMember("members") && doc["members"].IsArray()) {
      for (const auto& m : doc["members"].GetArray()) {
        if (!m.IsObject() || !m.HasMember("cn") || !m["cn"].IsString() ||
            !m.HasMember("facility_id") || !m["facility_id"].IsString()) {
          throw std::runtime_error("seed directory: a member needs cn and facility_id");
        }
        Member member;
        member.cn = m["cn"].GetString();
        member.facility_id = m["facility_id"].GetString();
        member.gateway = m.HasMember("gateway") && m["gateway"].IsBool() && m["gateway"].GetBool();
        store->upsert_member(member);
      }
    }
  }

  // --- request handling (under the mutex)
  adapters::http::Response handle(const adapters::http::Request& req) {
    std::lock_guard lock(mutex);
    try {
      const std::string path = req.target.substr(0, req.target.find('?'));
      if (path.rfind("/admin/v1/", 0) == 0) return admin(req, path);
      if (faults.pending_drops > 0) {
        server->faults().drop_responses += faults.pending_drops;
        faults.pending_drops = 0;
      }
      if (faults.pending_delay_ms > 0) {
        server->faults().delay_ms = faults.pending_delay_ms;
        faults.pending_delay_ms = 0;
      }
      // `only` narrows the injected answers to one call ("POST /rhn/v1/messages").
      const bool targeted = faults.only.empty() || faults.only == req.method + " " + path;
      if (faults.fail_count > 0 && targeted) {
        --faults.fail_count;
        return injected(faults.fail_status);
      }
      if (faults.maintenance) return injected(503);
      adapters::http::Response r = route(req, path);
      if (r.status >= 200 && r.status < 300 && !r.body.empty() && faults.malformed_responses > 0 &&
          targeted) {
        --faults.malformed_responses;
        // Half a JSON object never parses.
        r.body = r.body.substr(0, r.body.size() / 2);
      }
      return r;
    } catch (const std::exception& e) {
      return error(500, "INTERNAL", std::string("stand-in failure: ") + e.what());
    }
  }

  adapters::http::Response injected(int status) {
    adapters::http::Response r;
    if (status == 429) {
      r = error(429, "RATE_LIMITED", "too many requests");
    } else if (status == 503) {
      r = error(503, "MAINTENANCE", "maintenance window");
    } else {
      r = error(500, "INTERNAL", "injected failure");
    }
    if (status == 429 || status == 503) {
      r.headers.emplace_back("retry-after", std::to_string(faults.retry_after));
    }
    return r;
  }

  adapters::http::Response route(const adapters::http::Request& req, const std::string& path) {
    const std::string cn = req.peer_cert_der.empty() ? "" : common_name(req.peer_cert_der);
    auto member = cn.empty() ? std::nullopt : store->member(cn);
    // Route first so that unknown paths answer 404 whoever asks.
    const auto& m = req.method;
    std::string id;
    std::string action;
    enum class R {
      kMessages,
      kMailbox,
      kMessage,
      kRead,
      kReject,
      kReceipts,
      kDirectory,
      kExternal,
      kCallback,
      kNotices,
      kNone
    } which = R::kNone;
    const std::string kMsg = "/rhn/v1/messages/";
    if (path == "/rhn/v1/messages") {
      which = R::kMessages;
    } else if (path == "/rhn/v1/mailbox") {
      which = R::kMailbox;
    } else if (path == "/rhn/v1/receipts") {
      which = R::kReceipts;
    } else if (path == "/rhn/v1/directory") {
      which = R::kDirectory;
    } else if (path == "/rhn/v1/directory/external") {
      which = R::kExternal;
    } else if (path == "/rhn/v1/callback") {
      which = R::kCallback;
    } else if (path == "/rhn/v1/notices") {
      which = R::kNotices;
    } else if (path.rfind(kMsg, 0) == 0) {
      const std::string rest = path.substr(kMsg.size());
      const auto slash = rest.find('/');
      id = rest.substr(0, slash);
      action = slash == std::string::npos ? "" : rest.substr(slash + 1);
      if (!id.empty() && action.empty()) which = R::kMessage;
      if (!id.empty() && action == "read") which = R::kRead;
      if (!id.empty() && action == "reject") which = R::kReject;
    }
    if (which == R::kNone) return error(404, "NOT_FOUND", "no such resource");
    const bool method_ok =
        (which == R::kMessages && m == "POST") || (which == R::kMailbox && m == "GET") ||
        (which == R::kMessage && m == "GET") || (which == R::kRead && m == "POST") ||
        (which == R::kReject && m == "POST") || (which == R::kReceipts && m == "GET") ||
        (which == R::kDirectory && m == "GET") || (which == R::kExternal && m == "PUT") ||
        (which == R::kCallback && (m == "PUT" || m == "DELETE")) ||
        (which == R::kNotices && m == "POST");
    if (!method_ok) return error(405, "METHOD_NOT_ALLOWED", m + " not allowed here");
    if (!member) return error(403, "UNKNOWN_MEMBER", "the client certificate is not a member's");
    switch (which) {
      case R::kMessages:
        return post_message(*member, req.body);
      case R::kMailbox:
        return mailbox(*member, req.target);
      case R::kMessage:
        return get_message(*member, id);
      case R::kRead:
        return mark(*member, id, "READ", "");
      case R::kReject:
        return reject(*member, id, req.body);
      case R::kReceipts:
        return receipts(*member, req.target);
      case R::kDirectory:
        return directory();
      case R::kExternal:
        return put_external(*member, req.body);
      case R::kCallback:
        return callback(*member, m, req.body);
      case R::kNotices:
        return post_notice(*member, req.body);
      case R::kNone:
        break;
    }
    return error(404, "NOT_FOUND", "no such resource");
  }

  adapters::http::Response post_message(const Member& member, const std::string& raw) {
    if (raw.size() > options.max_message_bytes) {
      return error(413, "TOO_LARGE", "message larger than the network accepts");
    }
    auto decoded = decode_message(raw);
    if (auto* e = std::get_if<RhnError>(&decoded)) return error(*e);
    auto& msg = std::get<RhnMessage>(decoded);
    const std::string digest = sha256_hex(raw);
    if (auto first = store->message_by_key(member.cn, msg.message_id)) {
      store->count_attempt(member.cn, msg.message_id);
      if (first->body_sha256 != digest) {
        return error(409, "IDEMPOTENCY_CONFLICT", "message_id already used with a different body",
                     "message_id");
      }
      auto r = json(first->response_status, first->response_body);
      r.headers.emplace_back("idempotent-replay", "true");
      return r;
    }
    if (msg.from.facility_id != member.facility_id) {
      return error(403, "OFFICE_NOT_HELD", "from.facility_id is not the caller's facility",
                   "from.facility_id");
    }
    const auto held = store->office_status(member.facility_id, msg.from.office);
    if (!held || *held != "ACTIVE") {
      return error(403, "OFFICE_NOT_HELD", "the facility does not hold an active from office",
                   "from.office_no");
    }
    const mapping::cms::TrustDomain* domain =
        member.gateway ? (proxied ? &*proxied : nullptr) : &regional;
    for (std::size_t i = 0; !options.bench && i < msg.documents.size(); ++i) {
      const auto& d = msg.documents[i];
      const std::string field = "documents[" + std::to_string(i) + "].signature";
      if (domain == nullptr) {
        return error(422, "SIGNATURE_INVALID", "no trust domain for this member's senders", field,
                     "unknown-ca", d.filename);
      }
      const auto* sig = reinterpret_cast<const std::uint8_t*>(d.signature.data());
      const auto* content = reinterpret_cast<const std::uint8_t*>(d.content.data());
      const auto v = mapping::cms::verify_signed_data(
          {sig, d.signature.size()}, mapping::cms::ByteView{content, d.content.size()}, *domain);
      if (!v.valid()) {
        return error(422, "SIGNATURE_INVALID", "signature does not verify: " + v.detail, field,
                     std::string(mapping::cms::to_string(v.failure)), d.filename);
      }
      // A gateway member may also sign with its proxy credential, whose certificate names no
      // office: its attestation for a unit from a network that signs nothing (Kaigo WEB,
      // PROTOCOL.md §3 step 5). A certificate naming another office is still a mismatch.
      const bool gateway_attestation =
          member.gateway && v.signer && !v.signer->office_number.has_value();
      if (!v.signer || (!gateway_attestation &&
                        !mapping::cms::signer_holds_office(*v.signer, msg.from.office.office_no))) {
        return error(422, "SIGNER_MISMATCH", "the signer does not hold from.office_no", field, "",
                     d.filename);
      }
    }
    const auto recipient = store->recipient(msg.to);
    if (!recipient) return error(422, "RECIPIENT_UNKNOWN", "no such office", "to");
    if (recipient->status != "ACTIVE") {
      return error(422, "RECIPIENT_INACTIVE", "the recipient office is " + recipient->status, "to");
    }
    StoredMessage stored;
    stored.sender = member.cn;
    stored.message_id = msg.message_id;
    stored.body_sha256 = digest;
    stored.response_status = 201;
    stored.recipient = recipient->member;
    stored.from = msg.from;
    stored.to = msg.to;
    stored.subject = msg.subject;
    stored.body = msg.body;
    stored.document_count = static_cast<std::int64_t>(msg.documents.size());
    stored.received_at = now_utc();
    {
      rapidjson::StringBuffer sb;
      Writer w(sb);
      w.StartArray();
      for (const auto& d : msg.documents) {
        w.StartObject();
        put(w, "filename", d.filename);
        put(w, "media_type", d.media_type);
        put(w, "content", base64_encode(d.content));
        put(w, "signature", base64_encode(d.signature));
        w.EndObject();
      }
      w.EndArray();
      stored.documents_json = finish(sb);
    }
    stored = store->insert_message(std::move(stored), &send_answer);
    if (!faults.poison_next.empty())
      faults.poisoned[stored.id] = std::exchange(faults.poison_next, std::string());
    notify(stored.recipient, stored.sequence);
    return json(201, stored.response_body);
  }

  // §7a: a gateway member tells a native office about itself. Kept in the notice log (what the
  // network would show the office's people); replays answer the first answer.
  adapters::http::Response post_notice(const Member& member, const std::string& raw) {
    if (raw.size() > 16 * 1024) return error(413, "TOO_LARGE", "a notice is at most 16 KiB");
    auto decoded = decode_notice(raw);
    if (auto* e = std::get_if<RhnError>(&decoded)) return error(*e);
    const auto& notice = std::get<RhnNotice>(decoded);
    const std::string digest = sha256_hex(raw);
    auto answer = [](const StoredNotice& n) {
      rapidjson::StringBuffer sb;
      Writer w(sb);
      w.StartObject();
      put(w, "id", n.id);
      put(w, "notice_id", n.notice_id);
      put(w, "accepted_at", n.accepted_at);
      w.EndObject();
      return json(200, finish(sb));
    };
    if (auto first = store->notice_by_key(member.cn, notice.notice_id)) {
      store->count_notice_attempt(member.cn, notice.notice_id);
      if (first->body_sha256 != digest) {
        return error(409, "IDEMPOTENCY_CONFLICT", "notice_id already used with a different body",
                     "notice_id");
      }
      auto r = answer(*first);
      r.headers.emplace_back("idempotent-replay", "true");
      return r;
    }
    if (!member.gateway) return error(403, "NOT_GATEWAY", "only gateway members send notices");
    if (!store->native_office(notice.to)) {
      return error(422, "RECIPIENT_UNKNOWN", "no facility of the network holds this office", "to");
    }
    StoredNotice stored;
    stored.sender = member.cn;
    stored.notice_id = notice.notice_id;
    stored.body_sha256 = digest;
    stored.office_no = notice.to.office_no;
    stored.service_type = notice.to.service_type;
    stored.text = notice.text;
    stored.accepted_at = now_utc();
    return answer(store->insert_notice(std::move(stored)));
  }

  std::optional<std::pair<std::int64_t, std::int64_t>> page_args(const std::string& target) {
    auto q = query_of(target);
    std::int64_t since = 0;
    std::int64_t limit = kDefaultPageLimit;
    if (q.count("since")) {
      auto v = to_int(q["since"], 0, INT64_MAX);
      if (!v) return std::nullopt;
      since = *v;
    }
    if (q.count("limit")) {
      auto v = to_int(q["limit"], 1, kMaxPageLimit);
      if (!v) return std::nullopt;
      limit = *v;
    }
    return std::make_pair(since, limit);
  }

  adapters::http::Response mailbox(const Member& member, const std::string& target) {
    auto args = page_args(target);
    if (!args) return error(400, "INVALID_REQUEST", "since/limit out of range", "since");
    auto items = store->mailbox(member.cn, args->first, args->second + 1);
    const bool more = static_cast<std::int64_t>(items.size()) > args->second;
    if (more) items.pop_back();
    std::int64_t next = args->first;
    for (const auto& i : items) next = std::max(next, i.sequence);
    if (!items.empty() && faults.duplicate_listings > 0) {
      --faults.duplicate_listings;
      items.push_back(items.front());
    }
    rapidjson::StringBuffer sb;
    Writer w(sb);
    w.StartObject();
    w.Key("items");
    w.StartArray();
    for (const auto& i : items) write_item(w, i, false);
    w.EndArray();
    w.Key("next_since");
    w.Int64(next);
    w.Key("more");
    w.Bool(more);
    w.EndObject();
    return json(200, finish(sb));
  }

  adapters::http::Response get_message(const Member& member, const std::string& id) {
    auto m = store->message(id);
    if (!m || m->recipient != member.cn) return error(404, "NOT_FOUND", "no such message");
    rapidjson::StringBuffer sb;
    Writer w(sb);
    write_item(w, *m, true);
    if (const auto p = faults.poisoned.find(id); p != faults.poisoned.end())
      return json(200, poison_body(finish(sb), p->second));
    return json(200, finish(sb));
  }

  static adapters::http::Response state_answer(const StoredMessage& m) {
    rapidjson::StringBuffer sb;
    Writer w(sb);
    w.StartObject();
    put(w, "id", m.id);
    put(w, "state", m.state);
    put(w, "at", m.state_at);
    w.EndObject();
    return json(200, finish(sb));
  }

  adapters::http::Response mark(const Member& member, const std::string& id,
                                const std::string& state, const std::string& reason) {
    auto m = store->message(id);
    if (!m || m->recipient != member.cn) return error(404, "NOT_FOUND", "no such message");
    if (m->state == state && m->reason == reason) return state_answer(*m);
    if (m->state != "UNREAD") {
      return error(409, "STATE_CONFLICT", "the message is already " + m->state);
    }
    const auto at = now_utc();
    store->set_state(*m, state, reason, at);
    m->state = state;
    m->reason = reason;
    m->state_at = at;
    return state_answer(*m);
  }

  adapters::http::Response reject(const Member& member, const std::string& id,
                                  const std::string& body) {
    rapidjson::Document doc;
    doc.Parse(body.data(), body.size());
    if (doc.HasParseError() || !doc.IsObject() || !doc.HasMember("reason") ||
        !doc["reason"].IsString() || doc["reason"].GetStringLength() == 0 ||
        doc["reason"].GetStringLength() > kMaxReasonBytes) {
      return error(400, "INVALID_REQUEST", "reason must be 1-2000 bytes", "reason");
    }
    return mark(member, id, "REJECTED",
                std::string(doc["reason"].GetString(), doc["reason"].GetStringLength()));
  }

  adapters::http::Response receipts(const Member& member, const std::string& target) {
    auto args = page_args(target);
    if (!args) return error(400, "INVALID_REQUEST", "since/limit out of range", "since");
    auto items = store->receipts(member.cn, args->first, args->second + 1);
    const bool more = static_cast<std::int64_t>(items.size()) > args->second;
    if (more) items.pop_back();
    std::int64_t next = args->first;
    rapidjson::StringBuffer sb;
    Writer w(sb);
    w.StartObject();
    w.Key("items");
    w.StartArray();
    for (const auto& r : items) {
      next = std::max(next, r.sequence);
      w.StartObject();
      w.Key("sequence");
      w.Int64(r.sequence);
      put(w, "id", r.id);
      put(w, "message_id", r.message_id);
      put(w, "state", r.state);
      put(w, "reason", r.reason);
      put(w, "at", r.at);
      w.EndObject();
    }
    w.EndArray();
    w.Key("next_since");
    w.Int64(next);
    w.Key("more");
    w.Bool(more);
    w.EndObject();
    return json(200, finish(sb));
  }

  adapters::http::Response directory() {
    rapidjson::StringBuffer sb;
    Writer w(sb);
    w.StartObject();
    put(w, "generated_at", now_utc());
    w.Key("facilities");
    w.StartArray();
    for (const auto& f : store->directory()) {
      w.StartObject();
      put(w, "facility_id", f.facility_id);
      put(w, "name", f.name);
      put(w, "kana", f.kana);
      put(w, "prefecture", f.prefecture);
      w.Key("external");
      w.Bool(f.external);
      put(w, "published_by", f.published_by);
      w.Key("offices");
      w.StartArray();
      for (const auto& o : f.offices) {
        w.StartObject();
        put(w, "office_no", o.office.office_no);
        put(w, "service_type", o.office.service_type);
        put(w, "name", o.name);
        put(w, "kana", o.kana);
        put(w, "prefecture", o.prefecture);
        put(w, "status", o.status);
        put(w, "updated_at", o.updated_at);
        w.EndObject();
      }
      w.EndArray();
      w.EndObject();
    }
    w.EndArray();
    w.EndObject();
    return json(200, finish(sb));
  }

  adapters::http::Response put_external(const Member& member, const std::string& body) {
    if (!member.gateway) return error(403, "NOT_GATEWAY", "only gateway members publish offices");
    auto decoded = decode_external_directory(body);
    if (auto* e = std::get_if<RhnError>(&decoded)) return error(*e);
    const auto& offices = std::get<std::vector<RhnOffice>>(decoded);
    const auto now = now_utc();
    store->replace_offices(member.facility_id, offices, now);
    rapidjson::StringBuffer sb;
    Writer w(sb);
    w.StartObject();
    w.Key("count");
    w.Uint64(offices.size());
    put(w, "updated_at", now);
    w.EndObject();
    return json(200, finish(sb));
  }

  adapters::http::Response callback(const Member& member, const std::string& method,
                                    const std::string& body) {
    adapters::http::Response ok;
    ok.status = 204;
    if (method == "DELETE") {
      store->set_callback(member.cn, "");
      return ok;
    }
    rapidjson::Document doc;
    doc.Parse(body.data(), body.size());
    if (doc.HasParseError() || !doc.IsObject() || !doc.HasMember("url") || !doc["url"].IsString()) {
      return error(400, "INVALID_REQUEST", "url missing", "url");
    }
    const std::string url = doc["url"].GetString();
    if (!parse_url(url)) {
      return error(400, "INVALID_REQUEST", "url must be https on a loopback host with a port",
                   "url");
    }
    store->set_callback(member.cn, url);
    return ok;
  }

  struct Url {
    std::string host;
    std::uint16_t port = 0;
    std::string path;
  };
  static std::optional<Url> parse_url(const std::string& url) {
    const std::string scheme = "https://";
    if (url.rfind(scheme, 0) != 0) return std::nullopt;
    const std::string rest = url.substr(scheme.size());
    const auto colon = rest.find(':');
    const auto slash = rest.find('/');
    if (colon == std::string::npos || slash == std::string::npos || colon > slash) {
      return std::nullopt;
    }
    Url u;
    u.host = rest.substr(0, colon);
    if (u.host != "127.0.0.1" && u.host != "localhost") return std::nullopt;
    auto port = to_int(rest.substr(colon + 1, slash - colon - 1), 1, 65535);
    if (!port) return std::nullopt;
    u.port = static_cast<std::uint16_t>(*port);
    u.path = rest.substr(slash);
    return u;
  }

  // A push notice to the member's callback, on the I/O thread; its answer only counts.
  void notify(const std::string& member_cn, std::int64_t sequence) {
    auto m = store->member(member_cn);
    if (!m || m->callback_url.empty()) return;
    auto url = parse_url(m->callback_url);
    if (!url) return;
    asio::post(io, [this, u = *url, sequence] {
      const std::string key = u.host + ":" + std::to_string(u.port);
      auto& client = push_clients[key];
      if (!client) {
        adapters::http::ClientOptions o;
        o.host = u.host;
        o.port = u.port;
        o.tls = options.push_tls;
        o.timeout = std::chrono::milliseconds(5000);
        o.max_connections = 1;
        client = std::make_unique<adapters::http::HttpsClient>(io.get_executor(), std::move(o));
      }
      adapters::http::Request req;
      req.method = "POST";
      req.target = u.path;
      req.headers = {{"content-type", "application/json"}};
      req.body = "{\"event\":\"mailbox\",\"sequence\":" + std::to_string(sequence) + "}";
      client->request(std::move(req),
                      [this](boost::system::error_code ec, adapters::http::Response r) {
                        if (!ec && r.status >= 200 && r.status < 300) ++notices_delivered;
                      });
    });
  }

  // --- admin (§12)
  adapters::http::Response admin(const adapters::http::Request& req, const std::string& path) {
    if (path == "/admin/v1/faults") {
      if (req.method == "POST") {
        rapidjson::Document doc;
        doc.Parse(req.body.data(), req.body.size());
        if (doc.HasParseError() || !doc.IsObject()) {
          return error(400, "INVALID_REQUEST", "body is not a JSON object");
        }
        auto num = [&doc](const char* k, int& out) {
          if (doc.HasMember(k) && doc[k].IsInt()) out = doc[k].GetInt();
        };
        num("fail_status", faults.fail_status);
        num("fail_count", faults.fail_count);
        num("retry_after", faults.retry_after);
        num("malformed_responses", faults.malformed_responses);
        num("duplicate_listings", faults.duplicate_listings);
        if (doc.HasMember("only") && doc["only"].IsString()) faults.only = doc["only"].GetString();
        if (doc.HasMember("poison_next") && doc["poison_next"].IsString()) {
          const std::string kind = doc["poison_next"].GetString();
          if (!kind.empty() && !poison_kind_known(kind)) {
            return error(400, "INVALID_REQUEST",
                         "poison_next: bad_base64, base64_newline, missing_field, deep_json or "
                         "too_many_documents",
                         "poison_next");
          }
          faults.poison_next = kind;
        }
        if (doc.HasMember("maintenance") && doc["maintenance"].IsBool()) {
          faults.maintenance = doc["maintenance"].GetBool();
        }
        if (doc.HasMember("drop_responses") && doc["drop_responses"].IsInt()) {
          // Armed by the next network request, so that this answer itself is not the one cut.
          faults.pending_drops = doc["drop_responses"].GetInt();
        }
        if (doc.HasMember("delay_ms") && doc["delay_ms"].IsInt()) {
          // Like drops: armed by the next network request, so this answer is not slowed.
          faults.pending_delay_ms = doc["delay_ms"].GetInt();
          if (faults.pending_delay_ms == 0) server->faults().delay_ms = 0;
        }
      } else if (req.method != "GET") {
        return error(405, "METHOD_NOT_ALLOWED", "GET or POST");
      }
      rapidjson::StringBuffer sb;
      Writer w(sb);
      w.StartObject();
      w.Key("fail_status");
      w.Int(faults.fail_status);
      w.Key("fail_count");
      w.Int(faults.fail_count);
      w.Key("retry_after");
      w.Int(faults.retry_after);
      put(w, "only", faults.only);
      w.Key("maintenance");
      w.Bool(faults.maintenance);
      w.Key("malformed_responses");
      w.Int(faults.malformed_responses);
      w.Key("duplicate_listings");
      w.Int(faults.duplicate_listings);
      w.Key("drop_responses");
      w.Int(server->faults().drop_responses.load() + faults.pending_drops);
      w.Key("delay_ms");
      w.Int(std::max(server->faults().delay_ms.load(), faults.pending_delay_ms));
      w.EndObject();
      return json(200, finish(sb));
    }
    if (path == "/admin/v1/directory") {
      // The seed directory's shape, applied as at start (a registry change while running: an
      // office joins a facility, a member is added).
      if (req.method != "POST") return error(405, "METHOD_NOT_ALLOWED", "POST only");
      try {
        seed(req.body);
      } catch (const std::runtime_error& e) {
        return error(400, "INVALID_REQUEST", e.what());
      }
      return json(200, "{\"applied\":true}");
    }
    if (path == "/admin/v1/deliveries") {
      if (req.method != "GET") return error(405, "METHOD_NOT_ALLOWED", "GET only");
      auto q = query_of(req.target);
      std::optional<std::string> key;
      if (q.count("message_id")) key = q["message_id"];
      rapidjson::StringBuffer sb;
      Writer w(sb);
      w.StartObject();
      w.Key("deliveries");
      w.StartArray();
      for (const auto& m : store->deliveries(key)) {
        w.StartObject();
        put(w, "message_id", m.message_id);
        put(w, "sender", m.sender);
        put(w, "id", m.id);
        put(w, "recipient", m.recipient);
        w.Key("sequence");
        w.Int64(m.sequence);
        w.Key("attempts");
        w.Int64(m.attempts);
        put(w, "accepted_at", m.received_at);
        put(w, "state", m.state);
        w.EndObject();
      }
      w.EndArray();
      w.EndObject();
      return json(200, finish(sb));
    }
    if (path == "/admin/v1/notices") {
      if (req.method != "GET") return error(405, "METHOD_NOT_ALLOWED", "GET only");
      auto q = query_of(req.target);
      std::optional<std::string> office;
      if (q.count("office_no")) office = q["office_no"];
      rapidjson::StringBuffer sb;
      Writer w(sb);
      w.StartObject();
      w.Key("notices");
      w.StartArray();
      for (const auto& n : store->notices(office)) {
        w.StartObject();
        put(w, "id", n.id);
        put(w, "notice_id", n.notice_id);
        put(w, "sender", n.sender);
        put(w, "office_no", n.office_no);
        put(w, "service_type", n.service_type);
        put(w, "text", n.text);
        put(w, "accepted_at", n.accepted_at);
        w.Key("attempts");
        w.Int64(n.attempts);
        w.EndObject();
      }
      w.EndArray();
      w.EndObject();
      return json(200, finish(sb));
    }
    return error(404, "NOT_FOUND", "no such admin resource");
  }
};

RegionalStandin::RegionalStandin(StandinOptions options)
    : impl_(std::make_unique<Impl>(std::move(options), notices_delivered_)) {
  adapters::http::ServerOptions server_options;
  // Bodies beyond our own limit are answered 413 by us; keep the transport's limit above it.
  server_options.max_body_bytes = impl_->options.max_message_bytes + 1024 * 1024;
  auto* impl = impl_.get();
  impl_->server = std::make_unique<adapters::http::HttpsServer>(
      impl_->io, impl_->options.tls,
      [impl](adapters::http::Request req, std::function<void(adapters::http::Response)> respond) {
        respond(impl->handle(req));
      },
      server_options);
}

RegionalStandin::~RegionalStandin() {
  stop();
}

std::uint16_t RegionalStandin::start() {
  port_ = impl_->server->listen(impl_->options.address, impl_->options.port);
  impl_->work.emplace(impl_->io.get_executor());
  impl_->thread = std::thread([impl = impl_.get()] { impl->io.run(); });
  return port_;
}

void RegionalStandin::stop() {
  if (!impl_->thread.joinable()) return;
  impl_->server->stop();
  asio::post(impl_->io, [impl = impl_.get()] { impl->push_clients.clear(); });
  impl_->work.reset();
  // Let the closes run, then end the loop.
  asio::post(impl_->io, [impl = impl_.get()] { impl->io.stop(); });
  impl_->thread.join();
}

adapters::http::ServerFaults& RegionalStandin::server_faults() {
  return impl_->server->faults();
}

}  // namespace kakehashi::adapters::regional::standin
