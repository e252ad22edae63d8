// The Kaigo WEB adapter polling a fleet of offices (PROTOCOL.md §7.5, §9.1 "fairness"): 20
// offices with certificates of the stand-in's PKI (deploy/pki.sh --kaigoweb-offices), items
// waiting for every one of them and many for one busy office. Every office is served within a
// bound while the busy one pages through its backlog, no more than max_offices_in_flight are
// polled at once (the adapter's offices_polling gauge, looked at after every handler), and the
// stand-in's rate limits are never hit (no failed poll).
#define BOOST_TEST_DYN_LINK
#define BOOST_TEST_MODULE kaigoweb_fleet
#include <boost/test/unit_test.hpp>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include <rapidjson/document.h>

#include "adapters/kaigoweb/credentials.hpp"
#include "adapters/kaigoweb/kaigoweb_adapter.hpp"
#include "adapters/kaigoweb/kaigoweb_codec.hpp"
#include "adapters/kaigoweb/session_record.hpp"
#include "mapping/careplan/check_digit.hpp"
#include "mapping/careplan/file_name.hpp"
#include "mapping/standard5/translate.hpp"
#include "tests/adapters/kaigoweb/memory_vault.hpp"
#include "tests/careplan_gen/generator.hpp"
#include "tests/peers/kaigoweb/kaigoweb_standin.hpp"
#include "tests/support/run_until.hpp"

namespace fs = std::filesystem;
namespace kw = kakehashi::adapters::kaigoweb;
namespace standin = kakehashi::standin::kaigoweb;
using kakehashi::testing::require_until;
using namespace std::chrono_literals;

namespace {

const std::string kNational = "1370100016";
const std::string kNetwork = "kw";
// deploy/pki.sh's regional offices, and 14 more made for this test.
const std::vector<std::string> kRegional = {"3271500013", "3271500021", "3271500039",
                                            "3271500047", "3271500054", "3271500062"};
constexpr int kInFlight = 4;
constexpr int kPageSize = 5;
constexpr int kBusyItems = 40;  // eight pages
constexpr int kOtherItems = 2;

std::vector<std::string> extra_offices() {
  std::vector<std::string> out;
  for (int i = 10; out.size() < 14 && i < 100; ++i) {
    const std::string nine = "3271501" + std::to_string(i);
    if (auto d = kakehashi::mapping::office_check_digit(nine))
      out.push_back(nine + static_cast<char>('0' + *d));
  }
  return out;
}

rapidjson::Document json(const std::string& body) {
  rapidjson::Document d;
  d.Parse(body.data(), body.size());
  return d;
}

struct Sink final : kakehashi::gateway::AdapterSink {
  std::vector<kakehashi::gateway::InboundUnit> units;
  void on_unit(kakehashi::gateway::InboundUnit unit, std::function<void(bool)> done) override {
    units.push_back(std::move(unit));
    done(true);
  }
  void on_receipt(kakehashi::gateway::InboundReceipt, std::function<void(bool)> done) override {
    done(true);
  }
};

struct Fleet {
  Fleet() {
    std::string tmpl = (fs::temp_directory_path() / "kakehashi-kwfleet-XXXXXX").string();
    if (mkdtemp(tmpl.data()) == nullptr) throw std::runtime_error("mkdtemp");
    root = tmpl;
    offices = kRegional;
    std::string extra;
    for (const auto& no : extra_offices()) {
      offices.push_back(no);
      extra += (extra.empty() ? "" : " ") + no;
    }
    const std::string cmd = std::string(KAKEHASHI_PKI_SCRIPT) + " --kaigoweb-offices '" + extra +
                            "' '" + (root / "pki").string() + "' >/dev/null 2>&1";
    if (std::system(cmd.c_str()) != 0) throw std::runtime_error("deploy/pki.sh failed");
    const fs::path kwdir = root / "pki" / "kaigoweb";
    server = std::make_unique<standin::StandinThread>(
        standin::options_from_pki((root / "pki").string(), (root / "state.sqlite").string()));
    server->standin().load_accounts_file((kwdir / "accounts").string());
    server->standin().load_offices_file((kwdir / "offices.json").string());
    config.host = "127.0.0.1";
    config.port = server->port();
    config.base_url = "https://127.0.0.1:" + std::to_string(config.port);
    config.ca_file = (kwdir / "ca.pem").string();
    config.credentials_dir = (kwdir / "credentials").string();
    config.offices = offices;
    config.poll_interval = 300ms;
    config.page_size = kPageSize;
    config.max_offices_in_flight = kInFlight;
    vault = std::make_shared<kakehashi::testing::MemoryVault>(io.get_executor());
  }
  ~Fleet() {
    if (adapter) {
      bool drained = false;
      adapter->stop([&] { drained = true; });
      kakehashi::testing::run_until(
          io, [&] { return drained; }, 10s);
      adapter.reset();
      io.poll();
    }
    server.reset();
    std::error_code ec;
    fs::remove_all(root, ec);
  }

  kakehashi::adapters::http::Response call(const std::string& method, const std::string& target,
                                           const std::string& body,
                                           const standin::Connection& conn = {"", "", 1}) {
    kakehashi::adapters::http::Request req;
    req.method = method;
    req.target = target;
    if (target.rfind("/admin/", 0) == 0) req.headers.emplace_back("authorization", "Admin admin");
    req.headers.emplace_back("content-type", "application/json");
    if (method != "GET") req.body = body;
    return server->standin().handle(req, conn).response;
  }

  // A login with the OTP as the handler sees it over the office's certificate; the session
  // record the adapter would have written goes to the vault.
  void seed_session(const std::string& no) {
    auto read = kw::read_office_credentials(config.credentials_dir, no);
    const auto& creds = std::get<kw::OfficeCredentials>(read);
    const standin::Connection conn{no, creds.certificate_sha256, 1};
    const auto challenge = kw::read_challenge(
        call("POST", std::string(kw::kLoginPath), kw::login_body(creds.user_id, creds.password),
             conn)
            .body);
    BOOST_TEST_REQUIRE(challenge.ok(), no);
    const std::string otp =
        json(call("GET", "/admin/v1/otp?office_no=" + no + "&user_id=" + creds.user_id, "")
                 .body)["data"]["otp"]
            .GetString();
    const auto tokens = kw::read_tokens(
        call("POST", std::string(kw::kOtpPath), kw::otp_body(challenge.data.challenge_id, otp),
             conn)
            .body,
        true);
    BOOST_TEST_REQUIRE(tokens.ok(), no);
    kw::SessionRecord r;
    r.office_no = no;
    r.user_id = creds.user_id;
    r.state = "active";
    r.access_token = tokens.data.access_token;
    r.refresh_token = tokens.data.refresh_token;
    r.access_expires_at = kw::format_utc_ms(*kw::parse_time(tokens.data.access_expires_at));
    r.refresh_expires_at = kw::format_utc_ms(*kw::parse_time(tokens.data.refresh_expires_at));
    r.certificate_sha256 = creds.certificate_sha256;
    r.login_at = r.updated_at = kw::format_utc_ms(std::chrono::system_clock::now());
    vault->seed(kw::session_key(kNetwork, no), kw::write_session_record(r));
  }

  // An item from the national office to `to`, waiting in its received list.
  void post_item(std::uint64_t seed, const std::string& to) {
    kakehashi::testing::UnitGenerator gen(seed);
    const std::string now = kw::format_utc_ms(std::chrono::system_clock::now());
    kakehashi::testing::UnitParams params;
    params.service_month = now.substr(0, 4) + now.substr(5, 2);
    auto g = gen.make("K2", params);
    const auto parsed = kakehashi::mapping::parse_file_name(g.files.front().name);
    const std::string gfrom = parsed.name->from.office_no;
    const std::string gto = parsed.name->to.office_no;
    for (auto& f : g.files) {
      f.name = kakehashi::testing::readdress(f.name, gfrom, kNational, gto, to);
      f.bytes = kakehashi::testing::readdress(f.bytes, gfrom, kNational, gto, to);
    }
    std::vector<kakehashi::mapping::standard5::UnitFile> files;  // views of g.files
    for (const auto& f : g.files) files.push_back({f.name, f.bytes});
    const auto p2 = kakehashi::mapping::parse_file_name(files.front().name);
    const auto v5 = kakehashi::mapping::standard5::to_v5(files);
    BOOST_TEST_REQUIRE(v5.ok());
    const std::string body =
        R"({"sender":{"office_no":")" + p2.name->from.office_no + R"(","service_type":")" +
        p2.name->from.service_type + R"("},"recipient":{"office_no":")" + p2.name->to.office_no +
        R"(","service_type":")" + p2.name->to.service_type + R"("},"kind":")" +
        g.combination_id + R"(","target_month":")" + kw::target_month_of(v5.document.json) +
        R"(","document":)" + v5.document.json + "}";
    const auto posted = call("POST", "/admin/v1/items", body);
    BOOST_TEST_REQUIRE(posted.status == 200, posted.body);
  }

  void start() {
    kakehashi::gateway::AdapterContext c;
    c.executor = io.get_executor();
    c.sink = &sink;
    c.name = kNetwork;
    c.intake_window = 8;
    c.vault = vault;
    counters = c.events.counters;
    adapter = kw::make_kaigoweb_adapter(config, c);
    adapter->start();
  }

  fs::path root;
  std::vector<std::string> offices;
  std::unique_ptr<standin::StandinThread> server;
  kw::KaigoWebConfig config;
  boost::asio::io_context io;
  std::shared_ptr<kakehashi::testing::MemoryVault> vault;
  std::shared_ptr<kakehashi::gateway::AdapterCounters> counters;
  Sink sink;
  std::unique_ptr<kakehashi::gateway::Adapter> adapter;
};

BOOST_FIXTURE_TEST_CASE(every_office_is_served_and_at_most_n_are_polled_at_once, Fleet) {
  BOOST_TEST_REQUIRE(offices.size() == 20u);
  for (const auto& no : offices) seed_session(no);
  const std::string busy = offices[7];
  std::uint64_t seed = 1000;
  for (int i = 0; i < kBusyItems; ++i) post_item(seed++, busy);
  for (const auto& no : offices) {
    if (no == busy) continue;
    for (int i = 0; i < kOtherItems; ++i) post_item(seed++, no);
  }
  const std::size_t expected = kBusyItems + kOtherItems * (offices.size() - 1);

  start();
  std::uint64_t most = 0;
  require_until(
      io,
      [&] {
        most = std::max<std::uint64_t>(most, counters->offices_polling.load());
        return sink.units.size() >= expected;
      },
      90s);
  BOOST_TEST(sink.units.size() == expected);

  // Concurrency: more than one office at a time, never more than the setting.
  BOOST_TEST(most <= static_cast<std::uint64_t>(kInFlight));
  BOOST_TEST(most > 1u);

  // Fairness: by the time the last item of every other office was handed over, the busy office
  // had handed over at most three pages (it goes to the back after each page).
  std::map<std::string, std::size_t> last_at;
  std::size_t busy_before = 0;
  for (std::size_t i = 0; i < sink.units.size(); ++i) {
    const std::string no = sink.units[i].source_id.substr(0, 10);
    last_at[no] = i;
  }
  std::size_t others_done = 0;
  for (const auto& [no, at] : last_at)
    if (no != busy) others_done = std::max(others_done, at);
  for (std::size_t i = 0; i < others_done; ++i)
    if (sink.units[i].source_id.rfind(busy, 0) == 0) ++busy_before;
  BOOST_TEST(last_at.size() == offices.size());
  BOOST_TEST(busy_before <= static_cast<std::size_t>(3 * kPageSize));

  // The stand-in's rate limits held: not one poll failed (a 429 fails the poll).
  BOOST_TEST(counters->polls_failed.load() == 0u);
  BOOST_TEST(counters->stalled_polls.load() == 0u);
}

}  // namespace
