// kakehashi-month: plays care-plan traffic through a running gateway as offices on both networks
// (national offices through the NCP stand-in, regional offices through the RHN stand-in), then
// proves from the stand-ins' own records that every number adds up (issue 5, "Running it").
//
//   kakehashi-month --national-port N --regional-port N --pki DIR --config GATEWAY.json
//                   --kakehashi BIN --regional-state FILE.sqlite
//                   [--scenario month|load|outage|faults|crl|poison] [--units N]
//                   [--deadline SECONDS]
//                   [--seed N]
//                   [--outage-seconds S --outage-down CMD --outage-up CMD] [--expect-code CODE]
//
// month: a realistic month (plans, actuals, a plan change, deletes, attachments, refusals and a
//        national maintenance window). load: N units both ways as fast as the networks take them,
//        for the crash test (tests/e2e/crash_test.sh kills the gateway meanwhile).
// faults: the load while both networks cut answers, garble them, fail with 500/429/503 and list
//        inbox items again and again (tests/e2e/faults.sh).
// crl:   regional units while the gateway's regional CRL is stale: refused with --expect-code
//        (hard-fail) or relayed (soft-fail) (tests/e2e/crl_test.sh).
// poison: N good units both ways with every poison item kind of both stand-ins mixed in (issue 14):
//        a broken item is refused back to its sender as ITEM_UNREADABLE, the good ones around it
//        arrive once (tests/e2e/poison_test.sh).
// outage: national offices keep sending to regional partners while the regional network is down
//        for S seconds (CMD down stops the regional stand-in, CMD up starts it again on the same
//        port and state); the gateway's backlog must drain by itself afterwards, in order.
// Exit 0 only when every valid unit arrived exactly once, every receipt came back, every invalid
// unit came back to its sender with the expected finding code, and the relay report balances.

#include <sqlite3.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <iostream>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include "adapters/regional/rhn_wire.hpp"
#include "gateway/pki/key_file.hpp"
#include "mapping/careplan/file_name.hpp"
#include "mapping/careplan/inspector.hpp"
#include "tests/careplan_gen/generator.hpp"
#include "tests/peers/national/office_client.hpp"
#include "tests/peers/regional/office_client.hpp"

namespace kakehashi::e2e {
namespace {

using Clock = std::chrono::steady_clock;
using mapping::OfficeRef;

// The cast of the month (development PKI offices; the directories in tests/e2e/ list the same).
const std::vector<std::string> kNationalManagers{"1370100016", "1370100024"};
const std::vector<std::string> kNationalServices{"1370100032", "1371100452", "1371100460",
                                                 "1371100478"};
const std::vector<std::string> kRegionalManagers{"3271500013", "3271500021"};
const std::vector<std::string> kRegionalServices{"3271500039", "3271500047", "3271500054"};
// ACTIVE in the national office master but SUSPENDED in the regional directory.
const std::string kRegionalSuspended = "3271500062";
// A national care manager office; addressed with a service type the national master does not
// list for it, no network can route it (the "unknown office" refusal).
const std::string kStaleNational = "1370100016";
const std::string kFacility = "F-SHIMANE-01";
const std::string kRegionalMemberCn = "regional-standin-client";
const std::string kGatewayMemberCn = "kakehashi-gateway-regional-client";

std::string national_user(const std::string& office_no) {
  // KJ + 12 digits: one office account per national office of the PKI, in the order listed.
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
  throw std::invalid_argument("not an office of the month: " + office_no);
}
std::string national_password(const std::string& office_no) {
  return "month-" + office_no;
}

struct Options {
  std::uint16_t national_port = 0;
  std::uint16_t regional_port = 0;
  std::string pki;
  std::string config;
  std::string kakehashi;
  std::string regional_state;
  std::string scenario = "month";
  int units = 5000;
  int deadline_s = 300;
  std::uint64_t seed = 20250601;
  int outage_s = 30;
  std::string
      expect_code;  // crl: the finding code every unit must be refused with (empty: relayed)
  std::string outage_down, outage_up;
};

enum class Net { kNational, kRegional };

// One send unit the player sends, and what became of it.
struct Unit {
  std::string label;
  Net from_net = Net::kRegional;
  OfficeRef from, to;
  std::string kind;
  std::string sequence;
  std::vector<testing::GeneratedFile> files;
  std::string expect_code;  // empty: valid, must arrive; else the finding code of its rejection
  std::string remote_id;    // transmission id (national) or message id m-… (regional)
  std::string message_id;   // regional sender's idempotency key
  int arrivals = 0;
  std::string receipt;  // READ / DOWNLOADED / REJECTED as the sender sees it
  std::string reason;

  std::string key() const { return from.office_no + ">" + to.office_no + "@" + sequence; }
  bool valid() const { return expect_code.empty(); }
  bool settled() const {
    // A valid unit rejected back to its sender is settled too (wrongly: verification says so).
    if (valid())
      return receipt == "REJECTED" ||
             (arrivals >= 1 && (receipt == "READ" || receipt == "DOWNLOADED"));
    return receipt == "REJECTED";
  }
};

rapidjson::Document parse(const std::string& body) {
  rapidjson::Document d;
  d.Parse(body.data(), body.size());
  if (d.HasParseError()) d.SetObject();
  return d;
}

std::string str(const rapidjson::Value& v, const char* key) {
  if (!v.IsObject()) return "";
  const auto m = v.FindMember(key);
  return m != v.MemberEnd() && m->value.IsString()
             ? std::string(m->value.GetString(), m->value.GetStringLength())
             : std::string();
}

std::int64_t num(const rapidjson::Value& v, const char* key) {
  if (!v.IsObject()) return 0;
  const auto m = v.FindMember(key);
  return m != v.MemberEnd() && m->value.IsInt64() ? m->value.GetInt64() : 0;
}

// The unit a file name belongs to: "from>to@sequence" (empty when the name is not the standard's).
std::string unit_key_of(const std::string& file_name) {
  const auto parsed = mapping::parse_file_name(file_name);
  if (!parsed.name) return "";
  return parsed.name->from.office_no + ">" + parsed.name->to.office_no + "@" +
         parsed.name->sequence;
}

std::string run_capture(const std::string& command, int& status) {
  std::string out;
  FILE* p = ::popen(command.c_str(), "r");
  if (p == nullptr) {
    status = -1;
    return out;
  }
  std::array<char, 4096> buf{};
  std::size_t n = 0;
  while ((n = std::fread(buf.data(), 1, buf.size(), p)) > 0) out.append(buf.data(), n);
  const int rc = ::pclose(p);
  status = WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
  return out;
}

class Player {
 public:
  explicit Player(Options o) : o_(std::move(o)), gen_(o_.seed) {}

  int run() {
    connect();
    wait_for_gateway_publication();
    if (o_.scenario == "load")
      play_load();
    else if (o_.scenario == "outage")
      play_outage();
    else if (o_.scenario == "faults")
      play_load(true);
    else if (o_.scenario == "crl")
      play_crl();
    else if (o_.scenario == "poison")
      play_poison();
    else
      play_month();
    return verify_and_summarise();
  }

 private:
  // ---- set-up ---------------------------------------------------------------------------

  void connect() {
    for (const auto* list : {&kNationalManagers, &kNationalServices}) {
      for (const auto& no : *list) {
        nat_[no] = std::make_unique<standin::OfficeClient>(standin::office_options_from_pki(
            o_.pki, no, o_.national_port, national_user(no), national_password(no)));
      }
    }
    for (const auto* list : {&kRegionalManagers, &kRegionalServices}) {
      for (const auto& no : *list) {
        reg_cred_.emplace(
            no, gateway::pki::load_credential(o_.pki + "/offices/regional/" + no + ".cert.pem",
                                              o_.pki + "/offices/regional/" + no + ".key.pem"));
      }
    }
    adapters::regional::office::OfficeClientOptions r;
    r.port = o_.regional_port;
    r.tls.ca_file = o_.pki + "/tls/regional-ca.pem";
    r.tls.cert_file = o_.pki + "/tls/regional-standin-client.cert.pem";
    r.tls.key_file = o_.pki + "/tls/regional-standin-client.key.pem";
    reg_ = std::make_unique<adapters::regional::office::OfficeClient>(r);
    for (auto& [no, c] : nat_) {
      const auto a = c->login();
      if (!a.ok())
        throw std::runtime_error("national login of office " + no + " failed: status " +
                                 std::to_string(a.status) + " " + a.error_code);
    }
  }

  // The gateway publishes the national offices on the regional network (its external directory)
  // at its first registry sync; regional offices can address national partners only after that.
  void wait_for_gateway_publication() {
    const auto deadline = Clock::now() + std::chrono::seconds(std::min(o_.deadline_s, 120));
    while (true) {
      const auto r = reg_->call("GET", "/rhn/v1/directory");
      std::set<std::string> published;
      if (r.status == 200) {
        const auto d = parse(r.body);
        if (d.HasMember("facilities") && d["facilities"].IsArray()) {
          for (const auto& f : d["facilities"].GetArray()) {
            if (!f.IsObject() || !f.HasMember("external") || !f["external"].IsBool() ||
                !f["external"].GetBool())
              continue;
            if (!f.HasMember("offices") || !f["offices"].IsArray()) continue;
            for (const auto& o : f["offices"].GetArray()) published.insert(str(o, "office_no"));
          }
        }
      }
      bool all = true;
      for (const auto* list : {&kNationalManagers, &kNationalServices}) {
        for (const auto& no : *list) all = all && published.count(no) > 0;
      }
      if (all) return;
      if (Clock::now() > deadline)
        throw std::runtime_error(
            "the gateway did not publish the national offices on the regional network");
      std::this_thread::sleep_for(std::chrono::milliseconds(100));  // poll interval, not a sync
    }
  }

  // ---- units ----------------------------------------------------------------------------

  // A generated unit of `combo` rewritten to the offices `from` → `to` (the generator's own office
  // numbers are random valid ones; ours are the PKI's, also valid: a byte replace keeps it valid).
  Unit make(const std::string& label, const std::string& combo, Net from_net,
            const std::string& from, const std::string& to, bool attachment = false,
            int users = 2) {
    testing::UnitParams p;
    p.users = users;
    p.providers = 1;
    p.with_attachment = attachment;
    testing::GeneratedUnit g;
    std::optional<mapping::CarePlanFileName> name;
    // The generator's offices are random: the rare unit whose two sides share an office number
    // cannot be rewritten to two different offices, so take another.
    for (int attempt = 0; attempt < 10; ++attempt) {
      g = gen_.make(combo, p);
      std::string csv;
      for (const auto& f : g.files) {
        if (f.name.size() > 4 && f.name.substr(f.name.size() - 4) == ".CSV") {
          csv = f.name;
          break;
        }
      }
      auto candidate = mapping::parse_file_name(csv);
      if (!candidate.name) throw std::runtime_error("generator made an unparseable name");
      if (candidate.name->from.office_no != candidate.name->to.office_no) {
        name = std::move(candidate.name);
        break;
      }
    }
    if (!name) throw std::runtime_error("generator kept making units addressed to their sender");
    const auto gfrom = name->from.office_no;
    const auto gto = name->to.office_no;
    Unit u;
    u.label = label;
    u.from_net = from_net;
    u.kind = combo;
    u.from = {from, name->from.service_type};
    u.to = {to, name->to.service_type};
    u.sequence = name->sequence;
    for (auto& f : g.files) {
      // One step: the new sender may be the generator's recipient (or the other way round).
      f.name = testing::readdress(f.name, gfrom, from, gto, to);
      f.bytes = testing::readdress(f.bytes, gfrom, from, gto, to);
      u.files.push_back(std::move(f));
    }
    return u;
  }

  // The same unit sent again later (a resend replaces what was sent): the sequence of a newer unit.
  Unit resend(const Unit& original, const std::string& label) {
    const auto later = gen_.make("K4", {}).files.front().name;
    const auto parsed = mapping::parse_file_name(later);
    Unit u = original;
    u.label = label;
    u.sequence = parsed.name->sequence;
    u.remote_id.clear();
    u.message_id.clear();
    u.arrivals = 0;
    u.receipt.clear();
    for (auto& f : u.files) {
      f.name = testing::replace_all(f.name, original.sequence, u.sequence);
      f.bytes = testing::replace_all(f.bytes, original.sequence, u.sequence);
    }
    return u;
  }

  // Breaks one date of the unit's first CSV so that the standard's checks refuse it; returns the
  // finding code mapping::inspect gives (the gateway must name the same code).
  std::string break_csv(Unit& u) {
    auto& bytes = u.files.front().bytes;
    // A date field: 8 digits starting 20, between commas or quotes.
    for (std::size_t i = 1; i + 9 < bytes.size(); ++i) {
      const bool sep_before = bytes[i - 1] == ',' || bytes[i - 1] == '"';
      const bool sep_after = bytes[i + 8] == ',' || bytes[i + 8] == '"' || bytes[i + 8] == '\r';
      if (!sep_before || !sep_after || bytes.compare(i, 2, "20") != 0) continue;
      if (!std::all_of(bytes.begin() + static_cast<std::ptrdiff_t>(i),
                       bytes.begin() + static_cast<std::ptrdiff_t>(i + 8),
                       [](char c) { return c >= '0' && c <= '9'; })) {
        continue;
      }
      bytes.replace(i + 6, 2, "32");  // the 32nd day of a month
      break;
    }
    std::vector<mapping::InputFile> in;
    for (const auto& f : u.files) in.push_back({f.name, f.bytes, f.bytes.size()});
    const auto report = mapping::inspect(in);
    for (const auto& unit : report.units) {
      for (const auto& f : unit.findings) {
        if (f.severity == mapping::Severity::kError) return f.code;
      }
    }
    throw std::runtime_error("breaking the CSV did not produce a finding");
  }

  // ---- sending --------------------------------------------------------------------------

  // The unit is registered before the first attempt: when an answer is cut (fault injection) the
  // retries pump the recipients, and the unit may already arrive (and its receipt come back) while
  // the sender is still asking for the first answer again.
  void send(Unit& u) {
    const auto idx = units_.size();
    by_key_[u.key()] = idx;
    units_.push_back(u);
    if (u.from_net == Net::kNational) {
      std::vector<standin::PlainFile> files;
      for (const auto& f : u.files) files.push_back({f.name, f.bytes});
      const auto key = "month-" + std::to_string(o_.seed) + "-" + std::to_string(idx);
      // A cut or garbled answer (fault injection) is retried with the same idempotency key: the
      // network answers a repeat with the first result.
      // Signed once: a repeat must carry the same body (else the network answers 409).
      auto& client = *nat_.at(u.from.office_no);
      const auto body = client.unit_body(u.from, u.to, u.kind, "今月分をお送りします", files);
      auto a = client.post_unit(body, key);
      for (int i = 0; i < 50 && ((!a.ok() && (a.ec || a.status >= 500 || a.status == 429)) ||
                                 (a.ok() && str(parse(a.body), "transmission_id").empty()));
           ++i) {
        pump_wait();
        a = client.post_unit(body, key);
      }
      if (!a.ok())
        throw std::runtime_error("national send refused: " + std::to_string(a.status) + " " +
                                 a.error_code);
      u.remote_id = str(parse(a.body), "transmission_id");
      if (u.remote_id.empty())
        throw std::runtime_error("national send: no transmission id in 50 answers");
    } else {
      std::vector<adapters::regional::office::OfficeFile> files;
      for (const auto& f : u.files) files.push_back({f.name, f.bytes});
      u.message_id = "month-" + std::to_string(o_.seed) + "-" + std::to_string(idx);
      const auto msg = adapters::regional::office::build_message(
          u.message_id, {kFacility, u.from}, u.to, files, reg_cred_.at(u.from.office_no), u.label,
          "今月分をお送りします");
      auto r = reg_->send(msg);
      for (int i = 0; i < 50 && (r.status == 0 || r.status >= 500 || r.status == 429 ||
                                 (r.status == 201 && str(parse(r.body), "id").empty()));
           ++i) {
        pump_wait();
        r = reg_->send(msg);
      }
      if (r.status != 201)
        throw std::runtime_error("regional send refused: " + std::to_string(r.status) + " " +
                                 r.body.substr(0, 200));
      u.remote_id = str(parse(r.body), "id");
      if (u.remote_id.empty())
        throw std::runtime_error("regional send: no message id in 50 answers");
    }
    auto& kept = units_[idx];
    kept.remote_id = u.remote_id;
    kept.message_id = u.message_id;
    by_remote_[u.remote_id] = idx;
    const auto early = early_receipts_.find(u.remote_id);
    if (early != early_receipts_.end()) {
      if (kept.receipt != "REJECTED") kept.receipt = early->second.first;
      if (!early->second.second.empty()) kept.reason = early->second.second;
      early_receipts_.erase(early);
    }
  }

  // A regional message whose signatures do not match its documents, put straight into the
  // gateway member's mailbox. Both stand-ins verify signatures before anything reaches the gateway,
  // so a tampered unit can only come from a network that stored or passed it on wrongly; this is
  // that network, one row written the way the stand-in writes its own (same id and sequence rules,
  // in one IMMEDIATE transaction so that it cannot interleave with the stand-in's inserts).
  // `tamper` false: the intact unit, for an item the network should not have passed on (a
  // recipient its directory no longer lists: a publication that changed after the send).
  void inject(Unit& u, bool tamper) {
    const auto idx = units_.size();
    u.message_id = "month-" + std::to_string(o_.seed) + "-" + std::to_string(idx) +
                   (tamper ? "-tampered" : "-injected");
    std::vector<adapters::regional::office::OfficeFile> files;
    for (const auto& f : u.files)
      files.push_back({f.name, tamper ? f.bytes + " " : f.bytes});  // tampered: signed other bytes
    auto msg =
        adapters::regional::office::build_message(u.message_id, {kFacility, u.from}, u.to, files,
                                                  reg_cred_.at(u.from.office_no), u.label, "");
    for (std::size_t i = 0; i < msg.documents.size(); ++i)
      msg.documents[i].content = u.files[i].bytes;
    const auto full = parse(adapters::regional::encode_message(msg));
    rapidjson::StringBuffer b;
    rapidjson::Writer<rapidjson::StringBuffer> w(b);
    full["documents"].Accept(w);
    sqlite3* db = nullptr;
    if (sqlite3_open_v2(o_.regional_state.c_str(), &db, SQLITE_OPEN_READWRITE, nullptr) !=
        SQLITE_OK) {
      sqlite3_close(db);
      throw std::runtime_error("cannot open the regional stand-in's state " + o_.regional_state);
    }
    sqlite3_busy_timeout(db, 10000);
    const char* sql =
        "INSERT INTO messages (id, sender, message_id, body_sha256, response_status, "
        "response_body, "
        "recipient, sequence, from_facility, from_office, from_type, to_office, to_type, subject, "
        "body, "
        "documents, document_count, state, reason, state_at, received_at, attempts) VALUES ("
        "printf('m-%012d', (SELECT COALESCE(MAX(row_no), 0) + 1 FROM messages)), ?1, ?2, "
        "'tampered', 201, '{}', "
        "?3, (SELECT COALESCE(MAX(sequence), 0) + 1 FROM messages WHERE recipient = ?3), ?4, ?5, "
        "?6, ?7, ?8, "
        "?9, '', ?10, ?11, 'UNREAD', '', '', strftime('%Y-%m-%dT%H:%M:%SZ', 'now'), 1) RETURNING "
        "id";
    sqlite3_exec(db, "BEGIN IMMEDIATE", nullptr, nullptr, nullptr);
    sqlite3_stmt* st = nullptr;
    bool ok = sqlite3_prepare_v2(db, sql, -1, &st, nullptr) == SQLITE_OK;
    if (ok) {
      const std::string docs = b.GetString();
      const std::array<std::string, 11> values{kRegionalMemberCn,
                                               u.message_id,
                                               kGatewayMemberCn,
                                               kFacility,
                                               u.from.office_no,
                                               u.from.service_type,
                                               u.to.office_no,
                                               u.to.service_type,
                                               u.label,
                                               docs,
                                               std::to_string(u.files.size())};
      for (int i = 0; i < 11; ++i) {
        sqlite3_bind_text(st, i + 1, values[static_cast<std::size_t>(i)].c_str(), -1,
                          SQLITE_TRANSIENT);
      }
      ok = sqlite3_step(st) == SQLITE_ROW;
      if (ok) u.remote_id = reinterpret_cast<const char*>(sqlite3_column_text(st, 0));
      ok = ok && sqlite3_step(st) == SQLITE_DONE;
    }
    sqlite3_finalize(st);
    sqlite3_exec(db, ok ? "COMMIT" : "ROLLBACK", nullptr, nullptr, nullptr);
    const std::string why = ok ? "" : sqlite3_errmsg(db);
    sqlite3_close(db);
    if (!ok) throw std::runtime_error("injecting the tampered message failed: " + why);
    by_key_[u.key()] = idx;
    by_remote_[u.remote_id] = idx;
    units_.push_back(u);
  }

  // ---- the recipients and the senders' receipts ----------------------------------------------

  void arrived(const std::string& key, const OfficeRef& to, const std::string& recipient_net_id) {
    if (!seen_items_.insert(recipient_net_id).second) return;  // listed twice: the same item
    const auto it = by_key_.find(key);
    if (it == by_key_.end()) {
      unexpected_.push_back("an item nobody sent: " + key + " to " + to.office_no);
      return;
    }
    auto& u = units_[it->second];
    ++u.arrivals;
    arrival_order_[u.from.office_no + ">" + u.to.office_no].push_back(u.sequence);
  }

  // One round: national recipients download and acknowledge, the regional member reads its mail,
  // and both kinds of senders collect what happened to what they sent.
  void pump() {
    if (!national_down_) {
      for (auto& [no, c] : nat_) {
        for (bool more = true; more;) {
          const auto a = c->inbox(nat_cursor_[no], 100);
          if (!a.ok()) break;
          const auto d = parse(a.body);
          if (!d.HasMember("items") || !d["items"].IsArray()) break;
          for (const auto& item : d["items"].GetArray()) {
            const auto id = str(item, "transmission_id");
            std::string key;
            if (item.HasMember("files") && item["files"].IsArray()) {
              for (const auto& f : item["files"].GetArray()) {
                const auto name = str(f, "name");
                if (key.empty()) key = unit_key_of(name);
                if (downloaded_.count(id) == 0) {
                  std::string content, signed_data;
                  (void)c->fetch(id, name, content, signed_data);
                }
              }
            }
            downloaded_.insert(id);
            if (str(item, "state") == "WAITING") (void)c->receipt(id, "DOWNLOADED", "");
            arrived(key, {no, ""}, "N:" + id);
            nat_cursor_[no] = str(item, "cursor");
          }
          more = d.HasMember("has_more") && d["has_more"].IsBool() && d["has_more"].GetBool();
          if (!str(d, "next_cursor").empty()) nat_cursor_[no] = str(d, "next_cursor");
        }
        for (bool more = true; more;) {
          const auto a = c->updates(nat_update_cursor_[no]);
          if (!a.ok()) break;
          const auto d = parse(a.body);
          if (!d.HasMember("updates") || !d["updates"].IsArray()) break;
          for (const auto& up : d["updates"].GetArray()) {
            const auto it = by_remote_.find(str(up, "transmission_id"));
            if (it == by_remote_.end()) {  // the send's answer is still being asked for again
              early_receipts_[str(up, "transmission_id")] = {str(up, "state"), str(up, "reason")};
              continue;
            }
            auto& u = units_[it->second];
            if (u.receipt != "REJECTED") u.receipt = str(up, "state");
            if (!str(up, "reason").empty()) u.reason = str(up, "reason");
          }
          more = d.HasMember("has_more") && d["has_more"].IsBool() && d["has_more"].GetBool();
          if (!str(d, "next_cursor").empty()) nat_update_cursor_[no] = str(d, "next_cursor");
          if (d["updates"].Empty()) more = false;
        }
      }
    }
    for (bool more = true; more;) {
      const auto r = reg_->mailbox(reg_since_, 100);
      if (r.status != 200) break;
      const auto d = parse(r.body);
      if (!d.HasMember("items") || !d["items"].IsArray()) break;
      for (const auto& item : d["items"].GetArray()) {
        const auto id = str(item, "id");
        const auto m = reg_->fetch(id);
        if (m.status != 200) return;  // try again next round from the same place
        const auto msg = parse(m.body);
        std::string key;
        if (msg.HasMember("documents") && msg["documents"].IsArray()) {
          for (const auto& doc : msg["documents"].GetArray()) {
            if (key.empty()) key = unit_key_of(str(doc, "filename"));
          }
        }
        if (str(item, "state") == "UNREAD" && reg_->read(id).status != 200) return;
        arrived(key, {str(item["to"], "office_no"), ""}, "R:" + id);
        reg_since_ = std::max(reg_since_, num(item, "sequence"));
      }
      more = d.HasMember("more") && d["more"].IsBool() && d["more"].GetBool();
    }
    for (bool more = true; more;) {
      const auto r = reg_->receipts(reg_receipt_since_);
      if (r.status != 200) break;
      const auto d = parse(r.body);
      if (!d.HasMember("items") || !d["items"].IsArray()) break;
      for (const auto& item : d["items"].GetArray()) {
        const auto it = by_remote_.find(str(item, "id"));
        if (it != by_remote_.end()) {
          auto& u = units_[it->second];
          if (u.receipt != "REJECTED") u.receipt = str(item, "state");
          if (!str(item, "reason").empty()) u.reason = str(item, "reason");
        } else {  // the send's answer is still being asked for again
          early_receipts_[str(item, "id")] = {str(item, "state"), str(item, "reason")};
        }
        reg_receipt_since_ = std::max(reg_receipt_since_, num(item, "sequence"));
      }
      more = d.HasMember("more") && d["more"].IsBool() && d["more"].GetBool();
    }
  }

  void pump_wait() {
    pump();
    std::this_thread::sleep_for(std::chrono::milliseconds(100));  // poll interval, not a sync
  }

  // Polls until `done` or the deadline; false on the deadline.
  bool wait_for(const std::function<bool()>& done, const std::string& what) {
    const auto deadline = Clock::now() + std::chrono::seconds(o_.deadline_s);
    while (true) {
      pump();
      if (done()) return true;
      if (Clock::now() > deadline) {
        std::cout << "  !! gave up waiting for " << what << " after " << o_.deadline_s << " s\n";
        return false;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
  }

  bool settled(std::size_t from, std::size_t to) const {
    for (std::size_t i = from; i < to; ++i) {
      if (!units_[i].settled()) return false;
    }
    return true;
  }

  // Sends a phase, waits until it settled and prints one line of counts.
  void phase(const std::string& name, std::vector<Unit> batch) {
    const auto start = units_.size();
    const auto t0 = Clock::now();
    for (auto& u : batch) send(u);
    const bool ok = wait_for([&] { return settled(start, units_.size()); }, name);
    print_phase(name, start, t0, ok);
  }

  void print_phase(const std::string& name, std::size_t start, Clock::time_point t0, bool ok) {
    int rn = 0, nr = 0, receipts = 0, rejected = 0;
    for (std::size_t i = start; i < units_.size(); ++i) {
      const auto& u = units_[i];
      (u.from_net == Net::kRegional ? rn : nr) += u.arrivals;
      if (u.valid() && u.settled()) ++receipts;
      if (u.receipt == "REJECTED") ++rejected;
    }
    const auto ms =
        std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - t0).count();
    std::cout << "  " << (ok ? "ok " : "!! ") << name << ": " << units_.size() - start << " sent, "
              << rn << " regional→national + " << nr << " national→regional delivered, " << receipts
              << " receipts back, " << rejected << " rejected (" << ms << " ms)" << std::endl;
    all_phases_ok_ &= ok;
  }

  // ---- the month ------------------------------------------------------------------------

  void play_month() {
    std::cout << "== a month of care-plan traffic through the gateway" << std::endl;
    // Plans: every care manager office sends its partners on the other network 第6表+第7表+補足,
    // the first partner of each also gets a PDF (insurance card copy).
    std::vector<Unit> plans;
    for (std::size_t m = 0; m < kRegionalManagers.size(); ++m) {
      for (std::size_t s = 0; s < kNationalServices.size(); ++s) {
        plans.push_back(
            make("plan", "K2", Net::kRegional, kRegionalManagers[m], kNationalServices[s], s == 0));
      }
    }
    for (std::size_t m = 0; m < kNationalManagers.size(); ++m) {
      for (std::size_t s = 0; s < kRegionalServices.size(); ++s) {
        plans.push_back(
            make("plan", "K2", Net::kNational, kNationalManagers[m], kRegionalServices[s], s == 0));
      }
    }
    phase("plans (K2 第6表+第7表+補足, PDF attachments)", plans);

    // Care plans proper (第1–3表) to one partner each.
    care_plan_index_ = units_.size();
    std::vector<Unit> care_plans{
        make("care plan", "K1", Net::kRegional, kRegionalManagers[0], kNationalServices[1]),
        make("care plan", "K1", Net::kNational, kNationalManagers[1], kRegionalServices[2])};
    phase("care plans (K1 第1–3表)", care_plans);

    // Maintenance window on the national side while regional offices keep sending: the gateway
    // must queue (not fail, not park) and drain by itself when the window closes.
    maintenance_window();

    // Actuals back from every service office to its care manager.
    std::vector<Unit> actuals;
    for (const auto& s : kNationalServices) {
      for (const auto& m : kRegionalManagers)
        actuals.push_back(make("actuals", "K5", Net::kNational, s, m));
    }
    for (const auto& s : kRegionalServices) {
      for (const auto& m : kNationalManagers)
        actuals.push_back(make("actuals", "K5", Net::kRegional, s, m));
    }
    phase("actuals (K5 第6表実績)", actuals);

    // A care-plan change: the K1 sent again with a later sequence, after the first one arrived.
    std::vector<Unit> changes;
    for (std::size_t i = care_plan_index_; i < care_plan_index_ + 2; ++i)
      changes.push_back(resend(units_[i], "care plan change"));
    phase("care-plan change (K1 resent, later sequence)", changes);

    // Deletes: a use-sheet withdrawn each way.
    std::vector<Unit> deletes{
        make("delete", "K4", Net::kRegional, kRegionalManagers[1], kNationalServices[2]),
        make("delete", "K4", Net::kNational, kNationalManagers[0], kRegionalServices[1])};
    phase("deletes (K4 DLTPLAN)", deletes);

    // Refusals: each must come back to its sender naming the finding.
    const auto start = units_.size();
    const auto t0 = Clock::now();
    auto broken =
        make("broken CSV", "K2", Net::kRegional, kRegionalManagers[1], kNationalServices[3]);
    broken.expect_code = break_csv(broken);
    send(broken);
    // The regional network refuses sends to offices its directory does not list, so a unit for an
    // office unknown to the gateway reaches it only when the network passed it on anyway (its
    // directory changed between the send and the delivery): injected into the gateway's mailbox.
    auto unknown =
        make("unknown office", "K2", Net::kRegional, kRegionalManagers[0], kStaleNational);
    unknown.expect_code = "RECIPIENT_UNKNOWN";
    inject(unknown, false);
    auto suspended =
        make("suspended office", "K2", Net::kNational, kNationalManagers[1], kRegionalSuspended);
    suspended.expect_code = "RECIPIENT_NOT_ACTIVE";
    send(suspended);
    auto tampered =
        make("bad signature", "K2", Net::kRegional, kRegionalManagers[0], kNationalServices[2]);
    tampered.expect_code = "SIGNATURE_INVALID";
    inject(tampered, true);
    const bool ok = wait_for([&] { return settled(start, units_.size()); }, "the refusals");
    print_phase("refusals (broken CSV, bad signature, unknown and suspended offices)", start, t0,
                ok);
  }

  void maintenance_window() {
    const auto start = units_.size();
    const auto t0 = Clock::now();
    admin_national(R"({"maintenance":true,"retry_after":1})");
    national_down_ = true;
    std::cout << "  .. national maintenance window open (503 + Retry-After)" << std::endl;
    std::vector<Unit> queued;
    for (const auto& m : kRegionalManagers) {
      for (const auto& s : kNationalServices)
        queued.push_back(make("plan (next month)", "K2", Net::kRegional, m, s));
    }
    for (auto& u : queued) send(u);
    // The window stays open until the gateway has taken every unit in and tried the national side
    // (its report shows them in flight), and at least a few seconds, like a real window.
    const auto min_close = Clock::now() + std::chrono::seconds(3);
    const auto expected_in = static_cast<std::int64_t>(units_.size());
    const bool queued_ok = wait_for(
        [&] {
          if (Clock::now() < min_close) return false;
          const auto r = report();
          return r.ok && r.in >= expected_in &&
                 r.in_flight >= static_cast<std::int64_t>(queued.size());
        },
        "the gateway to queue units during maintenance");
    const auto held =
        std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - t0).count();
    admin_national(R"({"maintenance":false})");
    national_down_ = false;
    std::cout << "  .. national maintenance window closed after " << held << " ms, "
              << queued.size() << " units queued at the gateway" << std::endl;
    const bool ok =
        wait_for([&] { return settled(start, units_.size()); }, "the backlog after maintenance");
    print_phase("maintenance window (national 503, backlog drained)", start, t0, ok && queued_ok);
  }

  void admin_national(const std::string& body) {
    auto call = [&] {
      return nat_.begin()->second->raw(
          {"POST",
           "/admin/v1/faults",
           {{"authorization", "Admin admin"}, {"content-type", "application/json"}},
           body,
           {},
           {}});
    };
    auto a = call();
    for (int i = 0; i < 20 && !a.ok(); ++i) a = call();
    if (!a.ok())
      throw std::runtime_error("national admin call failed: " + std::to_string(a.status));
  }

  // ---- load (crash test) ----------------------------------------------------------------------

  // faults: every 25 units both networks are told to misbehave for their next answers: cut
  // responses (connection closed mid-body), garbage JSON, 500s and 429s with Retry-After, and the
  // same inbox items listed again and again (a duplicate storm). Everyone talking to a network
  // meets its faults, the offices too; what must hold is the gateway's: once, in order, balanced.
  void inject_faults(int round) {
    const int n = 2 + round % 3;
    admin_national("{\"drop\":" + std::to_string(n) + ",\"malformed\":" + std::to_string(n) +
                   ",\"duplicate_inbox\":" + std::to_string(3 * n) +
                   ",\"status\":" + (round % 2 == 0 ? "500" : "429") +
                   ",\"count\":" + std::to_string(n) + ",\"retry_after\":1}");
    const std::string body = "{\"drop_responses\":" + std::to_string(n) +
                             ",\"malformed_responses\":" + std::to_string(n) +
                             ",\"duplicate_listings\":" + std::to_string(3 * n) +
                             ",\"fail_status\":" + (round % 2 == 0 ? "503" : "500") +
                             ",\"fail_count\":" + std::to_string(n) + ",\"retry_after\":1}";
    // The admin call is a request like any other: the previous round's armed drops may cut it.
    // Tried for up to about 10 s, pausing between tries (the stand-in may be slow under load).
    auto r = reg_->call("POST", "/admin/v1/faults", body);
    for (int i = 0; i < 50 && r.status != 200; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
      r = reg_->call("POST", "/admin/v1/faults", body);
    }
    if (r.status != 200) {
      throw std::runtime_error("regional admin call failed: " + std::to_string(r.status) + " " +
                               r.body.substr(0, 200));
    }
    ++fault_rounds_;
  }

  void play_load(bool faults = false) {
    std::cout << "== " << (faults ? "faults" : "load") << ": " << o_.units << " units both ways"
              << (faults ? " (both networks misbehave every 25 units)" : "") << std::endl;
    const auto t0 = Clock::now();
    int sent = 0;
    for (int i = 0; i < o_.units; ++i) {
      Unit u;
      if (i % 2 == 0) {
        u = make("load", "K2", Net::kRegional,
                 kRegionalManagers[static_cast<std::size_t>(i / 2) % 2],
                 kNationalServices[static_cast<std::size_t>(i / 4) % 4], false, 1);
      } else {
        u = make("load", "K5", Net::kNational,
                 kNationalServices[static_cast<std::size_t>(i / 2) % 4],
                 kRegionalManagers[static_cast<std::size_t>(i / 8) % 2], false, 1);
      }
      send(u);
      ++sent;
      if (faults && sent % 25 == 0) inject_faults(sent / 25);
      if (sent % 50 == 0) {
        pump();
        int arrived = 0;
        for (const auto& x : units_) arrived += x.arrivals;
        std::cout << "  .. " << sent << " sent, " << arrived << " arrived" << std::endl;
      }
    }
    const bool ok = wait_for([&] { return settled(0, units_.size()); }, "every unit and receipt");
    print_phase(faults ? "faults (" + std::to_string(fault_rounds_) + " rounds)" : "load", 0, t0,
                ok);
  }

  // National senders keep sending while the regional network is unreachable (its stand-in
  // stopped: connections refused, not a polite 503). Everything sent meanwhile waits in the
  // gateway and must arrive after the network is back, each pair in order, each unit once.
  void play_outage() {
    std::cout << "== outage: the regional network down for " << o_.outage_s << " s" << std::endl;
    const auto t0 = Clock::now();
    int i = 0;
    auto send_one = [&](bool both_ways) {
      Unit u;
      if (both_ways && i % 2 == 0) {
        u = make("outage", "K2", Net::kRegional,
                 kRegionalManagers[static_cast<std::size_t>(i / 2) % 2],
                 kNationalServices[static_cast<std::size_t>(i / 4) % 4], false, 1);
      } else {
        u = make("outage", "K5", Net::kNational,
                 kNationalServices[static_cast<std::size_t>(i / 2) % 4],
                 kRegionalManagers[static_cast<std::size_t>(i / 8) % 2], false, 1);
      }
      send(u);
      ++i;
    };
    for (int k = 0; k < 20; ++k) send_one(true);
    const bool before =
        wait_for([&] { return settled(0, units_.size()); }, "the units before the outage");
    print_phase("before the outage", 0, t0, before);

    const auto down_at = Clock::now();
    const std::size_t during_start = units_.size();
    if (std::system(o_.outage_down.c_str()) != 0)
      throw std::runtime_error("--outage-down command failed");
    std::cout << "  .. regional network down" << std::endl;
    while (Clock::now() - down_at < std::chrono::seconds(o_.outage_s)) {
      send_one(false);
      pump_wait();
    }
    const std::size_t queued = units_.size() - during_start;
    int arrived_during = 0;
    for (std::size_t k = during_start; k < units_.size(); ++k) arrived_during += units_[k].arrivals;
    if (std::system(o_.outage_up.c_str()) != 0)
      throw std::runtime_error("--outage-up command failed");
    std::cout << "  .. regional network back after " << o_.outage_s << " s; " << queued
              << " units sent meanwhile, " << arrived_during << " of them arrived during the outage"
              << std::endl;
    const auto up_at = Clock::now();
    const bool drained = wait_for([&] { return settled(during_start, units_.size()); },
                                  "the backlog after the outage");
    const auto ms =
        std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - up_at).count();
    std::cout << "  .. backlog of " << queued << " drained " << ms
              << " ms after the network came back" << std::endl;
    if (arrived_during != 0) unexpected_.push_back("units arrived on a network that was down");
    print_phase("outage (regional down, backlog drained)", during_start, down_at, drained);
  }

  // Regional offices send while the gateway's regional trust domain holds a CRL past its
  // nextUpdate (tests/e2e/crl_test.sh): with hard-fail every unit must come back to its sender
  // refused, naming the stale revocation information; with soft-fail (within crl_max_age) every
  // unit is relayed.
  void play_crl() {
    std::cout << "== crl: " << o_.units << " regional units, "
              << (o_.expect_code.empty() ? "relayed (soft-fail)"
                                         : "refused [" + o_.expect_code + "] (hard-fail)")
              << std::endl;
    const auto t0 = Clock::now();
    for (int i = 0; i < o_.units; ++i) {
      Unit u = make("crl", "K2", Net::kRegional, kRegionalManagers[static_cast<std::size_t>(i) % 2],
                    kNationalServices[static_cast<std::size_t>(i / 2) % 4], false, 1);
      u.expect_code = o_.expect_code;
      send(u);
    }
    const bool ok =
        wait_for([&] { return settled(0, units_.size()); }, "every unit's receipt or rejection");
    if (!o_.expect_code.empty()) {
      for (const auto& u : units_) {
        if (u.receipt == "REJECTED" && u.reason.find("失効情報") == std::string::npos) {
          unexpected_.push_back(
              u.key() + ": the rejection does not say the revocation information is the problem");
        }
      }
    }
    print_phase("crl", 0, t0, ok);
  }

  // poison (issue 14): rounds of good units both ways, each followed by one unit that its network
  // serves broken for good (the stand-in's poison_next: the next message it accepts). The arm is
  // set only when everything sent so far has settled: the gateway then has nothing to send to that
  // network, so the next message it accepts is the office's, the unit marked bad here. The good
  // units of the next round follow the bad one at once (the inbox holds it among good ones).
  void play_poison() {
    static const std::vector<std::pair<Net, std::string>> kKinds{
        {Net::kNational, "undecryptable"}, {Net::kRegional, "bad_base64"},
        {Net::kNational, "no_content"},    {Net::kRegional, "base64_newline"},
        {Net::kNational, "no_files"},      {Net::kRegional, "missing_field"},
        {Net::kRegional, "deep_json"},     {Net::kRegional, "too_many_documents"},
    };
    std::cout << "== poison: " << o_.units << " good units both ways, " << kKinds.size()
              << " poison items mixed in" << std::endl;
    const auto t0 = Clock::now();
    const int per_round = std::max(2, o_.units / static_cast<int>(kKinds.size() + 1));
    int i = 0;
    auto send_good = [&](int n) {
      for (int k = 0; k < n && i < o_.units; ++k, ++i) {
        Unit u;
        if (i % 2 == 0) {
          u = make("good", "K2", Net::kRegional,
                   kRegionalManagers[static_cast<std::size_t>(i / 2) % 2],
                   kNationalServices[static_cast<std::size_t>(i / 4) % 4], false, 1);
        } else {
          u = make("good", "K5", Net::kNational,
                   kNationalServices[static_cast<std::size_t>(i / 2) % 4],
                   kRegionalManagers[static_cast<std::size_t>(i / 8) % 2], false, 1);
        }
        send(u);
      }
    };
    bool ok = true;
    for (std::size_t k = 0; k < kKinds.size(); ++k) {
      send_good(per_round);
      ok = wait_for([&] { return settled(0, units_.size()); }, "the units before a poison item") &&
           ok;
      const auto& [net, kind] = kKinds[k];
      const std::string arm = "{\"poison_next\":\"" + kind + "\"}";
      Unit bad;
      if (net == Net::kNational) {
        admin_national(arm);
        bad = make("poison-" + kind, "K5", Net::kNational,
                   kNationalServices[k % kNationalServices.size()],
                   kRegionalManagers[k % kRegionalManagers.size()], false, 1);
      } else {
        const auto r = reg_->call("POST", "/admin/v1/faults", arm);
        if (r.status != 200)
          throw std::runtime_error("regional admin call failed: " + std::to_string(r.status));
        bad = make("poison-" + kind, "K2", Net::kRegional,
                   kRegionalManagers[k % kRegionalManagers.size()],
                   kNationalServices[k % kNationalServices.size()], false, 1);
      }
      bad.expect_code = "ITEM_UNREADABLE";
      send(bad);
    }
    send_good(o_.units - i);
    ok = wait_for([&] { return settled(0, units_.size()); }, "every unit, receipt and refusal") &&
         ok;
    // The office's notice names [ITEM_UNREADABLE] (verify checks it); the gateway's transfer
    // keeps what was wrong with the item (the adapter's reason), for the operator.
    static const std::map<std::string, std::string> kReasons{
        {"undecryptable", "cannot be decrypted"},
        {"no_content", "carries no content"},
        {"no_files", "files: missing"},
        {"bad_base64", "documents[0].content: not base64"},
        {"base64_newline", "documents[0].content: not base64"},
        {"missing_field", "from.office_no: missing"},
        {"deep_json", "nested deeper than"},
        {"too_many_documents", "documents: 101 entries, the contract allows 1-100"},
    };
    int status = 0;
    const auto listed = parse(run_capture("'" + o_.kakehashi + "' relay list --config '" +
                                              o_.config + "' --state rejected --json 2>/dev/null",
                                          status));
    std::map<std::string, std::string> reason_by_source;  // "network:source id" → reason
    if (status != 0 || !listed.IsArray()) {
      unexpected_.push_back("kakehashi relay list --state rejected --json gave no list");
    } else {
      for (const auto& t : listed.GetArray())
        reason_by_source[str(t, "source_network") + ":" + str(t, "source_id")] = str(t, "reason");
    }
    for (const auto& u : units_) {
      if (u.valid()) continue;
      const auto& part = kReasons.at(u.label.substr(std::string("poison-").size()));
      const auto source =
          std::string(u.from_net == Net::kNational ? "national:" : "regional:") + u.remote_id;
      const auto it = reason_by_source.find(source);
      if (it == reason_by_source.end())
        unexpected_.push_back(u.label + ": no rejected transfer from " + source);
      else if (it->second.rfind("ITEM_UNREADABLE (", 0) != 0 ||
               it->second.find(part) == std::string::npos)
        unexpected_.push_back(u.label + ": the transfer's reason \"" + it->second +
                              "\" does not say \"" + part + "\"");
    }
    if (reason_by_source.size() != kKinds.size())
      unexpected_.push_back(std::to_string(reason_by_source.size()) + " transfers rejected, " +
                            std::to_string(kKinds.size()) + " poison items sent");
    print_phase("poison", 0, t0, ok);
  }

  // ---- verification ---------------------------------------------------------------------

  struct Report {
    bool ok = false;
    bool balanced = false;
    std::int64_t in = 0, delivered = 0, rejected = 0, parked = 0, superseded = 0, in_flight = 0,
                 receipts = 0;
    std::string line;
  };

  Report report() const {
    int status = 0;
    const auto out = run_capture(
        "'" + o_.kakehashi + "' relay report --config '" + o_.config + "' --json 2>/dev/null",
        status);
    Report r;
    const auto d = parse(out);
    if (!d.HasMember("total") || !d["total"].IsObject()) return r;
    const auto& t = d["total"];
    r.ok = true;
    r.balanced =
        d.HasMember("balanced") && d["balanced"].IsBool() && d["balanced"].GetBool() && status == 0;
    r.in = num(t, "in");
    r.delivered = num(t, "delivered");
    r.rejected = num(t, "rejected");
    r.parked = num(t, "parked");
    r.superseded = num(t, "superseded");
    r.in_flight = num(t, "in_flight");
    r.receipts = num(t, "receipts");
    std::ostringstream s;
    s << (r.balanced ? "balanced: " : "NOT BALANCED: ") << r.in << " in = " << r.delivered
      << " delivered + " << r.rejected << " rejected + " << r.parked << " parked + " << r.superseded
      << " superseded + " << r.in_flight << " in flight";
    r.line = s.str();
    return r;
  }

  // Deliveries made by the gateway per the stand-ins' logs: unit key → count.
  std::map<std::string, int> delivery_log(std::vector<std::string>& problems) {
    std::map<std::string, int> out;
    const auto a = nat_.begin()->second->raw(
        {"GET", "/admin/v1/deliveries", {{"authorization", "Admin admin"}}, "", {}, {}});
    const auto d = parse(a.body);
    std::set<std::string> keys;
    if (!d.HasMember("deliveries") || !d["deliveries"].IsArray())
      problems.push_back("national delivery log unreadable");
    else {
      for (const auto& e : d["deliveries"].GetArray()) {
        const auto sender = str(e["sender"], "office_no");
        if (std::find(kRegionalManagers.begin(), kRegionalManagers.end(), sender) ==
                kRegionalManagers.end() &&
            std::find(kRegionalServices.begin(), kRegionalServices.end(), sender) ==
                kRegionalServices.end()) {
          continue;  // a national office's own send
        }
        if (!keys.insert(str(e, "idempotency_key")).second)
          problems.push_back("national log: idempotency key twice");
        ++out[sender + ">" + str(e["recipient"], "office_no") + "@" + str(e, "sequence")];
      }
    }
    const auto r = reg_->call("GET", "/admin/v1/deliveries");
    const auto rd = parse(r.body);
    if (!rd.HasMember("deliveries") || !rd["deliveries"].IsArray())
      problems.push_back("regional delivery log unreadable");
    else {
      std::set<std::string> ids;
      for (const auto& e : rd["deliveries"].GetArray()) {
        if (str(e, "sender") != kGatewayMemberCn) continue;
        if (!ids.insert(str(e, "message_id")).second)
          problems.push_back("regional log: message_id twice");
        ++regional_gateway_deliveries_;
      }
    }
    return out;
  }

  int verify_and_summarise() {
    pump();
    std::vector<std::string> problems = unexpected_;
    if (!all_phases_ok_) problems.push_back("a phase did not settle before its deadline");
    const auto log = delivery_log(problems);
    int rn = 0, nr = 0, rn_receipts = 0, nr_receipts = 0, valid_rn = 0, valid_nr = 0;
    std::map<std::string, int> rejections;
    for (const auto& u : units_) {
      const bool regional = u.from_net == Net::kRegional;
      if (u.valid()) {
        (regional ? valid_rn : valid_nr) += 1;
        (regional ? rn : nr) += u.arrivals;
        if (u.arrivals != 1)
          problems.push_back(u.label + " " + u.key() + " arrived " + std::to_string(u.arrivals) +
                             " times");
        if (regional && u.receipt == "READ")
          ++rn_receipts;
        else if (!regional && u.receipt == "DOWNLOADED")
          ++nr_receipts;
        else if (u.receipt == "REJECTED") {
          const auto last_line =
              u.reason.find_last_of('\n', u.reason.size() > 1 ? u.reason.size() - 2 : 0);
          auto reason = u.reason.substr(last_line == std::string::npos ? 0 : last_line + 1);
          std::replace(reason.begin(), reason.end(), '\n', ' ');
          problems.push_back(u.label + " " + u.key() + " (valid, arrived " +
                             std::to_string(u.arrivals) +
                             "x) was rejected back to its sender: " + reason);
        } else {
          problems.push_back(u.label + " " + u.key() + ": sender has no receipt (" + u.receipt +
                             ")");
        }
        if (regional) {
          const auto it = log.find(u.key());
          if (it == log.end() || it->second != 1)
            problems.push_back(u.key() + ": national delivery log shows " +
                               std::to_string(it == log.end() ? 0 : it->second));
        }
      } else {
        if (u.arrivals != 0)
          problems.push_back(u.label + " reached its recipient although invalid");
        if (u.receipt != "REJECTED")
          problems.push_back(u.label + ": sender has no rejection");
        else if (u.reason.find("[" + u.expect_code + "]") == std::string::npos) {
          problems.push_back(u.label + ": rejection does not name [" + u.expect_code + "]");
        } else {
          ++rejections[u.label + " [" + u.expect_code + "]"];
        }
      }
    }
    if (regional_gateway_deliveries_ != valid_nr) {
      problems.push_back("regional delivery log: " + std::to_string(regional_gateway_deliveries_) +
                         " deliveries by the gateway for " + std::to_string(valid_nr) + " units");
    }
    for (const auto& [pair, seqs] : arrival_order_) {
      if (!std::is_sorted(seqs.begin(), seqs.end())) problems.push_back("out of order for " + pair);
    }
    const auto r = report();
    if (!r.ok)
      problems.push_back("kakehashi relay report --json gave no report");
    else if (!r.balanced)
      problems.push_back("relay report does not balance");
    else {
      if (r.in_flight != 0)
        problems.push_back("relay report: " + std::to_string(r.in_flight) + " still in flight");
      if (r.parked != 0)
        problems.push_back("relay report: " + std::to_string(r.parked) + " parked");
      if (r.in != static_cast<std::int64_t>(units_.size())) {
        problems.push_back("relay report counts " + std::to_string(r.in) +
                           " units in, the player sent " + std::to_string(units_.size()));
      }
    }

    std::cout << "\n== summary\n"
              << "  relayed regional→national: " << rn << " of " << valid_rn << " valid units, "
              << rn_receipts << " read receipts back to the regional senders\n"
              << "  relayed national→regional: " << nr << " of " << valid_nr << " valid units, "
              << nr_receipts << " DOWNLOADED receipts back to the national senders\n";
    std::cout << "  rejections back to their senders:";
    if (rejections.empty()) std::cout << " none";
    std::cout << "\n";
    for (const auto& [what, n] : rejections) std::cout << "    " << n << " × " << what << "\n";
    for (const auto& u : units_) {
      if (!u.valid() && !u.reason.empty()) {
        // The finding line of the notice (・… [CODE]) as the sender's staff read it.
        const auto code = u.reason.find("[" + u.expect_code + "]");
        if (code == std::string::npos) continue;
        auto begin = u.reason.rfind('\n', code);
        begin = begin == std::string::npos ? 0 : begin + 1;
        std::cout << "      " << u.label << ": "
                  << u.reason.substr(begin, code + u.expect_code.size() + 2 - begin) << "\n";
      }
    }
    std::cout << "  parked: " << r.parked << "\n"
              << "  conservation: " << (r.ok ? r.line : "(no report)") << "\n";
    if (problems.empty()) {
      std::cout << "  RESULT: every number adds up\n";
      return 0;
    }
    std::cout << "  RESULT: " << problems.size() << " problem(s)\n";
    for (std::size_t i = 0; i < problems.size() && i < 40; ++i)
      std::cout << "    - " << problems[i] << "\n";
    return 1;
  }

  Options o_;
  testing::UnitGenerator gen_;
  std::map<std::string, std::unique_ptr<standin::OfficeClient>> nat_;
  std::map<std::string, mapping::cms::Credential> reg_cred_;
  std::unique_ptr<adapters::regional::office::OfficeClient> reg_;
  std::vector<Unit> units_;
  std::map<std::string, std::size_t> by_key_;
  std::map<std::string, std::size_t> by_remote_;
  std::map<std::string, std::pair<std::string, std::string>>
      early_receipts_;  // remote id → state, reason
  std::set<std::string> seen_items_;
  std::set<std::string> downloaded_;
  std::map<std::string, std::string> nat_cursor_;
  std::map<std::string, std::string> nat_update_cursor_;
  std::int64_t reg_since_ = 0;
  std::int64_t reg_receipt_since_ = 0;
  std::map<std::string, std::vector<std::string>> arrival_order_;
  std::vector<std::string> unexpected_;
  int regional_gateway_deliveries_ = 0;
  bool national_down_ = false;
  int fault_rounds_ = 0;
  bool all_phases_ok_ = true;
  std::size_t care_plan_index_ = 0;
};

}  // namespace
}  // namespace kakehashi::e2e

int main(int argc, char** argv) {
  kakehashi::e2e::Options o;
  try {
    for (int i = 1; i < argc; ++i) {
      const std::string a = argv[i];
      if (i + 1 >= argc) throw std::invalid_argument(a + " needs a value");
      const std::string v = argv[++i];
      if (a == "--national-port")
        o.national_port = static_cast<std::uint16_t>(std::stoi(v));
      else if (a == "--regional-port")
        o.regional_port = static_cast<std::uint16_t>(std::stoi(v));
      else if (a == "--pki")
        o.pki = v;
      else if (a == "--config")
        o.config = v;
      else if (a == "--kakehashi")
        o.kakehashi = v;
      else if (a == "--regional-state")
        o.regional_state = v;
      else if (a == "--scenario")
        o.scenario = v;
      else if (a == "--units")
        o.units = std::stoi(v);
      else if (a == "--deadline")
        o.deadline_s = std::stoi(v);
      else if (a == "--seed")
        o.seed = std::stoull(v);
      else if (a == "--outage-seconds")
        o.outage_s = std::stoi(v);
      else if (a == "--outage-down")
        o.outage_down = v;
      else if (a == "--outage-up")
        o.outage_up = v;
      else if (a == "--expect-code")
        o.expect_code = v;
      else
        throw std::invalid_argument("unknown option " + a);
    }
    if (o.national_port == 0 || o.regional_port == 0 || o.pki.empty() || o.config.empty() ||
        o.kakehashi.empty() || o.regional_state.empty() ||
        (o.scenario != "month" && o.scenario != "load" && o.scenario != "outage" &&
         o.scenario != "faults" && o.scenario != "crl" && o.scenario != "poison") ||
        (o.scenario == "outage" && (o.outage_down.empty() || o.outage_up.empty()))) {
      throw std::invalid_argument("missing options");
    }
  } catch (const std::exception& e) {
    std::cerr
        << "kakehashi-month: " << e.what() << "\n"
        << "usage: kakehashi-month --national-port N --regional-port N --pki DIR --config FILE "
           "--kakehashi BIN --regional-state FILE [--scenario month|load|outage|faults|crl|poison] "
           "[--units N] "
           "[--deadline S] [--seed N] [--outage-seconds S --outage-down CMD --outage-up CMD] "
           "[--expect-code CODE]\n";
    return 2;
  }
  try {
    return kakehashi::e2e::Player(o).run();
  } catch (const std::exception& e) {
    std::cerr << "kakehashi-month: " << e.what() << "\n";
    return 2;
  }
}
