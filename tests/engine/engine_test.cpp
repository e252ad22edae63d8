// The relay engine against in-memory networks, with faults injected: refusals reach the sender
// with their reasons, duplicates are delivered once, order holds per office pair, outages pause
// without burning attempts, failing units park without blocking others, a crash between any two
// steps loses nothing and delivers nothing twice, and the conservation report balances.

#define BOOST_TEST_MODULE kakehashi_engine
#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iterator>
#include <map>
#include <optional>
#include <set>

#include <unistd.h>

#include "gateway/engine/relay_engine.hpp"
#include "gateway/engine/unit_identity.hpp"
#include "gateway/pki/key_file.hpp"
#include "gateway/pki/trust_domain_loader.hpp"
#include "mapping/cms/der_layout.hpp"
#include "mapping/cms/gateway_attestation.hpp"
#include "mapping/cms/signer.hpp"
#include "mapping/cms/signer_identity.hpp"
#include "mapping/cms/translation_receipt.hpp"
#include "mapping/cms/verify.hpp"
#include "mapping/common/base64.hpp"
#include "tests/careplan_gen/generator.hpp"
#include "tests/engine/fake_network.hpp"
#include "tests/support/db.hpp"
#include "tests/support/run_until.hpp"

using namespace kakehashi;
using namespace kakehashi::gateway;
namespace fs = std::filesystem;
namespace cms = kakehashi::mapping::cms;

namespace {

constexpr const char* kRegionalManager = "3271500013";  // care manager office, regional
constexpr const char* kRegionalService = "3271500021";
constexpr const char* kNationalManager = "1370100016";
constexpr const char* kNationalService = "1371100452";

struct Pki {
  fs::path dir;
  std::shared_ptr<const cms::TrustDomain> regional, national;
  std::shared_ptr<const cms::Credential> proxy;
  Pki() {
    dir = fs::temp_directory_path() / ("kh-engine-pki-" + std::to_string(::getpid()));
    const std::string cmd =
        std::string("bash ") + KAKEHASHI_PKI_SCRIPT + " " + dir.string() + " >/dev/null 2>&1";
    if (std::system(cmd.c_str()) != 0) throw std::runtime_error("deploy/pki.sh failed");
    regional =
        std::make_shared<cms::TrustDomain>(gateway::pki::load_trust_domain(dir / "regional"));
    national =
        std::make_shared<cms::TrustDomain>(gateway::pki::load_trust_domain(dir / "national"));
    proxy = std::make_shared<cms::Credential>(gateway::pki::load_credential(
        dir / "gateway/proxy-rsa.cert.pem", dir / "gateway/proxy-rsa.key.pem"));
  }
  ~Pki() { fs::remove_all(dir); }
  cms::Credential office(const std::string& network, const std::string& number) const {
    const auto base = dir / "offices" / network / number;
    return gateway::pki::load_credential(base.string() + ".cert.pem", base.string() + ".key.pem");
  }
};

const Pki& test_pki() {
  static Pki p;
  return p;
}

store::TransferFilter state_filter(const char* state) {
  store::TransferFilter f;
  f.state = state;
  return f;
}

std::string replace_all(std::string s, const std::string& from, const std::string& to) {
  for (std::size_t pos = 0; (pos = s.find(from, pos)) != std::string::npos; pos += to.size())
    s.replace(pos, from.size(), to);
  return s;
}

std::string bytes_str(const cms::Bytes& b) {
  return {b.begin(), b.end()};
}
cms::ByteView view(const std::string& s) {
  return {reinterpret_cast<const std::uint8_t*>(s.data()), s.size()};
}

// A generated unit moved onto real offices of the development PKI and signed by the sender.
struct Made {
  InboundUnit unit;
  std::string sender_type, recipient_type;
};

// `edit` changes each file (name or bytes) before it is signed.
Made make_unit(std::uint64_t seed, const std::string& combo, const std::string& from,
               const std::string& to, bool from_national, const std::string& month = "",
               const std::function<void(SignedFile&)>& edit = {}) {
  testing::UnitGenerator gen(seed);
  testing::UnitParams params;
  params.users = 2;
  if (!month.empty()) params.service_month = month;
  auto g = gen.make(combo, params);
  // The first file name tells the generated offices: ..._<from>_<ft>_<to>_<tt>_<seq>.CSV
  const std::string& n = g.files.front().name;
  const auto stem = n.substr(0, n.rfind('.'));
  std::vector<std::string> segs;
  for (std::size_t p = 0, q; p <= stem.size(); p = q + 1) {
    q = stem.find('_', p);
    if (q == std::string::npos) q = stem.size();
    segs.push_back(stem.substr(p, q - p));
  }
  const auto k = segs.size();
  const std::string gfrom = segs[k - 5], gto = segs[k - 3];
  Made m;
  m.sender_type = segs[k - 4];
  m.recipient_type = segs[k - 2];
  auto& u = m.unit;
  u.sender = {from, segs[k - 4]};
  u.recipient = {to, segs[k - 2]};
  u.subject = "plan";
  u.message = "よろしくお願いします";
  const auto cred = test_pki().office(from_national ? "national" : "regional", from);
  for (auto& f : g.files) {
    SignedFile s;
    s.name = replace_all(replace_all(f.name, gfrom, from), gto, to);
    s.content = replace_all(replace_all(f.bytes, gfrom, from), gto, to);
    s.media_type = "text/csv";
    if (edit) edit(s);
    const auto sig = cms::sign(view(s.content), cred, {.detached = !from_national});
    BOOST_REQUIRE(sig.ok());
    s.cms = bytes_str(sig.value());
    s.attached = from_national;
    if (from_national) s.content.clear();
    u.files.push_back(std::move(s));
  }
  u.source_id = (from_national ? "T-" : "M-") + std::to_string(seed) + "-" + combo;
  return m;
}

DirectoryEntry entry(const std::string& office, const std::string& type,
                     const std::string& status = "ACTIVE") {
  DirectoryEntry e;
  e.office = {office, type};
  e.name = "事業所 " + office;
  e.status = status;
  return e;
}

// One engine with a regional and a national fake network, on a temp store, with a clock the
// test moves by hand.
struct Rig {
  // The temp dir and the store in it (SQLite), or a fresh database on the pg_virtualenv cluster.
  kakehashi::testing::Db db{"engine"};
  fs::path dir = db.dir();
  boost::asio::io_context io;
  testing::FakeNetwork regional, national;
  // A third network whose units carry no signature (AdapterTraits::inbound_signed == false, the
  // Kaigo WEB type), bound when `with_unsigned` is set before start().
  testing::FakeNetwork unsigned_net;
  bool with_unsigned = false;
  // The "national" network signs nothing (AdapterTraits::inbound_signed == false), set before
  // start(): what regional units reach the national side through is translated.
  bool national_signs_nothing = false;
  // Real time to start with (a few seconds on, so certificates made this second are valid),
  // then moved by hand.
  std::int64_t clock = std::chrono::duration_cast<std::chrono::milliseconds>(
                           std::chrono::system_clock::now().time_since_epoch())
                           .count() +
                       5000;
  engine::EngineOptions options;
  std::unique_ptr<engine::Engine> engine;
  std::function<std::unique_ptr<store::SqlConnection>()> connect;

  Rig() {
    test_pki();  // made before the clock is read: its certificates must be valid "now"
    clock = std::chrono::duration_cast<std::chrono::milliseconds>(
                std::chrono::system_clock::now().time_since_epoch())
                .count() +
            5000;
    connect = [this] { return db.connect(false); };
    options.tick = std::chrono::milliseconds(5);
    options.backoff_initial = std::chrono::milliseconds(1000);
    options.max_attempts = 4;
    options.breaker_failures = 100;
    for (const auto& t : {"11", "13", "15", "17", "78", "43", "46", "A2", "A6", "63", "67"}) {
      regional.directory.push_back(entry(kRegionalManager, t));
      regional.directory.push_back(entry(kRegionalService, t));
      national.directory.push_back(entry(kNationalManager, t));
      national.directory.push_back(entry(kNationalService, t));
    }
  }
  ~Rig() { engine.reset(); }

  void start() { engine = make_engine(regional, national, options); }

  // An engine on this rig's store and clock, speaking to the given fake networks.
  std::unique_ptr<engine::Engine> make_engine(testing::FakeNetwork& reg, testing::FakeNetwork& nat,
                                              engine::EngineOptions opts) {
    auto e = std::make_unique<engine::Engine>(
        io, opts, [this] { return std::make_unique<store::Store>(connect()); },
        engine::PayloadCipher(std::string(32, 'k')), test_pki().proxy,
        std::vector<std::string>{"national", "regional"}, [this] { return clock; });
    auto* engine_ptr = e.get();
    engine::NetworkBinding r;
    r.name = "regional";
    r.make_adapter = [&reg](AdapterContext c) { return reg.make_adapter(c); };
    r.outbound_form = engine::EnvelopeForm::kDetached;
    r.trust = test_pki().regional;
    e->add_network(std::move(r));
    engine::NetworkBinding nb;
    nb.name = "national";
    nb.make_adapter = [&nat](AdapterContext c) { return nat.make_adapter(c); };
    nb.outbound_form = engine::EnvelopeForm::kAttachedCosigned;
    nb.trust = test_pki().national;
    nb.cosigner = test_pki().proxy;
    // The national side as the Kaigo WEB type sees it (issue 17: units to it are translated).
    nb.inbound_signed = !national_signs_nothing;
    nb.outbound_form = national_signs_nothing ? engine::EnvelopeForm::kDetached
                                              : engine::EnvelopeForm::kAttachedCosigned;
    e->add_network(std::move(nb));
    if (with_unsigned) {
      engine::NetworkBinding kw;
      kw.name = "kaigoweb";
      kw.make_adapter = [this](AdapterContext c) { return unsigned_net.make_adapter(c); };
      kw.outbound_form = engine::EnvelopeForm::kDetached;
      kw.trust = test_pki().national;
      kw.cosigner = test_pki().proxy;  // the network section's cosign credential
      kw.inbound_signed = false;
      e->add_network(std::move(kw));
    }
    e->start();
    run_until([engine_ptr] { return engine_ptr->router().ready({"regional", "national"}); });
    return e;
  }

  // Runs the io_context until `done` holds (a deadline turns a hang into a failure).
  void run_until(const std::function<bool()>& done,
                 std::chrono::seconds limit = std::chrono::seconds(30)) {
    kakehashi::testing::require_until(io, done, limit, std::chrono::milliseconds(5));
  }
  // Runs until the engine has nothing left it could do now.
  void settle() {
    auto s = store();
    run_until([&] {
      const auto rows = s->report(0, INT64_MAX);
      std::int64_t in_flight = 0, notices = 0;
      for (const auto& r : rows) {
        in_flight += r.in_flight;
        notices += r.notices_pending;
      }
      return (in_flight == 0 || due_later(*s)) && notices == 0;
    });
  }
  // True when nothing can move before the clock advances: the head (oldest accepted unit) of
  // every office pair waits for a later attempt time.
  bool due_later(store::Store& s) {
    std::map<std::string, store::Transfer> heads;
    for (const auto& t : s.list(state_filter(store::kAccepted))) {
      const auto key = t.sender_office + t.recipient_office + t.dest_adapter;
      const auto it = heads.find(key);
      if (it == heads.end() || t.sequence < it->second.sequence) heads[key] = t;
    }
    for (const auto& [k, t] : heads)
      if (t.next_attempt_at <= clock) return false;
    return true;
  }
  std::unique_ptr<store::Store> store() { return std::make_unique<store::Store>(connect()); }
  void crash() { engine.reset(); }  // no stop(): as if killed
};

std::string sender_signature_bytes_ok(const OutboundUnit& out,
                                      const cms::TrustDomain& sender_domain) {
  for (const auto& f : out.files) {
    const auto v = cms::verify_signed_data(
        view(f.cms), f.attached ? std::nullopt : std::optional(view(f.content)), sender_domain, {});
    if (!v.valid()) return f.name + ": " + std::string(cms::to_string(v.failure)) + " " + v.detail;
  }
  return "";
}

}  // namespace

namespace {

// File edits for make_unit: the unit's sequence (ファイル連番), a lower-case extension, the
// recipient's service type.
std::function<void(SignedFile&)> edits(std::vector<std::function<void(SignedFile&)>> all) {
  return [all](SignedFile& f) {
    for (const auto& e : all) e(f);
  };
}
std::function<void(SignedFile&)> with_sequence(const std::string& sequence) {
  return [sequence](SignedFile& f) {
    const auto dot = f.name.rfind('.');
    BOOST_REQUIRE(dot != std::string::npos && dot >= 14);
    f.name.replace(dot - 14, 14, sequence);
  };
}
std::function<void(SignedFile&)> lower_case_extension() {
  return [](SignedFile& f) {
    const auto dot = f.name.rfind('.');
    for (auto i = dot + 1; i < f.name.size(); ++i)
      f.name[i] = static_cast<char>(std::tolower(static_cast<unsigned char>(f.name[i])));
  };
}
std::function<void(SignedFile&)> with_service_type(const std::string& office,
                                                   const std::string& from_type,
                                                   const std::string& to_type) {
  return [=](SignedFile& f) {
    f.name = replace_all(f.name, "_" + office + "_" + from_type + "_",
                         "_" + office + "_" + to_type + "_");
  };
}

std::optional<store::Transfer> transfer_of(Rig& rig, const std::string& source_id) {
  for (const auto& t : rig.store()->list({}))
    if (t.source_id == source_id) return t;
  return std::nullopt;
}

// Offers `unit` and runs until its transfer has left the accepted state.
store::Transfer run_to_outcome(Rig& rig, testing::FakeNetwork& source, const InboundUnit& unit) {
  source.offer(unit);
  std::optional<store::Transfer> t;
  rig.run_until([&] {
    t = transfer_of(rig, unit.source_id);
    return t && t->state != store::kAccepted;
  });
  return *t;
}

const OutboundReceipt* receipt_for(const testing::FakeNetwork& n, const std::string& source_id) {
  for (const auto& r : n.receipts_received)
    if (r.source_id == source_id) return &r;
  return nullptr;
}

constexpr const char* kNewer = "20250520103000";
constexpr const char* kOlder = "20250520090000";

}  // namespace

BOOST_AUTO_TEST_CASE(regional_to_national_with_receipt_back) {
  Rig rig;
  rig.start();
  auto m = make_unit(1, "K2", kRegionalManager, kNationalService, false);
  rig.regional.offer(m.unit);
  rig.run_until([&] { return rig.national.deliveries.size() == 1; });
  const auto& out = rig.national.deliveries[0].unit;
  BOOST_TEST(out.files.size() == m.unit.files.size());
  for (std::size_t i = 0; i < out.files.size(); ++i) {
    BOOST_TEST(out.files[i].attached);
    BOOST_TEST(out.files[i].name == m.unit.files[i].name);
  }
  // The sender's signature still verifies against the regional CA, now attached and co-signed;
  // and the proxy's co-signature verifies against the national CA.
  BOOST_TEST(sender_signature_bytes_ok(out, *test_pki().regional) == "");
  BOOST_TEST(sender_signature_bytes_ok(out, *test_pki().national) == "");
  rig.national.emit_receipt("R1", ReceiptState::kRead);
  rig.run_until([&] { return rig.regional.receipts_received.size() == 1; });
  BOOST_TEST(rig.regional.receipts_received[0].source_id == m.unit.source_id);
  BOOST_TEST((rig.regional.receipts_received[0].state == ReceiptState::kRead));
  auto s = rig.store();
  const auto t = s->list({});
  BOOST_TEST_REQUIRE(t.size() == 1u);
  BOOST_TEST(t[0].state == store::kDelivered);
  BOOST_TEST(t[0].receipt_state == "read");
  BOOST_TEST(*s->load_cursor("regional", "units") == "c1");
  BOOST_TEST(t[0].path == store::kPathSigned);
  BOOST_TEST(s->evidence_of(t[0].id).empty());  // both networks sign: nothing kept apart
  bool has_receipt = false;
  for (const auto& e : s->events(t[0].id))
    has_receipt |= e.kind == "translation-receipt" && e.detail.size() > 100;
  BOOST_TEST(has_receipt);
}

// Issue 17: where the network translated the unit and names the document it took, the receipt
// kept is version 2, binding every SignerInfo of the files relayed to that document's digest
// and the item id the network gave.
BOOST_AUTO_TEST_CASE(a_translated_delivery_keeps_a_version_2_receipt) {
  Rig rig;
  rig.national.sent_document_sha256 = std::string(64, 'c');
  rig.national_signs_nothing = true;
  rig.start();
  auto m = make_unit(3, "K2", kRegionalManager, kNationalService, false);
  rig.regional.offer(m.unit);
  rig.run_until([&] { return rig.national.deliveries.size() == 1; });
  const auto& out = rig.national.deliveries[0].unit;
  auto s = rig.store();
  const auto t = s->list({});
  BOOST_TEST_REQUIRE(t.size() == 1u);
  rig.run_until([&] { return s->get(t[0].id)->state == store::kDelivered; });
  std::string receipt_b64, delivered;
  for (const auto& e : s->events(t[0].id)) {
    if (e.kind == "translation-receipt") receipt_b64 = e.detail;
    if (e.kind == "delivered") delivered = e.detail;
  }
  BOOST_TEST(delivered.find("document sent sha256 " + std::string(64, 'c')) != std::string::npos,
             delivered);
  const auto der = kakehashi::mapping::common::base64_decode(receipt_b64);
  BOOST_TEST_REQUIRE(der.has_value());
  const auto r = cms::verify_receipt(view(*der), test_pki().proxy->certificate.get());
  BOOST_TEST_REQUIRE(r.ok(), (r.ok() ? std::string() : r.error().detail));
  BOOST_TEST(r.value().version == 2);
  BOOST_TEST(r.value().sent_sha256 == std::string(64, 'c'));
  BOOST_TEST(r.value().national_item == "R1");
  std::vector<std::string> expected;
  for (const auto& f : out.files)
    for (const auto& si : cms::signer_info_bytes(view(f.cms)))
      expected.push_back(f.name + " " + cms::sha256_hex(si));
  std::vector<std::string> got;
  for (const auto& d : r.value().signers) got.push_back(d.file + " " + d.signer_info_sha256);
  BOOST_TEST(got == expected, boost::test_tools::per_element());
  BOOST_TEST(expected.size() == out.files.size());  // the sender's, relayed detached
  // The path it took, and the evidence kept apart from the payload: each signed original (its
  // bytes sealed with the payload key, the sender's signature) and the receipt.
  BOOST_TEST(s->get(t[0].id)->path == store::kPathTranslatedToNational);
  const auto kept = s->evidence_of(t[0].id);
  BOOST_TEST_REQUIRE(kept.size() == m.unit.files.size() + 1);
  const engine::PayloadCipher cipher(std::string(32, 'k'));
  for (std::size_t i = 0; i < m.unit.files.size(); ++i) {
    const auto& e = kept[i];
    BOOST_TEST(e.kind == store::kEvidenceSignedFile);
    const auto it = std::find_if(m.unit.files.begin(), m.unit.files.end(),
                                 [&](const SignedFile& f) { return f.name == e.name; });
    BOOST_TEST_REQUIRE((it != m.unit.files.end()));
    BOOST_TEST(cipher.open(e.content).value_or("") == it->content);
    BOOST_TEST(e.signature == it->cms);
    BOOST_TEST(e.content != it->content);  // sealed, not in clear
    // Ten years by default, whatever the payload retention.
    BOOST_TEST(e.keep_until - e.created_at == std::int64_t{3653} * 24 * 3600 * 1000);
  }
  BOOST_TEST(kept.back().kind == store::kEvidenceReceipt);
  BOOST_TEST(kept.back().signature == *der);
}

BOOST_AUTO_TEST_CASE(national_to_regional_is_detached_and_untouched) {
  Rig rig;
  rig.start();
  auto m = make_unit(2, "K5", kNationalService, kRegionalManager, true);
  rig.national.offer(m.unit);
  rig.run_until([&] { return rig.regional.deliveries.size() == 1; });
  const auto& out = rig.regional.deliveries[0].unit;
  for (const auto& f : out.files) BOOST_TEST(!f.attached);
  BOOST_TEST(sender_signature_bytes_ok(out, *test_pki().national) == "");
}

BOOST_AUTO_TEST_CASE(refusals_reach_the_sender_with_their_reasons) {
  Rig rig;
  rig.start();
  // A broken CSV (an unreal date), a bad signature (one byte changed after signing), an
  // unknown recipient, and a signer who is not the sender.
  auto broken = make_unit(3, "K5", kRegionalService, kNationalManager, false);
  {
    auto& f = broken.unit.files[0];
    const auto pos = f.content.find(",202505,");  // 対象年月 of the first record
    BOOST_REQUIRE(pos != std::string::npos);
    f.content.replace(pos, 8, ",202513,");
    f.cms = bytes_str(
        cms::sign(view(f.content), test_pki().office("regional", kRegionalService), {}).value());
    broken.unit.source_id = "broken";
  }
  auto tampered = make_unit(4, "K5", kRegionalService, kNationalManager, false);
  tampered.unit.files[0].content.back() ^= 1;
  tampered.unit.source_id = "tampered";
  auto unknown = make_unit(5, "K3", kRegionalManager, "1371100460", false);
  unknown.unit.source_id = "unknown";
  auto impostor = make_unit(6, "K3", kRegionalManager, kNationalService, false);
  for (auto& f : impostor.unit.files)
    f.cms = bytes_str(
        cms::sign(view(f.content), test_pki().office("regional", kRegionalService), {}).value());
  impostor.unit.source_id = "impostor";
  for (auto* m : {&broken, &tampered, &unknown, &impostor}) rig.regional.offer(m->unit);
  rig.run_until([&] { return rig.regional.receipts_received.size() == 4; });
  BOOST_TEST(rig.national.deliveries.empty());
  std::map<std::string, std::string> reasons;
  for (const auto& r : rig.regional.receipts_received) {
    BOOST_TEST((r.state == ReceiptState::kRejected));
    reasons[r.source_id] = r.reason;
  }
  BOOST_TEST(reasons["broken"].find("[FIELD_MONTH]") != std::string::npos, reasons["broken"]);
  BOOST_TEST(reasons["broken"].find("対象年月") != std::string::npos, reasons["broken"]);
  BOOST_TEST(reasons["broken"].find("行目") != std::string::npos);
  BOOST_TEST(reasons["tampered"].find("[SIGNATURE_INVALID]") != std::string::npos,
             reasons["tampered"]);
  BOOST_TEST(reasons["unknown"].find("[RECIPIENT_UNKNOWN]") != std::string::npos,
             reasons["unknown"]);
  BOOST_TEST(reasons["impostor"].find("[SIGNER_NOT_SENDER]") != std::string::npos,
             reasons["impostor"]);
  const auto rows = rig.store()->report(0, INT64_MAX);
  std::int64_t rejected = 0;
  for (const auto& r : rows) rejected += r.rejected;
  BOOST_TEST(rejected == 4);
}

BOOST_AUTO_TEST_CASE(duplicates_are_delivered_once) {
  Rig rig;
  rig.start();
  auto m = make_unit(7, "K2", kRegionalManager, kNationalService, false);
  rig.regional.offer(m.unit);
  rig.regional.offer(m.unit);  // listed twice by the source
  rig.run_until(
      [&] { return rig.regional.answered_offers == 2 && rig.national.deliveries.size() == 1; });
  rig.regional.offer(m.unit);  // and once more after delivery
  rig.run_until([&] { return rig.regional.answered_offers == 3; });
  rig.settle();
  BOOST_TEST(rig.national.deliveries.size() == 1u);
  BOOST_TEST(rig.engine->counters().duplicates == 2);
}

BOOST_AUTO_TEST_CASE(units_of_a_pair_arrive_in_sequence_order) {
  Rig rig;
  rig.options.max_in_flight = 8;
  rig.start();
  std::vector<std::string> sequences;
  // Three units for one pair, offered newest first. Intake is pipelined, so a unit may be sent
  // before the older ones have arrived: the first three attempts fail (the clock stands still,
  // so nothing is retried), and nothing is delivered before all three are in.
  std::vector<Made> units;
  for (std::uint64_t seed : {10u, 11u, 12u})
    units.push_back(make_unit(seed, "K5", kRegionalService, kNationalManager, false,
                              "20250" + std::to_string(seed - 5)));
  const SendResult reset{
      SendResult::Status::kRetry, "", "RESET", "connection reset", std::nullopt, false, ""};
  for (int i = 0; i < 3; ++i) rig.national.script(reset);
  for (auto it = units.rbegin(); it != units.rend(); ++it) rig.regional.offer(it->unit);
  rig.run_until([&] { return rig.regional.answered_offers == 3; });
  // Each step of the clock lets the head of the pair move: a delivery or a counted retry.
  const auto progress = [&] {
    return rig.engine->counters().delivered + rig.engine->counters().retries;
  };
  while (rig.national.deliveries.size() < 3) {
    const auto before = progress();
    rig.clock += 5000;
    rig.run_until([&] { return progress() > before; });
  }
  std::vector<std::string> got;
  for (const auto& d : rig.national.deliveries)
    got.push_back(d.unit.files[0].name.substr(d.unit.files[0].name.size() - 18, 14));
  BOOST_TEST(std::is_sorted(got.begin(), got.end()));
}

BOOST_AUTO_TEST_CASE(maintenance_pauses_without_burning_attempts) {
  Rig rig;
  rig.start();
  SendResult maintenance{
      SendResult::Status::kRetry, "", "MAINTENANCE", "503", std::chrono::seconds(600), false, ""};
  rig.national.script(maintenance);
  auto m = make_unit(20, "K2", kRegionalManager, kNationalService, false);
  rig.regional.offer(m.unit);
  rig.run_until(
      [&] { return rig.national.send_calls.size() == 1 && rig.engine->counters().released == 1; });
  // While the window lasts nothing is attempted, however often the engine ticks.
  rig.clock += 300'000;
  rig.run_until([&] { return rig.engine->counters().released == 1; });
  BOOST_TEST(rig.national.send_calls.begin()->second == 1);
  BOOST_TEST(rig.store()->list({})[0].attempts == 0);
  rig.clock += 301'000;
  rig.run_until([&] { return rig.engine->counters().delivered == 1; });
  BOOST_TEST(rig.store()->list({})[0].attempts == 1);
}

BOOST_AUTO_TEST_CASE(a_failing_unit_parks_without_blocking_others_and_can_be_redriven) {
  Rig rig;
  rig.options.max_attempts = 3;
  rig.start();
  for (int i = 0; i < 3; ++i)
    rig.national.script(
        {SendResult::Status::kRetry, "", "HTTP_500", "server error", std::nullopt, false, ""});
  auto stuck = make_unit(30, "K2", kRegionalManager, kNationalService, false);
  rig.regional.offer(stuck.unit);
  for (int i = 0; i < 3; ++i) {
    rig.run_until([&] {
      return rig.national.send_calls.begin() != rig.national.send_calls.end() &&
             rig.national.send_calls.begin()->second == i + 1 &&
             (rig.engine->counters().retries + rig.engine->counters().parked) == i + 1;
    });
    rig.clock += 10'000;
  }
  auto s = rig.store();
  const auto parked = s->list(state_filter(store::kParked));
  BOOST_TEST_REQUIRE(parked.size() == 1u);
  BOOST_TEST(parked[0].reason.find("failed 3 times") != std::string::npos);
  // Each retry was offered as what it was: the first, second and third claim.
  BOOST_TEST_REQUIRE(rig.national.sent_units.size() == 3u);
  for (std::size_t i = 0; i < 3; ++i)
    BOOST_TEST(rig.national.sent_units[i].attempt == static_cast<int>(i) + 1);
  // Another pair still flows.
  auto other = make_unit(31, "K5", kRegionalService, kNationalManager, false);
  rig.regional.offer(other.unit);
  rig.run_until([&] { return rig.national.deliveries.size() == 1; });
  BOOST_TEST(s->redrive(parked[0].id, "operator test", rig.clock));
  rig.run_until([&] { return rig.national.deliveries.size() == 2; });
}

BOOST_AUTO_TEST_CASE(a_destination_refusal_goes_back_to_the_sender) {
  Rig rig;
  rig.start();
  rig.national.script({SendResult::Status::kRejected, "", "RECIPIENT_SUSPENDED", "suspended",
                       std::nullopt, false, ""});
  auto m = make_unit(40, "K2", kRegionalManager, kNationalService, false);
  rig.regional.offer(m.unit);
  rig.run_until([&] { return rig.regional.receipts_received.size() == 1; });
  BOOST_TEST(rig.regional.receipts_received[0].reason.find("RECIPIENT_SUSPENDED") !=
             std::string::npos);
  BOOST_TEST(rig.store()->list({})[0].state == store::kRejected);
}

namespace {

std::size_t sent_by(const testing::FakeNetwork& n, const std::string& office) {
  std::size_t count = 0;
  for (const auto& u : n.sent_units) count += u.sender.office_no == office ? 1 : 0;
  return count;
}

// Every unit taken in is in exactly one place, held ones in flight.
void expect_conservation(Rig& rig, std::int64_t in_expected, std::int64_t delivered_expected,
                         std::int64_t in_flight_expected) {
  std::int64_t in = 0, delivered = 0, in_flight = 0;
  for (const auto& r : rig.store()->report(0, INT64_MAX)) {
    BOOST_TEST(r.in == r.delivered + r.rejected + r.parked + r.superseded + r.in_flight);
    in += r.in;
    delivered += r.delivered;
    in_flight += r.in_flight;
  }
  BOOST_TEST(in == in_expected);
  BOOST_TEST(delivered == delivered_expected);
  BOOST_TEST(in_flight == in_flight_expected);
}

}  // namespace

// Per-office logins (issue 16, kaigoweb PROTOCOL.md §7.2): a sender office that must log in again
// on the destination waits there (no attempt, the breaker untouched, never parked) while other
// offices' units flow; it is told once on its own network; "active" releases its units at once.
BOOST_AUTO_TEST_CASE(a_held_sender_office_waits_while_other_offices_flow) {
  Rig rig;
  rig.start();
  rig.national.holding_offices = {kRegionalManager};
  auto held = make_unit(60, "K2", kRegionalManager, kNationalService, false);
  auto other = make_unit(61, "K5", kRegionalService, kNationalManager, false);
  rig.regional.offer(held.unit);
  rig.regional.offer(other.unit);
  // The fake network sees the delivery before the store records it: wait for both (and for the
  // hold to be written), not for the first event alone.
  rig.run_until([&] {
    const auto o = transfer_of(rig, other.unit.source_id);
    const auto h = transfer_of(rig, held.unit.source_id);
    return rig.national.deliveries.size() == 1 && rig.engine->counters().held_for_office == 1 &&
           o && o->state == store::kDelivered && h &&
           h->last_error.rfind("held: login_required", 0) == 0;
  });
  BOOST_TEST(rig.national.deliveries[0].unit.sender.office_no == kRegionalService);
  auto t = transfer_of(rig, held.unit.source_id);
  BOOST_TEST_REQUIRE(t.has_value());
  BOOST_TEST(t->state == store::kAccepted);
  BOOST_TEST(t->attempts == 0);
  BOOST_TEST(t->last_error.rfind("held: login_required", 0) == 0u);
  expect_conservation(rig, 2, 1, 1);  // held: in flight

  // The adapter reports the office: logged, kept, and the office is told on its own network.
  const std::string detail =
      "the gateway needs a one-time password for your Kaigo WEB login; your outbound care plans "
      "are waiting";
  rig.national.report_office(kRegionalManager, "login_required", "active", detail);
  rig.run_until([&] { return rig.regional.notices_received.size() == 1; });
  BOOST_TEST(rig.regional.notices_received[0].office.office_no == kRegionalManager);
  BOOST_TEST(rig.regional.notices_received[0].text.find(detail) != std::string::npos);
  BOOST_TEST(rig.national.notices_received.empty());
  const auto states = rig.engine->office_states();
  BOOST_TEST_REQUIRE(states.size() == 1u);
  BOOST_TEST(states[0].network == "national");
  BOOST_TEST(states[0].office_no == kRegionalManager);
  BOOST_TEST(states[0].state == "login_required");
  // The same state again is no change: not told twice.
  rig.national.report_office(kRegionalManager, "login_required", "login_required", detail);

  // More units: the held office's are not even offered while the hold lasts; others flow.
  auto held2 = make_unit(62, "K2", kRegionalManager, kNationalManager, false);
  auto other2 = make_unit(63, "K2", kRegionalService, kNationalService, false);
  rig.regional.offer(held2.unit);
  rig.regional.offer(other2.unit);
  rig.run_until([&] { return rig.national.deliveries.size() == 2; });
  BOOST_TEST(sent_by(rig.national, kRegionalManager) == 1u);
  for (const auto& s : rig.engine->network_status()) {
    BOOST_TEST(s.failures == 0);  // the breaker untouched
    BOOST_TEST(s.open_until == 0);
  }

  // The safety re-offer: after office_recheck the held units are offered again, held again,
  // still without an attempt, never parked.
  rig.clock += 300'001;
  rig.run_until([&] { return rig.engine->counters().held_for_office >= 3; });
  BOOST_TEST(sent_by(rig.national, kRegionalManager) >= 3u);
  for (const auto& u : {held.unit.source_id, held2.unit.source_id}) {
    const auto h = transfer_of(rig, u);
    BOOST_TEST(h->state == store::kAccepted);
    BOOST_TEST(h->attempts == 0);
  }
  BOOST_TEST(rig.engine->counters().parked == 0);

  // Active: released at once (the clock stands still), each delivered once.
  rig.national.holding_offices.clear();
  rig.national.report_office(kRegionalManager, "active", "login_required");
  rig.run_until([&] { return rig.national.deliveries.size() == 4; });
  rig.settle();
  BOOST_TEST(rig.national.deliveries.size() == 4u);
  BOOST_TEST(rig.regional.notices_received.size() == 1u);  // active: no notice
  BOOST_TEST(rig.engine->office_states().at(0).state == "active");
  BOOST_TEST(transfer_of(rig, held.unit.source_id)->attempts == 1);
  expect_conservation(rig, 4, 4, 0);
}

// The "active" report is lost with a crash: the safety re-offer still delivers the held unit.
BOOST_AUTO_TEST_CASE(a_restart_while_an_office_is_held_strands_nothing) {
  Rig rig;
  rig.start();
  rig.national.holding_offices = {kRegionalManager};
  auto m = make_unit(64, "K2", kRegionalManager, kNationalService, false);
  rig.regional.offer(m.unit);
  rig.run_until([&] { return rig.engine->counters().held_for_office == 1; });
  rig.crash();
  rig.national.holding_offices.clear();  // the office logged in; nobody reported it
  rig.start();
  rig.settle();  // nothing is due before the re-offer
  BOOST_TEST(rig.national.deliveries.empty());
  expect_conservation(rig, 1, 0, 1);
  rig.clock += 300'001;
  rig.run_until([&] { return rig.national.deliveries.size() == 1; });
  const auto t = transfer_of(rig, m.unit.source_id);
  rig.run_until([&] { return transfer_of(rig, m.unit.source_id)->state == store::kDelivered; });
  BOOST_TEST(transfer_of(rig, m.unit.source_id)->attempts == 1);
  // The second claim is offered as such: the adapter checks before sending again.
  BOOST_TEST(rig.national.sent_units.back().attempt == 2);
  expect_conservation(rig, 1, 1, 0);
}

// A network that cannot address an office outside an item: the notice is dropped, logged,
// counted; the hold works all the same.
BOOST_AUTO_TEST_CASE(an_office_notice_the_network_cannot_take_is_not_retried) {
  Rig rig;
  rig.start();
  rig.regional.takes_notices = false;
  rig.national.holding_offices = {kRegionalManager};
  auto m = make_unit(65, "K2", kRegionalManager, kNationalService, false);
  rig.regional.offer(m.unit);
  rig.run_until([&] { return rig.engine->counters().held_for_office == 1; });
  rig.national.report_office(kRegionalManager, "locked", "login_required", "locked");
  rig.run_until([&] { return rig.engine->counters().office_notices_refused == 1; });
  BOOST_TEST(rig.regional.notices_received.empty());
  rig.national.holding_offices.clear();
  rig.national.report_office(kRegionalManager, "active", "locked");
  rig.run_until([&] { return rig.national.deliveries.size() == 1; });
}

// A hold answered after the adapter reported the office active again (the login completed while
// the send was under way) is stale: the unit is offered again at once, not after the re-offer.
BOOST_AUTO_TEST_CASE(a_hold_answered_after_the_office_became_active_does_not_wait) {
  Rig rig;
  rig.start();
  rig.national.hang_next_send();
  auto m = make_unit(66, "K2", kRegionalManager, kNationalService, false);
  rig.regional.offer(m.unit);
  rig.run_until([&] { return rig.national.send_calls.size() == 1; });
  rig.national.report_office(kRegionalManager, "active", "login_required");
  rig.run_until([&] { return rig.engine->counters().office_reports == 1; });
  SendResult held;
  held.status = SendResult::Status::kRetry;
  held.error_code = "login_required";
  held.hold_office = true;
  rig.national.answer_hung(held);
  // The clock stands still: only an immediate re-offer delivers it.
  rig.run_until([&] { return rig.national.deliveries.size() == 1; });
  BOOST_TEST(rig.engine->counters().held_for_office == 1);
  BOOST_TEST(transfer_of(rig, m.unit.source_id)->attempts <= 1);
}

// A hold with a Retry-After (a session another instance is renewing) is offered again then.
BOOST_AUTO_TEST_CASE(a_hold_with_a_retry_after_is_offered_again_then) {
  Rig rig;
  rig.start();
  SendResult held;
  held.status = SendResult::Status::kRetry;
  held.error_code = "session_pending";
  held.hold_office = true;
  held.retry_after = std::chrono::seconds(5);
  rig.national.script(held);
  auto m = make_unit(67, "K2", kRegionalManager, kNationalService, false);
  rig.regional.offer(m.unit);
  rig.run_until([&] { return rig.engine->counters().held_for_office == 1; });
  BOOST_TEST(rig.national.deliveries.empty());
  rig.clock += 5'001;
  rig.run_until([&] { return rig.national.deliveries.size() == 1; });
  // The delivery is recorded in the group commit after the network answered: wait for it.
  rig.run_until([&] { return transfer_of(rig, m.unit.source_id)->state == store::kDelivered; });
  BOOST_TEST(transfer_of(rig, m.unit.source_id)->attempts == 1);  // the delivery only
  for (const auto& s : rig.engine->network_status()) BOOST_TEST(s.open_until == 0);
}

// AdapterContext::vault: sealed records per adapter in the store, compare-and-set on the
// generation, answers on the io thread; nothing in clear in the database.
BOOST_AUTO_TEST_CASE(the_adapter_vault_seals_and_compares_and_sets) {
  Rig rig;
  rig.start();
  auto vault = rig.national.context.vault;
  BOOST_TEST_REQUIRE(vault != nullptr);
  const std::string key = "kaigoweb:national:3271500013:session";
  const std::string secret = "refresh-token-7f3a9c0e55d1";
  const auto put = [&](AdapterVault& v, const std::string& k, const std::string& value,
                       std::int64_t expected) {
    std::optional<VaultWrite> w;
    v.put(k, value, expected, [&](VaultWrite r) { w = r; });
    rig.run_until([&] { return w.has_value(); });
    return *w;
  };
  struct Got {
    std::optional<VaultRecord> record;
    bool ok = false;
  };
  const auto get = [&](AdapterVault& v, const std::string& k) {
    std::optional<Got> got;
    v.get(k, [&](std::optional<VaultRecord> r, bool ok) { got = Got{std::move(r), ok}; });
    rig.run_until([&] { return got.has_value(); });
    return *got;
  };
  BOOST_TEST((put(*vault, key, secret, 0) == VaultWrite::kWritten));
  BOOST_TEST((put(*vault, key, "stale", 0) == VaultWrite::kConflict));
  auto g = get(*vault, key);
  BOOST_TEST(g.ok);
  BOOST_TEST_REQUIRE(g.record.has_value());
  BOOST_TEST(g.record->value == secret);
  BOOST_TEST(g.record->generation == 1);
  BOOST_TEST((put(*vault, key, secret + "-2", 1) == VaultWrite::kWritten));
  BOOST_TEST((put(*vault, key, "stale", 1) == VaultWrite::kConflict));
  BOOST_TEST(get(*vault, key).record->generation == 2);
  BOOST_TEST(
      (put(*vault, "kaigoweb:national:3271500013:doubt:kk1-00", "t", 0) == VaultWrite::kWritten));
  // Another adapter's records are its own.
  g = get(*rig.regional.context.vault, key);
  BOOST_TEST(g.ok);
  BOOST_TEST(!g.record.has_value());
  std::optional<std::vector<std::string>> keys;
  vault->list("kaigoweb:national:3271500013:d", [&](std::vector<std::string> k, bool ok) {
    keys = ok ? k : std::vector<std::string>{};
  });
  rig.run_until([&] { return keys.has_value(); });
  BOOST_TEST((*keys == std::vector<std::string>{"kaigoweb:national:3271500013:doubt:kk1-00"}));

  // Not in clear in the database (nor in the SQLite files).
  auto c = rig.db.connect();
  std::string raw;
  for (const auto& r : c->query("SELECT value FROM kh_adapter_vault")) raw += r[0].value_or("");
  BOOST_TEST(!raw.empty());
  BOOST_TEST(raw.find("refresh-token") == std::string::npos);
  if (!rig.db.postgres()) {
    for (const auto& suffix : {"", "-wal"}) {
      const fs::path file = rig.db.dsn() + suffix;
      if (!fs::exists(file)) continue;
      std::ifstream in(file, std::ios::binary);
      const std::string bytes{std::istreambuf_iterator<char>(in), {}};
      BOOST_TEST(bytes.find("refresh-token") == std::string::npos);
    }
  }
  // A sealed record moved under another key does not open: a failure, not a value.
  c->query("UPDATE kh_adapter_vault SET key = 'kaigoweb:moved' WHERE key = ?", {key});
  g = get(*vault, "kaigoweb:moved");
  BOOST_TEST(!g.ok);
  BOOST_TEST(!g.record.has_value());
  std::optional<bool> erased;
  vault->erase("kaigoweb:moved", [&](bool ok) { erased = ok; });
  rig.run_until([&] { return erased.has_value(); });
  BOOST_TEST(*erased);
  g = get(*vault, "kaigoweb:moved");
  BOOST_TEST(g.ok);
  BOOST_TEST(!g.record.has_value());
}

namespace {

// A national unit as the Kaigo WEB adapter hands it over: rendered 4.1 files without any CMS,
// with where it came from.
Made unsigned_unit(std::uint64_t seed, const std::function<void(SignedFile&)>& edit = {}) {
  // Made as a national unit (its offices' files), then stripped of the national signature.
  std::map<std::string, std::string> contents;
  auto m = make_unit(seed, "K5", kNationalService, kRegionalManager, true, "", [&](SignedFile& f) {
    if (edit) edit(f);
    contents[f.name] = f.content;
  });
  for (auto& f : m.unit.files) {
    f.content = contents.at(f.name);
    f.cms.clear();
    f.attached = false;
  }
  m.unit.source_id = "1371100452:item-" + std::to_string(seed);
  m.unit.origin_session = kNationalService;
  m.unit.origin_item = "item-" + std::to_string(seed);
  m.unit.fetched_sha256 = std::string(64, 'a');
  return m;
}

}  // namespace

// Issue 16: units from a network that signs nothing are checked as usual, signed by the gateway
// as the proxy and delivered; the attestation names where they came from.
BOOST_AUTO_TEST_CASE(an_unsigned_inbound_unit_reaches_the_regional_side_signed_by_the_gateway) {
  Rig rig;
  rig.with_unsigned = true;
  rig.start();
  auto m = unsigned_unit(70);
  rig.unsigned_net.offer(m.unit);
  rig.run_until([&] { return rig.regional.deliveries.size() == 1; });
  const auto& out = rig.regional.deliveries[0].unit;
  BOOST_TEST_REQUIRE(out.files.size() == m.unit.files.size());
  for (std::size_t i = 0; i < out.files.size(); ++i) {
    const auto& f = out.files[i];
    BOOST_TEST(!f.attached);
    BOOST_TEST(f.content == m.unit.files[i].content);  // the bytes as rendered
    BOOST_TEST_REQUIRE(!f.cms.empty());
    const auto v = cms::verify_signed_data(view(f.cms), view(f.content), *test_pki().national, {});
    BOOST_TEST(v.valid(), f.name << ": " << cms::to_string(v.failure) << " " << v.detail);
    // The gateway's signature, not an office's: the proxy certificate names no office.
    BOOST_TEST_REQUIRE(v.signer.has_value());
    BOOST_TEST(v.signer->subject == cms::subject_text(test_pki().proxy->certificate.get()));
    BOOST_TEST(!v.signer->office_number.has_value());
    BOOST_TEST(v.signer_count == 1u);
    // The attestation rides in the signature, covered by it (issue 17).
    const auto a = cms::read_attestation(view(f.cms));
    BOOST_TEST_REQUIRE(a.ok());
    BOOST_TEST_REQUIRE(a.value().has_value());
    BOOST_TEST(a.value()->office_number == m.unit.sender.office_no);
    BOOST_TEST(a.value()->service_type == m.unit.sender.service_type);
    BOOST_TEST(a.value()->session == m.unit.origin_session);
    BOOST_TEST(a.value()->national_item == "item-70");
    BOOST_TEST(a.value()->fetched_sha256 == std::string(64, 'a'));
  }
  auto s = rig.store();
  const auto t = transfer_of(rig, m.unit.source_id);
  BOOST_TEST_REQUIRE(t.has_value());
  std::string intake;
  for (const auto& e : s->events(t->id))
    if (e.kind == "accepted") intake = e.detail;
  BOOST_TEST(t->path == store::kPathAttestedFromNational);
  BOOST_TEST(intake.find("signatures-not-carried ok") != std::string::npos, intake);
  BOOST_TEST(intake.find("gateway attestation v1: from kaigoweb office 1371100452 item item-70, "
                         "fetched sha256 " +
                         std::string(64, 'a')) != std::string::npos,
             intake);
  // And the audit export shows it (what `kakehashi audit export` writes).
  bool exported = false;
  for (const auto& r : s->audit_export({})) {
    exported |= r.record.detail.find("gateway attestation v1") != std::string::npos;
    if (r.record.transfer_id == t->id) BOOST_TEST(r.path == store::kPathAttestedFromNational);
  }
  BOOST_TEST(exported);
}

// Issue 17: what the adapter changed on the way in (characters substituted under the network's
// policy) reaches the intake audit record, and the recipient's cover note travels with the unit.
BOOST_AUTO_TEST_CASE(an_adapters_audit_note_reaches_the_intake_audit_record) {
  Rig rig;
  rig.with_unsigned = true;
  rig.start();
  auto m = unsigned_unit(73);
  const std::string note =
      "characters substituted (1): U+20BB7 → U+3013 in " + m.unit.files[0].name +
      " record 1 field 7 (プラン担当者名) at /帳票/サービス利用票第6表予定/レコード/0/プラン担当者名";
  m.unit.audit_note = note;
  m.unit.message = "【文字の置換】" + m.unit.files[0].name + " レコード1 項目7: U+20BB7 → U+3013";
  rig.unsigned_net.offer(m.unit);
  rig.run_until([&] { return rig.regional.deliveries.size() == 1; });
  BOOST_TEST(rig.regional.deliveries[0].unit.message == m.unit.message);
  auto s = rig.store();
  const auto t = transfer_of(rig, m.unit.source_id);
  BOOST_TEST_REQUIRE(t.has_value());
  std::string intake;
  for (const auto& e : s->events(t->id))
    if (e.kind == "accepted") intake = e.detail;
  BOOST_TEST(intake.find("; " + note) != std::string::npos, intake);
  bool exported = false;
  for (const auto& r : s->audit_export({}))
    exported |= r.record.detail.find(note) != std::string::npos;
  BOOST_TEST(exported);
  // A unit without a note has none of it.
  auto plain = unsigned_unit(74);
  rig.unsigned_net.offer(plain.unit);
  rig.run_until([&] { return rig.regional.deliveries.size() == 2; });
  std::string plain_intake;
  for (const auto& e : s->events(transfer_of(rig, plain.unit.source_id)->id))
    if (e.kind == "accepted") plain_intake = e.detail;
  BOOST_TEST(!plain_intake.empty());
  BOOST_TEST(plain_intake.find("characters substituted") == std::string::npos, plain_intake);
}

BOOST_AUTO_TEST_CASE(an_unsigned_inbound_unit_that_fails_the_inspector_is_refused_back) {
  Rig rig;
  rig.with_unsigned = true;
  rig.start();
  // A data line cut short: the care-plan checks refuse it, signature or not.
  auto m = unsigned_unit(71, [](SignedFile& f) {
    const auto nl = f.content.rfind('\n', f.content.size() - 2);
    if (nl != std::string::npos) f.content = f.content.substr(0, nl + 1) + "1,2\r\n";
  });
  rig.unsigned_net.offer(m.unit);
  rig.run_until([&] { return rig.unsigned_net.receipts_received.size() == 1; });
  const auto& r = rig.unsigned_net.receipts_received[0];
  BOOST_TEST(r.source_id == m.unit.source_id);
  BOOST_TEST((r.state == ReceiptState::kRejected));
  BOOST_TEST(!r.reason.empty());
  BOOST_TEST(rig.regional.deliveries.empty());
  BOOST_TEST(transfer_of(rig, m.unit.source_id)->state == store::kRejected);
}

BOOST_AUTO_TEST_CASE(a_signed_network_unit_without_a_signature_is_still_refused) {
  Rig rig;
  rig.with_unsigned = true;
  rig.start();
  auto m = make_unit(72, "K2", kRegionalManager, kNationalService, false);
  for (auto& f : m.unit.files) f.cms.clear();
  rig.regional.offer(m.unit);
  rig.run_until([&] { return rig.regional.receipts_received.size() == 1; });
  BOOST_TEST((rig.regional.receipts_received[0].state == ReceiptState::kRejected));
  BOOST_TEST(rig.regional.receipts_received[0].reason.find("SIGNATURE") != std::string::npos,
             rig.regional.receipts_received[0].reason);
  BOOST_TEST(rig.national.deliveries.empty());
}

BOOST_AUTO_TEST_CASE(a_crash_after_sending_before_recording_delivers_once) {
  Rig rig;
  rig.options.lease = std::chrono::milliseconds(60'000);
  rig.start();
  auto m = make_unit(50, "K2", kRegionalManager, kNationalService, false);
  rig.national.hang_next_send();
  rig.regional.offer(m.unit);
  rig.run_until([&] { return rig.national.send_calls.size() == 1; });
  // The network took the unit but the answer is lost: the gateway dies.
  {
    testing::FakeNetwork::Delivery d;
    d.unit.idempotency_key = rig.national.send_calls.begin()->first;
    d.remote_id = "R-before-crash";
    rig.national.deliveries.push_back(d);
  }
  rig.crash();
  rig.clock += 61'000;  // the dead instance's lease runs out
  rig.start();
  rig.run_until([&] { return rig.national.send_calls.begin()->second == 2; });
  rig.settle();
  // The resend carried exactly the bytes of the first attempt (networks compare replayed keys'
  // bodies), although the proxy co-signature is made with a fresh signing time each time.
  BOOST_TEST_REQUIRE(rig.national.sent_units.size() == 2u);
  // The adapter is told the second claim may be a resend (OutboundUnit::attempt).
  BOOST_TEST(rig.national.sent_units[0].attempt == 1);
  BOOST_TEST(rig.national.sent_units[1].attempt == 2);
  for (std::size_t i = 0; i < rig.national.sent_units[0].files.size(); ++i)
    BOOST_TEST(rig.national.sent_units[0].files[i].cms == rig.national.sent_units[1].files[i].cms);
  BOOST_TEST(rig.national.deliveries.size() == 1u);  // replayed key: the first delivery stands
  BOOST_TEST(rig.store()->list({})[0].remote_id == "R-before-crash");
}

BOOST_AUTO_TEST_CASE(store_failures_never_lose_a_unit) {
  // Every 7th statement fails: units not durably accepted are refused to the source and offered
  // again; in the end each is delivered exactly once.
  struct Flaky : store::SqlConnection {
    std::unique_ptr<store::SqlConnection> inner;
    std::shared_ptr<int> counter;
    store::Dialect dialect() const override { return inner->dialect(); }
    std::vector<store::SqlRow> query(std::string_view sql,
                                     const std::vector<store::SqlValue>& p) override {
      if (++*counter % 7 == 0 && sql.rfind("INSERT INTO kh_transfers", 0) == 0)
        throw store::SqlError{"injected failure", false};
      return inner->query(sql, p);
    }
    void execute_script(std::string_view sql) override { inner->execute_script(sql); }
    void begin() override { inner->begin(); }
    void commit() override { inner->commit(); }
    void rollback() override { inner->rollback(); }
  };
  Rig rig;
  auto counter = std::make_shared<int>(0);
  rig.connect = [&rig, counter]() -> std::unique_ptr<store::SqlConnection> {
    auto f = std::make_unique<Flaky>();
    f->inner = store::open_sqlite((rig.dir / "store.db").string(), false);
    f->counter = counter;
    return f;
  };
  rig.start();
  std::vector<Made> units;
  for (std::uint64_t i = 0; i < 12; ++i) {
    units.push_back(make_unit(60 + i, "K5", kRegionalService, kNationalManager, false));
    units.back().unit.source_id = "flaky-" + std::to_string(i);
    rig.regional.offer(units.back().unit);
  }
  for (int round = 0; round < 20 && !rig.regional.pending.empty(); ++round) {
    rig.run_until([&] { return rig.regional.answered_offers >= 12; });
    rig.regional.answered_offers = 0;
    const auto left = rig.regional.pending.size();
    rig.regional.reoffer_pending();
    if (left > 0) rig.run_until([&] { return rig.regional.answered_offers >= left; });
    rig.regional.answered_offers = 12;
  }
  BOOST_TEST(rig.regional.pending.empty());
  rig.run_until([&] { return rig.national.deliveries.size() == 12; });
  rig.settle();
  BOOST_TEST(rig.national.deliveries.size() == 12u);
  std::set<std::string> keys;
  for (const auto& d : rig.national.deliveries) keys.insert(d.unit.idempotency_key);
  BOOST_TEST(keys.size() == 12u);
}

BOOST_AUTO_TEST_CASE(pipelined_intake_answers_in_order_and_a_failure_fails_the_rest) {
  // Eight units handed over at once (AdapterSink: pipelined intake). The store refuses the
  // third one's accept every time until told otherwise: the first two are answered true, the
  // third and every later one false, in hand-over order, and nothing of them is in the store.
  // Offered again, all are accepted once and delivered once; the cursor is the last unit's.
  struct Refusing : store::SqlConnection {
    std::unique_ptr<store::SqlConnection> inner;
    std::shared_ptr<bool> refuse;
    store::Dialect dialect() const override { return inner->dialect(); }
    std::vector<store::SqlRow> query(std::string_view sql,
                                     const std::vector<store::SqlValue>& p) override {
      if (*refuse && sql.rfind("INSERT INTO kh_transfers", 0) == 0 && p.size() > 1 &&
          std::get_if<std::string>(&p[1]) && *std::get_if<std::string>(&p[1]) == "pipe-2")
        throw store::SqlError{"injected failure", false};
      return inner->query(sql, p);
    }
    void execute_script(std::string_view sql) override { inner->execute_script(sql); }
    void begin() override { inner->begin(); }
    void commit() override { inner->commit(); }
    void rollback() override { inner->rollback(); }
  };
  Rig rig;
  auto refuse = std::make_shared<bool>(true);
  const auto base = rig.connect;
  rig.connect = [base, refuse]() -> std::unique_ptr<store::SqlConnection> {
    auto c = std::make_unique<Refusing>();
    c->inner = base();
    c->refuse = refuse;
    return c;
  };
  rig.options.intake_window = 8;
  rig.start();
  BOOST_TEST(rig.regional.context.intake_window == 8u);
  std::vector<InboundUnit> units;
  for (std::uint64_t i = 0; i < 8; ++i) {
    auto m = make_unit(300 + i, "K5", i % 2 ? kRegionalService : "3271500039", kNationalManager,
                       false, "20250" + std::to_string(5 + i % 4));
    m.unit.source_id = "pipe-" + std::to_string(i);
    m.unit.cursor = "cursor-" + std::to_string(i);
    units.push_back(m.unit);
  }
  std::vector<std::pair<std::size_t, bool>> answers;
  const auto hand_over = [&](std::size_t from) {
    for (std::size_t i = from; i < units.size(); ++i)
      rig.regional.context.sink->on_unit(units[i],
                                         [&answers, i](bool ok) { answers.emplace_back(i, ok); });
  };
  hand_over(0);
  rig.run_until([&] { return answers.size() == 8; });
  for (std::size_t k = 0; k < answers.size(); ++k) {
    BOOST_TEST(answers[k].first == k);
    BOOST_TEST(answers[k].second == (k < 2), "unit " << k);
  }
  BOOST_TEST(rig.store()->list({}).size() == 2u);
  BOOST_TEST(rig.store()->load_cursor("regional", "units").value_or("") == "cursor-1");
  // The adapter starts again after the last unit answered true.
  *refuse = false;
  answers.clear();
  hand_over(2);
  rig.run_until([&] { return answers.size() == 6; });
  for (std::size_t k = 0; k < answers.size(); ++k) {
    BOOST_TEST(answers[k].first == k + 2);
    BOOST_TEST(answers[k].second);
  }
  BOOST_TEST(rig.store()->load_cursor("regional", "units").value_or("") == "cursor-7");
  rig.run_until([&] { return rig.national.deliveries.size() == 8; });
  rig.settle();
  BOOST_TEST(rig.national.deliveries.size() == 8u);
  BOOST_TEST(rig.engine->counters().accepted == 8);
  BOOST_TEST(rig.engine->counters().commit_group_failures >= 1);
}

BOOST_AUTO_TEST_CASE(the_conservation_report_balances_after_a_mixed_run) {
  Rig rig;
  rig.options.max_attempts = 2;
  rig.start();
  rig.national.script(
      {SendResult::Status::kRejected, "", "RECIPIENT_SUSPENDED", "", std::nullopt, false, ""});
  for (std::uint64_t i = 0; i < 8; ++i) {
    auto m = make_unit(80 + i, i % 2 ? "K5" : "K2", i % 2 ? kRegionalService : kRegionalManager,
                       i % 2 ? kNationalManager : kNationalService, false,
                       "20250" + std::to_string(5 + i % 4));
    m.unit.source_id = "mix-" + std::to_string(i);
    if (i == 3) m.unit.files[0].content[5] ^= 1;  // bad signature
    rig.regional.offer(m.unit);
    auto n = make_unit(90 + i, "K5", kNationalService, kRegionalManager, true,
                       "20250" + std::to_string(5 + i % 4));
    n.unit.source_id = "nat-" + std::to_string(i);
    rig.national.offer(n.unit);
  }
  rig.run_until(
      [&] { return rig.regional.answered_offers == 8 && rig.national.answered_offers == 8; });
  for (int i = 0; i < 5; ++i) {
    rig.clock += 10'000;
    rig.settle();
  }
  const auto rows = rig.store()->report(0, INT64_MAX);
  std::int64_t in = 0, accounted = 0;
  for (const auto& r : rows) {
    BOOST_TEST(r.in == r.delivered + r.rejected + r.parked + r.superseded + r.in_flight,
               r.direction);
    in += r.in;
    accounted += r.delivered + r.rejected + r.parked + r.superseded;
  }
  BOOST_TEST(in == 16);
  BOOST_TEST(accounted == 16);
}

BOOST_AUTO_TEST_CASE(two_instances_share_one_store_without_duplicates) {
  // Two gateway instances on one store (PostgreSQL in the pg_virtualenv run), both offered the
  // same inbox. The first instance's national connection is stuck, so the second does the
  // deliveries; then the first is killed, and the second takes over what it had leased once the
  // leases expire. Each unit reaches the destination exactly once.
  Rig rig;
  rig.options.lease = std::chrono::milliseconds(60'000);
  rig.options.max_in_flight = 2;
  auto opts2 = rig.options;
  opts2.instance_id = "second";
  rig.national.hang_all_sends = true;
  rig.start();
  static const char* kSenders[] = {"3271500021", "3271500039", "3271500047"};
  std::vector<InboundUnit> units;
  for (std::uint64_t i = 0; i < 16; ++i) {
    auto m = make_unit(200 + i, "K5", kSenders[i % 3], i % 2 ? kNationalManager : kNationalService,
                       false, "20250" + std::to_string(5 + i % 4));
    m.unit.source_id = "shared-" + std::to_string(i);
    units.push_back(m.unit);
    rig.regional.offer(m.unit);
  }
  // The first instance takes two units (max_in_flight) and its sends hang; only then does the
  // second start, so the two stuck units are the heads of their office pairs.
  rig.run_until(
      [&] { return rig.regional.answered_offers == 16 && rig.national.send_calls.size() == 2; });
  testing::FakeNetwork regional2, national2;
  regional2.directory = rig.regional.directory;
  national2.directory = rig.national.directory;
  national2.delivery_log = &rig.national;  // the same national network
  auto second = rig.make_engine(regional2, national2, opts2);
  for (const auto& u : units)
    regional2.offer(u);  // the same inbox: duplicates, first outcome stands
  rig.run_until([&] { return regional2.answered_offers == 16; });
  // One instance at a time may poll each inbox: the first holds the lease.
  BOOST_TEST(rig.regional.context.may_poll());
  BOOST_TEST(!regional2.context.may_poll());
  BOOST_TEST(!national2.context.may_poll());
  BOOST_TEST(rig.regional.pending.empty());
  BOOST_TEST(regional2.pending.empty());
  // The two stuck units hold their office pairs (one unit of a pair in flight at a time): the
  // second instance delivers every unit of the other pairs.
  std::map<std::string, std::string> stuck_pairs;  // pair -> sequence of its stuck unit
  std::size_t blocked = 0;
  {
    auto s = rig.store();
    for (const auto& t : s->list({})) {
      if (rig.national.send_calls.count(t.idempotency_key) != 0)
        stuck_pairs[t.sender_office + t.recipient_office] = t.sequence;
    }
    for (const auto& t : s->list({}))
      blocked += stuck_pairs.count(t.sender_office + t.recipient_office);
  }
  BOOST_TEST(stuck_pairs.size() == 2u);
  rig.run_until(
      [&] { return second->counters().delivered == static_cast<std::int64_t>(16 - blocked); },
      std::chrono::seconds(60));
  BOOST_TEST(rig.national.deliveries.size() == 16 - blocked);
  rig.crash();  // the first instance dies with two units leased and unanswered
  rig.clock += 61'000;
  rig.run_until([&] { return second->counters().delivered == 16; }, std::chrono::seconds(60));
  rig.run_until([&] { return regional2.context.may_poll() && national2.context.may_poll(); });
  std::set<std::string> keys;
  for (const auto& d : rig.national.deliveries) keys.insert(d.unit.idempotency_key);
  BOOST_TEST(rig.national.deliveries.size() == 16u);
  BOOST_TEST(keys.size() == 16u);
  BOOST_TEST(rig.store()->list({}).size() == 16u);
  second.reset();
}

BOOST_AUTO_TEST_CASE(every_refusal_reason_reaches_the_sender_by_name) {
  Rig rig;
  // A facility structure on the regional side, a suspended national office, and the offices
  // whose certificates are expired or revoked in the development PKI.
  for (auto& e : rig.regional.directory)
    e.facility_id = e.office.office_no == kRegionalManager ? "F-1" : "F-2";
  for (const auto& t : {"43", "17"}) {
    rig.national.directory.push_back(entry("1371100460", t, "SUSPENDED"));
    auto expired = entry("3271500070", t);
    expired.facility_id = "F-3";
    rig.regional.directory.push_back(expired);
    auto revoked = entry("3271500096", t);
    revoked.facility_id = "F-3";
    rig.regional.directory.push_back(revoked);
  }
  rig.start();
  struct Case {
    std::string name, code, hint;
    InboundUnit unit;
  };
  std::vector<Case> cases;
  auto add = [&](std::string name, std::string code, std::string hint, InboundUnit u) {
    u.source_id = name;
    cases.push_back({std::move(name), std::move(code), std::move(hint), std::move(u)});
  };
  {
    auto m = make_unit(300, "K5", kRegionalService, kNationalManager, false);
    m.unit.recipient.office_no = kNationalService;  // the envelope says otherwise than the names
    add("envelope", "ENVELOPE_MISMATCH", "", m.unit);
  }
  {
    auto m = make_unit(301, "K3", kRegionalManager, kNationalService, false);
    m.unit.sender_facility = "F-2";  // not the facility holding the office
    add("facility", "SENDER_NOT_AUTHORIZED", "", m.unit);
  }
  {
    auto m = make_unit(302, "K5", kRegionalService, "1371100460", false);
    add("suspended", "RECIPIENT_NOT_ACTIVE", "", m.unit);
  }
  {
    auto m = make_unit(303, "K5", kRegionalService, kRegionalManager, false);
    add("same-network", "RECIPIENT_SAME_NETWORK", "", m.unit);
  }
  {
    InboundUnit u;
    u.sender = {kRegionalManager, "43"};
    u.recipient = {kNationalService, "11"};
    add("empty", "UNIT_EMPTY", "", u);
  }
  {
    // Issue 14: an item its adapter could not read is refused with the adapter's reason, even
    // when it carries files that would pass.
    auto m = make_unit(306, "K5", kRegionalService, kNationalManager, false);
    m.unit.unreadable = "documents[0].content: not base64";
    // The office is told what could not be read (the adapter's path and fault, no content).
    add("unreadable", "ITEM_UNREADABLE", "形式が正しくない）（documents[0].content: not base64）",
        m.unit);
  }
  // The generator's offices are rewritten to these, so the signer certificate names the sender.
  const auto signed_by = [&](std::uint64_t seed, const std::string& office,
                             const std::string& cert) {
    auto m = make_unit(seed, "K5", kRegionalService, kNationalManager, false);
    const auto base = test_pki().dir / "cases" / cert;
    const auto cred =
        gateway::pki::load_credential(base.string() + ".cert.pem", base.string() + ".key.pem");
    m.unit.sender.office_no = office;
    for (auto& f : m.unit.files) {
      f.name = replace_all(f.name, kRegionalService, office);
      f.content = replace_all(f.content, kRegionalService, office);
      f.cms = bytes_str(cms::sign(view(f.content), cred, {}).value());
    }
    return m.unit;
  };
  add("expired", "SIGNATURE_INVALID", "有効期限が切れて", signed_by(304, "3271500070", "expired"));
  add("revoked", "SIGNATURE_INVALID", "失効しています", signed_by(305, "3271500096", "revoked"));
  for (const auto& c : cases) rig.regional.offer(c.unit);
  rig.run_until([&] { return rig.regional.receipts_received.size() == cases.size(); });
  BOOST_TEST(rig.national.deliveries.empty());
  for (const auto& c : cases) {
    const auto it =
        std::find_if(rig.regional.receipts_received.begin(), rig.regional.receipts_received.end(),
                     [&](const OutboundReceipt& r) { return r.source_id == c.name; });
    BOOST_TEST_REQUIRE((it != rig.regional.receipts_received.end()), c.name);
    BOOST_TEST((it->state == ReceiptState::kRejected), c.name);
    BOOST_TEST(it->reason.find("[" + c.code + "]") != std::string::npos,
               c.name << ": " << it->reason);
    if (!c.hint.empty())
      BOOST_TEST(it->reason.find(c.hint) != std::string::npos, c.name << ": " << it->reason);
  }
}

// ---- superseding and duplicates (issue 14) -----------------------------------------------------

BOOST_AUTO_TEST_CASE(the_subject_and_the_content_digest_of_a_unit) {
  const auto lower = [](InboundUnit u) {
    for (auto& f : u.files) f.name = f.name.substr(0, f.name.size() - 3) + "csv";
    return u;
  };
  const auto a = make_unit(700, "K2", kRegionalManager, kNationalService, false, "202506").unit;
  const auto b = make_unit(701, "K2", kRegionalManager, kNationalService, false, "202506").unit;
  const auto key_a = engine::subject_key(a, "K2");
  BOOST_TEST(key_a.rfind("K2:202506:", 0) == 0u, key_a);
  BOOST_TEST(key_a.size() > std::string("K2:202506:").size());
  // The users are read whatever the case of the extension; other users, another subject.
  BOOST_TEST(engine::subject_key(lower(a), "K2") == key_a);
  BOOST_TEST(engine::subject_key(lower(b), "K2") != key_a);
  BOOST_TEST(engine::subject_key(b, "K2") != key_a);
  // No users to read, or no kind: no subject (never superseded).
  auto no_users = a;
  for (auto& f : no_users.files) f.content = "1\n";
  BOOST_TEST(engine::subject_key(no_users, "K2") == "");
  BOOST_TEST(engine::subject_key(a, "") == "");
  // The digest covers names and bytes, not the order of the files or their signatures.
  auto reordered = a;
  std::reverse(reordered.files.begin(), reordered.files.end());
  for (auto& f : reordered.files) f.cms = "another signature";
  BOOST_TEST(engine::content_digest(reordered) == engine::content_digest(a));
  auto changed = a;
  changed.files.back().content.back() ^= 1;
  BOOST_TEST(engine::content_digest(changed) != engine::content_digest(a));
  BOOST_TEST(engine::content_digest(lower(a)) != engine::content_digest(a));
}

// Case (a) of issue 14: units named `.csv` (accepted with a warning) used to carry no users, so
// an older unit about other users was superseded by any newer one of the same kind and month.
BOOST_AUTO_TEST_CASE(an_older_unit_about_other_users_is_delivered_after_a_newer_one) {
  Rig rig;
  rig.start();
  auto newer = make_unit(710, "K2", kRegionalManager, kNationalService, false, "202506",
                         edits({with_sequence(kNewer), lower_case_extension()}));
  auto older = make_unit(711, "K2", kRegionalManager, kNationalService, false, "202506",
                         edits({with_sequence(kOlder), lower_case_extension()}));
  BOOST_TEST(run_to_outcome(rig, rig.regional, newer.unit).state == store::kDelivered);
  const auto t = run_to_outcome(rig, rig.regional, older.unit);
  BOOST_TEST(t.state == store::kDelivered, t.reason);
  BOOST_TEST(rig.national.deliveries.size() == 2u);
}

// Case (b) of issue 14: the same users, kind and month sent to two service types of one office
// are two different things to replace; and each (office, service type) pair is ordered alone.
BOOST_AUTO_TEST_CASE(an_older_unit_for_another_service_type_of_the_office_is_delivered) {
  Rig rig;
  rig.start();
  const auto probe = make_unit(720, "K2", kRegionalManager, kNationalService, false, "202506");
  const std::string type = probe.recipient_type;
  const std::string other = type == "13" ? "11" : "13";
  auto newer = make_unit(720, "K2", kRegionalManager, kNationalService, false, "202506",
                         with_sequence(kNewer));
  auto older =
      make_unit(720, "K2", kRegionalManager, kNationalService, false, "202506",
                edits({with_sequence(kOlder), with_service_type(kNationalService, type, other)}));
  older.unit.recipient.service_type = other;
  older.unit.source_id = "M-720-K2-for-" + other;
  BOOST_TEST(run_to_outcome(rig, rig.regional, newer.unit).state == store::kDelivered);
  const auto t = run_to_outcome(rig, rig.regional, older.unit);
  BOOST_TEST(t.state == store::kDelivered, t.reason);
  BOOST_TEST(t.recipient_type == other);
  BOOST_TEST(rig.national.deliveries.size() == 2u);
}

// What superseding is for: an older unit that carries exactly what a newer, delivered one
// replaces is not delivered, and its sender learns which unit replaced it.
BOOST_AUTO_TEST_CASE(a_superseded_unit_is_reported_to_its_sender_with_the_newer_unit) {
  Rig rig;
  rig.start();
  auto newer = make_unit(730, "K2", kRegionalManager, kNationalService, false, "202506",
                         with_sequence(kNewer));
  auto older = make_unit(730, "K2", kRegionalManager, kNationalService, false, "202506",
                         with_sequence(kOlder));
  older.unit.source_id = "M-730-older";
  BOOST_TEST(run_to_outcome(rig, rig.regional, newer.unit).state == store::kDelivered);
  const auto t = run_to_outcome(rig, rig.regional, older.unit);
  BOOST_TEST(t.state == store::kSuperseded);
  BOOST_TEST(t.reason.rfind("SUPERSEDED", 0) == 0u, t.reason);
  rig.run_until([&] { return receipt_for(rig.regional, older.unit.source_id) != nullptr; });
  const auto* r = receipt_for(rig.regional, older.unit.source_id);
  BOOST_TEST((r->state == ReceiptState::kRejected));
  BOOST_TEST(r->reason.find(kNewer) != std::string::npos, r->reason);
  BOOST_TEST(r->reason.find(newer.unit.source_id) != std::string::npos, r->reason);
  BOOST_TEST(r->reason.find("[SUPERSEDED]") != std::string::npos, r->reason);
  BOOST_TEST(r->reason.rfind("【差し戻し】\n", 0) == 0u, r->reason);  // issue 18: the status word
  BOOST_TEST(rig.national.deliveries.size() == 1u);
  rig.settle();
  for (const auto& row : rig.store()->report(0, INT64_MAX))
    BOOST_TEST(row.in ==
               row.delivered + row.rejected + row.parked + row.superseded + row.in_flight);
}

// The same unit offered again under a new source id (a new message id, a new national
// transmission id, re-signed) is a duplicate: the first outcome stands, one delivery.
BOOST_AUTO_TEST_CASE(the_same_unit_under_another_source_id_is_delivered_once) {
  Rig rig;
  rig.start();
  auto m = make_unit(740, "K2", kRegionalManager, kNationalService, false);
  auto copy = m.unit;
  copy.source_id = "M-740-again";
  rig.regional.offer(m.unit);
  rig.regional.offer(copy);
  rig.run_until(
      [&] { return rig.regional.answered_offers == 2 && rig.national.deliveries.size() == 1; });
  auto late = m.unit;  // once more after delivery, as a third message
  late.source_id = "M-740-third";
  rig.regional.offer(late);
  // From the national side too: the copy is signed again (another signature, the same files).
  auto n = make_unit(741, "K5", kNationalService, kRegionalManager, true);
  auto resent = make_unit(741, "K5", kNationalService, kRegionalManager, true);
  resent.unit.source_id = "T-741-resent";
  rig.national.offer(n.unit);
  rig.run_until([&] { return rig.regional.deliveries.size() == 1; });
  rig.national.offer(resent.unit);
  rig.run_until(
      [&] { return rig.regional.answered_offers == 3 && rig.national.answered_offers == 2; });
  rig.settle();
  BOOST_TEST(rig.national.deliveries.size() == 1u);
  BOOST_TEST(rig.regional.deliveries.size() == 1u);
  BOOST_TEST(rig.engine->counters().duplicates == 3);
  BOOST_TEST(rig.store()->list({}).size() == 2u);
  BOOST_TEST(rig.regional.receipts_received.empty());  // nothing refused
}

// Other files under a sequence the sender already used for this recipient: refused, with the
// reason, and the first unit is delivered as it was.
BOOST_AUTO_TEST_CASE(other_files_under_a_used_sequence_are_refused_to_the_sender) {
  Rig rig;
  rig.start();
  auto first = make_unit(750, "K2", kRegionalManager, kNationalService, false, "202506",
                         with_sequence(kNewer));
  // Other users, to the same recipient (office and service type) under the same sequence.
  const auto type =
      make_unit(751, "K2", kRegionalManager, kNationalService, false, "202506").recipient_type;
  auto second = make_unit(751, "K2", kRegionalManager, kNationalService, false, "202506",
                          edits({with_sequence(kNewer),
                                 with_service_type(kNationalService, type, first.recipient_type)}));
  second.unit.recipient.service_type = first.recipient_type;
  rig.regional.offer(first.unit);
  rig.regional.offer(second.unit);
  rig.run_until([&] { return receipt_for(rig.regional, second.unit.source_id) != nullptr; });
  rig.run_until([&] { return rig.national.deliveries.size() == 1; });
  rig.settle();
  const auto* r = receipt_for(rig.regional, second.unit.source_id);
  BOOST_TEST((r->state == ReceiptState::kRejected));
  BOOST_TEST(r->reason.find("[SEQUENCE_REUSED]") != std::string::npos, r->reason);
  BOOST_TEST(r->reason.rfind("【差し戻し】\n", 0) == 0u, r->reason);
  BOOST_TEST(r->reason.find(kNewer) != std::string::npos, r->reason);
  BOOST_TEST(transfer_of(rig, first.unit.source_id)->state == store::kDelivered);
  const auto refused = transfer_of(rig, second.unit.source_id);
  BOOST_TEST(refused->state == store::kRejected);
  BOOST_TEST(refused->reason.rfind("SEQUENCE_REUSED", 0) == 0u, refused->reason);
  BOOST_TEST(rig.national.deliveries.size() == 1u);
  BOOST_TEST(rig.engine->counters().refused == 1);
}

// Refused units are counted under the direction they were headed in, not "<source>->refused".
BOOST_AUTO_TEST_CASE(refused_units_keep_their_direction) {
  Rig rig;
  rig.start();
  auto tampered = make_unit(760, "K5", kRegionalService, kNationalManager, false);
  tampered.unit.files[0].content.back() ^= 1;
  auto unknown = make_unit(761, "K3", kRegionalManager, "1371100460", false);
  rig.regional.offer(tampered.unit);
  rig.regional.offer(unknown.unit);
  rig.run_until([&] { return rig.regional.receipts_received.size() == 2; });
  BOOST_TEST(transfer_of(rig, tampered.unit.source_id)->direction == "regional->national");
  BOOST_TEST(transfer_of(rig, unknown.unit.source_id)->direction == "regional->unrouted");
  for (const auto& c : rig.store()->state_counts(0)) {
    BOOST_TEST(c.direction.find("refused") == std::string::npos, c.direction);
    BOOST_TEST(c.refused_at_intake);
  }
}
