// The daemon's registry service against the real stand-ins over mutual TLS on 127.0.0.1 (port
// 0): each sync is recorded, the national offices are published as the regional external
// directory and the regional offices as the national represented offices, the gateway's own
// published entries are never taken as native on the next syncs (no relay loops, no oscillation),
// the router's registry version follows the recorded sync, a restarted gateway routes only once
// every network has answered again, and the per-office overrides file (routing.overrides_file)
// is validated with key paths and changes the route of an office on both networks.

#define BOOST_TEST_MODULE kakehashi_registry_daemon
#include <boost/test/unit_test.hpp>

#include <stdlib.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <set>
#include <sstream>
#include <thread>

#include "adapters/national/national_adapter.hpp"
#include "adapters/regional/regional_adapter.hpp"
#include "gateway/cli/command.hpp"
#include "gateway/daemon/adapter_registry.hpp"
#include "gateway/engine/router.hpp"
#include "gateway/registry/policy_file.hpp"
#include "gateway/registry/registry_service.hpp"
#include "tests/peers/national/national_standin.hpp"
#include "tests/peers/regional/regional_standin.hpp"
#include "tests/support/run_until.hpp"

namespace fs = std::filesystem;
namespace asio = boost::asio;
using namespace kakehashi;
using namespace kakehashi::gateway;
using Key = mapping::registry::OfficeKey;

namespace {

const std::string kProxy = "KJ900000000001";

// The development PKI (deploy/pki.sh), once per run.
struct Env {
  fs::path root, pki;
  Env() {
    std::string tmpl = (fs::temp_directory_path() / "kakehashi-registry-daemon-XXXXXX").string();
    if (::mkdtemp(tmpl.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
    root = tmpl;
    pki = root / "pki";
    const std::string cmd =
        std::string("bash '") + KAKEHASHI_PKI_SCRIPT + "' '" + pki.string() + "' >/dev/null 2>&1";
    if (std::system(cmd.c_str()) != 0) throw std::runtime_error("deploy/pki.sh failed");
    std::ofstream(root / "proxy-password") << "pw-proxy\n";
    fs::permissions(root / "proxy-password", fs::perms::owner_read | fs::perms::owner_write);
  }
  ~Env() {
    std::error_code ec;
    fs::remove_all(root, ec);
  }
};

Env& env() {
  static Env e;
  return e;
}

// Regional: facility F-A with two active offices, one suspended, and 3271500062/11, which is
// also a native national office (an office on both networks).
constexpr const char* kRegionalSeed = R"({
  "members": [
    {"cn": "regional-standin-client", "facility_id": "F-A"},
    {"cn": "kakehashi-gateway-regional-client", "facility_id": "KAKEHASHI-GW", "gateway": true}
  ],
  "facilities": [
    {"facility_id": "F-A", "name": "Matsue care", "kana": "マツエ", "prefecture": "32", "offices": [
      {"office_no": "3271500013", "service_type": "43", "name": "A care managers", "status": "ACTIVE"},
      {"office_no": "3271500021", "service_type": "11", "name": "A home help", "status": "ACTIVE"},
      {"office_no": "3271500054", "service_type": "13", "name": "A nursing", "status": "SUSPENDED"},
      {"office_no": "3271500062", "service_type": "11", "name": "Both home help", "status": "ACTIVE"}]}
  ]})";

struct NationalPeer {
  explicit NationalPeer(const std::string& state) {
    server = std::make_unique<standin::NationalStandin>(
        io, standin::options_from_pki(env().pki.string(), state));
    server->add_account(kProxy, "pw-proxy", "proxy");
    server->upsert_office({"1370100016", {"43"}, "National care managers", "", "13", "ACTIVE"});
    server->upsert_office({"1371100452", {"11", "13"}, "National home help", "", "13", "ACTIVE"});
    // The proxy's represented offices, registered in the national office master too.
    server->upsert_office({"3271500013", {"43"}, "A care managers", "", "32", "ACTIVE"});
    server->upsert_office({"3271500054", {"13"}, "A nursing", "", "32", "ACTIVE"});
    // A national member that is also a regional one.
    server->upsert_office({"3271500062", {"11"}, "Both home help", "", "32", "ACTIVE"});
    port = server->listen(0);
    thread = std::thread([this] { io.run(); });
  }
  ~NationalPeer() {
    server->stop();
    work.reset();
    io.stop();
    thread.join();
  }
  asio::io_context io;
  std::optional<asio::executor_work_guard<asio::io_context::executor_type>> work{io.get_executor()};
  std::unique_ptr<standin::NationalStandin> server;
  std::uint16_t port = 0;
  std::thread thread;
};

struct RegionalPeer {
  explicit RegionalPeer(fs::path state_file) : state(std::move(state_file)) { open(0); }
  void open(std::uint16_t at_port) {
    std::ofstream(env().root / "regional-seed.json") << kRegionalSeed;
    adapters::regional::standin::StandinOptions o;
    o.pki_dir = env().pki;
    o.state_file = state;
    o.seed_directory = env().root / "regional-seed.json";
    o.port = at_port;
    server = std::make_unique<adapters::regional::standin::RegionalStandin>(o);
    port = server->start();
  }
  void stop() {
    server->stop();
    server.reset();
  }
  fs::path state;
  std::unique_ptr<adapters::regional::standin::RegionalStandin> server;
  std::uint16_t port = 0;
};

// Adapters are only asked for directories and publications here: no unit may arrive.
struct RefusingSink final : AdapterSink {
  void on_unit(InboundUnit, std::function<void(bool)> done) override { done(false); }
  void on_receipt(InboundReceipt, std::function<void(bool)> done) override { done(false); }
};

// The gateway side: both adapters, a router and the registry service on one store file.
struct Gateway {
  Gateway(const fs::path& store, std::uint16_t national_port, std::uint16_t regional_port,
          const std::vector<Key>& seed_published = {}) {
    adapters::national::NationalAdapterConfig n;
    const auto pki = env().pki.string();
    n.port = national_port;
    n.tls.ca_file = pki + "/tls/national-ca.pem";
    n.tls.cert_file = pki + "/tls/gateway-national-client-rsa.cert.pem";
    n.tls.key_file = pki + "/tls/gateway-national-client-rsa.key.pem";
    n.user_id = kProxy;
    n.password_file = (env().root / "proxy-password").string();
    n.document_cert_file = pki + "/gateway/proxy-rsa.cert.pem";
    n.document_key_file = pki + "/gateway/proxy-rsa.key.pem";
    n.request_timeout = std::chrono::milliseconds(5000);
    national_adapter = adapters::national::make_national_adapter(n, context("national"));
    adapters::regional::RegionalAdapterConfig r;
    r.port = regional_port;
    r.tls.ca_file = pki + "/tls/regional-ca.pem";
    r.tls.cert_file = pki + "/tls/gateway-regional-client-ec.cert.pem";
    r.tls.key_file = pki + "/tls/gateway-regional-client-ec.key.pem";
    r.facility_id = "KAKEHASHI-GW";
    r.timeout = std::chrono::milliseconds(5000);
    regional_adapter = adapters::regional::make_regional_adapter(r, context("regional"));
    // What `kakehashi run` seeds from networks.national.settings.represented_offices.
    if (!seed_published.empty()) router.set_published("national", seed_published);
    registry::RegistryServiceOptions o;
    o.sync_every = std::chrono::hours(1);  // the tests sync by hand
    o.retry_every = std::chrono::milliseconds(50);
    service = std::make_unique<registry::RegistryService>(
        io, router, [store] { return store::open_sqlite(store.string(), false); },
        [] {
          return std::chrono::duration_cast<std::chrono::milliseconds>(
                     std::chrono::system_clock::now().time_since_epoch())
              .count();
        },
        o);
    // Each network as its type's traits describe it (gateway/daemon/adapter_registry.cpp).
    service->add_network(registry::sync_network_for(
        "national", daemon::find_adapter_type("national")->traits.directory,
        national_adapter.get()));
    service->add_network(registry::sync_network_for(
        "regional", daemon::find_adapter_type("regional")->traits.directory,
        regional_adapter.get()));
  }
  ~Gateway() {
    service->stop();
    bool a = false, b = false;
    national_adapter->stop([&] { a = true; });
    regional_adapter->stop([&] { b = true; });
    run_until([&] { return a && b; });
    service.reset();
  }
  AdapterContext context(const std::string& name) {
    AdapterContext c;
    c.executor = io.get_executor();
    c.sink = &sink;
    c.name = name;
    c.may_poll = [] { return false; };
    return c;
  }
  void run_until(const std::function<bool()>& done) {
    kakehashi::testing::require_until(io, done, std::chrono::seconds(30),
                                      std::chrono::milliseconds(5));
  }
  // One sync by hand; returns its report.
  registry::SyncReport sync() {
    std::optional<registry::SyncReport> report;
    std::mutex m;
    service->sync_now(false, [&](const registry::SyncReport& r) {
      std::lock_guard lock(m);
      report = r;
    });
    run_until([&] {
      std::lock_guard lock(m);
      return report.has_value();
    });
    return *report;
  }
  // The regional directory as the gateway fetches it: (key, published by the gateway).
  std::map<Key, bool> regional_listing() {
    std::optional<DirectoryResult> result;
    regional_adapter->fetch_directory("", [&](DirectoryResult r) { result = std::move(r); });
    run_until([&] { return result.has_value(); });
    BOOST_TEST_REQUIRE((result->status.status == SendResult::Status::kAccepted));
    std::map<Key, bool> out;
    for (const auto& e : result->entries)
      out[{e.office.office_no, e.office.service_type}] = e.published_by_gateway;
    return out;
  }

  asio::io_context io;
  RefusingSink sink;
  std::unique_ptr<Adapter> national_adapter, regional_adapter;
  engine::Router router{{"regional", "national"}};
  std::unique_ptr<registry::RegistryService> service;
};

// What the national stand-in holds as the proxy's represented offices (its state file).
std::set<Key> represented(const fs::path& state) {
  auto db = store::open_sqlite(state.string(), false);
  std::set<Key> out;
  for (const auto& r :
       db->query("SELECT office_no, service_type FROM represented WHERE user_id = ?", {kProxy}))
    out.insert({*r[0], *r[1]});
  return out;
}

struct Fixture {
  Fixture() {
    static int n = 0;
    dir = env().root / ("case-" + std::to_string(++n));
    fs::create_directories(dir);
    national = std::make_unique<NationalPeer>((dir / "national.sqlite").string());
    regional = std::make_unique<RegionalPeer>(dir / "regional.sqlite");
  }
  fs::path dir;
  std::unique_ptr<NationalPeer> national;
  std::unique_ptr<RegionalPeer> regional;
  const std::vector<Key> seed{{"3271500013", "43"}, {"3271500054", "13"}};
};

std::string route(const engine::Router& router, const std::string& office, const std::string& type,
                  const std::string& from) {
  const auto d = router.resolve({office, type}, from);
  return d.adapter ? *d.adapter : "refused " + d.refusal->code;
}

}  // namespace

BOOST_FIXTURE_TEST_CASE(sync_publishes_each_side_and_never_routes_back, Fixture) {
  Gateway gw(dir / "gateway.sqlite", national->port, regional->port, seed);
  BOOST_TEST(!gw.router.ready({"national", "regional"}));
  gw.service->start();
  gw.run_until([&] { return gw.service->completed_syncs() == 1; });
  BOOST_TEST(gw.router.ready({"national", "regional"}));

  // Recorded like `kakehashi registry sync`, and the router now decides on that sync.
  auto db = store::open_sqlite((dir / "gateway.sqlite").string(), false);
  registry::RegistryStore stored(*db);
  const auto first = stored.last_sync();
  BOOST_TEST_REQUIRE(first.has_value());
  BOOST_TEST(first->note == "");
  BOOST_TEST(first->added > 0);
  BOOST_TEST(gw.router.registry_version() == first->id);
  BOOST_TEST(gw.router.resolve({"1370100016", "43"}, "regional").registry_version == first->id);

  // The regional external directory: the national offices, flagged as the gateway's.
  const std::map<Key, bool> expected_regional{
      {{"1370100016", "43"}, true},  {{"1371100452", "11"}, true},  {{"1371100452", "13"}, true},
      {{"3271500013", "43"}, false}, {{"3271500021", "11"}, false}, {{"3271500054", "13"}, false},
      {{"3271500062", "11"}, false}};
  BOOST_TEST((gw.regional_listing() == expected_regional));
  // The national represented offices: every regional office homed on the regional side, the
  // suspended one included (its national master entry stays recognised as ours).
  const std::set<Key> expected_national{
      {"3271500013", "43"}, {"3271500021", "11"}, {"3271500054", "13"}};
  BOOST_TEST((represented(dir / "national.sqlite") == expected_national));

  const auto check_routes = [&] {
    BOOST_TEST(route(gw.router, "1370100016", "43", "regional") == "national");
    BOOST_TEST(route(gw.router, "3271500013", "43", "national") == "regional");
    BOOST_TEST(route(gw.router, "3271500021", "11", "national") == "regional");
    // Never back across the bridge: a national office from the national side, a regional one
    // from the regional side, although each is listed on the other side by the gateway.
    BOOST_TEST(route(gw.router, "1370100016", "43", "national") ==
               "refused RECIPIENT_SAME_NETWORK");
    BOOST_TEST(route(gw.router, "3271500013", "43", "regional") ==
               "refused RECIPIENT_SAME_NETWORK");
    BOOST_TEST(route(gw.router, "3271500054", "13", "national") == "refused RECIPIENT_NOT_ACTIVE");
    // The gateway's own entries never make a sender: not a national member, not a regional one.
    BOOST_TEST(gw.router.check_sender("national", {"3271500013", "43"}).has_value());
    BOOST_TEST(!gw.router.check_sender("national", {"1370100016", "43"}).has_value());
  };
  check_routes();

  // The next syncs see the gateway's entries on both sides and recognise them: same routes,
  // same publications, and the third sync changes nothing at all (no oscillation).
  const auto second = gw.sync();
  BOOST_TEST(second.ok(), second.record.note);
  check_routes();
  const auto office = gw.router.office({"1370100016", "43"});
  BOOST_TEST_REQUIRE(office.has_value());
  BOOST_TEST(office->home == "national");
  bool published_there = false;
  for (const auto& p : office->presences)
    published_there |=
        p.network == "regional" && p.role == mapping::registry::Presence::Role::kPublished;
  BOOST_TEST(published_there);
  const auto third = gw.sync();
  BOOST_TEST(third.ok(), third.record.note);
  BOOST_TEST(third.record.added + third.record.removed + third.record.changed == 0);
  BOOST_TEST(third.diff.changes.empty());
  BOOST_TEST(gw.router.registry_version() == third.record.id);
  check_routes();
  BOOST_TEST((gw.regional_listing() == expected_regional));
  BOOST_TEST((represented(dir / "national.sqlite") == expected_national));
}

BOOST_FIXTURE_TEST_CASE(a_restarted_gateway_routes_once_every_network_answered, Fixture) {
  {
    Gateway gw(dir / "gateway.sqlite", national->port, regional->port, seed);
    gw.service->start();
    gw.run_until([&] { return gw.service->completed_syncs() == 1; });
  }
  // The regional network is down when the gateway comes back: the stored registry is loaded,
  // but units stay with their source until the regional directory has answered again.
  const auto regional_port = regional->port;
  regional->stop();
  Gateway gw(dir / "gateway.sqlite", national->port, regional_port);
  gw.service->start();
  gw.run_until([&] { return gw.service->completed_syncs() == 1; });
  BOOST_TEST(gw.router.ready({"national"}));
  BOOST_TEST(!gw.router.ready({"national", "regional"}));
  BOOST_TEST(gw.router.office({"3271500013", "43"}).has_value());  // loaded from the store
  regional->open(regional_port);
  gw.run_until([&] { return gw.router.ready({"national", "regional"}); });
  BOOST_TEST(route(gw.router, "1370100016", "43", "regional") == "national");
  BOOST_TEST(route(gw.router, "1370100016", "43", "national") == "refused RECIPIENT_SAME_NETWORK");
}

BOOST_FIXTURE_TEST_CASE(the_overrides_file_chooses_the_network_of_an_office_on_both, Fixture) {
  Gateway gw(dir / "gateway.sqlite", national->port, regional->port, seed);
  gw.service->start();
  gw.run_until([&] { return gw.service->completed_syncs() == 1; });
  // On both networks: by preference (regional first) it lives on the regional side.
  BOOST_TEST(route(gw.router, "3271500062", "11", "national") == "regional");
  BOOST_TEST(route(gw.router, "3271500062", "11", "regional") == "refused RECIPIENT_SAME_NETWORK");
  const auto file = dir / "overrides.json";
  std::ofstream(file) << R"({"overrides": [{"office_no": "3271500062", "service_type": "11",
      "network": "national", "reason": "moved to the national client"}]})";
  auto policy =
      registry::load_policy_file(file.string(), {"national", "regional"}, {"regional", "national"});
  BOOST_TEST_REQUIRE(policy.ok());
  BOOST_TEST((policy.policy.preference == std::vector<std::string>{"regional", "national"}));
  gw.service->set_policy(policy.policy);  // what SIGHUP does
  BOOST_TEST(route(gw.router, "3271500062", "11", "regional") == "national");
  BOOST_TEST(route(gw.router, "3271500062", "11", "national") == "refused RECIPIENT_SAME_NETWORK");
  // Other offices keep their routes.
  BOOST_TEST(route(gw.router, "3271500013", "43", "national") == "regional");
}

BOOST_AUTO_TEST_CASE(overrides_files_are_validated_with_key_paths) {
  const auto example =
      registry::load_policy_file(KAKEHASHI_OVERRIDES_EXAMPLE, {"national", "regional"}, {});
  BOOST_TEST(example.ok());
  BOOST_TEST(example.policy.overrides.size() == 2u);
  const auto bad = env().root / "bad-overrides.json";
  std::ofstream(bad) << R"({"preference": ["regional", "mars"], "overides": [],
      "overrides": [{"office_no": "3271500062", "service_type": "11", "network": "nowhere"},
                    {"office_no": "3271500013", "network": "national"}]})";
  const auto r = registry::load_policy_file(bad.string(), {"national", "regional"}, {});
  std::string all;
  for (const auto& e : r.errors) all += e + "\n";
  BOOST_TEST(all.find("preference[1]: names no configured network: mars") != std::string::npos,
             all);
  BOOST_TEST(all.find("overides: unknown key") != std::string::npos, all);
  BOOST_TEST(
      all.find("overrides[0].network: names no configured network: nowhere") != std::string::npos,
      all);
  BOOST_TEST(all.find("overrides[1].service_type: missing") != std::string::npos, all);
  BOOST_TEST(!registry::load_policy_file((env().root / "missing.json").string(), {}, {}).ok());
}

// `kakehashi config check` on config/kakehashi.example.json as the quickstart fills it: valid as
// shipped, and routing.overrides_file problems reported with the key path and the file's own.
BOOST_AUTO_TEST_CASE(config_check_validates_routing_overrides_file) {
  const auto dir = env().root / "config-check";
  fs::create_directories(dir);
  std::ifstream in(KAKEHASHI_CONFIG_EXAMPLE);
  std::stringstream text;
  text << in.rdbuf();
  std::string config = text.str();
  const auto replace = [&](const std::string& from, const std::string& to) {
    for (std::size_t p = 0; (p = config.find(from, p)) != std::string::npos; p += to.size())
      config.replace(p, from.size(), to);
  };
  replace("@PKI@", env().pki.string());
  replace("@RUN@", dir.string());
  replace("@NATIONAL_PORT@", "4431");
  replace("@REGIONAL_PORT@", "4432");
  std::ofstream(dir / "national-proxy.password") << "pw\n";
  fs::permissions(dir / "national-proxy.password", fs::perms::owner_read | fs::perms::owner_write);
  const auto check = [&](const std::string& body, std::string* output) {
    std::ofstream(dir / "kakehashi.json") << body;
    std::ostringstream out, err;
    const std::vector<std::string> args{"kakehashi", "config", "check",
                                        (dir / "kakehashi.json").string()};
    const int code = gateway::cli::run_cli(args, {out, err});
    *output = out.str() + err.str();
    return code;
  };
  std::string output;
  BOOST_TEST(check(config, &output) == 0, output);
  std::ofstream(dir / "registry-overrides.json")
      << R"({"overrides": [{"office_no": "3271500013", "service_type": "43", "network": "nowhere"}]})";
  const std::string key = R"("routing": {"preference": ["regional", "national"])";
  BOOST_TEST_REQUIRE(config.find(key) != std::string::npos);
  replace(key, key + R"(, "overrides_file": "registry-overrides.json")");
  BOOST_TEST(check(config, &output) == 1, output);
  BOOST_TEST(output.find("routing.overrides_file") != std::string::npos, output);
  BOOST_TEST(output.find("overrides[0].network: names no configured network: nowhere") !=
                 std::string::npos,
             output);
  fs::copy_file(KAKEHASHI_OVERRIDES_EXAMPLE, dir / "registry-overrides.json",
                fs::copy_options::overwrite_existing);
  BOOST_TEST(check(config, &output) == 0, output);
}

// `kakehashi registry sync` describes each network as the daemon does (one sync path,
// gateway/registry/sync_network): the suspended regional office is published to the national
// side too (not only the active ones), the regional publication comes back flagged as the
// gateway's, and the store records that the regional listing flags it, as the daemon's would.
BOOST_FIXTURE_TEST_CASE(the_registry_command_syncs_as_the_daemon_does, Fixture) {
  std::ifstream in(KAKEHASHI_CONFIG_EXAMPLE);
  std::stringstream text;
  text << in.rdbuf();
  std::string config = text.str();
  const auto replace = [&](const std::string& from, const std::string& to) {
    for (std::size_t p = 0; (p = config.find(from, p)) != std::string::npos; p += to.size())
      config.replace(p, from.size(), to);
  };
  replace("@PKI@", env().pki.string());
  replace("@RUN@", dir.string());
  replace("@NATIONAL_PORT@", std::to_string(national->port));
  replace("@REGIONAL_PORT@", std::to_string(regional->port));
  std::ofstream(dir / "national-proxy.password") << "pw-proxy\n";
  fs::permissions(dir / "national-proxy.password", fs::perms::owner_read | fs::perms::owner_write);
  std::ofstream(dir / "kakehashi.json") << config;
  std::ostringstream out, err;
  const std::vector<std::string> args{"kakehashi", "registry", "sync",
                                      "--json",    "--config", (dir / "kakehashi.json").string()};
  BOOST_TEST(gateway::cli::run_cli(args, {out, err}) == 0, out.str() + err.str());

  // The same publications as the daemon's first sync (sync_publishes_each_side_...), the
  // suspended office included. The config's represented offices seed the national publication
  // as `kakehashi run` seeds it; they name 3271500062/11 too, so that office on both networks is
  // the regional one's (by preference) and is declared as well.
  const std::set<Key> expected_national{
      {"3271500013", "43"}, {"3271500021", "11"}, {"3271500054", "13"}, {"3271500062", "11"}};
  const auto got = represented(dir / "national.sqlite");
  std::string listed;
  for (const auto& k : got) listed += k.office_no + "/" + k.service_type + " ";
  BOOST_TEST((got == expected_national), listed);
  Gateway gw(dir / "unused-gateway.sqlite", national->port, regional->port);
  const std::map<Key, bool> expected_regional{
      {{"1370100016", "43"}, true},  {{"1371100452", "11"}, true},  {{"1371100452", "13"}, true},
      {{"3271500013", "43"}, false}, {{"3271500021", "11"}, false}, {{"3271500054", "13"}, false},
      {{"3271500062", "11"}, false}};
  BOOST_TEST((gw.regional_listing() == expected_regional));
  auto db = store::open_sqlite((dir / "kakehashi.sqlite").string(), false);
  std::map<std::string, std::string> flags;
  for (const auto& r : db->query("SELECT network, listing_flags FROM kh_registry_publication", {}))
    flags[*r[0]] = *r[1];
  const std::map<std::string, std::string> expected_flags{{"national", "0"}, {"regional", "1"}};
  BOOST_TEST((flags == expected_flags));
}
