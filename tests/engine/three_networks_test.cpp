// Issue 22: one engine bridging two regional networks (A, B) and the national one, against
// in-memory networks. With B's directory not answered yet, A ⇄ national flows; units to B (and
// to offices no answered directory knows) are taken in and held at the gateway awaiting their
// route, units from B stay with B (its sender checks need its directory); once B answers the
// held units are routed (delivered, or refused with a notice) and B's flow too. Then an office
// joins A while the engine runs and units to it go to A (first in the preference). Every unit
// is delivered once, to the network expected, and the report balances. On SQLite, and on
// PostgreSQL under pg_virtualenv (engine_three_networks_postgres).

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
#include "tests/support/db.hpp"
#include "tests/support/run_until.hpp"
#include "tests/support/transfers.hpp"

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
// Listed by no network in the second case (a number with a valid check digit).
constexpr const char* kNowhere = kJoiner;

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
// From `gen`: its units carry increasing sequences.
InboundUnit plan_from(testing::UnitGenerator& gen, std::uint64_t seed, const std::string& from,
                      const std::string& to, bool from_national) {
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

InboundUnit plan(std::uint64_t seed, const std::string& from, const std::string& to,
                 bool from_national) {
  testing::UnitGenerator gen(seed);
  return plan_from(gen, seed, from, to, from_national);
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
  kakehashi::testing::Db db{"three"};
  boost::asio::io_context io;
  testing::FakeNetwork a, b, national;
  std::unique_ptr<engine::Engine> engine;
  std::int64_t clock = 0;

  explicit Rig(std::chrono::milliseconds tick = std::chrono::milliseconds(5)) {
    (void)test_pki();
    clock = std::chrono::duration_cast<std::chrono::milliseconds>(
                std::chrono::system_clock::now().time_since_epoch())
                .count() +
            5000;
    engine::EngineOptions options;
    options.tick = tick;
    // The router is fed by the test, as the registry service feeds it in the daemon.
    options.refresh_directories = false;
    engine = std::make_unique<engine::Engine>(
        io, options, [this] { return store(); }, engine::PayloadCipher(std::string(32, 'k')),
        test_pki().proxy, std::vector<std::string>{"regional-a", "national", "regional-b"},
        [this] { return clock; });
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
  ~Rig() { engine.reset(); }

  std::unique_ptr<store::Store> store() const {
    return std::make_unique<store::Store>(db.connect(false));
  }
  std::vector<store::Transfer> in_state(const char* state) const {
    store::TransferFilter f;
    f.state = state;
    return store()->list(f);
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

  // B has not answered: A ⇄ national flows; units to B are taken in and held awaiting their
  // route, units from B stay with B.
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
  BOOST_TEST(rig.a.pending.empty());         // A → B: held at the gateway
  BOOST_TEST(rig.national.pending.empty());  // national → B: held at the gateway
  BOOST_TEST(rig.b.pending.size() == 2u);    // B → national, B → A
  BOOST_TEST(rig.in_state(store::kAwaitingRoute).size() == 2u);
  BOOST_TEST(rig.b.deliveries.empty());

  // B answers: the held units are routed to it, and B's own units flow (B offers them again,
  // as an inbox poll does).
  rig.engine->router().update("regional-b", listing({kManagerB, kServiceB}));
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
    auto s = rig.store();
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
  BOOST_TEST(rig.engine->counters().awaiting_route == 2);
  BOOST_TEST(rig.engine->counters().routed_later == 2);
  auto s = rig.store();
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

// The shape that stopped A ⇄ national in the e2e (issue 22): a unit towards B handed over ahead
// of A → national in A's inbox while B is silent. The unit towards B is taken in (durable,
// awaiting its route, not refused) and the one behind it is delivered at once; once B answers
// the held unit is delivered to B once, and a unit to an office no network lists, held as well,
// is refused with a notice to its sender (the refusal needs every directory: B might have
// listed it).
BOOST_AUTO_TEST_CASE(a_unit_waiting_for_b_is_held_at_the_gateway_not_ahead_of_the_others) {
  Rig rig;
  rig.engine->router().update("regional-a", listing({kManagerA, kServiceA}));
  rig.engine->router().update("national", listing({kManagerN, kServiceN}));

  const auto a_to_b = plan(11, kManagerA, kServiceB, false);
  const auto a_to_n = plan(12, kManagerA, kServiceN, false);
  const auto a_to_nowhere = plan(13, kManagerA, kNowhere, false);
  // Handed over together, in this order, as one inbox poll does.
  rig.a.offer(a_to_b);
  rig.a.offer(a_to_n);
  rig.a.offer(a_to_nowhere);
  // The fake network sees the delivery before the store records it: wait for both.
  rig.run_until([&] {
    return delivered(rig.national, key(a_to_n)) == 1 &&
           rig.in_state(store::kDelivered).size() == 1u;
  });
  rig.answer_offers(3);
  BOOST_TEST(rig.a.pending.empty());  // every one taken: the cursor moves past them
  BOOST_TEST(rig.a.accepted_offers.size() == 3u);
  BOOST_TEST(rig.store()->load_cursor("regional-a", "units").value_or("") == "c3");
  const auto held = rig.in_state(store::kAwaitingRoute);
  BOOST_REQUIRE(held.size() == 2u);
  for (const auto& t : held) {
    BOOST_TEST(t.dest_adapter == "");
    BOOST_TEST(t.has_payload);
    bool says_what_it_waits_for = false;
    for (const auto& e : rig.store()->events(t.id))
      says_what_it_waits_for |=
          e.kind == "accepted" &&
          e.detail.find("route waits for regional-b's directory") != std::string::npos;
    BOOST_TEST(says_what_it_waits_for);
  }
  BOOST_TEST(rig.in_state(store::kRejected).empty());
  BOOST_TEST(rig.a.receipts_received.empty());  // no refusal while B is silent
  BOOST_TEST(rig.b.deliveries.empty());
  {
    std::int64_t in_flight = 0;
    for (const auto& r : rig.store()->report(0, INT64_MAX)) {
      BOOST_TEST(r.in == r.delivered + r.rejected + r.parked + r.superseded + r.in_flight);
      in_flight += r.in_flight;
    }
    BOOST_TEST(in_flight == 2);  // the held units count as in flight
  }

  // B answers: the held unit goes to B, the one to an office nobody lists is refused.
  rig.engine->router().update("regional-b", listing({kManagerB, kServiceB}));
  rig.run_until(
      [&] { return delivered(rig.b, key(a_to_b)) == 1 && !rig.a.receipts_received.empty(); });
  BOOST_TEST(rig.in_state(store::kAwaitingRoute).empty());
  const auto refused = rig.in_state(store::kRejected);
  BOOST_REQUIRE(refused.size() == 1u);
  BOOST_TEST(refused[0].source_id == a_to_nowhere.source_id);
  BOOST_TEST(refused[0].direction == "regional-a->unrouted");
  BOOST_TEST(refused[0].reason.find("RECIPIENT_UNKNOWN") != std::string::npos, refused[0].reason);
  BOOST_REQUIRE(rig.a.receipts_received.size() == 1u);
  BOOST_TEST(rig.a.receipts_received[0].source_id == a_to_nowhere.source_id);
  BOOST_TEST((rig.a.receipts_received[0].state == ReceiptState::kRejected));
  BOOST_TEST(rig.a.receipts_received[0].reason.find("RECIPIENT_UNKNOWN") != std::string::npos);

  // Delivered once, to B only, with its routing on record; nothing else moved.
  rig.run_until([&] { return rig.in_state(store::kAccepted).empty(); });
  BOOST_TEST(delivered(rig.b, key(a_to_b)) == 1u);
  BOOST_TEST(delivered(rig.a, key(a_to_b)) + delivered(rig.national, key(a_to_b)) == 0u);
  BOOST_TEST(delivered(rig.national, key(a_to_n)) == 1u);
  BOOST_TEST(rig.b.deliveries.size() == 1u);
  BOOST_TEST(rig.national.deliveries.size() == 1u);
  const auto done = rig.in_state(store::kDelivered);
  BOOST_REQUIRE(done.size() == 2u);
  for (const auto& t : done) {
    if (t.source_id != a_to_b.source_id) continue;
    BOOST_TEST(t.direction == "regional-a->regional-b");
    bool routed = false;
    for (const auto& e : rig.store()->events(t.id))
      routed |= e.kind == "routed" && e.detail.find("route regional-b") == 0;
    BOOST_TEST(routed);
  }
  // Offered again (an inbox poll after a lost answer): duplicates, nothing new.
  rig.a.offer(a_to_b);
  rig.a.offer(a_to_nowhere);
  rig.answer_offers(5);
  BOOST_TEST(rig.engine->counters().duplicates == 2);
  BOOST_TEST(rig.b.deliveries.size() == 1u);
  std::int64_t in = 0;
  for (const auto& r : rig.store()->report(0, INT64_MAX)) {
    BOOST_TEST(r.in == r.delivered + r.rejected + r.parked + r.superseded + r.in_flight);
    BOOST_TEST(r.in_flight == 0);
    in += r.in;
  }
  BOOST_TEST(in == 3);
  BOOST_TEST(rig.engine->counters().awaiting_route == 2);
  BOOST_TEST(rig.engine->counters().routed_later == 1);
}

// Routing a held unit is a compare-and-set on its state: two instances sharing the store (two
// connections here; PostgreSQL under engine_three_networks_postgres) never route one unit twice,
// and a unit already routed is not refused after all (nor the reverse).
BOOST_AUTO_TEST_CASE(a_held_unit_is_routed_or_refused_once_whoever_tries) {
  kakehashi::testing::Db db{"held"};
  auto one = db.open();
  auto two = db.open();
  const auto hold = [&](const std::string& id, const std::string& sequence) {
    auto t = kakehashi::testing::regional_k2_unit(id, sequence);
    t.state = store::kAwaitingRoute;
    t.dest_adapter = "";
    t.direction = "regional->unrouted";
    t.unit_digest = "digest-" + id;
    t.payload = "sealed";
    const auto out = one->accept(t, std::nullopt, 1000);
    BOOST_TEST(out.state == store::kAwaitingRoute);
    return out.id;
  };
  const auto routed = hold("held-1", "20250601000001");
  const auto refused = hold("held-2", "20250601000002");
  BOOST_TEST(one->awaiting_route(0, 10).size() == 2u);
  BOOST_TEST(one->awaiting_route(1, 10).size() == 1u);
  BOOST_TEST(!one->get(routed)->finished_at);  // in flight, payload kept
  BOOST_TEST(one->purge_payloads(INT64_MAX) == 0);

  BOOST_TEST(one->route_awaiting(routed, "national", "regional->national", "route national", 2000));
  BOOST_TEST(
      !two->route_awaiting(routed, "national", "regional->national", "route national", 2000));
  BOOST_TEST(!two->refuse_awaiting(routed, "regional->unrouted", "RECIPIENT_UNKNOWN", "x", 2000));
  BOOST_TEST(
      two->refuse_awaiting(refused, "regional->unrouted", "RECIPIENT_UNKNOWN (x)", "通知", 2000));
  BOOST_TEST(!one->refuse_awaiting(refused, "regional->unrouted", "RECIPIENT_UNKNOWN", "x", 2000));
  BOOST_TEST(
      !one->route_awaiting(refused, "national", "regional->national", "route national", 2000));
  BOOST_TEST(one->awaiting_route(0, 10).empty());

  const auto r = one->get(routed);
  BOOST_TEST(r->state == store::kAccepted);
  BOOST_TEST(r->dest_adapter == "national");
  BOOST_TEST(r->direction == "regional->national");
  const auto f = one->get(refused);
  BOOST_TEST(f->state == store::kRejected);
  BOOST_TEST(f->reason == "RECIPIENT_UNKNOWN (x)");
  BOOST_TEST(f->finished_at == 2000);
  std::size_t routed_records = 0, refused_records = 0;
  for (const auto& e : one->events(routed)) routed_records += e.kind == "routed" ? 1 : 0;
  for (const auto& e : one->events(refused)) refused_records += e.kind == "route-refused" ? 1 : 0;
  BOOST_TEST(routed_records == 1u);
  BOOST_TEST(refused_records == 1u);
  // One notice to the sender of the refused unit, none for the routed one.
  const auto notices = one->claim_notices("test", 3000, 60000, 10);
  BOOST_REQUIRE(notices.size() == 1u);
  BOOST_TEST(notices[0].transfer_id == refused);
  BOOST_TEST(notices[0].state == "rejected");
  BOOST_TEST(notices[0].reason == "通知");
  // The refused unit's identity is gone: the sender may send that sequence again.
  auto again = kakehashi::testing::regional_k2_unit("held-2-again", "20250601000002");
  again.unit_digest = "other-digest";
  BOOST_TEST(one->accept(again, std::nullopt, 4000).state == store::kAccepted);
  // Delivery takes the routed unit (the head of its pair; the resent one follows it).
  const auto claimed = one->claim_transfers("test", 5000, 60000, 10, {});
  BOOST_REQUIRE(claimed.size() == 1u);
  BOOST_TEST(claimed[0].id == routed);
}

// A later unit of a sender and recipient whose earlier unit awaits its route waits behind it,
// even when its own route could be decided: B answers between the two, and the engine has not
// looked at the held unit again yet (no ticks here: only intake wakes that look). Both then go
// to B in sequence order, once each.
BOOST_AUTO_TEST_CASE(a_later_unit_of_a_held_pair_waits_behind_it) {
  Rig rig(std::chrono::hours(1));
  rig.engine->router().update("regional-a", listing({kManagerA, kServiceA}));
  rig.engine->router().update("national", listing({kManagerN, kServiceN}));
  testing::UnitGenerator gen(31);
  const auto first = plan_from(gen, 31, kManagerA, kServiceB, false);
  const auto second = plan_from(gen, 32, kManagerA, kServiceB, false);
  rig.a.offer(first);
  rig.answer_offers(1);
  // Its look at the store (woken by its intake) is done: it keeps waiting.
  rig.run_until([&] { return rig.engine->counters().awaiting_route_looks == 1; });
  BOOST_TEST(rig.in_state(store::kAwaitingRoute).size() == 1u);
  rig.engine->router().update("regional-b", listing({kManagerB, kServiceB}));
  rig.a.offer(second);
  rig.run_until(
      [&] { return delivered(rig.b, key(first)) == 1 && delivered(rig.b, key(second)) == 1; });
  BOOST_REQUIRE(rig.b.deliveries.size() == 2u);
  BOOST_TEST(rig.b.deliveries[0].unit.files.front().name == key(first));
  BOOST_TEST(rig.b.deliveries[1].unit.files.front().name == key(second));
  BOOST_TEST(rig.in_state(store::kAwaitingRoute).empty());
  BOOST_TEST(rig.engine->counters().routed_later == 2);
}
