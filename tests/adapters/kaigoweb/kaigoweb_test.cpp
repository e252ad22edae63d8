// The Kaigo WEB adapter against the stand-in over real TLS on loopback (PROTOCOL.md §9.1), with a
// PKI made by deploy/pki.sh in a temporary directory and an in-memory vault.
#define BOOST_TEST_DYN_LINK
#define BOOST_TEST_MODULE kaigoweb
#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include <rapidjson/document.h>

#include "adapters/kaigoweb/credentials.hpp"
#include "adapters/kaigoweb/kaigoweb_adapter.hpp"
#include "adapters/kaigoweb/kaigoweb_codec.hpp"
#include "adapters/kaigoweb/session_record.hpp"
#include "mapping/careplan/file_name.hpp"
#include "mapping/standard5/translate.hpp"
#include "tests/adapters/behaviour/behaviour_suite.hpp"
#include "tests/adapters/kaigoweb/memory_vault.hpp"
#include "tests/careplan_gen/generator.hpp"
#include "tests/mapping/unit_edit.hpp"
#include "tests/peers/kaigoweb/kaigoweb_standin.hpp"
#include "tests/support/run_until.hpp"

namespace fs = std::filesystem;
namespace kw = kakehashi::adapters::kaigoweb;
namespace standin = kakehashi::standin::kaigoweb;
using kakehashi::gateway::AdapterLogLevel;
using kakehashi::gateway::LoginStep;
using kakehashi::gateway::SendResult;
using kakehashi::testing::require_until;
using namespace std::chrono_literals;

namespace {

const std::string kRegional = "3271500013";  // the office the gateway acts for (credentials)
const std::string kNational = "1370100016";  // a national office (the stand-in's office client)
const std::string kNetwork = "kw";

struct Pki {
  fs::path root;
  Pki() {
    std::string tmpl = (fs::temp_directory_path() / "kakehashi-kaigoweb-XXXXXX").string();
    if (mkdtemp(tmpl.data()) == nullptr) throw std::runtime_error("mkdtemp");
    root = tmpl;
    const std::string cmd =
        std::string(KAKEHASHI_PKI_SCRIPT) + " '" + (root / "pki").string() + "' >/dev/null 2>&1";
    if (std::system(cmd.c_str()) != 0) throw std::runtime_error("deploy/pki.sh failed");
  }
  ~Pki() {
    std::error_code ec;
    fs::remove_all(root, ec);
  }
  std::string dir() const { return (root / "pki").string(); }
  fs::path kw() const { return root / "pki" / "kaigoweb"; }
};

const Pki& pki() {
  static Pki p;
  return p;
}

std::string read_file(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), {}};
}

void write_secret(const fs::path& p, const std::string& text) {
  fs::remove(p);
  std::ofstream(p, std::ios::binary) << text;
  fs::permissions(p, fs::perms::owner_read | fs::perms::owner_write);
}

rapidjson::Document json(const std::string& body) {
  rapidjson::Document d;
  d.Parse(body.data(), body.size());
  return d;
}

// A generated unit readdressed from `from` to `to` (4.1 files, MS932).
struct Unit {
  std::string kind;
  std::vector<kakehashi::testing::GeneratedFile> files;
  kakehashi::gateway::OfficeRef sender, recipient;
};

Unit make_unit(std::uint64_t seed, const std::string& from, const std::string& to) {
  kakehashi::testing::UnitGenerator gen(seed);
  // This month (UTC): the service accepts 12 months back and 3 ahead (KW2201).
  const std::string now = kw::format_utc_ms(std::chrono::system_clock::now());
  kakehashi::testing::UnitParams params;
  params.service_month = now.substr(0, 4) + now.substr(5, 2);
  auto g = gen.make("K2", params);
  const auto parsed = kakehashi::mapping::parse_file_name(g.files.front().name);
  const std::string gfrom = parsed.name->from.office_no;
  const std::string gto = parsed.name->to.office_no;
  Unit u;
  u.kind = g.combination_id;
  for (auto& f : g.files) {
    f.name = kakehashi::testing::readdress(f.name, gfrom, from, gto, to);
    f.bytes = kakehashi::testing::readdress(f.bytes, gfrom, from, gto, to);
    u.files.push_back(f);
  }
  const auto p2 = kakehashi::mapping::parse_file_name(u.files.front().name);
  u.sender = p2.name->from;
  u.recipient = p2.name->to;
  return u;
}

kakehashi::gateway::OutboundUnit outbound(const Unit& u, const std::string& key, int attempt = 1) {
  kakehashi::gateway::OutboundUnit o;
  o.idempotency_key = key;
  o.sender = u.sender;
  o.recipient = u.recipient;
  o.unit_kind = u.kind;
  o.attempt = attempt;
  for (const auto& f : u.files) {
    kakehashi::gateway::SignedFile s;
    s.name = f.name;
    s.content = f.bytes;
    o.files.push_back(std::move(s));
  }
  return o;
}

// Records what the adapter hands over and answers true at once.
struct Sink final : kakehashi::gateway::AdapterSink {
  std::vector<kakehashi::gateway::InboundUnit> units;
  std::vector<kakehashi::gateway::InboundReceipt> receipts;
  void on_unit(kakehashi::gateway::InboundUnit unit, std::function<void(bool)> done) override {
    units.push_back(std::move(unit));
    done(true);
  }
  void on_receipt(kakehashi::gateway::InboundReceipt r, std::function<void(bool)> done) override {
    receipts.push_back(std::move(r));
    done(true);
  }
};

struct Fixture {
  Fixture() {
    static int counter = 0;
    dir = pki().root / ("case-" + std::to_string(counter++));
    fs::create_directories(dir);
    // The office's credentials, copied so that a test may spoil them.
    creds = dir / "credentials";
    fs::create_directories(creds);
    fs::permissions(creds, fs::perms::owner_all);
    fs::copy(pki().kw() / "credentials" / kRegional, creds / kRegional);
    fs::permissions(creds / kRegional, fs::perms::owner_all);
    password = read_file(creds / kRegional / "password");
    user_id = read_file(creds / kRegional / "user_id");

    auto o = standin::options_from_pki(pki().dir(), (dir / "state.sqlite").string());
    server = std::make_unique<standin::StandinThread>(o);
    server->standin().load_accounts_file((pki().kw() / "accounts").string());
    server->standin().load_offices_file((pki().kw() / "offices.json").string());

    config.base_url = "https://127.0.0.1:" + std::to_string(server->port());
    config.host = "127.0.0.1";
    config.port = server->port();
    config.ca_file = (pki().kw() / "ca.pem").string();
    config.credentials_dir = creds.string();
    config.offices = {kRegional};
    config.poll_interval = 400ms;
    config.timeout = 1s;  // settle time 2 s (§9.1)
    vault = std::make_shared<kakehashi::testing::MemoryVault>(io.get_executor());
  }
  ~Fixture() {
    if (adapter) {
      bool drained = false;
      adapter->stop([&] { drained = true; });
      kakehashi::testing::run_until(
          io, [&] { return drained; }, 5s);
      adapter.reset();
      io.poll();
    }
  }

  void start() {
    kakehashi::gateway::AdapterContext c;
    c.executor = io.get_executor();
    c.sink = &sink;
    c.name = kNetwork;
    c.intake_window = 4;
    c.vault = vault;
    c.events.counters = counters;  // kept across restarts, as the daemon does
    c.events.sink = [this](AdapterLogLevel, std::string_view event,
                           const kakehashi::gateway::AdapterLogFields& fields) {
      std::lock_guard lock(log_mutex);
      std::string line(event);
      for (const auto& [k, v] : fields) line += " " + k + "=" + v;
      log.push_back(std::move(line));
    };
    c.office_state = [this](kakehashi::gateway::OfficeStateReport r) {
      {
        std::lock_guard lock(log_mutex);  // alerts and notices are checked for secrets too
        log.push_back("office_state " + r.state + " " + r.detail + " " + r.until);
      }
      states.push_back(r.state);
      last_state = r;
    };
    adapter = kw::make_kaigoweb_adapter(config, c);
    adapter->start();
    require_until(
        io, [&] { return !states.empty(); }, 10s);
  }

  // Admin calls go straight to the stand-in's handler (the same code the TLS listener calls).
  kakehashi::adapters::http::Response admin(const std::string& method, const std::string& target,
                                            const std::string& body = "{}") {
    kakehashi::adapters::http::Request req;
    req.method = method;
    req.target = target;
    req.headers.emplace_back("authorization", "Admin admin");
    req.headers.emplace_back("content-type", "application/json");
    if (method != "GET") req.body = body;
    return server->standin().handle(req, standin::Connection{"", "", 1}).response;
  }

  std::string otp() {
    const auto r = admin("GET", "/admin/v1/otp?office_no=" + kRegional + "&user_id=" + user_id);
    BOOST_TEST_REQUIRE(r.status == 200, r.body);
    auto d = json(r.body);
    challenge = d["data"]["challenge_id"].GetString();
    return d["data"]["otp"].GetString();
  }

  LoginStep begin_login() {
    std::optional<LoginStep> step;
    adapter->office_logins()->begin_login(kRegional, [&](LoginStep s) { step = std::move(s); });
    require_until(
        io, [&] { return step.has_value(); }, 10s);
    return *step;
  }

  LoginStep submit(const std::string& code) {
    std::optional<LoginStep> step;
    adapter->office_logins()->submit_otp(kRegional, code,
                                         [&](LoginStep s) { step = std::move(s); });
    require_until(
        io, [&] { return step.has_value(); }, 10s);
    return *step;
  }

  void login() {
    const auto s1 = begin_login();
    BOOST_TEST_REQUIRE(s1.state == "awaiting_otp", s1.error + " " + s1.message);
    const auto s2 = submit(otp());
    BOOST_TEST_REQUIRE(s2.state == "active", s2.error + " " + s2.message);
  }

  SendResult send(const kakehashi::gateway::OutboundUnit& u) {
    std::optional<SendResult> result;
    adapter->send(u, [&](SendResult r) { result = std::move(r); });
    require_until(
        io, [&] { return result.has_value(); }, 15s);
    return *result;
  }

  // Entries of GET /admin/v1/deliveries for a reference.
  std::size_t deliveries(const std::string& reference) {
    const auto r = admin("GET", "/admin/v1/deliveries?sender_reference=" + reference);
    BOOST_TEST_REQUIRE(r.status == 200, r.body);
    const auto d = json(r.body);
    return d["data"]["deliveries"].Size();
  }

  // Calls of the auth log of the office: "login:OK", "otp:OK", "refresh:OK", ...
  std::vector<std::string> auth_log() {
    const auto r = admin("GET", "/admin/v1/auth-log?office_no=" + kRegional);
    BOOST_TEST_REQUIRE(r.status == 200, r.body);
    const auto d = json(r.body);
    std::vector<std::string> out;
    for (const auto& e : d["data"]["events"].GetArray())
      out.push_back(std::string(e["call"].GetString()) + ":" + e["outcome"].GetString());
    return out;
  }

  bool sink_has(const std::vector<std::string>& lines, const std::string& event) {
    std::lock_guard lock(log_mutex);
    return std::any_of(lines.begin(), lines.end(),
                       [&](const std::string& l) { return l.rfind(event, 0) == 0; });
  }

  std::size_t count(const std::vector<std::string>& v, const std::string& what) {
    return static_cast<std::size_t>(std::count(v.begin(), v.end(), what));
  }

  std::string state() const { return last_state ? last_state->state : ""; }

  // The labelled counter `name` (kakehashi_kaigoweb_..._total) at `value` (PROTOCOL.md §7.8).
  std::uint64_t counted(const std::string& name, const std::string& value) const {
    for (const auto& c : counters->labelled.list()) {
      if (c->name() == name) return c->value(value);
    }
    BOOST_ERROR("no counter " + name);
    return 0;
  }

  fs::path dir, creds;
  std::string password, user_id, challenge;
  std::unique_ptr<standin::StandinThread> server;
  kw::KaigoWebConfig config;
  boost::asio::io_context io;
  std::shared_ptr<kakehashi::testing::MemoryVault> vault;
  Sink sink;
  std::unique_ptr<kakehashi::gateway::Adapter> adapter;
  std::shared_ptr<kakehashi::gateway::AdapterCounters> counters =
      std::make_shared<kakehashi::gateway::AdapterCounters>();
  std::mutex log_mutex;
  std::vector<std::string> log;
  std::vector<std::string> states;
  std::optional<kakehashi::gateway::OfficeStateReport> last_state;
};

// The shared behaviour suite (tests/adapters/behaviour): the adapter starts with a session a
// login left in the vault (made here straight against the stand-in's handler), so that the
// suite's sends go out; a resend with the same key is answered from the sent index.
class KaigoWebPeer final : public kakehashi::testing::BehaviourPeer {
 public:
  KaigoWebPeer() {
    static int counter = 0;
    dir_ = pki().root / ("peer-" + std::to_string(counter++));
    fs::create_directories(dir_ / "credentials");
    fs::permissions(dir_ / "credentials", fs::perms::owner_all);
    fs::copy(pki().kw() / "credentials" / kRegional, dir_ / "credentials" / kRegional);
    fs::permissions(dir_ / "credentials" / kRegional, fs::perms::owner_all);
    server_ = std::make_unique<standin::StandinThread>(
        standin::options_from_pki(pki().dir(), (dir_ / "state.sqlite").string()));
    server_->standin().load_accounts_file((pki().kw() / "accounts").string());
    server_->standin().load_offices_file((pki().kw() / "offices.json").string());
    config_.host = "127.0.0.1";
    config_.port = server_->port();
    config_.base_url = "https://127.0.0.1:" + std::to_string(config_.port);
    config_.ca_file = (pki().kw() / "ca.pem").string();
    config_.credentials_dir = (dir_ / "credentials").string();
    config_.offices = {kRegional};
    config_.poll_interval = 400ms;
    config_.timeout = 2s;
    config_.ambiguity_settle = 0ms;  // the suite resends at once after a malformed answer
  }

  std::unique_ptr<kakehashi::gateway::Adapter> make_adapter(
      kakehashi::gateway::AdapterContext context) override {
    auto vault = std::make_shared<kakehashi::testing::MemoryVault>(context.executor);
    vault->seed(kw::session_key(kNetwork, kRegional), login());
    context.vault = vault;
    context.name = kNetwork;
    return kw::make_kaigoweb_adapter(config_, context);
  }

  kakehashi::gateway::OutboundUnit sample_unit(const std::string& key) override {
    return outbound(make_unit(std::hash<std::string>{}(key), kRegional, kNational), key);
  }

  std::size_t delivered_count(const std::string& key) override {
    const auto r =
        admin("GET", "/admin/v1/deliveries?sender_reference=" + kw::sender_reference(key));
    return json(r.body)["data"]["deliveries"].Size();
  }

  bool can_misbehave() const override { return true; }
  void answer_malformed_next(int count) override {
    admin("POST", "/admin/v1/faults",
          R"({"malformed":)" + std::to_string(count) +
              R"(,"only":"POST /kaigo/careplan/v1/sent-items"})");
  }
  void answer_retry_after_next(int count, std::chrono::seconds after) override {
    admin("POST", "/admin/v1/faults",
          R"({"status":503,"code":"S5031","count":)" + std::to_string(count) +
              R"(,"retry_after":)" + std::to_string(after.count()) +
              R"(,"only":"POST /kaigo/careplan/v1/sent-items"})");
  }

 private:
  kakehashi::adapters::http::Response admin(const std::string& method, const std::string& target,
                                            const std::string& body = "{}",
                                            const standin::Connection& conn = {"", "", 1}) {
    kakehashi::adapters::http::Request req;
    req.method = method;
    req.target = target;
    if (target.rfind("/admin/", 0) == 0) req.headers.emplace_back("authorization", "Admin admin");
    req.headers.emplace_back("content-type", "application/json");
    if (method != "GET") req.body = body;
    return server_->standin().handle(req, conn).response;
  }

  // A login with the one-time password over the office's certificate (as the handler sees it);
  // the session record the adapter would have written.
  std::string login() {
    auto read = kw::read_office_credentials(config_.credentials_dir, kRegional);
    const auto& creds = std::get<kw::OfficeCredentials>(read);
    const standin::Connection conn{kRegional, creds.certificate_sha256, 1};
    const auto challenge =
        kw::read_challenge(admin("POST", std::string(kw::kLoginPath),
                                 kw::login_body(creds.user_id, creds.password), conn)
                               .body);
    BOOST_TEST_REQUIRE(challenge.ok());
    const std::string otp =
        json(admin("GET", "/admin/v1/otp?office_no=" + kRegional + "&user_id=" + creds.user_id)
                 .body)["data"]["otp"]
            .GetString();
    const auto tokens = kw::read_tokens(admin("POST", std::string(kw::kOtpPath),
                                              kw::otp_body(challenge.data.challenge_id, otp), conn)
                                            .body,
                                        true);
    BOOST_TEST_REQUIRE(tokens.ok());
    kw::SessionRecord r;
    r.office_no = kRegional;
    r.user_id = creds.user_id;
    r.state = "active";
    r.access_token = tokens.data.access_token;
    r.refresh_token = tokens.data.refresh_token;
    r.access_expires_at = kw::format_utc_ms(*kw::parse_time(tokens.data.access_expires_at));
    r.refresh_expires_at = kw::format_utc_ms(*kw::parse_time(tokens.data.refresh_expires_at));
    r.certificate_sha256 = creds.certificate_sha256;
    r.login_at = r.updated_at = kw::format_utc_ms(std::chrono::system_clock::now());
    return kw::write_session_record(r);
  }

  fs::path dir_;
  std::unique_ptr<standin::StandinThread> server_;
  kw::KaigoWebConfig config_;
};

const kakehashi::testing::BehaviourSuiteRegistrar kRegistered("kaigoweb_behaviour", [] {
  return std::make_unique<KaigoWebPeer>();
});

}  // namespace

BOOST_FIXTURE_TEST_SUITE(kaigoweb, Fixture)

BOOST_AUTO_TEST_CASE(login_with_the_one_time_password) {
  start();
  BOOST_TEST(state() == "login_required");
  // Nothing is sent while the office waits: held, not failed.
  const auto held = send(outbound(make_unit(1, kRegional, kNational), "held-1"));
  BOOST_TEST((held.status == SendResult::Status::kRetry));
  BOOST_TEST(held.hold_office);
  BOOST_TEST(held.error_code == "login_required");
  BOOST_TEST(counted("kakehashi_kaigoweb_sends_total", "held") == 1u);

  login();
  BOOST_TEST(state() == "active");
  BOOST_TEST(counted("kakehashi_kaigoweb_logins_total", "ok") == 1u);
  const auto calls = auth_log();
  BOOST_TEST(count(calls, "login:OK") == 1u);
  BOOST_TEST(count(calls, "otp:OK") == 1u);
  const auto rec = vault->record(kw::session_key(kNetwork, kRegional));
  BOOST_TEST_REQUIRE(rec.has_value());
  BOOST_TEST(kw::read_session_record(rec->value)->state == "active");

  // A wrong code is asked again while the challenge is open (KW1003), an unknown one refused.
  const auto again = begin_login();
  BOOST_TEST(again.state == "awaiting_otp");
  const auto wrong = submit("000000" == otp() ? "111111" : "000000");
  BOOST_TEST(wrong.error == "KW1003");
  BOOST_TEST(wrong.state == "awaiting_otp");
  BOOST_TEST(state() == "active");  // a replacement login does not stop traffic
  BOOST_TEST(counted("kakehashi_kaigoweb_logins_total", "otp_failed") == 1u);
  BOOST_TEST(counted("kakehashi_kaigoweb_logins_total", "ok") == 1u);
  BOOST_TEST(counted("kakehashi_kaigoweb_business_codes_total", "KW1003") == 1u);
}

BOOST_AUTO_TEST_CASE(send_receive_ack_and_receipts) {
  start();
  login();
  const auto unit = make_unit(2, kRegional, kNational);
  const auto r = send(outbound(unit, "send-1"));
  BOOST_TEST_REQUIRE((r.status == SendResult::Status::kAccepted), r.error_code + " " + r.message);
  BOOST_TEST(r.remote_id.rfind(kRegional + ":CP", 0) == 0u);
  BOOST_TEST(r.sent_sha256.size() == 64u);
  const std::string reference = kw::sender_reference("send-1");
  BOOST_TEST(deliveries(reference) == 1u);
  BOOST_TEST(counted("kakehashi_kaigoweb_sends_total", "accepted") == 1u);
  BOOST_TEST(counted("kakehashi_kaigoweb_sends_total", "refused") == 0u);

  // The recipient downloads it: a receipt from the sent feed.
  const std::string item = r.remote_id.substr(kRegional.size() + 1);
  BOOST_TEST(
      admin("POST", "/admin/v1/items/" + item + "/status", R"({"status":"downloaded"})").status ==
      200);
  require_until(
      io, [&] { return !sink.receipts.empty(); }, 10s);
  BOOST_TEST(sink.receipts.front().remote_id == r.remote_id);
  BOOST_TEST((sink.receipts.front().state == kakehashi::gateway::ReceiptState::kDelivered));

  // A national office sends to the regional office: fetched, rendered as 4.1, acknowledged.
  const auto back = make_unit(3, kNational, kRegional);
  std::vector<kakehashi::mapping::standard5::UnitFile> files;
  for (const auto& f : back.files) files.push_back({f.name, f.bytes});
  const auto v5 = kakehashi::mapping::standard5::to_v5(files);
  BOOST_TEST_REQUIRE(v5.ok());
  const std::string body =
      R"({"sender":{"office_no":")" + back.sender.office_no + R"(","service_type":")" +
      back.sender.service_type + R"("},"recipient":{"office_no":")" + back.recipient.office_no +
      R"(","service_type":")" + back.recipient.service_type + R"("},"kind":")" + back.kind +
      R"(","target_month":")" + kw::target_month_of(v5.document.json) + R"(","document":)" +
      v5.document.json + "}";
  const auto posted = admin("POST", "/admin/v1/items", body);
  BOOST_TEST_REQUIRE(posted.status == 200, posted.body);
  const std::string in_item = json(posted.body)["data"]["item_id"].GetString();
  require_until(
      io, [&] { return !sink.units.empty(); }, 10s);
  const auto& u = sink.units.front();
  BOOST_TEST(u.source_id == kRegional + ":" + in_item);
  BOOST_TEST(u.unreadable == "");
  BOOST_TEST(u.files.size() == back.files.size());
  BOOST_TEST(u.files.front().cms.empty());
  BOOST_TEST(u.origin_session == kRegional);
  BOOST_TEST(u.origin_item == in_item);
  BOOST_TEST(u.fetched_sha256.size() == 64u);
  BOOST_TEST(u.cursor.find(kRegional) != std::string::npos);

  std::optional<SendResult> ack;
  kakehashi::gateway::OutboundReceipt receipt;
  receipt.source_id = u.source_id;
  receipt.state = kakehashi::gateway::ReceiptState::kDelivered;
  adapter->send_receipt(receipt, [&](SendResult s) { ack = std::move(s); });
  require_until(
      io, [&] { return ack.has_value(); }, 10s);
  BOOST_TEST((ack->status == SendResult::Status::kAccepted), ack->error_code + " " + ack->message);
  // Another result after the first: KW2401, the first stands.
  ack.reset();
  receipt.state = kakehashi::gateway::ReceiptState::kRejected;
  receipt.reason = "late";
  adapter->send_receipt(receipt, [&](SendResult s) { ack = std::move(s); });
  require_until(
      io, [&] { return ack.has_value(); }, 10s);
  BOOST_TEST((ack->status == SendResult::Status::kAccepted));
  BOOST_TEST(ack->message.find("KW2401") != std::string::npos);
  BOOST_TEST(counted("kakehashi_kaigoweb_business_codes_total", "KW2401") == 1u);
  BOOST_TEST(counted("kakehashi_kaigoweb_polls_total", kRegional) >= 1u);
  BOOST_TEST(counted("kakehashi_kaigoweb_sends_total", "accepted") == 1u);  // acks are not sends
}

BOOST_AUTO_TEST_CASE(refresh_across_short_access_tokens) {
  BOOST_TEST(admin("POST", "/admin/v1/settings", R"({"access_ttl":2})").status == 200);
  start();
  login();
  // Traffic across 3 lifetimes: the adapter refreshes ahead, no second login, nothing held.
  const auto until = std::chrono::steady_clock::now() + 6500ms;
  int n = 0;
  while (std::chrono::steady_clock::now() < until) {
    const auto r =
        send(outbound(make_unit(10 + n, kRegional, kNational), "refresh-" + std::to_string(n)));
    BOOST_TEST_REQUIRE((r.status == SendResult::Status::kAccepted), r.error_code + " " + r.message);
    ++n;
    kakehashi::testing::run_until(
        io, [] { return false; }, 700ms);  // polls run meanwhile
  }
  const auto calls = auth_log();
  BOOST_TEST(count(calls, "login:OK") == 1u);
  BOOST_TEST(count(calls, "refresh:OK") >= 2u);
  BOOST_TEST(state() == "active");
  BOOST_TEST(counted("kakehashi_kaigoweb_refreshes_total", "ok") == count(calls, "refresh:OK"));
}

BOOST_AUTO_TEST_CASE(the_eight_hour_lapse_shortened) {
  BOOST_TEST(admin("POST", "/admin/v1/settings", R"({"access_ttl":2,"refresh_ttl":4})").status ==
             200);
  start();
  login();
  require_until(
      io, [&] { return state() == "login_required"; }, 15s);
  const auto held = send(outbound(make_unit(20, kRegional, kNational), "lapse-1"));
  BOOST_TEST((held.status == SendResult::Status::kRetry));
  BOOST_TEST(held.hold_office);
  BOOST_TEST(deliveries(kw::sender_reference("lapse-1")) == 0u);
  // A person logs in again: the unit goes out once.
  BOOST_TEST(
      admin("POST", "/admin/v1/settings", R"({"access_ttl":3600,"refresh_ttl":28800})").status ==
      200);
  login();
  const auto r = send(outbound(make_unit(20, kRegional, kNational), "lapse-1", 2));
  BOOST_TEST((r.status == SendResult::Status::kAccepted), r.error_code + " " + r.message);
  BOOST_TEST(deliveries(kw::sender_reference("lapse-1")) == 1u);
}

BOOST_AUTO_TEST_CASE(wrong_password_and_lockout) {
  write_secret(creds / kRegional / "password", "wrong-password-123");
  start();
  const auto s = begin_login();
  BOOST_TEST(s.error == "KW1001");
  BOOST_TEST(s.state == "credentials_invalid");
  BOOST_TEST(state() == "credentials_invalid");
  // No automatic retry: exactly one password attempt per person-started login.
  kakehashi::testing::run_until(
      io, [] { return false; }, 500ms);
  BOOST_TEST(count(auth_log(), "login:KW1001") == 1u);
  for (int i = 0; i < 4; ++i) begin_login();
  const auto locked = begin_login();
  BOOST_TEST(locked.state == "locked");
  BOOST_TEST(!locked.locked_until.empty());
  BOOST_TEST(state() == "locked");
  // Refused locally while locked: no call.
  const auto before = auth_log().size();
  BOOST_TEST(begin_login().state == "locked");
  BOOST_TEST(auth_log().size() == before);
  BOOST_TEST(counted("kakehashi_kaigoweb_logins_total", "locked") == 1u);
  BOOST_TEST(counted("kakehashi_kaigoweb_logins_total", "failed") ==
             counted("kakehashi_kaigoweb_business_codes_total", "KW1001"));
  BOOST_TEST(counted("kakehashi_kaigoweb_logins_total", "failed") >= 1u);

  // The lock is reset, the password fixed: a good login.
  BOOST_TEST(
      admin("POST", "/admin/v1/lockout/reset", R"({"office_no":")" + kRegional + R"("})").status ==
      200);
  write_secret(creds / kRegional / "password", password);
  // The local lock lasts until locked_until; a shortened stand-in lock is not visible to it, so
  // the office's record of the lock is what a person waits for. Here: set it by a new adapter.
  adapter->stop([] {});
  kakehashi::testing::run_until(
      io, [] { return false; }, 200ms);
  adapter.reset();
  states.clear();
  start();
  login();
  BOOST_TEST(state() == "active");
}

BOOST_AUTO_TEST_CASE(certificate_of_another_ca_is_refused_in_the_handshake) {
  const auto cases = pki().kw() / "cases";
  write_secret(creds / kRegional / "cert.pem", read_file(cases / "other-ca.cert.pem"));
  write_secret(creds / kRegional / "key.pem", read_file(cases / "other-ca.key.pem"));
  start();
  const auto before = server->standin().requests_read();
  const auto s = begin_login();
  BOOST_TEST(s.state == "credentials_invalid", s.error + " " + s.message);
  BOOST_TEST(state() == "credentials_invalid");
  BOOST_TEST(server->standin().requests_read() == before);  // no HTTP call reached it
  BOOST_TEST(auth_log().empty());
}

BOOST_AUTO_TEST_CASE(expired_certificate_is_refused_without_a_connection) {
  const auto cases = pki().kw() / "cases";
  write_secret(creds / kRegional / "cert.pem", read_file(cases / "expired.cert.pem"));
  write_secret(creds / kRegional / "key.pem", read_file(cases / "expired.key.pem"));
  const auto accepted = server->standin().accepted_connections();
  start();
  BOOST_TEST(state() == "credentials_invalid");
  const auto s = begin_login();
  BOOST_TEST(s.state == "credentials_invalid");
  BOOST_TEST(server->standin().accepted_connections() == accepted);
}

BOOST_AUTO_TEST_CASE(revoked_certificate_answers_s4033) {
  start();
  login();
  BOOST_TEST(
      admin("POST", "/admin/v1/certificates/revoke", R"({"office_no":")" + kRegional + R"("})")
          .status == 200);
  const auto r = send(outbound(make_unit(30, kRegional, kNational), "revoked-1"));
  BOOST_TEST((r.status == SendResult::Status::kRetry));
  BOOST_TEST(r.hold_office);
  BOOST_TEST(state() == "credentials_invalid");
}

BOOST_AUTO_TEST_CASE(business_error_in_200_is_a_rejection_naming_code_and_path) {
  start();
  login();
  BOOST_TEST(admin("POST", "/admin/v1/faults", R"({"business_error":"KW2101","count":1})").status ==
             200);
  const auto r = send(outbound(make_unit(40, kRegional, kNational), "biz-1"));
  BOOST_TEST((r.status == SendResult::Status::kRejected));
  BOOST_TEST(r.error_code == "kaigoweb:KW2101");
  BOOST_TEST(r.message.find("KW2101") != std::string::npos, r.message);
  BOOST_TEST(deliveries(kw::sender_reference("biz-1")) == 0u);
  BOOST_TEST(counted("kakehashi_kaigoweb_sends_total", "refused") == 1u);
  BOOST_TEST(counted("kakehashi_kaigoweb_business_codes_total", "KW2101") == 1u);

  // A real unknown recipient: the path of the field is named.
  const auto r2 = send(outbound(make_unit(41, kRegional, "9999999999"), "biz-2"));
  BOOST_TEST((r2.status == SendResult::Status::kRejected));
  BOOST_TEST(r2.error_code.rfind("kaigoweb:KW", 0) == 0u, r2.error_code);
  BOOST_TEST(r2.message.find("(/") != std::string::npos, r2.message);
  BOOST_TEST(deliveries(kw::sender_reference("biz-2")) == 0u);
  BOOST_TEST(counted("kakehashi_kaigoweb_sends_total", "refused") == 2u);
  BOOST_TEST(counted("kakehashi_kaigoweb_business_codes_total", r2.error_code.substr(9)) >= 1u);
}

BOOST_AUTO_TEST_CASE(ambiguous_send_dropped_answer_is_found_by_the_check) {
  start();
  login();
  BOOST_TEST(
      admin("POST", "/admin/v1/faults", R"({"drop":1,"only":"POST /kaigo/careplan/v1/sent-items"})")
          .status == 200);
  const auto unit = outbound(make_unit(50, kRegional, kNational), "amb-1");
  const auto first = send(unit);
  BOOST_TEST((first.status == SendResult::Status::kRetry));
  BOOST_TEST(first.error_code == "send_ambiguous");
  const std::string reference = kw::sender_reference("amb-1");
  BOOST_TEST(deliveries(reference) == 1u);  // stored before the answer was cut
  // Within the settle time: no call, retry later.
  auto early = unit;
  early.attempt = 2;
  const auto settling = send(early);
  BOOST_TEST((settling.status == SendResult::Status::kRetry));
  BOOST_TEST(settling.retry_after.has_value());
  kakehashi::testing::run_until(
      io, [] { return false; }, 2100ms);
  const auto second = send(early);
  BOOST_TEST((second.status == SendResult::Status::kAccepted),
             second.error_code + " " + second.message);
  BOOST_TEST(deliveries(reference) == 1u);  // one delivery
  BOOST_TEST(counted("kakehashi_kaigoweb_sends_total", "ambiguous") == 1u);
  BOOST_TEST(counted("kakehashi_kaigoweb_sends_total", "retry") == 1u);  // settling
  BOOST_TEST(counted("kakehashi_kaigoweb_sends_total", "accepted") == 1u);
  BOOST_TEST(counted("kakehashi_kaigoweb_sent_checks_total", "found") == 1u);
  BOOST_TEST(counted("kakehashi_kaigoweb_sent_checks_total", "not_found") == 0u);
}

BOOST_AUTO_TEST_CASE(ambiguous_send_reset_before_is_sent_once) {
  start();
  login();
  BOOST_TEST(admin("POST", "/admin/v1/faults",
                   R"({"reset_before":1,"only":"POST /kaigo/careplan/v1/sent-items"})")
                 .status == 200);
  auto unit = outbound(make_unit(51, kRegional, kNational), "amb-2");
  // The send is never repeated by the HTTP layer on a closed connection: the adapter decides.
  const auto first = send(unit);
  BOOST_TEST((first.status == SendResult::Status::kRetry));
  BOOST_TEST(first.error_code == "send_ambiguous");
  const std::string reference = kw::sender_reference("amb-2");
  BOOST_TEST(deliveries(reference) == 0u);
  // The engine claims it again after the settle time: checked (not found), sent once.
  kakehashi::testing::run_until(
      io, [] { return false; }, 2100ms);
  unit.attempt = 2;
  const auto second = send(unit);
  BOOST_TEST((second.status == SendResult::Status::kAccepted),
             second.error_code + " " + second.message);
  BOOST_TEST(deliveries(reference) == 1u);
  // And a later claim (the engine crashed before its commit) finds it: still one.
  unit.attempt = 3;
  const auto again = send(unit);
  BOOST_TEST((again.status == SendResult::Status::kAccepted));
  BOOST_TEST(again.remote_id == second.remote_id);
  BOOST_TEST(deliveries(reference) == 1u);
  BOOST_TEST(counted("kakehashi_kaigoweb_sends_total", "ambiguous") == 1u);
  BOOST_TEST(counted("kakehashi_kaigoweb_sends_total", "accepted") == 2u);
  BOOST_TEST(counted("kakehashi_kaigoweb_sent_checks_total", "not_found") == 1u);
}

BOOST_AUTO_TEST_CASE(the_session_is_kept_across_restarts) {
  start();
  login();
  adapter->stop([] {});
  kakehashi::testing::run_until(
      io, [] { return false; }, 200ms);
  adapter.reset();
  states.clear();
  last_state.reset();
  start();  // the same vault: no person needed
  BOOST_TEST(state() == "active");
  const auto r = send(outbound(make_unit(70, kRegional, kNational), "restart-1"));
  BOOST_TEST((r.status == SendResult::Status::kAccepted), r.error_code + " " + r.message);
  BOOST_TEST(count(auth_log(), "login:OK") == 1u);
}

BOOST_AUTO_TEST_CASE(garbled_answer_to_a_send_is_ambiguous_and_checked) {
  start();
  login();
  BOOST_TEST(admin("POST", "/admin/v1/faults",
                   R"({"envelope_garbage":1,"only":"POST /kaigo/careplan/v1/sent-items"})")
                 .status == 200);
  auto unit = outbound(make_unit(71, kRegional, kNational), "garbled-1");
  const auto first = send(unit);
  BOOST_TEST((first.status == SendResult::Status::kRetry));
  BOOST_TEST(first.error_code == "send_ambiguous");
  BOOST_TEST(sink_has(log, "garbled-answer"));
  kakehashi::testing::run_until(
      io, [] { return false; }, 2100ms);
  unit.attempt = 2;
  const auto second = send(unit);
  const std::string reference = kw::sender_reference("garbled-1");
  BOOST_TEST(deliveries(reference) == 1u);
  BOOST_TEST((second.status == SendResult::Status::kAccepted),
             second.error_code + " " + second.message);
  BOOST_TEST(deliveries(reference) == 1u);
}

BOOST_AUTO_TEST_CASE(rate_limit_and_maintenance_are_retried_after) {
  start();
  login();
  BOOST_TEST(
      admin(
          "POST", "/admin/v1/faults",
          R"({"status":429,"code":"S4290","count":1,"retry_after":7,"only":"POST /kaigo/careplan/v1/sent-items"})")
          .status == 200);
  const auto r = send(outbound(make_unit(72, kRegional, kNational), "rate-1"));
  BOOST_TEST((r.status == SendResult::Status::kRetry));
  BOOST_TEST(!r.hold_office);
  BOOST_TEST(r.error_code == "kaigoweb:S4290");
  BOOST_TEST_REQUIRE(r.retry_after.has_value());
  BOOST_TEST(r.retry_after->count() == 7);
  BOOST_TEST(deliveries(kw::sender_reference("rate-1")) == 0u);
  BOOST_TEST(admin("POST", "/admin/v1/faults", R"({"maintenance":true,"retry_after":30})").status ==
             200);
  const auto m = send(outbound(make_unit(72, kRegional, kNational), "rate-1", 2));
  BOOST_TEST((m.status == SendResult::Status::kRetry));
  BOOST_TEST(m.error_code == "kaigoweb:S5030");
  BOOST_TEST(m.retry_after.has_value());
  BOOST_TEST(counted("kakehashi_kaigoweb_sends_total", "retry") == 2u);
  BOOST_TEST(counted("kakehashi_kaigoweb_business_codes_total", "S4290") == 1u);
  BOOST_TEST(counted("kakehashi_kaigoweb_business_codes_total", "S5030") >= 1u);
}

BOOST_AUTO_TEST_CASE(office_list_through_an_active_session) {
  start();
  std::optional<kakehashi::gateway::DirectoryResult> none;
  adapter->fetch_directory("", [&](kakehashi::gateway::DirectoryResult d) { none = std::move(d); });
  require_until(
      io, [&] { return none.has_value(); }, 10s);
  BOOST_TEST((none->status.status == SendResult::Status::kRetry));
  login();
  std::optional<kakehashi::gateway::DirectoryResult> listing;
  adapter->fetch_directory("",
                           [&](kakehashi::gateway::DirectoryResult d) { listing = std::move(d); });
  require_until(
      io, [&] { return listing.has_value(); }, 10s);
  BOOST_TEST_REQUIRE((listing->status.status == SendResult::Status::kAccepted),
                     listing->status.message);
  BOOST_TEST(!listing->next_changed_since.empty());
  const bool listed = std::any_of(
      listing->entries.begin(), listing->entries.end(),
      [](const auto& e) { return e.office.office_no == kNational && e.status == "ACTIVE"; });
  BOOST_TEST(listed);
  // The office the gateway acts for is listed too (it logs in there), marked as the gateway's;
  // national members are not.
  std::size_t ours = 0, theirs = 0;
  for (const auto& e : listing->entries) {
    if (e.office.office_no == kRegional) {
      ++ours;
      BOOST_TEST(e.published_by_gateway);
    } else {
      theirs += e.published_by_gateway ? 0 : 1;
      BOOST_TEST(!e.published_by_gateway, e.office.office_no);
    }
  }
  BOOST_TEST(ours >= 1u);
  BOOST_TEST(theirs >= 1u);
}

BOOST_AUTO_TEST_CASE(credentials_added_later_are_picked_up) {
  const auto saved = dir / "saved";
  fs::rename(creds / kRegional, saved);
  start();
  BOOST_TEST(state() == "no_credentials");
  const auto r = send(outbound(make_unit(73, kRegional, kNational), "nocreds-1"));
  BOOST_TEST((r.status == SendResult::Status::kRejected));
  BOOST_TEST(r.error_code == "kaigoweb_no_credentials");
  fs::rename(saved, creds / kRegional);  // `credentials add`
  require_until(
      io, [&] { return state() == "login_required"; }, 15s);
  login();
  BOOST_TEST(state() == "active");
}

BOOST_AUTO_TEST_CASE(wrong_one_time_passwords_count_towards_the_lockout) {
  BOOST_TEST(admin("POST", "/admin/v1/settings", R"({"lockout_after":3})").status == 200);
  start();
  BOOST_TEST(begin_login().state == "awaiting_otp");
  const std::string good = otp();
  const std::string bad = good == "000000" ? "111111" : "000000";
  BOOST_TEST(submit(bad).error == "KW1003");
  BOOST_TEST(submit(bad).error == "KW1003");
  const auto third = submit(bad);
  BOOST_TEST((third.error == "KW1003" || third.error == "KW1002" || third.error == "KW1004"),
             third.error);
  const auto again = begin_login();
  BOOST_TEST(again.state == "locked", again.state + " " + again.error);
  BOOST_TEST(state() == "locked");
}

BOOST_AUTO_TEST_CASE(revoked_session_waits_for_a_login) {
  start();
  login();
  BOOST_TEST(admin("POST", "/admin/v1/sessions/revoke", R"({"office_no":")" + kRegional + R"("})")
                 .status == 200);
  const auto r = send(outbound(make_unit(80, kRegional, kNational), "revoke-1"));
  BOOST_TEST((r.status == SendResult::Status::kRetry));
  BOOST_TEST(r.hold_office);
  BOOST_TEST(state() == "login_required");
  BOOST_TEST(deliveries(kw::sender_reference("revoke-1")) == 0u);
  login();
  const auto again = send(outbound(make_unit(80, kRegional, kNational), "revoke-1", 2));
  BOOST_TEST((again.status == SendResult::Status::kAccepted), again.error_code);
  BOOST_TEST(deliveries(kw::sender_reference("revoke-1")) == 1u);
}

BOOST_AUTO_TEST_CASE(an_item_that_cannot_be_rendered_is_handed_over_unreadable) {
  start();
  login();
  const std::string body = R"({"sender":{"office_no":")" + kNational +
                           R"(","service_type":"11"},"recipient":{"office_no":")" + kRegional +
                           R"(","service_type":"43"},"kind":"K2","target_month":"202701",)"
                           R"("document":{"not":"a 5.0 document"}})";
  const auto posted = admin("POST", "/admin/v1/items", body);
  BOOST_TEST_REQUIRE(posted.status == 200, posted.body);
  require_until(
      io, [&] { return !sink.units.empty(); }, 10s);
  const auto& u = sink.units.front();
  BOOST_TEST(!u.unreadable.empty());
  BOOST_TEST(u.files.empty());
  BOOST_TEST(u.unreadable.find("a 5.0 document") == std::string::npos);  // paths, never values
  // The engine refuses it: the adapter acknowledges it `rejected` with the reason.
  std::optional<SendResult> ack;
  kakehashi::gateway::OutboundReceipt receipt;
  receipt.source_id = u.source_id;
  receipt.state = kakehashi::gateway::ReceiptState::kRejected;
  receipt.reason = u.unreadable;
  adapter->send_receipt(receipt, [&](SendResult s) { ack = std::move(s); });
  require_until(
      io, [&] { return ack.has_value(); }, 10s);
  BOOST_TEST((ack->status == SendResult::Status::kAccepted), ack->error_code + " " + ack->message);
}

// Issue 17: our 5.0 model makes UPPLAN プラン担当者名 mandatory. A 4.1 unit that leaves it empty is
// refused back to its sender naming file, line and item; nothing reaches the service.
BOOST_AUTO_TEST_CASE(a_unit_lacking_a_mandatory_5_item_is_refused_naming_it) {
  start();
  login();
  auto unit = make_unit(50, kRegional, kNational);
  auto upplan = std::find_if(unit.files.begin(), unit.files.end(),
                             [](const auto& f) { return f.name.rfind("UPPLAN_", 0) == 0; });
  BOOST_TEST_REQUIRE((upplan != unit.files.end()));
  const std::size_t edited = 0;  // the first record
  kakehashi::testing::edit_records(*upplan, [&](std::vector<kakehashi::testing::EditRecord>& r) {
    r[edited].fields[6].value.clear();
  });
  const auto line = kakehashi::testing::parse_records(upplan->bytes)[edited].line;
  const auto r = send(outbound(unit, "mandatory-1"));
  BOOST_TEST((r.status == SendResult::Status::kRejected));
  BOOST_TEST(r.error_code == "kaigoweb_translation");
  BOOST_TEST(r.message.find("S5_MANDATORY_MISSING") != std::string::npos, r.message);
  BOOST_TEST(
      r.message.find("file " + upplan->name + " record " + std::to_string(edited + 1) + " line " +
                     std::to_string(line) + " field 7 (プラン担当者名)") != std::string::npos,
      r.message);
  BOOST_TEST(r.message.find("5.0 makes プラン担当者名 mandatory") != std::string::npos, r.message);
  BOOST_TEST(deliveries(kw::sender_reference("mandatory-1")) == 0u);
}

namespace {

// A national office's item whose first プラン担当者名 starts with 𠮷 (U+20BB7, JIS X 0213, not
// MS932), put into the gateway office's received list.
void post_item_with_a_character_ms932_lacks(Fixture& f) {
  const auto unit = make_unit(51, kNational, kRegional);
  std::vector<kakehashi::mapping::standard5::UnitFile> files;
  for (const auto& file : unit.files) files.push_back({file.name, file.bytes});
  const auto v5 = kakehashi::mapping::standard5::to_v5(files);
  BOOST_TEST_REQUIRE(v5.ok());
  std::string document = v5.document.json;
  const std::string key = "\"プラン担当者名\":\"";
  const auto at = document.find(key);
  BOOST_TEST_REQUIRE(at != std::string::npos);
  document.insert(at + key.size(), "\xF0\xA0\xAE\xB7");
  const std::string body = R"({"sender":{"office_no":")" + kNational + R"(","service_type":")" +
                           unit.sender.service_type + R"("},"recipient":{"office_no":")" +
                           kRegional + R"(","service_type":")" + unit.recipient.service_type +
                           R"("},"kind":")" + unit.kind + R"(","target_month":")" +
                           kw::target_month_of(document) + R"(","document":)" + document + "}";
  const auto posted = f.admin("POST", "/admin/v1/items", body);
  BOOST_TEST_REQUIRE(posted.status == 200, posted.body);
}

}  // namespace

// Default policy: the character is not substituted; the item is handed over unreadable naming
// file, record, field and U+XXXX (the engine refuses it back to its sender).
BOOST_AUTO_TEST_CASE(a_character_ms932_cannot_hold_is_refused_by_default) {
  start();
  login();
  post_item_with_a_character_ms932_lacks(*this);
  require_until(
      io, [&] { return !sink.units.empty(); }, 10s);
  const auto& u = sink.units.front();
  BOOST_TEST(u.files.empty());
  BOOST_TEST(u.unreadable.find("S5_CHAR_UNMAPPABLE") != std::string::npos, u.unreadable);
  BOOST_TEST(u.unreadable.find("U+20BB7") != std::string::npos, u.unreadable);
  BOOST_TEST(u.unreadable.find("record 1") != std::string::npos, u.unreadable);
  BOOST_TEST(u.unreadable.find("field 7 (プラン担当者名)") != std::string::npos, u.unreadable);
  BOOST_TEST(u.unreadable.find("\xF0\xA0\xAE\xB7") == std::string::npos);  // never the value
  BOOST_TEST(u.audit_note.empty());
}

// With "characters": {"substitute": true, "replacement": "■"} the unit is delivered with the
// character replaced, and the cover note and the audit note say what was substituted where.
BOOST_AUTO_TEST_CASE(a_character_ms932_cannot_hold_is_substituted_when_configured) {
  config.substitute_characters = true;
  config.replacement = U'\u25A0';  // ■, MS932 0x81A1
  start();
  login();
  post_item_with_a_character_ms932_lacks(*this);
  require_until(
      io, [&] { return !sink.units.empty(); }, 10s);
  const auto& u = sink.units.front();
  BOOST_TEST_REQUIRE(u.unreadable.empty(), u.unreadable);
  const auto upplan = std::find_if(u.files.begin(), u.files.end(),
                                   [](const auto& f) { return f.name.rfind("UPPLAN_", 0) == 0; });
  BOOST_TEST_REQUIRE((upplan != u.files.end()));
  const auto records = kakehashi::testing::parse_records(upplan->content);
  BOOST_TEST_REQUIRE(!records.empty());
  BOOST_TEST(records[0].fields[6].value.rfind("\x81\xA1", 0) == 0u);
  for (const auto* text : {&u.message, &u.audit_note}) {
    BOOST_TEST(text->find("U+20BB7 → U+25A0") != std::string::npos, *text);
    BOOST_TEST(text->find(upplan->name) != std::string::npos, *text);
    BOOST_TEST(text->find("\xF0\xA0\xAE\xB7") == std::string::npos);
  }
  BOOST_TEST(u.message.find("レコード1 項目7（プラン担当者名）") != std::string::npos, u.message);
  BOOST_TEST(u.audit_note.find("record 1 field 7 (プラン担当者名)") != std::string::npos,
             u.audit_note);
}

BOOST_AUTO_TEST_CASE(a_login_made_on_another_instance_is_adopted) {
  start();  // the driver (may_poll empty: yes)
  // A second instance on the same vault that does not hold the poll lease; the operator's call
  // reaches it.
  Sink other_sink;
  std::vector<std::string> other_states;
  kakehashi::gateway::AdapterContext c;
  c.executor = io.get_executor();
  c.sink = &other_sink;
  c.name = kNetwork;
  c.vault = vault;
  c.may_poll = [] { return false; };
  c.office_state = [&](kakehashi::gateway::OfficeStateReport r) {
    other_states.push_back(r.state);
  };
  auto other = kw::make_kaigoweb_adapter(config, c);
  other->start();
  require_until(
      io, [&] { return !other_states.empty(); }, 10s);
  std::optional<LoginStep> step;
  other->office_logins()->begin_login(kRegional, [&](LoginStep s) { step = std::move(s); });
  require_until(
      io, [&] { return step.has_value(); }, 10s);
  BOOST_TEST_REQUIRE(step->state == "awaiting_otp");
  step.reset();
  other->office_logins()->submit_otp(kRegional, otp(), [&](LoginStep s) { step = std::move(s); });
  require_until(
      io, [&] { return step.has_value(); }, 10s);
  BOOST_TEST_REQUIRE(step->state == "active");
  // The driver finds the session in the vault: no second login.
  require_until(
      io, [&] { return state() == "active"; }, 10s);
  const auto r = send(outbound(make_unit(90, kRegional, kNational), "shared-1"));
  BOOST_TEST((r.status == SendResult::Status::kAccepted), r.error_code + " " + r.message);
  std::optional<SendResult> r2;
  other->send(outbound(make_unit(91, kRegional, kNational), "shared-2"),
              [&](SendResult x) { r2 = std::move(x); });
  require_until(
      io, [&] { return r2.has_value(); }, 15s);
  BOOST_TEST((r2->status == SendResult::Status::kAccepted), r2->error_code + " " + r2->message);
  BOOST_TEST(count(auth_log(), "login:OK") == 1u);
  bool drained = false;
  other->stop([&] { drained = true; });
  require_until(
      io, [&] { return drained; }, 10s);
  other.reset();
}

// An instance on the fixture's vault that does not hold the poll lease (§7.1): an operator's login
// call reaching it is handed to the driver through the vault (§7.3).
struct OtherInstance {
  explicit OtherInstance(Fixture& f) : f_(f) {
    kakehashi::gateway::AdapterContext c;
    c.executor = f.io.get_executor();
    c.sink = &sink;
    c.name = kNetwork;
    c.vault = f.vault;
    c.may_poll = [] { return false; };
    c.events.sink = [this](AdapterLogLevel, std::string_view event,
                           const kakehashi::gateway::AdapterLogFields&) {
      log.emplace_back(event);
    };
    c.office_state = [this](kakehashi::gateway::OfficeStateReport r) { states.push_back(r.state); };
    adapter = kw::make_kaigoweb_adapter(f.config, c);
    adapter->start();
    require_until(
        f.io, [&] { return !states.empty(); }, 10s);
  }
  ~OtherInstance() {
    bool drained = false;
    adapter->stop([&] { drained = true; });
    kakehashi::testing::run_until(
        f_.io, [&] { return drained; }, 20s);
  }
  LoginStep begin_login(std::chrono::seconds limit = 20s) {
    std::optional<LoginStep> step;
    adapter->office_logins()->begin_login(kRegional, [&](LoginStep s) { step = std::move(s); });
    require_until(
        f_.io, [&] { return step.has_value(); }, limit);
    return *step;
  }
  LoginStep submit(const std::string& code) {
    std::optional<LoginStep> step;
    adapter->office_logins()->submit_otp(kRegional, code,
                                         [&](LoginStep s) { step = std::move(s); });
    require_until(
        f_.io, [&] { return step.has_value(); }, 20s);
    return *step;
  }
  Fixture& f_;
  Sink sink;
  std::vector<std::string> log, states;
  std::unique_ptr<kakehashi::gateway::Adapter> adapter;
};

BOOST_AUTO_TEST_CASE(otp_hand_off_through_the_vault) {
  start();  // the driver
  OtherInstance other(*this);
  const auto s1 = other.begin_login();
  BOOST_TEST_REQUIRE(s1.state == "awaiting_otp", s1.error + " " + s1.message);
  BOOST_TEST(!s1.otp_delivery.empty());
  BOOST_TEST(!s1.otp_expires_at.empty());
  // The driver carried it out (its log), not the instance the call reached.
  BOOST_TEST(sink_has(log, "login-started"));
  BOOST_TEST(sink_has(log, "login-handoff-taken"));
  BOOST_TEST(std::count(other.log.begin(), other.log.end(), "login-started") == 0);
  BOOST_TEST(std::count(other.log.begin(), other.log.end(), "login-handed-off") == 1);
  const std::string code = otp();  // also reads the challenge id
  const std::string wrong = code == "000000" ? "111111" : "000000";
  // A wrong code's outcome comes back through the vault; the challenge stays open.
  const auto s2 = other.submit(wrong);
  BOOST_TEST(s2.error == "KW1003");
  BOOST_TEST(s2.state == "awaiting_otp");
  const auto s3 = other.submit(code);
  BOOST_TEST_REQUIRE(s3.state == "active", s3.error + " " + s3.message);
  BOOST_TEST(!s3.refresh_expires_at.empty());
  BOOST_TEST(state() == "active");  // on the driver
  const auto calls = auth_log();
  BOOST_TEST(count(calls, "login:OK") == 1u);
  BOOST_TEST(count(calls, "otp:KW1003") == 1u);
  BOOST_TEST(count(calls, "otp:OK") == 1u);
  // What stays in the vault is the outcome: no OTP, no challenge id, no token.
  const auto rec = vault->record(kw::login_key(kNetwork, kRegional));
  BOOST_TEST_REQUIRE(rec.has_value());
  BOOST_TEST(rec->value.find(code) == std::string::npos);
  BOOST_TEST(rec->value.find(challenge) == std::string::npos);
  const auto session =
      kw::read_session_record(vault->record(kw::session_key(kNetwork, kRegional))->value);
  BOOST_TEST(rec->value.find(session->access_token) == std::string::npos);
  BOOST_TEST(kw::read_login_handoff(rec->value)->state == "done");
  // The instance the call reached adopted the session for its sends.
  std::optional<SendResult> sent;
  other.adapter->send(outbound(make_unit(92, kRegional, kNational), "handoff-1"),
                      [&](SendResult x) { sent = std::move(x); });
  require_until(
      io, [&] { return sent.has_value(); }, 15s);
  BOOST_TEST((sent->status == SendResult::Status::kAccepted), sent->error_code + sent->message);
}

BOOST_AUTO_TEST_CASE(a_stale_hand_off_request_is_ignored) {
  kw::LoginHandoff stale;
  stale.request = "stale-1";
  stale.op = "begin";
  stale.state = "requested";
  stale.expires_at = kw::format_utc_ms(std::chrono::system_clock::now() - 1s);
  vault->seed(kw::login_key(kNetwork, kRegional), kw::write_login_handoff(stale));
  start();
  require_until(
      io,
      [&] {
        const auto r = vault->record(kw::login_key(kNetwork, kRegional));
        return r && kw::read_login_handoff(r->value)->state == "expired" &&
               sink_has(log, "login-handoff-expired");
      },
      10s);
  BOOST_TEST(count(auth_log(), "login:OK") == 0u);
  BOOST_TEST(state() == "login_required");
}

BOOST_AUTO_TEST_CASE(no_driver_answers_pending_after_fifteen_seconds) {
  // Only an instance without the lease: nobody takes the step.
  OtherInstance other(*this);
  const auto started = std::chrono::steady_clock::now();
  const auto s = other.begin_login(25s);
  BOOST_TEST(s.state == "pending");
  BOOST_TEST((std::chrono::steady_clock::now() - started >= 14s));
  const auto rec = vault->record(kw::login_key(kNetwork, kRegional));
  BOOST_TEST_REQUIRE(rec.has_value());
  BOOST_TEST(kw::read_login_handoff(rec->value)->state == "requested");
  BOOST_TEST(auth_log().empty());
}

BOOST_AUTO_TEST_CASE(no_secret_is_ever_logged) {
  BOOST_TEST(admin("POST", "/admin/v1/settings", R"({"access_ttl":2})").status == 200);
  start();
  const auto s1 = begin_login();
  BOOST_TEST_REQUIRE(s1.state == "awaiting_otp");
  const std::string code = otp();
  BOOST_TEST_REQUIRE(submit(code).state == "active");
  const auto rec =
      kw::read_session_record(vault->record(kw::session_key(kNetwork, kRegional))->value);
  std::vector<std::string> secrets = {
      password, code, challenge, rec->access_token, rec->refresh_token, s1.otp_destination_hint};
  // A send, a refresh, a receive.
  BOOST_TEST((send(outbound(make_unit(60, kRegional, kNational), "sec-1")).status ==
              SendResult::Status::kAccepted));
  kakehashi::testing::run_until(
      io, [] { return false; }, 2500ms);
  BOOST_TEST((send(outbound(make_unit(61, kRegional, kNational), "sec-2")).status ==
              SendResult::Status::kAccepted));
  const auto rec2 =
      kw::read_session_record(vault->record(kw::session_key(kNetwork, kRegional))->value);
  secrets.push_back(rec2->access_token);
  BOOST_TEST(count(auth_log(), "refresh:OK") >= 1u);
  std::lock_guard lock(log_mutex);
  BOOST_TEST(!log.empty());
  for (const auto& line : log) {
    for (const auto& secret : secrets) {
      if (secret.empty()) continue;
      BOOST_TEST(line.find(secret) == std::string::npos, "a secret in: " << line);
    }
  }
}

BOOST_AUTO_TEST_SUITE_END()
