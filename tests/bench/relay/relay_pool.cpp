// kakehashi-relay-pool: the relay benchmark's pool of units, signed and encrypted ahead of time
// by the senders' side and written straight into both stand-ins' state files, so that during the
// measurement the stand-ins only list and serve what is already there
// (tests/bench/relay/README.md).
//
//   kakehashi-relay-pool --pki DIR --gateway-alg rsa|ec --units N --national-state F
//                        --regional-state F [--seed N] [--attachment-percent P]
//                        [--national-type ncp|kaigoweb]
//
// Both state files must exist with their schema (start each stand-in once with --bench on them).
// Half of the units go regional→national (rows in the gateway member's regional mailbox, each
// document with the office's detached signature), half national→regional (transmissions to the
// offices the gateway represents, each file the office's attached SignedData, and in
// bench_enveloped the same encrypted to the gateway's document certificate, as the national
// system would serve it). Mix per direction: 70 % plans (K2: 第6表+第7表+補足, 3 users, 3 service
// offices), 30 % actuals (K5); --attachment-percent of the units (default 10) carry a PDF.
// With --national-type kaigoweb the national state file is the Kaigo WEB Service stand-in's
// (tests/peers/kaigoweb/): national→regional units are items already delivered to the regional
// offices the gateway acts for, each the 5.0 document `to_v5` makes of the office's 4.1 files (no
// signature, no encryption: the service carries neither); the gateway then signs the rendered
// 4.1 files with its proxy credential and attestation.
// Prints one JSON line: units per direction, files, bytes, and the gateway's private-key operations
// per unit (files co-signed + files decrypted; translation receipts counted apart).

#include <sqlite3.h>

#include <chrono>
#include <cstdio>
#include <iostream>
#include <map>
#include <stdexcept>
#include <string>
#include <vector>

#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include "adapters/regional/rhn_wire.hpp"
#include "gateway/pki/key_file.hpp"
#include "mapping/careplan/file_name.hpp"
#include "mapping/cms/envelope.hpp"
#include "mapping/cms/signer.hpp"
#include "mapping/cms/translation_receipt.hpp"
#include "mapping/standard5/translate.hpp"
#include "tests/careplan_gen/generator.hpp"
#include "tests/peers/kaigoweb/send_checks.hpp"
#include "tests/peers/regional/office_client.hpp"

namespace {

namespace cms = kakehashi::mapping::cms;
using kakehashi::mapping::OfficeRef;

// The development PKI's offices (deploy/pki.sh) and the e2e directories' accounts.
const std::vector<std::string> kNationalManagers{"1370100016", "1370100024"};
const std::vector<std::string> kNationalServices{"1370100032", "1371100452", "1371100460",
                                                 "1371100478"};
const std::vector<std::string> kRegionalManagers{"3271500013", "3271500021"};
const std::vector<std::string> kRegionalServices{"3271500039", "3271500047", "3271500054"};
const std::string kFacility = "F-SHIMANE-01";
const std::string kRegionalSender = "regional-standin-client";
const std::string kGatewayMember = "kakehashi-gateway-regional-client";

std::string national_user(const std::string& office_no) {
  std::size_t i = 1;
  for (const auto* list : {&kNationalManagers, &kNationalServices}) {
    for (const auto& no : *list) {
      if (no == office_no) {
        char buf[16];
        std::snprintf(buf, sizeof buf, "KJ1000000000%02zu", i);
        return buf;
      }
      ++i;
    }
  }
  throw std::invalid_argument("not an office of the PKI: " + office_no);
}

cms::ByteView view(const std::string& s) {
  return {reinterpret_cast<const std::uint8_t*>(s.data()), s.size()};
}
std::string str(const cms::Bytes& b) {
  return {b.begin(), b.end()};
}

class Db {
 public:
  explicit Db(const std::string& path) {
    if (sqlite3_open_v2(path.c_str(), &db_, SQLITE_OPEN_READWRITE, nullptr) != SQLITE_OK)
      throw std::runtime_error("cannot open " + path);
    sqlite3_busy_timeout(db_, 10000);
    exec("PRAGMA synchronous=OFF");
    exec("BEGIN IMMEDIATE");
  }
  ~Db() { sqlite3_close(db_); }
  Db(const Db&) = delete;
  Db& operator=(const Db&) = delete;
  void exec(const char* sql) {
    char* err = nullptr;
    if (sqlite3_exec(db_, sql, nullptr, nullptr, &err) != SQLITE_OK) {
      const std::string why = err != nullptr ? err : "?";
      sqlite3_free(err);
      throw std::runtime_error(std::string(sql).substr(0, 60) + ": " + why);
    }
  }
  // Runs `sql` with text/blob parameters; returns the first column of the first row, if any.
  std::string run(const char* sql, const std::vector<std::pair<bool, std::string>>& params) {
    auto& st = stmts_[sql];
    if (st == nullptr && sqlite3_prepare_v2(db_, sql, -1, &st, nullptr) != SQLITE_OK)
      throw std::runtime_error(std::string("prepare: ") + sqlite3_errmsg(db_));
    sqlite3_reset(st);
    for (std::size_t i = 0; i < params.size(); ++i) {
      const auto& [blob, v] = params[i];
      const int n = static_cast<int>(i + 1);
      if (blob)
        sqlite3_bind_blob(st, n, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT);
      else
        sqlite3_bind_text(st, n, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT);
    }
    std::string out;
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
      const auto* t = sqlite3_column_text(st, 0);
      if (t != nullptr) out = reinterpret_cast<const char*>(t);
      rc = sqlite3_step(st);
    }
    if (rc != SQLITE_DONE) throw std::runtime_error(std::string("step: ") + sqlite3_errmsg(db_));
    return out;
  }
  void finish() {
    for (auto& [sql, st] : stmts_) sqlite3_finalize(st);
    stmts_.clear();
    exec("COMMIT");
  }

 private:
  sqlite3* db_ = nullptr;
  std::map<const char*, sqlite3_stmt*> stmts_;
};

struct Options {
  std::string pki, alg = "rsa", national_state, regional_state, national_type = "ncp";
  int units = 2000;
  std::uint64_t seed = 20260601;
  int attachment_percent = 10;
};

int run(const Options& o) {
  kakehashi::testing::UnitGenerator gen(o.seed);
  kakehashi::testing::SplitMix64 rng(o.seed ^ 0x5eedULL);
  std::map<std::string, cms::Credential> creds;
  auto cred = [&](const std::string& network, const std::string& no) -> const cms::Credential& {
    auto it = creds.find(no);
    if (it == creds.end()) {
      const auto base = o.pki + "/offices/" + network + "/" + no;
      it = creds
               .emplace(no, kakehashi::gateway::pki::load_credential(base + ".cert.pem",
                                                                     base + ".key.pem"))
               .first;
    }
    return it->second;
  };
  auto gateway_cert =
      kakehashi::gateway::pki::load_certificates(o.pki + "/gateway/proxy-" + o.alg + ".cert.pem");
  if (gateway_cert.empty()) throw std::runtime_error("no gateway document certificate");
  const bool kaigoweb = o.national_type == "kaigoweb";
  Db national(o.national_state);
  Db regional(o.regional_state);
  if (!kaigoweb) {
    national.exec(
        "CREATE TABLE IF NOT EXISTS bench_enveloped(transmission_id TEXT, name TEXT, enveloped "
        "BLOB, PRIMARY KEY(transmission_id, name))");
  }
  const std::string now_ms = std::to_string(
      std::chrono::duration_cast<std::chrono::milliseconds>(
          std::chrono::system_clock::now().time_since_epoch())
          .count());
  std::int64_t files_rn = 0, files_nr = 0, bytes = 0, units_rn = 0, units_nr = 0, pdfs = 0;
  for (int i = 0; i < o.units; ++i) {
    const bool to_national = i % 2 == 0;
    const bool plan = rng.percent(70);
    const auto& managers = to_national ? kRegionalManagers : kNationalManagers;
    const auto& services = to_national ? kRegionalServices : kNationalServices;
    const auto& partner_managers = to_national ? kNationalManagers : kRegionalManagers;
    const auto& partner_services = to_national ? kNationalServices : kRegionalServices;
    // Plans go manager → service office, actuals service office → manager.
    const std::string from =
        plan ? managers[rng.below(managers.size())] : services[rng.below(services.size())];
    const std::string to = plan ? partner_services[rng.below(partner_services.size())]
                                : partner_managers[rng.below(partner_managers.size())];
    kakehashi::testing::UnitParams p;
    p.users = plan ? 3 : 2;
    p.providers = plan ? 3 : 1;
    p.with_attachment = rng.percent(o.attachment_percent);
    pdfs += p.with_attachment ? 1 : 0;
    // The generator may pick one office number for both sides (two service types of one
    // office): its numbers could not be told apart when renaming, so draw again.
    kakehashi::testing::GeneratedUnit g;
    std::optional<kakehashi::mapping::CarePlanFileName> name;
    for (int draw = 0; draw < 100; ++draw) {
      g = gen.make(plan ? "K2" : "K5", p);
      std::string csv;
      for (const auto& f : g.files) {
        if (f.name.size() > 4 && f.name.substr(f.name.size() - 4) == ".CSV") {
          csv = f.name;
          break;
        }
      }
      auto parsed = kakehashi::mapping::parse_file_name(csv);
      if (!parsed.name) throw std::runtime_error("generator made an unparseable name");
      name = *parsed.name;
      if (name->from.office_no != name->to.office_no) break;
    }
    if (name->from.office_no == name->to.office_no)
      throw std::runtime_error("generator keeps making units between one office's services");
    const auto gfrom = name->from.office_no;
    const auto gto = name->to.office_no;
    const OfficeRef sender{from, name->from.service_type};
    const OfficeRef recipient{to, name->to.service_type};
    for (auto& f : g.files) {
      // One step: the new sender may be the generator's recipient (or the other way round).
      f.name = kakehashi::testing::readdress(f.name, gfrom, from, gto, to);
      f.bytes = kakehashi::testing::readdress(f.bytes, gfrom, from, gto, to);
      bytes += static_cast<std::int64_t>(f.bytes.size());
    }
    const std::string key = "bench-" + std::to_string(o.seed) + "-" + std::to_string(i);
    if (to_national) {
      ++units_rn;
      files_rn += static_cast<std::int64_t>(g.files.size());
      std::vector<kakehashi::adapters::regional::office::OfficeFile> files;
      for (const auto& f : g.files) files.push_back({f.name, f.bytes});
      const auto msg = kakehashi::adapters::regional::office::build_message(
          key, {kFacility, sender}, recipient, files, cred("regional", from),
          plan ? "計画" : "実績", "今月分をお送りします");
      rapidjson::Document full;
      const auto encoded = kakehashi::adapters::regional::encode_message(msg);
      full.Parse(encoded.data(), encoded.size());
      rapidjson::StringBuffer b;
      rapidjson::Writer<rapidjson::StringBuffer> w(b);
      full["documents"].Accept(w);
      regional.run(
          "INSERT INTO messages (id, sender, message_id, body_sha256, response_status, "
          "response_body, recipient, sequence, from_facility, from_office, from_type, to_office, "
          "to_type, subject, body, documents, document_count, state, reason, state_at, "
          "received_at, "
          "attempts) VALUES (printf('m-%012d', (SELECT COALESCE(MAX(row_no), 0) + 1 FROM "
          "messages)), "
          "?1, ?2, 'bench', 201, '{}', ?3, (SELECT COALESCE(MAX(sequence), 0) + 1 FROM messages "
          "WHERE recipient = ?3), ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, 'UNREAD', '', '', "
          "strftime('%Y-%m-%dT%H:%M:%SZ', 'now'), 1)",
          {{false, kRegionalSender},
           {false, key},
           {false, kGatewayMember},
           {false, kFacility},
           {false, sender.office_no},
           {false, sender.service_type},
           {false, recipient.office_no},
           {false, recipient.service_type},
           {false, msg.subject},
           {false, msg.body},
           {false, b.GetString()},
           {false, std::to_string(files.size())}});
    } else if (kaigoweb) {
      ++units_nr;
      files_nr += static_cast<std::int64_t>(g.files.size());
      std::vector<kakehashi::mapping::standard5::UnitFile> files;
      for (const auto& f : g.files) files.push_back({f.name, f.bytes});
      auto v5 = kakehashi::mapping::standard5::to_v5(files);
      if (!v5.ok()) throw std::runtime_error("to_v5 refused a generated unit (" + key + ")");
      const std::string& json = v5.document.json;
      char item_id[32];
      std::snprintf(item_id, sizeof item_id, "CPB%013d", i);
      national.run(
          "INSERT INTO items(item_id, sender_reference, sender_office, sender_type, "
          "recipient_office, recipient_type, kind, target_month, document, document_sha256, "
          "request_id, accepted_ms, status, status_ms, deliver_due_ms, delivered_ms, "
          "document_bytes) VALUES(?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,'bench',?11,'delivered',?11,"
          "?11,?11,?12)",
          {{false, item_id},
           {false, key},
           {false, sender.office_no},
           {false, sender.service_type},
           {false, recipient.office_no},
           {false, recipient.service_type},
           {false, plan ? "K2" : "K5"},
           {false, kakehashi::standin::kaigoweb::target_month_of(json)},
           {false, json},
           {false, cms::sha256_hex(view(json))},
           {false, now_ms},
           {false, std::to_string(json.size())}});
      for (const char* status : {"accepted", "delivered"}) {
        national.run(
            "INSERT INTO sent_events(item_id, sender_office, status, at_ms) VALUES(?,?,?,?)",
            {{false, item_id}, {false, sender.office_no}, {false, status}, {false, now_ms}});
      }
      national.run("INSERT INTO received_events(item_id, recipient_office, at_ms) VALUES(?,?,?)",
                   {{false, item_id}, {false, recipient.office_no}, {false, now_ms}});
    } else {
      ++units_nr;
      files_nr += static_cast<std::int64_t>(g.files.size());
      national.run(
          "INSERT INTO transmissions(sender_user, sender_office, sender_type, recipient_office, "
          "recipient_type, unit_kind, sequence, message, state, reason, idempotency_key, "
          "accepted_at) VALUES(?,?,?,?,?,?,?,?,'WAITING','',?,strftime('%Y-%m-%dT%H:%M:%SZ', "
          "'now'))",
          {{false, national_user(from)},
           {false, sender.office_no},
           {false, sender.service_type},
           {false, recipient.office_no},
           {false, recipient.service_type},
           {false, plan ? "K2" : "K5"},
           {false, name->sequence},
           {false, "今月分をお送りします"},
           {false, key}});
      const std::string id = national.run(
          "UPDATE transmissions SET id = printf('T%012d', seq) WHERE seq = last_insert_rowid() "
          "RETURNING id",
          {});
      int idx = 0;
      for (const auto& f : g.files) {
        auto signed_data =
            cms::sign(view(f.bytes), cred("national", from), cms::SignOptions{false});
        if (!signed_data.ok()) throw std::runtime_error("signing failed");
        auto enveloped = cms::encrypt(
            cms::ByteView{signed_data.value().data(), signed_data.value().size()}, gateway_cert);
        if (!enveloped.ok()) throw std::runtime_error("encryption failed");
        national.run("INSERT INTO files VALUES(?,?,?,?,?)",
                     {{false, id},
                      {false, std::to_string(idx++)},
                      {false, f.name},
                      {true, str(signed_data.value())},
                      {false, std::to_string(f.bytes.size())}});
        national.run("INSERT INTO bench_enveloped VALUES(?,?,?)",
                     {{false, id}, {false, f.name}, {true, str(enveloped.value())}});
      }
    }
    if ((i + 1) % 1000 == 0) std::cerr << "  pool: " << (i + 1) << " of " << o.units << " units\n";
  }
  national.finish();
  regional.finish();
  const double total = static_cast<double>(units_rn + units_nr);
  std::cout << "{\"units\":" << (units_rn + units_nr)
            << ",\"units_regional_to_national\":" << units_rn
            << ",\"units_national_to_regional\":" << units_nr
            << ",\"files_regional_to_national\":" << files_rn
            << ",\"files_national_to_regional\":" << files_nr << ",\"units_with_pdf\":" << pdfs
            << ",\"content_bytes\":" << bytes
            << ",\"national_type\":\"" << o.national_type << "\""
            // NCP: the gateway co-signs what goes to national and decrypts what national serves;
            // Kaigo WEB: it signs (as proxy, with its attestation) what comes from national and
            // neither signs nor decrypts what goes there.
            << ",\"cosign_ops_per_unit\":" << static_cast<double>(kaigoweb ? files_nr : files_rn) / total
            << ",\"decrypt_ops_per_unit\":" << (kaigoweb ? 0.0 : static_cast<double>(files_nr) / total)
            << ",\"receipt_sign_ops_per_unit\":1}" << std::endl;
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  try {
    for (int i = 1; i + 1 < argc; i += 2) {
      const std::string a = argv[i], v = argv[i + 1];
      if (a == "--pki")
        o.pki = v;
      else if (a == "--gateway-alg")
        o.alg = v;
      else if (a == "--units")
        o.units = std::stoi(v);
      else if (a == "--national-state")
        o.national_state = v;
      else if (a == "--regional-state")
        o.regional_state = v;
      else if (a == "--seed")
        o.seed = std::stoull(v);
      else if (a == "--attachment-percent")
        o.attachment_percent = std::stoi(v);
      else if (a == "--national-type")
        o.national_type = v;
      else
        throw std::invalid_argument("unknown option " + a);
    }
    if (argc % 2 == 0 || o.pki.empty() || o.national_state.empty() || o.regional_state.empty() ||
        (o.alg != "rsa" && o.alg != "ec") ||
        (o.national_type != "ncp" && o.national_type != "kaigoweb"))
      throw std::invalid_argument("missing options");
    return run(o);
  } catch (const std::exception& e) {
    std::cerr << "kakehashi-relay-pool: " << e.what()
              << "\nusage: kakehashi-relay-pool --pki DIR --gateway-alg rsa|ec --units N "
                 "--national-state F --regional-state F [--seed N] [--attachment-percent P] "
                 "[--national-type ncp|kaigoweb]\n";
    return 2;
  }
}
