// Issue 22: one engine bridging two regional networks (A, B) and the national one, against
// in-memory networks. With B's directory not answered yet, A ⇄ national flows while units to and
// from B (and to offices no answered directory knows) stay with their source; once B answers
// they flow too. Then an office joins A while the engine runs and units to it go to A (first in
// the preference). Every unit is delivered once, to the network expected, and the report
// balances.

#define BOOST_TEST_MODULE kakehashi_three_networks
#include <boost/test/unit_test.hpp>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <map>

#include <unistd.h>

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

// Offices of the development PKI: A and B share its regional CA (their trust is not the point
// here; tests/engine/destination_refusal_test.cpp covers a destination that distrusts a CA).
constexpr const char* kManagerA = "3271500013";
constexpr const char* kServiceA = "3271500021";
constexpr const char* kManagerB = "3271500039";
constexpr const char* kServiceB = "3271500047";
constexpr const char* kManagerN = "1370100016";
constexpr const char* kServiceN = "1371100452";
constexpr const char* kJoiner = "1371100460";  // national, then also a member of A

struct Pki {
  fs::path dir;
  std::shared_ptr<const cms::TrustDomain> regional, national;
  std::shared_ptr<const cms::Credential> proxy;
  Pki() {
    dir = fs::temp_directory_path() / ("kh-three-pki-" + std::to_string(::getpid()));
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

// A generated plan (K2: care manager office → service office) moved onto real offices and
// signed by the sender (attached from the national side, detached from a regional one).
InboundUnit plan(std::uint64_t seed, const std::string& from, const std::string& to,
                 bool from_national) {
  testing::UnitGenerator gen(seed);
  testing::UnitParams params;
  params.users = 1;
  auto g = gen.make("K2", params);
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
  const auto base = test_pki().dir / "offices" / (from_national ? "national" : "regional") / from;
  const auto cred =
      gateway::pki::load_credential(base.string() + ".cert.pem", base.string() + ".key.pem");
  for (auto& f : g.files) {
    SignedFile s;
    s.name = replace_all(replace_all(f.name, gfrom, from), gto, to);
    s.content = replace_all(replace_all(f.bytes, gfrom, from), gto, to);
    s.media_type = "text/csv";
    const auto view =
        cms::ByteView(reinterpret_cast<const std::uint8_t*>(s.content.data()), s.content.size());
    const auto sig = cms::sign(view, cred, {.detached = !from_national});
    BOOST_REQUIRE(sig.ok());
    s.cms.assign(sig.value().begin(), sig.value().end());
    s.attached = from_national;
    if (from_national) s.content.clear();
    u.files.push_back(std::move(s));
  }
  u.source_id = from + "-" + to + "-" + std::to_string(seed);
  return u;
}

std::vector<DirectoryEntry> listing(std::initializer_list<const char*> offices) {
  std::vector<DirectoryEntry> out;
  for (const char* no : offices) {
    for (const char* t : {"11", "13", "15", "17", "78", "43", "46", "A2", "A6", "63", "67"}) {
      DirectoryEntry e;
      e.office = {no, t};
      e.name = std::string("事業所 ") + no;
      e.status = "ACTIVE";
      out.push_back(e);
    }
  }
  return out;
}

struct Rig {
  fs::path dir;
  boost::asio::io_context io;
  testing::FakeNetwork a, b, national;
  std::unique_ptr<engine::Engine> engine;
  std::int64_t clock = 0;

  Rig() {
    (void)test_pki();
    clock = std::chrono::duration_cast<std::chrono::milliseconds>(
                std::chrono::system_clock::now().time_since_epoch())
                .count() +
            5000;
    dir = fs::temp_directory_path() / ("kh-three-" + std::to_string(::getpid()));
    fs::remove_all(dir);
    fs::create_directories(dir);
    engine::EngineOptions options;
    options.tick = std::chrono::milliseconds(5);
    // The router is fed by the test, as the registry service feeds it in the daemon.
    options.refresh_directories = false;
    engine = std::make_unique<engine::Engine>(
        io, options,
        [this] {
          return std::make_unique<store::Store>(
              store::open_sqlite((dir / "store.db").string(), false));
        },
        engine::PayloadCipher(std::string(32, 'k')), test_pki().proxy,
        std::vector<std::string>{"regional-a", "national", "regional-b"}, [this] { return clock; });
    const std::pair<const char*, testing::FakeNetwork*> regionals[] = {{"regional-a", &a},
                                                                       {"regional-b", &b}};
    for (const auto& [name, net] : regionals) {
      engine::NetworkBinding r;
      r.name = name;
      r.make_adapter = [net](AdapterContext c) { return net->make_adapter(c); };
      r.outbound_form = engine::EnvelopeForm::kDetached;
      r.trust = test_pki().regional;
      engine->add_network(std::move(r));
    }
    engine::NetworkBinding n;
    n.name = "national";
    n.make_adapter = [this](AdapterContext c) { return national.make_adapter(c); };
    n.outbound_form = engine::EnvelopeForm::kAttachedCosigned;
    n.trust = test_pki().national;
    n.cosigner = test_pki().proxy;
    engine->add_network(std::move(n));
    engine->start();
  }
  ~Rig() {
    engine.reset();
    fs::remove_all(dir);
  }

  void run_until(const std::function<bool()>& done,
                 std::chrono::seconds limit = std::chrono::seconds(30)) {
    kakehashi::testing::require_until(io, done, limit, std::chrono::milliseconds(5));
  }
  // Runs until every offer has been answered (accepted, or kept by its source).
  void answer_offers(std::size_t offered) {
    run_until([&] {
      return a.answered_offers + b.answered_offers + national.answered_offers >= offered;
    });
  }
};

// A unit is known at its destination by its files' names (they carry offices and timestamp).
std::string key(const InboundUnit& u) {
  return u.files.front().name;
}

std::size_t delivered(const testing::FakeNetwork& net, const std::string& unit_key) {
  std::size_t n = 0;
  for (const auto& d : net.deliveries) n += d.unit.files.front().name == unit_key ? 1 : 0;
  return n;
}

}  // namespace

BOOST_AUTO_TEST_CASE(units_every_way_with_b_down_then_an_office_joining_a) {
  Rig rig;
  rig.engine->router().update("regional-a", listing({kManagerA, kServiceA}));
  rig.engine->router().update("national", listing({kManagerN, kServiceN, kJoiner}));

  // B has not answered: units to and from B, and to an office no answered directory lists,
  // stay with their source; A ⇄ national flows.
  const auto a_to_n = plan(1, kManagerA, kServiceN, false);
  const auto n_to_a = plan(2, kManagerN, kServiceA, true);
  const auto a_to_b = plan(3, kManagerA, kServiceB, false);
  const auto n_to_b = plan(4, kManagerN, kServiceB, true);
  const auto b_to_n = plan(5, kManagerB, kServiceN, false);
  const auto b_to_a = plan(6, kManagerB, kServiceA, false);
  rig.a.offer(a_to_n);
  rig.national.offer(n_to_a);
  rig.a.offer(a_to_b);
  rig.national.offer(n_to_b);
  rig.b.offer(b_to_n);
  rig.b.offer(b_to_a);
  rig.run_until([&] {
    return delivered(rig.national, key(a_to_n)) == 1 && delivered(rig.a, key(n_to_a)) == 1;
  });
  rig.answer_offers(6);
  BOOST_TEST(rig.a.pending.size() == 1u);         // A → B
  BOOST_TEST(rig.national.pending.size() == 1u);  // national → B
  BOOST_TEST(rig.b.pending.size() == 2u);         // B → national, B → A
  BOOST_TEST(rig.b.deliveries.empty());

  // B answers: its units flow (the networks offer them again, as an inbox poll does).
  rig.engine->router().update("regional-b", listing({kManagerB, kServiceB}));
  rig.a.reoffer_pending();
  rig.national.reoffer_pending();
  rig.b.reoffer_pending();
  rig.run_until([&] {
    return delivered(rig.b, key(a_to_b)) == 1 && delivered(rig.b, key(n_to_b)) == 1 &&
           delivered(rig.national, key(b_to_n)) == 1 && delivered(rig.a, key(b_to_a)) == 1;
  });

  // An office of the national side joins A while the engine runs: A comes first in the
  // preference, so units to it from B and from the national side now go to A.
  const auto b_to_joiner_before = plan(7, kManagerB, kJoiner, false);
  rig.b.offer(b_to_joiner_before);
  rig.run_until([&] { return delivered(rig.national, key(b_to_joiner_before)) == 1; });
  rig.engine->router().update("regional-a", listing({kManagerA, kServiceA, kJoiner}));
  const auto b_to_joiner = plan(8, kManagerB, kJoiner, false);
  const auto n_to_joiner = plan(9, kManagerN, kJoiner, true);
  rig.b.offer(b_to_joiner);
  rig.national.offer(n_to_joiner);
  rig.run_until([&] {
    return delivered(rig.a, key(b_to_joiner)) == 1 && delivered(rig.a, key(n_to_joiner)) == 1;
  });

  // Nothing lost, nothing twice, nothing elsewhere; the report balances.
  rig.run_until([&] {
    auto s =
        std::make_unique<store::Store>(store::open_sqlite((rig.dir / "store.db").string(), false));
    std::int64_t in_flight = 0;
    for (const auto& r : s->report(0, INT64_MAX)) in_flight += r.in_flight;
    return in_flight == 0;
  });
  const std::map<std::string, std::pair<testing::FakeNetwork*, int>> expected = {
      {key(a_to_n), {&rig.national, 1}},
      {key(n_to_a), {&rig.a, 1}},
      {key(a_to_b), {&rig.b, 1}},
      {key(n_to_b), {&rig.b, 1}},
      {key(b_to_n), {&rig.national, 1}},
      {key(b_to_a), {&rig.a, 1}},
      {key(b_to_joiner_before), {&rig.national, 1}},
      {key(b_to_joiner), {&rig.a, 1}},
      {key(n_to_joiner), {&rig.a, 1}},
  };
  std::size_t total = 0;
  for (const auto& [id, where] : expected) {
    BOOST_TEST(delivered(*where.first, id) == 1u, id);
    total += delivered(rig.a, id) + delivered(rig.b, id) + delivered(rig.national, id);
  }
  BOOST_TEST(total == expected.size());
  auto s =
      std::make_unique<store::Store>(store::open_sqlite((rig.dir / "store.db").string(), false));
  std::int64_t in = 0, out = 0;
  for (const auto& r : s->report(0, INT64_MAX)) {
    BOOST_TEST(r.in == r.delivered + r.rejected + r.parked + r.superseded + r.in_flight,
               r.direction);
    in += r.in;
    out += r.delivered;
  }
  BOOST_TEST(in == 9);
  BOOST_TEST(out == 9);
}
