// The audit log on a real store: an untouched store verifies; every kind of tampering (changed,
// deleted, inserted, reordered, truncated, forged or deleted checkpoint, a rewritten chain) is
// caught by `kakehashi audit verify`; exports round-trip; no insured number in clear; the auditor
// role cannot change anything. Runs on SQLite, and on PostgreSQL with KAKEHASHI_TEST_BACKEND.

#define BOOST_TEST_MODULE kakehashi_audit
#include <boost/test/unit_test.hpp>

#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <sstream>
#include <thread>

#include <rapidjson/document.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/thread_pool.hpp>

#include "gateway/audit/checkpoint.hpp"
#include "gateway/audit/checkpoint_scheduler.hpp"
#include "gateway/audit/exporter.hpp"
#include "gateway/audit/insured.hpp"
#include "gateway/audit/verifier.hpp"
#include "gateway/cli/command.hpp"
#include "gateway/engine/admission.hpp"
#include "gateway/engine/router.hpp"
#include "gateway/store/store.hpp"
#include "tests/support/db.hpp"
#include "tests/support/run_until.hpp"
#include "tests/support/transfers.hpp"

using namespace kakehashi::gateway;
using namespace kakehashi::gateway::store;
namespace cms = kakehashi::mapping::cms;
namespace fs = std::filesystem;

namespace {

bool postgres() {
  return kakehashi::testing::postgres_backend();
}

constexpr const char* kInsured = "H123456789";
constexpr const char* kHmacKey = "audit-test-hmac-key-0123456789";

// A self-signed P-256 certificate made in memory: the gateway's, or an impostor's.
cms::Credential make_credential(const std::string& cn) {
  cms::Credential c;
  c.private_key.reset(EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256"));
  c.certificate.reset(X509_new());
  X509* x = c.certificate.get();
  X509_set_version(x, 2);
  ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
  X509_gmtime_adj(X509_getm_notBefore(x), -3600);
  X509_gmtime_adj(X509_getm_notAfter(x), 3600L * 24 * 365);
  X509_NAME* name = X509_get_subject_name(x);
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>(cn.c_str()), -1, -1, 0);
  X509_set_issuer_name(x, name);
  X509_set_pubkey(x, c.private_key.get());
  X509_sign(x, c.private_key.get(), EVP_sha256());
  return c;
}

const cms::Credential& gateway_credential() {
  static const cms::Credential c = make_credential("kakehashi test gateway");
  return c;
}

// A fresh database per test, a temp dir with the gateway certificate, key and HMAC key files.
struct Db : kakehashi::testing::Db {
  Db() : kakehashi::testing::Db("audit") {
    const auto& cred = gateway_credential();
    FILE* f = std::fopen((dir() / "gateway.cert.pem").c_str(), "w");
    PEM_write_X509(f, cred.certificate.get());
    std::fclose(f);
    f = std::fopen((dir() / "gateway.key.pem").c_str(), "w");
    PEM_write_PrivateKey(f, cred.private_key.get(), nullptr, nullptr, 0, nullptr, nullptr);
    std::fclose(f);
    ::chmod((dir() / "gateway.key.pem").c_str(), 0600);
    std::ofstream(dir() / "audit.key") << kHmacKey;
    ::chmod((dir() / "audit.key").c_str(), 0600);
  }
  std::unique_ptr<Store> open(std::int64_t every_records = 4, std::int64_t every_ms = 3600000,
                              bool chained = true) const {
    AuditOptions o;
    o.chained = chained;
    o.actor = "gateway:test";
    o.insured_key = kHmacKey;
    o.checkpoint_every_records = every_records;
    o.checkpoint_every_ms = every_ms;
    o.sign_checkpoint = [](const audit::Checkpoint& c) -> std::optional<std::string> {
      auto s = audit::sign_checkpoint(c, gateway_credential());
      if (!s) return std::nullopt;
      return s.value();
    };
    return kakehashi::testing::Db::open(std::move(o));
  }
  void sql(const std::string& statement) const { connect()->execute_script(statement); }
  std::string cert() const { return (dir() / "gateway.cert.pem").string(); }
  std::vector<std::string> where() const { return cli_args(); }
};

NewTransfer unit(const std::string& source_id, const std::string& sequence,
                 const std::string& recipient) {
  NewTransfer t = kakehashi::testing::regional_k2_unit(source_id, sequence, recipient);
  t.subject_key = "K2:202506:" + source_id;
  t.payload = "sealed";
  t.event_detail =
      "kind K2, 3 files; signer CN=office serial 01 (current, hard-fail); checks "
      "envelope ok, standard ok, signatures ok, sender-authorized ok, route ok; "
      "route national";
  t.insured_numbers = {kInsured, "H000000001"};
  return t;
}

// A small but complete history: intake, delivery with digests, a receipt, a failure, parking,
// a re-drive, an operator command; checkpoints every 4 records, and a tail after the last one.
void populate(Store& s) {
  std::int64_t now = 1'750'000'000'000;
  auto m1 = unit("m1", "20250601100000", "1371100452");
  m1.path = kPathTranslatedToNational;  // the path each unit took: a column of the export
  auto m2 = unit("m2", "20250601100001", "1370100016");
  m2.path = kPathSigned;
  const auto a = s.accept(m1, std::nullopt, now += 10);
  const auto b = s.accept(m2, std::nullopt, now += 10);
  s.accept(unit("m1", "20250601100000", "1371100452"), std::nullopt, now += 10);  // duplicate
  auto claimed = s.claim_transfers("w", now += 10, 60000, 10, {});
  BOOST_TEST_REQUIRE(claimed.size() == 2u);
  s.add_event(a.id, "translation-receipt", "MIIBbase64receipt", now += 10);
  s.mark_delivered(a.id, "w", "ncp-1", "inbound sha256 aa; outbound sha256 bb", now += 10);
  now += 10;
  s.retry_later(b.id, "w", now + 5, "503 maintenance", now);
  s.park(b.id, "keeps failing", "ops:alice", now += 10);
  s.redrive(b.id, "ops:alice", now += 10);
  s.record_receipt("national", "ncp-1", "downloaded", "", std::nullopt, now += 10);
  s.record_operator_command("ops:bob", "relay list --state parked", now += 10);
  s.accept(unit("m3", "20250601100002", "1371100452"), std::nullopt, now += 10);
}

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

// `kakehashi audit verify --json` on the store; returns the parsed report.
rapidjson::Document verify_cli(const Db& db, int expected_exit) {
  std::vector<std::string> args{"audit", "verify", "--json", "--cert", db.cert()};
  for (const auto& a : db.where()) args.push_back(a);
  const auto r = run(args);
  BOOST_TEST(r.code == expected_exit, r.err << r.out);
  rapidjson::Document d;
  d.Parse(r.out.c_str());
  BOOST_TEST_REQUIRE(d.IsObject(), r.out);
  return d;
}

std::string detail(const rapidjson::Document& d) {
  return d.HasMember("detail") ? d["detail"].GetString() : "(intact)";
}

void expect_broken(const Db& db, const std::string& how, std::int64_t seq = -1) {
  const auto d = verify_cli(db, 1);
  BOOST_TEST(!d["intact"].GetBool());
  BOOST_TEST(std::string(d["result"].GetString()) == how, detail(d));
  if (seq >= 0 && d.HasMember("record_seq"))
    BOOST_TEST(d["record_seq"].GetInt64() == seq, detail(d));
}

std::int64_t scalar(const Db& db, const std::string& q) {
  auto c = db.connect();
  const auto rows = c->query(q);
  return std::stoll(rows.at(0).at(0).value());
}

std::int64_t id_of(const Db& db, std::int64_t seq) {
  return scalar(db, "SELECT id FROM kh_events WHERE seq = " + std::to_string(seq));
}

}  // namespace

BOOST_AUTO_TEST_CASE(untouched_store_verifies_with_checkpoints_and_an_unsealed_tail) {
  Db db;
  populate(*db.open());
  const auto d = verify_cli(db, 0);
  BOOST_TEST(d["intact"].GetBool());
  BOOST_TEST(d["records"].GetInt64() == 11);
  BOOST_TEST(d["checkpoints"].GetInt64() == 2);
  BOOST_TEST(d["last_checkpoint_seq"].GetInt64() == 8);
  BOOST_TEST(d["unsealed_records"].GetInt64() == 3);
  // A forced checkpoint seals the tail; a second one has nothing to seal.
  BOOST_TEST(db.open()->checkpoint(1'760'000'000'000));
  BOOST_TEST(!db.open()->checkpoint(1'760'000'000'001));
  BOOST_TEST(verify_cli(db, 0)["unsealed_records"].GetInt64() == 0);
}

BOOST_AUTO_TEST_CASE(changed_detail_is_caught) {
  Db db;
  populate(*db.open());
  db.sql("UPDATE kh_events SET detail = 'nothing to see' WHERE seq = 6");
  expect_broken(db, "changed", 6);
}

BOOST_AUTO_TEST_CASE(changed_actor_or_time_is_caught) {
  Db db;
  populate(*db.open());
  db.sql("UPDATE kh_events SET actor = 'ops:mallory' WHERE seq = 7");
  expect_broken(db, "changed", 7);
  db.sql("UPDATE kh_events SET actor = 'ops:alice' WHERE seq = 7");
  BOOST_TEST(verify_cli(db, 0)["intact"].GetBool());
  db.sql("UPDATE kh_events SET at = at + 1 WHERE seq = 2");
  expect_broken(db, "changed", 2);
}

BOOST_AUTO_TEST_CASE(deleted_row_is_caught) {
  Db db;
  populate(*db.open());
  db.sql("DELETE FROM kh_events WHERE seq = 5");
  expect_broken(db, "deleted", 5);
}

BOOST_AUTO_TEST_CASE(inserted_forged_row_is_caught) {
  Db db;
  populate(*db.open());
  db.sql(
      "INSERT INTO kh_events (transfer_id, at, kind, detail) VALUES (1, 1750000000500, "
      "'delivered', 'forged')");
  expect_broken(db, "inserted");
}

BOOST_AUTO_TEST_CASE(forged_row_with_a_valid_link_is_caught_by_the_head) {
  Db db;
  populate(*db.open());
  // The forger knows the hashing and appends a well-linked record without the gateway.
  auto s = db.open();
  const auto records = s->audit_records();
  audit::AuditRecord forged;
  forged.transfer_id = 1;
  forged.at = records.back().at + 1;
  forged.kind = "redriven";
  forged.actor = "ops:alice";
  forged.detail = "ops:alice";
  const std::int64_t seq = *records.back().seq + 1;
  const std::string hash = audit::record_hash(seq, records.back().hash, forged);
  db.sql(
      "INSERT INTO kh_events (transfer_id, at, kind, detail, seq, actor, prev_hash, hash) "
      "VALUES (1, " +
      std::to_string(forged.at) + ", 'redriven', 'ops:alice', " + std::to_string(seq) +
      ", 'ops:alice', '" + records.back().hash + "', '" + hash + "')");
  expect_broken(db, "inserted", seq);
}

BOOST_AUTO_TEST_CASE(forged_row_in_the_middle_is_caught) {
  Db db;
  populate(*db.open());
  // A second record claiming position 4, stored at the end.
  db.sql(
      "INSERT INTO kh_events (transfer_id, at, kind, detail, seq, actor, prev_hash, hash) "
      "SELECT transfer_id, at, kind, detail, seq, actor, prev_hash, hash FROM kh_events "
      "WHERE seq = 4");
  expect_broken(db, "inserted", 4);
}

BOOST_AUTO_TEST_CASE(swapped_ids_are_caught_as_reordered) {
  Db db;
  populate(*db.open());
  const auto a = std::to_string(id_of(db, 3)), b = std::to_string(id_of(db, 4));
  db.sql("UPDATE kh_events SET id = -1 WHERE id = " + a + "; UPDATE kh_events SET id = " + a +
         " WHERE id = " + b + "; UPDATE kh_events SET id = " + b + " WHERE id = -1");
  expect_broken(db, "reordered", 4);
}

BOOST_AUTO_TEST_CASE(truncation_after_the_last_checkpoint_is_caught) {
  Db db;
  populate(*db.open());
  db.sql("DELETE FROM kh_events WHERE seq > 8");
  const auto d = verify_cli(db, 1);
  BOOST_TEST(std::string(d["result"].GetString()) == "truncated", detail(d));
  BOOST_TEST(d.HasMember("record_seq"));
  if (d.HasMember("record_seq")) BOOST_TEST(d["record_seq"].GetInt64() == 9);
}

BOOST_AUTO_TEST_CASE(truncation_into_sealed_records_is_caught_even_with_the_head_fixed) {
  Db db;
  populate(*db.open());
  auto s = db.open();
  const auto records = s->audit_records();
  db.sql("DELETE FROM kh_events WHERE seq > 6");
  db.sql("UPDATE kh_meta SET value = '6 " + records[5].hash + " 1 4 0' WHERE key = 'audit_head'");
  expect_broken(db, "truncated", 7);
}

BOOST_AUTO_TEST_CASE(tail_truncation_with_the_head_rewritten_is_caught_with_a_known_seq) {
  Db db;
  populate(*db.open());
  const auto records = db.open()->audit_records();
  db.sql("DELETE FROM kh_events WHERE seq > 9");
  db.sql("UPDATE kh_meta SET value = '9 " + records[8].hash + " 2 8 0' WHERE key = 'audit_head'");
  // Consistent on its own (the limit of any unsealed tail) ...
  BOOST_TEST(verify_cli(db, 0)["intact"].GetBool());
  // ... but not with what the auditor saw in an earlier run.
  std::vector<std::string> args{"audit", "verify", "--cert", db.cert(), "--known-seq", "11"};
  for (const auto& a : db.where()) args.push_back(a);
  const auto r = run(args);
  BOOST_TEST(r.code == 1);
  BOOST_TEST(r.out.find("BROKEN (truncated)") == 0u, r.out);
}

BOOST_AUTO_TEST_CASE(forged_checkpoints_are_caught) {
  Db db;
  populate(*db.open());
  // A checkpoint moved to another record.
  db.sql("UPDATE kh_audit_checkpoints SET seq = 3 WHERE number = 1");
  expect_broken(db, "checkpoint-forged");
  db.sql("UPDATE kh_audit_checkpoints SET seq = 4 WHERE number = 1");
  BOOST_TEST(verify_cli(db, 0)["intact"].GetBool());
  // A checkpoint signed by another key, sealing a rewritten record 11.
  const auto impostor = make_credential("kakehashi test gateway");
  audit::Checkpoint c{3, 11, std::string(64, 'a'), 1'760'000'000'000, ""};
  c.signature = audit::sign_checkpoint(c, impostor).value();
  db.sql("INSERT INTO kh_audit_checkpoints (number, seq, hash, at, signature) VALUES (3, 11, '" +
         c.hash + "', 1760000000000, '" + c.signature + "')");
  const auto d = verify_cli(db, 1);
  BOOST_TEST(std::string(d["result"].GetString()) == "checkpoint-forged", detail(d));
  BOOST_TEST(d.HasMember("checkpoint"));
  if (d.HasMember("checkpoint")) BOOST_TEST(d["checkpoint"].GetInt64() == 3);
}

BOOST_AUTO_TEST_CASE(deleted_checkpoint_is_caught) {
  Db db;
  populate(*db.open());
  db.sql("DELETE FROM kh_audit_checkpoints WHERE number = 1");
  expect_broken(db, "checkpoint-deleted");
}

BOOST_AUTO_TEST_CASE(a_rewritten_chain_is_caught_by_the_signed_checkpoint) {
  Db db;
  populate(*db.open());
  // The forger changes record 2 and recomputes every hash after it, head included.
  db.sql("UPDATE kh_events SET detail = 'rewritten' WHERE seq = 2");
  auto s = db.open();
  auto records = s->audit_records();
  std::string prev(audit::kGenesisHash);
  auto c = db.connect();
  for (auto& r : records) {
    r.hash = audit::record_hash(*r.seq, prev, r);
    c->query("UPDATE kh_events SET prev_hash = ?, hash = ? WHERE id = ?", {prev, r.hash, r.id});
    prev = r.hash;
  }
  c->query("UPDATE kh_meta SET value = ? WHERE key = 'audit_head'",
           {std::to_string(records.size()) + " " + prev + " 2 8 0"});
  expect_broken(db, "changed", 4);
}

BOOST_AUTO_TEST_CASE(verify_without_certificate_refuses_to_guess) {
  Db db;
  populate(*db.open());
  std::vector<std::string> args{"audit", "verify"};
  for (const auto& a : db.where()) args.push_back(a);
  BOOST_TEST(run(args).code == 2);
}

BOOST_AUTO_TEST_CASE(no_insured_number_in_clear_and_the_auditor_can_find_it) {
  Db db;
  populate(*db.open());
  const auto hashed =
      run({"audit", "hash-insured", kInsured, "--key-file", (db.dir() / "audit.key").string()});
  BOOST_TEST_REQUIRE(hashed.code == 0, hashed.err);
  const std::string h = hashed.out.substr(0, hashed.out.size() - 1);
  BOOST_TEST(h == audit::insured_hash(kHmacKey, kInsured));
  BOOST_TEST(h.size() == 32u);
  std::size_t found = 0;
  for (const auto& r : db.open()->audit_records()) {
    BOOST_TEST(r.detail.find(kInsured) == std::string::npos);
    if (r.detail.find(h) != std::string::npos) ++found;
  }
  BOOST_TEST(found == 3u);  // the accepted records of m1, m2 and m3
}

BOOST_AUTO_TEST_CASE(insured_numbers_are_read_from_care_plan_csv_only) {
  std::set<std::string> numbers;
  audit::collect_insured_numbers("UPPLAN_202506_3271500013_43_1371100452_11_20250601100000.CSV",
                                 "4.1,131011,H123456789,x\r\n4.1,131011,H000000002,y\r\n", numbers);
  audit::collect_insured_numbers("hokensho_3271500013_43_1371100452_11_20250601100000.pdf",
                                 "4.1,131011,H999,x\r\n", numbers);
  BOOST_TEST(numbers == (std::set<std::string>{"H000000002", "H123456789"}));
}

namespace {

// RFC 4180 reader for the round trip (quoted fields, doubled quotes, CRLF records).
std::vector<std::vector<std::string>> parse_csv(const std::string& text) {
  std::vector<std::vector<std::string>> rows(1);
  std::string field;
  bool quoted = false;
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (quoted) {
      if (c == '"' && i + 1 < text.size() && text[i + 1] == '"') {
        field += '"';
        ++i;
      } else if (c == '"') {
        quoted = false;
      } else {
        field += c;
      }
    } else if (c == '"') {
      quoted = true;
    } else if (c == ',') {
      rows.back().push_back(field);
      field.clear();
    } else if (c == '\r' && i + 1 < text.size() && text[i + 1] == '\n') {
      rows.back().push_back(field);
      field.clear();
      rows.emplace_back();
      ++i;
    } else {
      field += c;
    }
  }
  rows.pop_back();  // after the last CRLF
  return rows;
}

}  // namespace

BOOST_AUTO_TEST_CASE(export_csv_and_jsonl_round_trip) {
  Db db;
  {
    auto s = db.open();
    populate(*s);
    // Details with separators, quotes and line breaks survive both formats.
    s->record_operator_command("ops:bob", "relay list --office \"3271500013\",\r\nnext",
                               1'750'000'001'000);
  }
  const auto records = db.open()->audit_records();
  for (const std::string format : {"csv", "jsonl"}) {
    std::vector<std::string> args{"audit", "export", "--format", format};
    for (const auto& a : db.where()) args.push_back(a);
    const auto r = run(args);
    BOOST_TEST_REQUIRE(r.code == 0, r.err);
    std::vector<audit::AuditRecord> back;
    std::vector<std::string> paths;  // "transfer path" per row
    if (format == "csv") {
      const auto rows = parse_csv(r.out);
      BOOST_TEST_REQUIRE(rows.size() == records.size() + 1);
      BOOST_TEST(rows[0][0] == "seq");
      BOOST_TEST(rows[0][8] == "path");
      for (std::size_t i = 1; i < rows.size(); ++i) {
        BOOST_TEST_REQUIRE(rows[i].size() == 12u);
        paths.push_back(rows[i][3] + " " + rows[i][8]);
        audit::AuditRecord a;
        a.seq = std::stoll(rows[i][0]);
        a.at = std::stoll(rows[i][2]);
        a.transfer_id = std::stoll(rows[i][3]);
        a.kind = rows[i][4];
        a.actor = rows[i][5];
        a.detail = rows[i][9];
        a.prev_hash = rows[i][10];
        a.hash = rows[i][11];
        back.push_back(a);
      }
    } else {
      std::istringstream lines(r.out);
      std::string line;
      while (std::getline(lines, line)) {
        rapidjson::Document d;
        d.Parse(line.c_str());
        BOOST_TEST_REQUIRE(d.IsObject());
        audit::AuditRecord a;
        a.seq = d["seq"].GetInt64();
        a.at = d["at_ms"].GetInt64();
        a.transfer_id = d["transfer_id"].GetInt64();
        a.kind = d["kind"].GetString();
        a.actor = d["actor"].GetString();
        paths.push_back(std::to_string(a.transfer_id) + " " + d["path"].GetString());
        a.detail = d["detail"].GetString();
        a.prev_hash = d["prev_hash"].GetString();
        a.hash = d["hash"].GetString();
        back.push_back(a);
      }
    }
    BOOST_TEST_REQUIRE(back.size() == records.size());
    // Each row names the path its unit took; operator commands (transfer 0) none.
    for (const auto& p : paths) {
      const auto transfer = p.substr(0, p.find(' '));
      BOOST_TEST((transfer == "1"   ? p == "1 translated-to-national"
                  : transfer == "2" ? p == "2 signed"
                                    : p == transfer + " "),
                 p);
    }
    for (std::size_t i = 0; i < back.size(); ++i) {
      BOOST_TEST(*back[i].seq == *records[i].seq);
      BOOST_TEST(back[i].detail == records[i].detail);
      BOOST_TEST(back[i].actor == records[i].actor);
      // Every exported row still proves itself: its hash recomputes from its fields.
      BOOST_TEST(audit::record_hash(*back[i].seq, back[i].prev_hash, back[i]) == back[i].hash);
      if (i > 0) BOOST_TEST(back[i].prev_hash == back[i - 1].hash);
    }
  }
}

BOOST_AUTO_TEST_CASE(export_by_transfer_office_and_period) {
  Db db;
  populate(*db.open());
  auto s = db.open();
  AuditQuery one;
  one.transfer_id = 1;
  const auto lineage = s->audit_export(one);
  std::vector<std::string> kinds;
  for (const auto& r : lineage) kinds.push_back(r.record.kind);
  BOOST_TEST(kinds == (std::vector<std::string>{"accepted", "duplicate", "translation-receipt",
                                                "delivered", "receipt-downloaded"}),
             boost::test_tools::per_element());
  BOOST_TEST(lineage[0].sender_office == "3271500013");
  AuditQuery by_office;
  by_office.office = "1370100016";
  const auto office = s->audit_export(by_office);
  for (const auto& r : office) BOOST_TEST(r.record.transfer_id == 2);
  BOOST_TEST(office.size() == 4u);  // accepted, attempt-failed, parked, redriven
  const auto all = s->audit_records();
  AuditQuery period_query;
  period_query.from = all[2].at;
  period_query.to = all[5].at;
  const auto period = s->audit_export(period_query);
  BOOST_TEST(period.size() == 3u);
  std::vector<std::string> args{"audit", "export", "--format", "jsonl", "--transfer", "1"};
  for (const auto& a : db.where()) args.push_back(a);
  const auto r = run(args);
  BOOST_TEST(r.code == 0);
  BOOST_TEST(std::count(r.out.begin(), r.out.end(), '\n') == 5);
}

BOOST_AUTO_TEST_CASE(checkpoints_by_time) {
  Db db;
  auto s = db.open(1000, 1000);
  s->record_operator_command("ops:a", "relay list", 10'000);
  s->record_operator_command("ops:a", "relay list", 10'500);
  BOOST_TEST(s->audit_checkpoints().empty());
  s->record_operator_command("ops:a", "relay report", 11'000);
  const auto cps = s->audit_checkpoints();
  BOOST_TEST_REQUIRE(cps.size() == 1u);
  BOOST_TEST(cps[0].seq == 3);
}

BOOST_AUTO_TEST_CASE(a_store_from_before_the_audit_log_is_chained_on_migrate) {
  Db db;
  db.sql("CREATE TABLE kh_events (id " +
         std::string(postgres() ? "BIGSERIAL PRIMARY KEY" : "INTEGER PRIMARY KEY AUTOINCREMENT") +
         ", transfer_id BIGINT NOT NULL, at BIGINT NOT NULL, kind TEXT NOT NULL, detail TEXT NOT "
         "NULL); INSERT INTO kh_events (transfer_id, at, kind, detail) VALUES (1, 5, 'accepted', "
         "'old'); INSERT INTO kh_events (transfer_id, at, kind, detail) VALUES (1, 6, "
         "'delivered', 'old')");
  auto s = db.open();
  s->record_operator_command("ops:a", "relay list", 10);
  const auto r = audit::verify_chain(s->audit_records(), s->audit_checkpoints(), s->audit_head(),
                                     gateway_credential().certificate.get());
  BOOST_TEST(r.intact(), r.detail);
  BOOST_TEST(r.last_seq == 3);
}

BOOST_AUTO_TEST_CASE(auditing_off_writes_the_events_without_a_chain) {
  Db db;
  auto s = db.open(4, 3600000, false);
  populate(*s);
  BOOST_TEST(s->audit_checkpoints().empty());
  BOOST_TEST(!s->audit_records().front().seq.has_value());
}

namespace {

void write_config(const Db& db, const std::string& role, int every_records = 4) {
  fs::create_directories(db.dir() / "trust");
  fs::create_directories(db.dir() / "outbox");
  std::ofstream(db.dir() / "payload.key") << "0123456789abcdef0123456789abcdef";
  ::chmod((db.dir() / "payload.key").c_str(), 0600);
  const std::string store = db.config_json();
  std::ofstream(db.dir() / "gw.json") << R"({
  "instance": "audit-test",
  "store": )" << store << R"(,
  "payload_key_file": "payload.key",
  "receipt_signer": {"certificate_file": "gateway.cert.pem", "key_file": "gateway.key.pem"},
  "audit": {"hmac_key_file": "audit.key", "checkpoint_every_records": )"
                                      << every_records << R"(, "role": ")" << role << R"("},
  "networks": {
    "folder": {"type": "folder", "trust_domain": "trust",
               "settings": {"root": "outbox", "offices": [{"office_no": "3271500013",
                 "service_type": "43", "certificate_file": "gateway.cert.pem",
                 "key_file": "gateway.key.pem"}]}}
  }
})";
}

}  // namespace

BOOST_AUTO_TEST_CASE(auditor_role_cannot_retry_or_park_and_operators_are_recorded) {
  Db db;
  populate(*db.open());
  write_config(db, "operator");
  const std::string cfg = (db.dir() / "gw.json").string();
  auto s = db.open();
  auto t = unit("m9", "20250601100009", "1371100460");
  const auto id = std::to_string(s->accept(t, std::nullopt, 1'750'000'002'000).id);
  // An auditor (by flag, or by the config's role) may read but not re-drive or park.
  for (const std::string sub : {"retry", "park"}) {
    const auto r = run({"relay", sub, id, "--config", cfg, "--role", "auditor"});
    BOOST_TEST(r.code == 1, r.out);
    BOOST_TEST(r.err.find("auditor") != std::string::npos);
  }
  BOOST_TEST(db.open()->get(std::stoll(id))->state == kAccepted);
  const auto before = db.open()->audit_records().size();
  BOOST_TEST(run({"relay", "list", "--config", cfg, "--role", "auditor"}).code == 0);
  BOOST_TEST(db.open()->audit_records().size() == before);  // the auditor writes nothing
  // An operator parks; the command and the park are both recorded with the operator's name.
  const auto r = run({"relay", "park", id, "--config", cfg, "--actor", "ops:carol"});
  BOOST_TEST(r.code == 0, r.err);
  BOOST_TEST(db.open()->get(std::stoll(id))->state == kParked);
  const auto records = db.open()->audit_records();
  BOOST_TEST(records[records.size() - 2].kind == "operator-command");
  BOOST_TEST(records[records.size() - 2].actor == "ops:carol");
  BOOST_TEST(records[records.size() - 2].detail == "relay park " + id + " --actor ops:carol");
  BOOST_TEST(records.back().kind == "parked");
  BOOST_TEST(records.back().actor == "ops:carol");
  // With the config's role set to auditor, --role operator does not lift it.
  write_config(db, "auditor");
  BOOST_TEST(run({"relay", "retry", id, "--config", cfg, "--role", "operator"}).code == 1);
  BOOST_TEST(run({"audit", "checkpoint", "--config", cfg}).code == 1);
  BOOST_TEST(db.open()->get(std::stoll(id))->state == kParked);
  // The auditor verifies from the config (certificate from receipt_signer).
  const auto v = run({"audit", "verify", "--config", cfg});
  BOOST_TEST(v.code == 0, v.out << v.err);
}

// What an operator's command writes (its own record, a park) is sealed when the command ends:
// with no daemon running, nothing else would seal it before the next record.
BOOST_AUTO_TEST_CASE(an_operator_command_is_sealed_when_it_ends) {
  Db db;
  auto s = db.open(1000, 3600000);
  const auto id = std::to_string(
      s->accept(unit("o1", "20250601100000", "1371100452"), std::nullopt, 1'750'000'000'000).id);
  BOOST_TEST(verify_cli(db, 0)["unsealed_records"].GetInt64() == 1);
  write_config(db, "operator", 1000);
  const std::string cfg = (db.dir() / "gw.json").string();
  auto r = run({"relay", "list", "--config", cfg});
  BOOST_TEST(r.code == 0, r.err);
  BOOST_TEST(verify_cli(db, 0)["unsealed_records"].GetInt64() == 0);
  r = run({"relay", "park", id, "--config", cfg, "--actor", "ops:dave"});
  BOOST_TEST(r.code == 0, r.err);
  const auto d = verify_cli(db, 0);
  BOOST_TEST(d["unsealed_records"].GetInt64() == 0);
  BOOST_TEST(db.open(1000, 3600000)->audit_records().back().kind == "parked");
  // The auditor writes nothing, so seals nothing either.
  const auto checkpoints = db.open(1000, 3600000)->audit_checkpoints().size();
  BOOST_TEST(run({"relay", "list", "--config", cfg, "--role", "auditor"}).code == 0);
  BOOST_TEST(db.open(1000, 3600000)->audit_checkpoints().size() == checkpoints);
}

// The running daemon's timer (audit.checkpoint_every): a tail that no new record would seal is
// sealed on the timer, by a store connection of its own, off the timer's thread; a timer with
// nothing new to seal writes nothing.
BOOST_AUTO_TEST_CASE(the_daemon_timer_seals_a_quiet_tail) {
  Db db;
  auto s = db.open(1000, 3600000);  // neither the count nor the time is reached by the writes
  std::int64_t now = 1'750'000'000'000;
  s->accept(unit("t1", "20250601100000", "1371100452"), std::nullopt, now += 10);
  s->accept(unit("t2", "20250601100001", "1370100016"), std::nullopt, now += 10);
  BOOST_TEST(s->audit_checkpoints().empty());
  BOOST_TEST(verify_cli(db, 0)["unsealed_records"].GetInt64() == 2);

  boost::asio::io_context io;
  boost::asio::thread_pool worker(1);
  auto sealer = db.open(1000, 3600000);
  audit::CheckpointScheduler timer(io.get_executor(), worker.get_executor(),
                                   std::chrono::milliseconds(10),
                                   [&] { return sealer->checkpoint(now + 1000); });
  timer.start();
  const auto run_until = [&](const std::function<bool()>& done) {
    kakehashi::testing::require_until(io, done, std::chrono::seconds(20),
                                      std::chrono::milliseconds(5));
  };
  run_until([&] { return timer.written() == 1; });
  const auto after_seal = timer.runs();
  run_until([&] { return timer.runs() >= after_seal + 3; });
  BOOST_TEST(timer.written() == 1);  // nothing new since: no second checkpoint
  timer.stop();
  worker.join();
  const auto checkpoints = s->audit_checkpoints();
  BOOST_TEST_REQUIRE(checkpoints.size() == 1u);
  BOOST_TEST(checkpoints[0].seq == 2);
  const auto d = verify_cli(db, 0);
  BOOST_TEST(d["intact"].GetBool());
  BOOST_TEST(d["unsealed_records"].GetInt64() == 0);
}

// A clean stop (SIGTERM) seals the tail: `kakehashi run` over a store whose last records no count
// or time trigger would seal before an hour passes leaves none unsealed when it stops.
BOOST_AUTO_TEST_CASE(a_clean_stop_seals_the_tail) {
  Db db;
  {
    auto s = db.open(1000, 3600000);
    std::int64_t now = 1'750'000'000'000;
    s->accept(unit("s1", "20250601100000", "1371100452"), std::nullopt, now += 10);
    s->accept(unit("s2", "20250601100001", "1370100016"), std::nullopt, now += 10);
  }
  BOOST_TEST(verify_cli(db, 0)["unsealed_records"].GetInt64() == 2);
  write_config(db, "operator", 1000);
  fs::copy_file(db.cert(), db.dir() / "trust" / "ca.pem");
  std::ofstream(db.dir() / "trust" / "domain.conf") << "anchor = ca.pem\ncrl_policy = soft-fail\n";
  const std::string log = (db.dir() / "gateway.log").string();
  const pid_t pid = ::fork();
  BOOST_REQUIRE(pid >= 0);
  if (pid == 0) {
    const int fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    ::dup2(fd, 2);
    ::execl(KAKEHASHI_BIN, KAKEHASHI_BIN, "run", "--config", (db.dir() / "gw.json").c_str(),
            static_cast<char*>(nullptr));
    ::_exit(127);
  }
  // Ready once the engine has started (the stop signals are handled from before that point).
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  const auto log_text = [&] {
    std::ifstream in(log);
    return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  };
  const auto wait_for = [&](const std::function<bool()>& done, const char* what) {
    while (!done()) {
      if (std::chrono::steady_clock::now() > deadline) {
        ::kill(pid, SIGKILL);
        ::waitpid(pid, nullptr, 0);
        BOOST_FAIL(std::string("timed out waiting for ") + what + "; log:\n" + log_text());
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));  // polling for the event
    }
  };
  int status = -1;
  bool exited = false;
  wait_for(
      [&] {
        exited = ::waitpid(pid, &status, WNOHANG) == pid;
        return exited || log_text().find("engine-started") != std::string::npos;
      },
      "the gateway to start");
  BOOST_REQUIRE_MESSAGE(!exited, "the gateway exited at start: " + log_text());
  BOOST_REQUIRE(::kill(pid, SIGTERM) == 0);
  wait_for([&] { return ::waitpid(pid, &status, WNOHANG) == pid; }, "the gateway to stop");
  BOOST_TEST(WIFEXITED(status));
  BOOST_TEST(WEXITSTATUS(status) == 0);
  const auto d = verify_cli(db, 0);
  BOOST_TEST(d["intact"].GetBool());
  BOOST_TEST(d["unsealed_records"].GetInt64() == 0);
  BOOST_TEST(d["checkpoints"].GetInt64() >= 1);
}

// The routing record names the registry version (the registry sync id) the decision used.
BOOST_AUTO_TEST_CASE(the_routing_record_carries_the_registry_version) {
  engine::Router router({"national", "regional"});
  DirectoryEntry sender;
  sender.office = {"3271500013", "43"};
  sender.status = "ACTIVE";
  DirectoryEntry recipient;
  recipient.office = {"1371100452", "11"};
  recipient.status = "ACTIVE";
  router.update("regional", {sender});
  router.update("national", {recipient});
  router.set_registry_version(42);
  // Unsigned, so refused; the route is decided and recorded all the same.
  InboundUnit u;
  u.sender = {"3271500013", "43"};
  u.recipient = {"1371100452", "11"};
  u.source_id = "rv-1";
  SignedFile f;
  f.name = "UPJSK_202505_1371100452_11_3271500013_43_20250526141202.CSV";
  f.content = "x";
  u.files.push_back(f);
  engine::AdmissionContext ctx;
  ctx.source_adapter = "regional";
  ctx.router = &router;
  const auto decision = engine::admit(u, ctx);
  BOOST_TEST(!decision.accepted);
  BOOST_TEST(decision.detail.find("route national (registry 42)") != std::string::npos,
             decision.detail);
  // A later sync moves the version; the next decision records the new one.
  router.set_registry_version(43);
  BOOST_TEST(engine::admit(u, ctx).detail.find("route national (registry 43)") !=
             std::string::npos);

  Db db;
  auto s = db.open();
  auto t = unit("rv-1", "20250526141202", "1371100452");
  t.event_detail = decision.detail;
  const auto accepted = s->accept(t, std::nullopt, 1'750'000'000'000);
  bool found = false;
  for (const auto& e : s->events(accepted.id))
    found |= e.detail.find("(registry 42)") != std::string::npos;
  BOOST_TEST(found);
  BOOST_TEST(verify_cli(db, 0)["intact"].GetBool());
}
