// National sender authorization in admission: a national sender (no facility) must be an active
// office native to the national network whose signing certificate names it. A refusal is accepted
// as `rejected`, and the sender holds a rejection naming the reason in plain Japanese with its
// stable code; nothing reaches the other network. Fake networks, a real development PKI.

#define BOOST_TEST_MODULE kakehashi_sender_auth
#include <boost/test/unit_test.hpp>

#include <unistd.h>

#include <cstdlib>
#include <filesystem>

#include "gateway/engine/relay_engine.hpp"
#include "gateway/pki/key_file.hpp"
#include "gateway/pki/trust_domain_loader.hpp"
#include "mapping/cms/signer.hpp"
#include "tests/careplan_gen/generator.hpp"
#include "tests/engine/fake_network.hpp"
#include "tests/support/run_until.hpp"

using namespace kakehashi;
using namespace kakehashi::gateway;
namespace fs = std::filesystem;
namespace cms = kakehashi::mapping::cms;

namespace {

constexpr const char* kRegionalManager = "3271500013";
constexpr const char* kNationalService = "1371100452";
constexpr const char* kNationalManager = "1370100016";
const char* const kTypes[] = {"11", "13", "15", "17", "78", "43", "46", "A2", "A6", "63", "67"};

struct Pki {
  fs::path dir;
  std::shared_ptr<const cms::TrustDomain> regional, national;
  std::shared_ptr<const cms::Credential> proxy;
  Pki() {
    dir = fs::temp_directory_path() / ("kh-sender-auth-pki-" + std::to_string(::getpid()));
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
};

const Pki& test_pki() {
  static Pki p;
  return p;
}

std::string replace_all(std::string s, const std::string& from, const std::string& to) {
  for (std::size_t pos = 0; (pos = s.find(from, pos)) != std::string::npos; pos += to.size())
    s.replace(pos, from.size(), to);
  return s;
}

// A generated unit from a national office to a regional one, attached-signed by the sender's own
// national certificate (the form the national network delivers).
InboundUnit national_unit(std::uint64_t seed, const std::string& from, const std::string& to) {
  testing::UnitGenerator gen(seed);
  testing::UnitParams params;
  params.users = 1;
  auto g = gen.make("K5", params);
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
  InboundUnit u;
  u.sender = {from, segs[k - 4]};
  u.recipient = {to, segs[k - 2]};
  u.subject = "plan";
  const auto base = test_pki().dir / "offices" / "national" / from;
  const auto cred =
      gateway::pki::load_credential(base.string() + ".cert.pem", base.string() + ".key.pem");
  for (auto& f : g.files) {
    SignedFile s;
    s.name = replace_all(replace_all(f.name, gfrom, from), gto, to);
    const auto content = replace_all(replace_all(f.bytes, gfrom, from), gto, to);
    const auto sig =
        cms::sign({reinterpret_cast<const std::uint8_t*>(content.data()), content.size()}, cred,
                  {.detached = false});
    BOOST_REQUIRE(sig.ok());
    s.cms.assign(sig.value().begin(), sig.value().end());
    s.attached = true;
    s.media_type = "text/csv";
    u.files.push_back(std::move(s));
  }
  u.source_id = "T-" + std::to_string(seed);
  return u;
}

DirectoryEntry entry(const std::string& office, const std::string& type,
                     const std::string& status = "ACTIVE") {
  DirectoryEntry e;
  e.office = {office, type};
  e.name = "事業所 " + office;
  e.status = status;
  return e;
}

// One engine between a fake regional and a fake national network, on a temp SQLite store.
struct Rig {
  fs::path dir;
  boost::asio::io_context io;
  testing::FakeNetwork regional, national;
  std::unique_ptr<engine::Engine> engine;

  Rig() {
    test_pki();
    static int n = 0;
    dir = fs::temp_directory_path() /
          ("kh-sender-auth-" + std::to_string(::getpid()) + "-" + std::to_string(++n));
    fs::create_directories(dir);
    for (const auto* t : kTypes) {
      regional.directory.push_back(entry(kRegionalManager, t));
      national.directory.push_back(entry(kNationalManager, t));
    }
  }
  ~Rig() {
    engine.reset();
    fs::remove_all(dir);
  }
  void start() {
    engine::EngineOptions options;
    options.tick = std::chrono::milliseconds(5);
    engine = std::make_unique<engine::Engine>(
        io, options,
        [this] {
          return std::make_unique<store::Store>(
              store::open_sqlite((dir / "store.db").string(), false));
        },
        engine::PayloadCipher(std::string(32, 'k')), test_pki().proxy,
        std::vector<std::string>{"national", "regional"});
    engine::NetworkBinding r;
    r.name = "regional";
    r.make_adapter = [this](AdapterContext c) { return regional.make_adapter(c); };
    r.outbound_form = engine::EnvelopeForm::kDetached;
    r.trust = test_pki().regional;
    engine->add_network(std::move(r));
    engine::NetworkBinding nb;
    nb.name = "national";
    nb.make_adapter = [this](AdapterContext c) { return national.make_adapter(c); };
    nb.outbound_form = engine::EnvelopeForm::kAttachedCosigned;
    nb.trust = test_pki().national;
    nb.cosigner = test_pki().proxy;
    nb.senders_must_be_members = true;  // what `kakehashi run` sets for the national network
    engine->add_network(std::move(nb));
    engine->start();
    run_until([this] { return engine->router().ready({"regional", "national"}); });
  }
  void run_until(const std::function<bool()>& done) {
    kakehashi::testing::require_until(io, done, std::chrono::seconds(30),
                                      std::chrono::milliseconds(5));
  }
  // Offers one national unit and waits for the sender's rejection; returns its text.
  std::string rejection_of(const InboundUnit& unit) {
    national.offer(unit);
    run_until([&] { return national.receipts_received.size() == 1; });
    const auto& r = national.receipts_received[0];
    BOOST_TEST((r.state == ReceiptState::kRejected));
    BOOST_TEST(r.source_id == unit.source_id);
    BOOST_TEST(regional.deliveries.empty());
    return r.reason;
  }
};

}  // namespace

BOOST_AUTO_TEST_CASE(an_active_native_national_sender_is_relayed) {
  Rig rig;
  for (const auto* t : kTypes) rig.national.directory.push_back(entry(kNationalService, t));
  rig.start();
  rig.national.offer(national_unit(1, kNationalService, kRegionalManager));
  rig.run_until([&] { return rig.regional.deliveries.size() == 1; });
  BOOST_TEST(rig.national.receipts_received.empty());
}

BOOST_AUTO_TEST_CASE(a_suspended_national_sender_holds_a_rejection) {
  Rig rig;
  for (const auto* t : kTypes)
    rig.national.directory.push_back(entry(kNationalService, t, "SUSPENDED"));
  rig.start();
  const auto text = rig.rejection_of(national_unit(2, kNationalService, kRegionalManager));
  BOOST_TEST(text.find("[SENDER_NOT_ACTIVE]") != std::string::npos, text);
  BOOST_TEST(text.find("休止中または廃止") != std::string::npos, text);
  const auto t =
      std::make_unique<store::Store>(store::open_sqlite((rig.dir / "store.db").string(), false))
          ->list({});
  BOOST_TEST_REQUIRE(t.size() == 1u);
  BOOST_TEST(t[0].state == store::kRejected);
  BOOST_TEST(t[0].reason.find("SENDER_NOT_ACTIVE") != std::string::npos, t[0].reason);
}

BOOST_AUTO_TEST_CASE(a_national_sender_missing_from_the_office_master_holds_a_rejection) {
  Rig rig;  // kNationalService is in no directory, though its certificate names it
  rig.start();
  const auto text = rig.rejection_of(national_unit(3, kNationalService, kRegionalManager));
  BOOST_TEST(text.find("[SENDER_UNKNOWN]") != std::string::npos, text);
  BOOST_TEST(text.find("登録されていません") != std::string::npos, text);
}

BOOST_AUTO_TEST_CASE(the_gateways_own_publication_never_sends_as_a_national_office) {
  // The national listing shows the office only because the gateway published it there (an echo
  // of its represented offices): it is no national member and may not send from that side.
  Rig rig;
  for (const auto* t : kTypes) rig.national.directory.push_back(entry(kNationalService, t));
  std::vector<mapping::registry::OfficeKey> published;
  for (const auto* t : kTypes) published.push_back({kNationalService, t});
  rig.start();
  rig.engine->router().set_published("national", published);
  const auto text = rig.rejection_of(national_unit(4, kNationalService, kRegionalManager));
  BOOST_TEST(text.find("[SENDER_UNKNOWN]") != std::string::npos, text);
}
