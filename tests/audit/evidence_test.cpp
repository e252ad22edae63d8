// The evidence bundle of one office and one month (issue 18): made from a real store by
// `kakehashi audit evidence`, checked by `kakehashi audit verify-evidence` with the file alone, and
// every kind of tampering (a record, a receipt, a signature, a checkpoint, a file, a unit, the
// report: changed, removed or added) is named. Runs on SQLite, and on PostgreSQL with
// KAKEHASHI_TEST_BACKEND. Leaves the Japanese report in KAKEHASHI_ARTIFACTS for the browser test.

#define BOOST_TEST_MODULE kakehashi_evidence
#include <boost/test/unit_test.hpp>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <sstream>

#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include "gateway/audit/checkpoint.hpp"
#include "gateway/audit/delivery_status.hpp"
#include "gateway/audit/evidence_bundle.hpp"
#include "gateway/audit/evidence_verifier.hpp"
#include "gateway/cli/command.hpp"
#include "gateway/engine/unit_codec.hpp"
#include "gateway/store/store.hpp"
#include "mapping/cms/signer.hpp"
#include "mapping/cms/translation_receipt.hpp"
#include "mapping/common/base64.hpp"
#include "tests/support/db.hpp"

using namespace kakehashi::gateway;
using namespace kakehashi::gateway::store;
namespace cms = kakehashi::mapping::cms;
namespace fs = std::filesystem;

namespace {

constexpr const char* kOffice = "3271500013";
constexpr const char* kPayloadKey = "0123456789abcdef0123456789abcdef";
constexpr std::int64_t kJune = 1'750'000'000'000;  // 2025-06-16 00:06 JST
constexpr std::int64_t kJuly = 1'752'000'000'000;  // 2025-07-09 JST

cms::Credential make_credential(const std::string& cn) {
  cms::Credential c;
  c.private_key.reset(EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256"));
  c.certificate.reset(X509_new());
  X509* x = c.certificate.get();
  X509_set_version(x, 2);
  ASN1_INTEGER_set(X509_get_serialNumber(x), 7);
  X509_gmtime_adj(X509_getm_notBefore(x), -3600);
  X509_gmtime_adj(X509_getm_notAfter(x), 3600L * 24 * 365);
  X509_NAME* name = X509_get_subject_name(x);
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8,
                             reinterpret_cast<const unsigned char*>(cn.c_str()), -1, -1, 0);
  X509_set_issuer_name(x, name);
  X509_set_pubkey(x, c.private_key.get());
  X509_sign(x, c.private_key.get(), EVP_sha256());
  return c;
}

const cms::Credential& gateway() {
  static const cms::Credential c = make_credential("kakehashi evidence test gateway");
  return c;
}
const cms::Credential& sender() {
  static const cms::Credential c = make_credential("Office 3271500013");
  return c;
}

std::string str(const cms::Bytes& b) {
  return {b.begin(), b.end()};
}
cms::ByteView view(const std::string& s) {
  return {reinterpret_cast<const std::uint8_t*>(s.data()), s.size()};
}

// A store with the traffic of office 3271500013 in June (sent, delivered and received; sent and
// read; refused at intake; parked), another office's unit in between, and a July unit.
struct Fixture {
  Fixture() {
    fs::create_directories(dir / "trust");
    fs::create_directories(dir / "outbox");
    FILE* f = std::fopen((dir / "gateway.cert.pem").c_str(), "w");
    PEM_write_X509(f, gateway().certificate.get());
    std::fclose(f);
    f = std::fopen((dir / "gateway.key.pem").c_str(), "w");
    PEM_write_PrivateKey(f, gateway().private_key.get(), nullptr, nullptr, 0, nullptr, nullptr);
    std::fclose(f);
    ::chmod((dir / "gateway.key.pem").c_str(), 0600);
    std::ofstream(dir / "payload.key") << kPayloadKey;
    ::chmod((dir / "payload.key").c_str(), 0600);
    const std::string store = db.config_json();
    std::ofstream(dir / "gw.json") << R"({
  "instance": "evidence-test",
  "store": )" << store << R"(,
  "payload_key_file": "payload.key",
  "receipt_signer": {"certificate_file": "gateway.cert.pem", "key_file": "gateway.key.pem"},
  "audit": {"checkpoint_every_records": 4},
  "networks": {
    "folder": {"type": "folder", "trust_domain": "trust",
               "settings": {"root": "outbox", "offices": [{"office_no": "3271500013",
                 "service_type": "43", "certificate_file": "gateway.cert.pem",
                 "key_file": "gateway.key.pem"}]}}
  }
})";
    populate();
  }

  std::unique_ptr<Store> open() const {
    AuditOptions o;
    o.actor = "gateway:test";
    o.checkpoint_every_records = 4;
    o.sign_checkpoint = [](const audit::Checkpoint& c) -> std::optional<std::string> {
      auto s = audit::sign_checkpoint(c, gateway());
      if (!s) return std::nullopt;
      return s.value();
    };
    return db.open(std::move(o));
  }

  NewTransfer unit(const std::string& id, const std::string& from, const std::string& to,
                   const std::string& direction) {
    const std::string sequence = "202506" + id;
    InboundUnit in;
    in.source_id = id;
    in.sender = {from, "43"};
    in.recipient = {to, "11"};
    for (const std::string& name :
         {"UPPLAN_202506_" + from + "_43_" + to + "_11_" + sequence + ".CSV",
          "hokensho_" + from + "_43_" + to + "_11_" + sequence + ".pdf"}) {
      SignedFile f;
      f.name = name;
      // A user's name and insured number inside the content: never in the bundle.
      f.content = "1,131003,H123456789,山田太郎," + id + "\r\n";
      f.cms = str(cms::sign(view(f.content), sender(), {.detached = true}).value());
      in.files.push_back(f);
    }
    NewTransfer t;
    t.source_adapter = direction.substr(0, direction.find('-'));
    t.source_id = id;
    t.dest_adapter = direction.substr(direction.find('>') + 1);
    t.direction = direction;
    t.sender_office = from;
    t.sender_type = "43";
    t.recipient_office = to;
    t.recipient_type = "11";
    t.sequence = sequence;
    t.unit_kind = "K2";
    t.subject_key = "K2:202506:" + id;
    t.idempotency_key = "kh-" + id;
    t.payload = engine::PayloadCipher(kPayloadKey).seal(engine::serialize_unit(in));
    t.event_detail = "kind K2, 2 files; signer CN=Office " + from +
                     " serial 07; checks envelope ok; route " + t.dest_adapter;
    files[id] = in.files;
    return t;
  }

  std::string receipt(std::int64_t id, const std::string& unit_id) {
    cms::TranslationReceipt r;
    r.transfer_id = std::to_string(id);
    r.created = static_cast<std::time_t>(kJune / 1000);
    r.inbound_sha256 = std::string(64, 'a');
    r.outbound_sha256 = std::string(64, 'b');
    for (const auto& f : files[unit_id]) r.files.push_back({f.name, audit::sha256_hex(f.content)});
    return kakehashi::mapping::common::base64_encode(str(cms::sign_receipt(r, gateway()).value()));
  }

  void deliver(Store& s, std::int64_t id, const std::string& unit_id, const std::string& remote,
               std::int64_t at) {
    auto claimed = s.claim_transfers("w", at, 60000, 10, {});
    BOOST_TEST_REQUIRE(!claimed.empty());
    BOOST_TEST_REQUIRE(
        s.mark_delivered(id, "w", remote, "to national as " + remote, at, receipt(id, unit_id)));
  }

  void populate() {
    auto s = open();
    std::int64_t now = kJune;
    // Sent, delivered, downloaded by the recipient (受領).
    const auto a = s->accept(unit("100001", kOffice, "1371100452", "regional->national"),
                             std::nullopt, now += 1000);
    deliver(*s, a.id, "100001", "ncp-a", now += 1000);
    // Another office's unit, in the middle of the chain.
    s->accept(unit("100002", "1370100016", "1371100452", "regional->national"), std::nullopt,
              now += 1000);
    s->record_receipt("national", "ncp-a", "delivered", "", std::nullopt, now += 1000);
    // Received from the national side and read (既読).
    const auto c = s->accept(unit("100003", "1371100452", kOffice, "national->regional"),
                             std::nullopt, now += 1000);
    auto claimed = s->claim_transfers("w", now += 1000, 60000, 10, {});
    for (const auto& t : claimed) {
      if (t.id == c.id)
        s->mark_delivered(c.id, "w", "rhn-c", "to regional as rhn-c", now, receipt(c.id, "100003"));
      else
        s->release(t.id, "w", now, "test", now);
    }
    s->record_receipt("regional", "rhn-c", "read", "", std::nullopt, now += 1000);
    // Refused at intake (差し戻し with the reason).
    auto refused = unit("100004", kOffice, "1370100016", "regional->national");
    {  // its first file was changed after signing: the signature no longer matches
      auto in =
          *engine::deserialize_unit(*engine::PayloadCipher(kPayloadKey).open(refused.payload));
      in.files[0].content += "tampered";
      refused.payload = engine::PayloadCipher(kPayloadKey).seal(engine::serialize_unit(in));
    }
    refused.dest_adapter = "";
    refused.state = kRejected;
    refused.reason = "E_SIGNATURE_INVALID file UPPLAN: bad signature";
    refused.event_detail += "; refused: E_SIGNATURE_INVALID (UPPLAN): bad signature";
    s->accept(refused, std::nullopt, now += 1000);
    // Parked (保留).
    const auto f = s->accept(unit("100005", kOffice, "1370200014", "regional->national"),
                             std::nullopt, now += 1000);
    s->park(f.id, "keeps failing: 503", "ops:alice", now += 1000);
    // July: not in June's bundle.
    s->accept(unit("100006", kOffice, "1371100452", "regional->national"), std::nullopt, kJuly);
    // Office names from the registry.
    auto registry = db.connect();
    registry->execute_script(
        "CREATE TABLE IF NOT EXISTS kh_registry_entry (network TEXT NOT NULL, office_no TEXT NOT "
        "NULL, service_type TEXT NOT NULL, name TEXT NOT NULL, kana TEXT NOT NULL, facility_id "
        "TEXT NOT NULL, prefecture TEXT NOT NULL, status TEXT NOT NULL, updated_at TEXT NOT NULL, "
        "published_by_gateway INTEGER NOT NULL, PRIMARY KEY (network, office_no, service_type))");
    for (const auto& [no, type, name] : {std::tuple{kOffice, "43", "まつえ居宅介護支援センター"},
                                         {"1371100452", "11", "東京ヘルパーステーション"},
                                         {"1370100016", "11", "訪問介護さくら"}}) {
      registry->query(
          "INSERT INTO kh_registry_entry VALUES ('regional', ?, ?, ?, '', '', '32', "
          "'ACTIVE', '', 0)",
          {std::string(no), std::string(type), std::string(name)});
    }
  }

  // The store and the temp dir (the store file, keys, gw.json, the bundle written).
  kakehashi::testing::Db db{"evidence"};
  const fs::path& dir = db.dir();
  const std::string& dsn = db.dsn();
  std::map<std::string, std::vector<SignedFile>> files;
};

struct Cli {
  int code = 0;
  std::string out, err;
};

Cli run(std::vector<std::string> args) {
  args.insert(args.begin(), "kakehashi");
  std::ostringstream out, err;
  Cli r;
  r.code = kakehashi::gateway::cli::run_cli(args, {out, err});
  r.out = out.str();
  r.err = err.str();
  return r;
}

std::string read(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

// The bundle made by the command line for office 3271500013, June 2025.
std::string make_bundle(const Fixture& fx) {
  const auto out = (fx.dir / "evidence.json").string();
  const auto html = (fx.dir / "report.html").string();
  const auto r = run({"audit", "evidence", "--office", kOffice, "--month", "202506", "--config",
                      (fx.dir / "gw.json").string(), "--out", out, "--html", html});
  BOOST_TEST_REQUIRE(r.code == 0, r.err);
  return read(out);
}

// Edits the bundle's body (and optionally the bundle) as JSON and returns the file's bytes.
std::string tamper(const std::string& file,
                   const std::function<void(rapidjson::Document& body)>& edit_body,
                   const std::function<void(rapidjson::Document& bundle)>& edit_bundle = {}) {
  rapidjson::Document bundle;
  bundle.Parse(file.c_str());
  rapidjson::Document body;
  body.Parse(bundle["body"].GetString());
  if (edit_body) edit_body(body);
  rapidjson::StringBuffer buf;
  rapidjson::Writer<rapidjson::StringBuffer> w(buf);
  body.Accept(w);
  bundle["body"].SetString(buf.GetString(), buf.GetSize(), bundle.GetAllocator());
  if (edit_bundle) edit_bundle(bundle);
  rapidjson::StringBuffer out;
  rapidjson::Writer<rapidjson::StringBuffer> w2(out);
  bundle.Accept(w2);
  return out.GetString();
}

bool names(const audit::EvidenceCheck& c, const std::string& text) {
  for (const auto& p : c.problems)
    if (p.find(text) != std::string::npos) return true;
  return false;
}

std::string all(const audit::EvidenceCheck& c) {
  std::string s;
  for (const auto& p : c.problems) s += p + "\n";
  return s;
}

rapidjson::Value& unit_with(rapidjson::Document& body, const std::string& sequence) {
  for (auto& u : body["units"].GetArray())
    if (std::string(u["sequence"].GetString()) == sequence) return u;
  BOOST_FAIL("no unit " + sequence);
  return body["units"][0];
}

rapidjson::Value& record_with(rapidjson::Document& body, std::int64_t seq) {
  for (auto& r : body["records"].GetArray())
    if (r["seq"].GetInt64() == seq) return r;
  BOOST_FAIL("no record " + std::to_string(seq));
  return body["records"][0];
}

// Flips one byte of a base64 DER value near its end (inside the signature value).
void flip(rapidjson::Value& v, rapidjson::Document::AllocatorType& alloc) {
  std::string der = kakehashi::mapping::common::base64_decode(v.GetString()).value_or("");
  der[der.size() - 5] ^= 0x01;
  const auto b64 = kakehashi::mapping::common::base64_encode(der);
  v.SetString(b64.c_str(), static_cast<rapidjson::SizeType>(b64.size()), alloc);
}

}  // namespace

BOOST_AUTO_TEST_CASE(the_bundle_holds_the_month_and_verifies_alone) {
  Fixture fx;
  const auto file = make_bundle(fx);
  // Alone: the store is gone when it is checked.
  fs::remove(fx.dir / "store.db");
  const auto r = run({"audit", "verify-evidence", "--json", (fx.dir / "evidence.json").string()});
  BOOST_TEST(r.code == 0, r.out);
  rapidjson::Document d;
  d.Parse(r.out.c_str());
  BOOST_TEST_REQUIRE(d.IsObject());
  BOOST_TEST(d["intact"].GetBool());
  BOOST_TEST(d["units"].GetUint64() == 4u);  // June, this office: not the other office, not July
  BOOST_TEST(d["signatures"].GetUint64() == 7u);  // the refused unit's bad one is a note
  BOOST_TEST_REQUIRE(d["notes"].Size() == 1u);
  BOOST_TEST(std::string(d["notes"][0].GetString()).find("refused at intake") != std::string::npos);
  BOOST_TEST(d["translation_receipts"].GetUint64() == 2u);
  BOOST_TEST(d["checkpoints"].GetUint64() >= 1u);

  std::string error;
  const auto bundle = audit::parse_bundle(file, error);
  BOOST_TEST_REQUIRE(bundle.has_value(), error);
  const auto body = audit::parse_body(bundle->body, error);
  BOOST_TEST_REQUIRE(body.has_value(), error);
  BOOST_TEST(body->office_name == "まつえ居宅介護支援センター");
  std::map<std::string, const audit::EvidenceUnit*> by_seq;
  for (const auto& u : body->units) by_seq[u.sequence.substr(6)] = &u;
  BOOST_TEST_REQUIRE(by_seq.size() == 4u);
  const auto& a = *by_seq["100001"];
  BOOST_TEST(a.role == "sent");
  BOOST_TEST(a.recipient.name == "東京ヘルパーステーション");
  BOOST_TEST(a.status_ja == "受領");
  BOOST_TEST(a.accepted_at > 0);
  BOOST_TEST(a.delivered_at > a.accepted_at);
  BOOST_TEST(a.receipt_at > a.delivered_at);
  BOOST_TEST(a.files.size() == 2u);
  BOOST_TEST(a.files[0].signer.find("Office 3271500013") != std::string::npos);
  BOOST_TEST(a.files[0].sha256 == audit::sha256_hex(fx.files.at("100001")[0].content));
  const auto& c = *by_seq["100003"];
  BOOST_TEST(c.role == "received");
  BOOST_TEST(c.sender.name == "東京ヘルパーステーション");
  BOOST_TEST(c.status_ja == "既読");
  const auto& refused = *by_seq["100004"];
  BOOST_TEST(refused.status_ja == "差し戻し");
  BOOST_TEST(refused.reason.find("E_SIGNATURE_INVALID") != std::string::npos);
  BOOST_TEST(by_seq["100005"]->status_ja == "保留");
  BOOST_TEST(by_seq["100005"]->reason.find("keeps failing") != std::string::npos);
  // No user names, no insured numbers in clear, no content: anywhere in the file.
  BOOST_TEST(file.find("山田") == std::string::npos);
  BOOST_TEST(bundle->body.find("H123456789") == std::string::npos);
  for (const auto& u : body->units)
    for (const auto& f : u.files)
      BOOST_TEST(
          kakehashi::mapping::common::base64_decode(f.signature).value_or("").find("H123456789") ==
          std::string::npos);
  // The Japanese report, kept for the browser test (tests/audit/render_report.sh).
  const auto& html = bundle->report_html;
  for (const char* word : {"送信日時", "配信日時", "受領/既読", "差し戻し理由",
                           "まつえ居宅介護支援センター", "東京ヘルパーステーション", "2025年06月"})
    BOOST_TEST(html.find(word) != std::string::npos, word);
  BOOST_TEST(html.find("size: A4") != std::string::npos);
  BOOST_TEST(read(fx.dir / "report.html") == html);
  if (const char* artifacts = std::getenv("KAKEHASHI_ARTIFACTS")) {
    fs::create_directories(artifacts);
    std::ofstream(fs::path(artifacts) / "evidence-report.html", std::ios::binary) << html;
    std::ofstream(fs::path(artifacts) / "evidence.json", std::ios::binary) << file;
  }
}

BOOST_AUTO_TEST_CASE(a_month_without_traffic_and_bad_requests) {
  Fixture fx;
  const auto cfg = (fx.dir / "gw.json").string();
  const auto out = (fx.dir / "empty.json").string();
  auto r = run({"audit", "evidence", "--office", kOffice, "--month", "202501", "--config", cfg,
                "--out", out});
  BOOST_TEST(r.code == 0, r.err);
  BOOST_TEST(audit::verify_evidence(read(out)).ok(), all(audit::verify_evidence(read(out))));
  r = run({"audit", "evidence", "--office", "32715", "--month", "202506", "--config", cfg});
  BOOST_TEST(r.code == 2);
  BOOST_TEST(r.err.find("office") != std::string::npos);
  r = run({"audit", "evidence", "--office", kOffice, "--month", "2025-06", "--config", cfg});
  BOOST_TEST(r.code == 2);
  BOOST_TEST(r.err.find("month") != std::string::npos);
  r = run({"audit", "verify-evidence", (fx.dir / "nope.json").string()});
  BOOST_TEST(r.code == 2);
  std::ofstream(fx.dir / "junk.json") << "{\"format\": \"kakehashi-evidence/1\"}";
  r = run({"audit", "verify-evidence", (fx.dir / "junk.json").string()});
  BOOST_TEST(r.code == 1);
  BOOST_TEST(r.out.find("$.body: missing") != std::string::npos, r.out);
}

BOOST_AUTO_TEST_CASE(tampered_records_are_named) {
  Fixture fx;
  const auto file = make_bundle(fx);
  BOOST_TEST_REQUIRE(audit::verify_evidence(file).ok(), all(audit::verify_evidence(file)));
  std::int64_t receipt_seq = 0;
  std::int64_t middle_seq = 0;
  {
    rapidjson::Document b;
    b.Parse(file.c_str());
    rapidjson::Document body;
    body.Parse(b["body"].GetString());
    for (const auto& r : body["records"].GetArray()) {
      if (std::string(r["kind"].GetString()) == "receipt-delivered")
        receipt_seq = r["seq"].GetInt64();
    }
    middle_seq = body["records"][1]["seq"].GetInt64();
  }
  BOOST_TEST_REQUIRE(receipt_seq > 0);
  // Changed: one byte of a record's detail.
  auto c = audit::verify_evidence(tamper(file, [&](rapidjson::Document& body) {
    auto& r = record_with(body, middle_seq);
    const std::string d = std::string(r["detail"].GetString()) + "x";
    r["detail"].SetString(d.c_str(), static_cast<rapidjson::SizeType>(d.size()),
                          body.GetAllocator());
  }));
  BOOST_TEST(names(c, "record " + std::to_string(middle_seq)), all(c));
  BOOST_TEST(names(c, "changed: no longer matches its hash"), all(c));
  BOOST_TEST(names(c, "bundle signature"), all(c));
  // Removed: a record in the middle of a run.
  c = audit::verify_evidence(tamper(file, [&](rapidjson::Document& body) {
    auto& records = body["records"];
    for (auto it = records.Begin(); it != records.End(); ++it) {
      if ((*it)["seq"].GetInt64() == middle_seq) {
        records.Erase(it);
        break;
      }
    }
  }));
  BOOST_TEST(names(c, "end at no checkpoint"), all(c));
  // Added: a second record at an existing position.
  c = audit::verify_evidence(tamper(file, [&](rapidjson::Document& body) {
    rapidjson::Value copy(record_with(body, middle_seq), body.GetAllocator());
    body["records"].PushBack(copy, body.GetAllocator());
  }));
  BOOST_TEST(names(c, "a second record at position " + std::to_string(middle_seq)), all(c));
}

BOOST_AUTO_TEST_CASE(tampered_receipts_are_named) {
  Fixture fx;
  const auto file = make_bundle(fx);
  std::int64_t receipt_seq = 0;
  {
    rapidjson::Document b;
    b.Parse(file.c_str());
    rapidjson::Document body;
    body.Parse(b["body"].GetString());
    for (const auto& r : body["records"].GetArray())
      if (std::string(r["kind"].GetString()) == "receipt-delivered")
        receipt_seq = r["seq"].GetInt64();
  }
  BOOST_TEST_REQUIRE(receipt_seq > 0);
  // Changed: the receipt time a unit shows.
  auto c = audit::verify_evidence(tamper(file, [&](rapidjson::Document& body) {
    auto& u = unit_with(body, "202506100001");
    u["receipt_at"].SetInt64(u["receipt_at"].GetInt64() - 60000);
  }));
  BOOST_TEST(names(c, "受領/既読 (receipt_at) says"), all(c));
  BOOST_TEST(names(c, "report_html"), all(c));  // the report shown no longer matches either
  // Removed: the receipt record from the unit (and the status set back to 配信).
  c = audit::verify_evidence(tamper(file, [&](rapidjson::Document& body) {
    auto& u = unit_with(body, "202506100001");
    auto& list = u["records"];
    for (auto it = list.Begin(); it != list.End(); ++it) {
      if (it->GetInt64() == receipt_seq) {
        list.Erase(it);
        break;
      }
    }
    u["status"].SetString("delivered");
    u["status_ja"].SetString("配信");
    u["receipt_at"].SetInt64(0);
  }));
  BOOST_TEST(names(c, "record " + std::to_string(receipt_seq) +
                          " (receipt-delivered) is about this unit but the unit does not list it"),
             all(c));
  // Added: a forged read receipt, correctly chained after the last record, listed by the unit.
  c = audit::verify_evidence(tamper(file, [&](rapidjson::Document& body) {
    auto& records = body["records"];
    const auto& last = records[records.Size() - 1];
    audit::AuditRecord forged;
    forged.seq = last["seq"].GetInt64() + 1;
    forged.transfer_id = unit_with(body, "202506100001")["transfer_id"].GetInt64();
    forged.at = last["at"].GetInt64() + 1;
    forged.kind = "receipt-read";
    forged.actor = "gateway:test";
    forged.prev_hash = last["hash"].GetString();
    forged.hash = audit::record_hash(*forged.seq, forged.prev_hash, forged);
    auto& a = body.GetAllocator();
    rapidjson::Value v(rapidjson::kObjectType);
    v.AddMember("seq", *forged.seq, a);
    v.AddMember("transfer_id", forged.transfer_id, a);
    v.AddMember("at", forged.at, a);
    v.AddMember("kind", "receipt-read", a);
    v.AddMember("actor", "gateway:test", a);
    v.AddMember("detail", "", a);
    v.AddMember("prev_hash", rapidjson::Value(forged.prev_hash.c_str(), a), a);
    v.AddMember("hash", rapidjson::Value(forged.hash.c_str(), a), a);
    records.PushBack(v, a);
    auto& u = unit_with(body, "202506100001");
    u["records"].PushBack(*forged.seq, a);
    u["status"].SetString("read");
    u["status_ja"].SetString("既読");
    u["receipt_at"].SetInt64(forged.at);
  }));
  BOOST_TEST(names(c, "end at no checkpoint"), all(c));
  BOOST_TEST(names(c, "bundle signature"), all(c));
  // Changed: one byte of a translation receipt (a gateway-signed record of the file digests).
  c = audit::verify_evidence(tamper(file, [&](rapidjson::Document& body) {
    for (auto& r : body["records"].GetArray())
      if (std::string(r["kind"].GetString()) == "translation-receipt") {
        flip(r["detail"], body.GetAllocator());
        break;
      }
  }));
  BOOST_TEST(names(c, "translation receipt"), all(c));
  BOOST_TEST(names(c, "(translation-receipt): changed"), all(c));
}

BOOST_AUTO_TEST_CASE(tampered_signatures_and_files_are_named) {
  Fixture fx;
  const auto file = make_bundle(fx);
  const std::string name = fx.files.at("100001")[0].name;
  // Changed: one byte of a sender signature.
  auto c = audit::verify_evidence(tamper(file, [&](rapidjson::Document& body) {
    flip(unit_with(body, "202506100001")["files"][0]["signature"], body.GetAllocator());
  }));
  BOOST_TEST(names(c, "file " + name + ": the signature"), all(c));
  // Changed: a file's digest.
  c = audit::verify_evidence(tamper(file, [&](rapidjson::Document& body) {
    unit_with(body, "202506100001")["files"][0]["sha256"].SetString(std::string(64, '0').c_str(),
                                                                    64, body.GetAllocator());
  }));
  BOOST_TEST(names(c, "digest differs from the translation receipt's"), all(c));
  BOOST_TEST(names(c, "not the listed one"), all(c));
  // Removed: a file (its signature with it).
  c = audit::verify_evidence(tamper(file, [&](rapidjson::Document& body) {
    auto& files = unit_with(body, "202506100001")["files"];
    files.Erase(files.Begin());
  }));
  BOOST_TEST(names(c, "intake record says 2 files, the bundle lists 1"), all(c));
  BOOST_TEST(names(c, "file " + name + " is in the translation receipt but not in the bundle"),
             all(c));
  // Added: a file no receipt names.
  c = audit::verify_evidence(tamper(file, [&](rapidjson::Document& body) {
    auto& files = unit_with(body, "202506100001")["files"];
    rapidjson::Value copy(files[0], body.GetAllocator());
    copy["name"].SetString("extra.pdf");
    files.PushBack(copy, body.GetAllocator());
  }));
  BOOST_TEST(names(c, "file extra.pdf: not in the unit's translation receipt (added)"), all(c));
  // The gateway's signature over the body: changed, or a whole unit removed under it.
  c = audit::verify_evidence(tamper(file, {}, [](rapidjson::Document& bundle) {
    flip(bundle["signature"], bundle.GetAllocator());
  }));
  BOOST_TEST(names(c, "bundle signature"), all(c));
  c = audit::verify_evidence(
      tamper(file, [](rapidjson::Document& body) { body["units"].Erase(body["units"].Begin()); }));
  BOOST_TEST(names(c, "bundle signature"), all(c));
  // The report: changed.
  c = audit::verify_evidence(tamper(file, {}, [](rapidjson::Document& bundle) {
    std::string html = bundle["report_html"].GetString();
    html.replace(html.find("受領"), 6, "既読");
    bundle["report_html"].SetString(html.c_str(), static_cast<rapidjson::SizeType>(html.size()),
                                    bundle.GetAllocator());
  }));
  BOOST_TEST(names(c, "report_html"), all(c));
}

BOOST_AUTO_TEST_CASE(tampered_checkpoints_are_named) {
  Fixture fx;
  const auto file = make_bundle(fx);
  // Changed: one byte of a checkpoint's signature.
  auto c = audit::verify_evidence(tamper(file, [](rapidjson::Document& body) {
    flip(body["checkpoints"][0]["signature"], body.GetAllocator());
  }));
  BOOST_TEST(names(c, "checkpoint 1"), all(c));
  BOOST_TEST(names(c, "does not verify"), all(c));
  // Changed: the hash a checkpoint claims (the signed text no longer matches).
  c = audit::verify_evidence(tamper(file, [](rapidjson::Document& body) {
    body["checkpoints"][0]["hash"].SetString(std::string(64, 'f').c_str(), 64, body.GetAllocator());
  }));
  BOOST_TEST(names(c, "checkpoint 1"), all(c));
  // Removed: the first one (inside a run of records), and the last one (ending a run).
  c = audit::verify_evidence(tamper(file, [](rapidjson::Document& body) {
    body["checkpoints"].Erase(body["checkpoints"].Begin());
  }));
  BOOST_TEST(names(c, "removed"), all(c));
  BOOST_TEST(names(c, "checkpoint"), all(c));
  c = audit::verify_evidence(tamper(file, [](rapidjson::Document& body) {
    body["checkpoints"].Erase(body["checkpoints"].End() - 1);
  }));
  BOOST_TEST(names(c, "end at no checkpoint"), all(c));
  // Added: a second copy.
  c = audit::verify_evidence(tamper(file, [](rapidjson::Document& body) {
    rapidjson::Value copy(body["checkpoints"][0], body.GetAllocator());
    body["checkpoints"].PushBack(copy, body.GetAllocator());
  }));
  BOOST_TEST(names(c, "appears twice (added)"), all(c));
}

BOOST_AUTO_TEST_CASE(status_words_follow_the_records) {
  using audit::DeliveryStatus;
  BOOST_TEST(audit::status_ja(audit::status_of("accepted", "")) == "受付");
  BOOST_TEST(audit::status_ja(audit::status_of("delivered", "")) == "配信");
  BOOST_TEST(audit::status_ja(audit::status_of("delivered", "delivered")) == "受領");
  BOOST_TEST(audit::status_ja(audit::status_of("delivered", "read")) == "既読");
  BOOST_TEST(audit::status_ja(audit::status_of("delivered", "rejected")) == "差し戻し");
  BOOST_TEST(audit::status_ja(audit::status_of("rejected", "")) == "差し戻し");
  BOOST_TEST(audit::status_ja(audit::status_of("superseded", "")) == "差し戻し");
  BOOST_TEST(audit::status_ja(audit::status_of("parked", "")) == "保留");
  std::vector<audit::AuditRecord> records;
  const auto add = [&](const std::string& kind, std::int64_t at, const std::string& detail = "") {
    audit::AuditRecord r;
    r.kind = kind;
    r.at = at;
    r.detail = detail;
    records.push_back(r);
  };
  add("accepted", 1);
  BOOST_TEST(audit::status_ja(audit::history_of(records).status) == "受付");
  add("parked", 2, "ops: keeps failing");
  BOOST_TEST(audit::status_ja(audit::history_of(records).status) == "保留");
  add("redriven", 3);
  add("delivered", 4);
  auto h = audit::history_of(records);
  BOOST_TEST(audit::status_ja(h.status) == "配信");
  BOOST_TEST(h.delivered_at == 4);
  BOOST_TEST(h.reason.empty());
  add("receipt-read", 5);
  h = audit::history_of(records);
  BOOST_TEST(audit::status_ja(h.status) == "既読");
  BOOST_TEST(h.receipt_at == 5);
  add("receipt-rejected", 6, "wrong recipient");
  h = audit::history_of(records);
  BOOST_TEST(audit::status_ja(h.status) == "差し戻し");
  BOOST_TEST(h.reason == "wrong recipient");
  BOOST_TEST(h.rejected_at == 6);
}
