// The Kaigo WEB stand-in over real TLS on loopback (PROTOCOL.md §1-§5, §9), with a PKI made by
// deploy/pki.sh in a temporary directory: handshake refusals, the login with the OTP, tokens,
// lockout, sends, feeds, fetch, ack, business errors, the drop and reset faults, a restart, and
// no secret in the logs.
#define BOOST_TEST_DYN_LINK
#define BOOST_TEST_MODULE kaigoweb_standin
#include <boost/test/unit_test.hpp>

#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <openssl/ssl.h>
#include <rapidjson/document.h>

#include "mapping/careplan/file_name.hpp"
#include "mapping/standard5/translate.hpp"
#include "tests/careplan_gen/generator.hpp"
#include "tests/peers/kaigoweb/kaigoweb_standin.hpp"
#include "tests/peers/kaigoweb/office_client.hpp"
#include "tests/peers/kaigoweb/wire.hpp"

namespace fs = std::filesystem;
namespace kw = kakehashi::standin::kaigoweb;
namespace s5 = kakehashi::mapping::standard5;
namespace net = boost::asio;

namespace {

const std::string kRegional = "3271500013";  // an office the gateway acts for
const std::string kNational = "1370100016";  // a national office (the recipient)
const std::string kClosed = "1370100024";    // listed; the test closes it

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
  std::string kw(const std::string& rel) const { return dir() + "/kaigoweb/" + rel; }
};

const Pki& pki() {
  static Pki p;
  return p;
}

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

rapidjson::Document parse(const std::string& body) {
  rapidjson::Document d;
  d.Parse(body.data(), body.size());
  return d;
}

// The stand-in on its own thread; state in a per-test folder that outlives restarts.
struct Fixture {
  Fixture() {
    static int counter = 0;
    dir = pki().root / ("case-" + std::to_string(counter++));
    fs::create_directories(dir);
    start();
  }
  void start(std::uint16_t port = 0) {
    auto o = kw::options_from_pki(pki().dir(), (dir / "state.sqlite").string());
    standin = std::make_unique<kw::StandinThread>(o, port);
    standin->standin().load_accounts_file(pki().kw("accounts"));
    standin->standin().load_offices_file(pki().kw("offices.json"));
  }
  kw::OfficeClient client(const std::string& office) const {
    return kw::OfficeClient(
        kw::office_options_from_pki(pki().dir(), office, standin->port(), (dir / "otp").string()));
  }
  std::uint16_t port() const { return standin->port(); }

  fs::path dir;
  std::unique_ptr<kw::StandinThread> standin;
};

// A TLS connection with `cert` (none when empty), TLS 1.2 at most when `tls12`: what went wrong
// ("" when a request was answered).
std::string tls_failure(std::uint16_t port, const std::string& cert, const std::string& key,
                        bool tls12) {
  net::io_context io;
  net::ssl::context ctx(net::ssl::context::tls_client);
  ctx.load_verify_file(pki().kw("ca.pem"));
  ctx.set_verify_mode(net::ssl::verify_peer);
  if (!cert.empty()) {
    ctx.use_certificate_chain_file(cert);
    ctx.use_private_key_file(key, net::ssl::context::pem);
  }
  if (tls12) SSL_CTX_set_max_proto_version(ctx.native_handle(), TLS1_2_VERSION);
  net::ssl::stream<net::ip::tcp::socket> s(io, ctx);
  s.lowest_layer().connect({net::ip::make_address("127.0.0.1"), port});
  boost::system::error_code ec;
  s.handshake(net::ssl::stream_base::client, ec);
  if (ec) return ec.message();
  const std::string req = "GET /kaigo/careplan/v1/offices HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";
  net::write(s, net::buffer(req), ec);
  if (ec) return ec.message();
  char buf[64];
  s.read_some(net::buffer(buf), ec);
  return ec ? ec.message() : "";
}

// A valid K2 unit from the regional office to the national one, for this month, as §5.1's body.
struct Unit {
  std::string body, document, kind, month, recipient, recipient_type, reference;
};

std::string this_month() {
  const int m = kw::current_month_jst(kw::now_ms());
  const int mm = m % 12 + 1;
  return std::to_string(m / 12) + (mm < 10 ? "0" : "") + std::to_string(mm);
}

Unit make_unit(const std::string& reference, std::uint64_t seed = 7,
               const std::string& recipient = kNational) {
  kakehashi::testing::UnitGenerator gen(seed);
  kakehashi::testing::UnitParams params;
  params.service_month = this_month();
  params.users = 1;
  auto g = gen.make("K2", params);
  const auto name = kakehashi::mapping::parse_file_name(g.files.front().name);
  const std::string gfrom = name.name->from.office_no;
  const std::string gto = name.name->to.office_no;
  const std::string to = recipient.empty() ? gto : recipient;  // "": the generator's (unlisted)
  Unit u;
  u.recipient_type = name.name->to.service_type;
  std::vector<s5::UnitFile> files;
  std::vector<std::string> bytes;
  for (auto& f : g.files) {
    f.name = kakehashi::testing::readdress(f.name, gfrom, kRegional, gto, to);
    f.bytes = kakehashi::testing::readdress(f.bytes, gfrom, kRegional, gto, to);
  }
  for (const auto& f : g.files) files.push_back({f.name, f.bytes});
  const auto v5 = s5::to_v5(files);
  BOOST_TEST_REQUIRE(v5.ok());
  u.document = v5.document.json;
  u.kind = "K2";
  u.month = params.service_month;
  u.reference = reference;
  u.recipient = to;
  u.body = kw::send_body(reference, to, u.recipient_type, u.kind, u.month, u.document);
  return u;
}

std::size_t deliveries(kw::OfficeClient& c, const std::string& reference) {
  const auto a = c.admin("GET", "/admin/v1/deliveries?sender_reference=" + reference);
  BOOST_TEST_REQUIRE(a.ok(), a.body);
  return parse(a.body)["data"]["deliveries"].Size();
}

kw::OfficeClient logged_in(const Fixture& f, const std::string& office) {
  auto c = f.client(office);
  const auto a = c.login();
  BOOST_TEST_REQUIRE(a.ok(), a.body + a.code);
  return c;
}

}  // namespace

BOOST_FIXTURE_TEST_CASE(tls_1_2_is_refused_in_the_handshake, Fixture) {
  const auto before = standin->standin().requests_read();
  const std::string why = tls_failure(port(), pki().kw("offices/" + kRegional + ".cert.pem"),
                                      pki().kw("offices/" + kRegional + ".key.pem"), true);
  BOOST_TEST(why.find("protocol version") != std::string::npos, why);
  BOOST_TEST(standin->standin().requests_read() == before);
  // The same certificate over TLS 1.3 is answered.
  BOOST_TEST(tls_failure(port(), pki().kw("offices/" + kRegional + ".cert.pem"),
                         pki().kw("offices/" + kRegional + ".key.pem"), false) == "");
}

BOOST_FIXTURE_TEST_CASE(bad_client_certificates_are_refused_in_the_handshake, Fixture) {
  const auto before = standin->standin().requests_read();
  const std::pair<std::string, std::string> cases[] = {
      {"", "certificate required"},
      {"cases/other-ca", "unknown ca"},
      {"cases/expired", "certificate expired"},
      {"cases/not-yet-valid", "bad certificate"},
      {"cases/no-clientauth", "unsupported certificate"}};
  for (const auto& [file, alert] : cases) {
    const std::string why = file.empty() ? tls_failure(port(), "", "", false)
                                         : tls_failure(port(), pki().kw(file + ".cert.pem"),
                                                       pki().kw(file + ".key.pem"), false);
    BOOST_TEST(why.find(alert) != std::string::npos, file << ": " << why);
  }
  BOOST_TEST(standin->standin().requests_read() == before);  // no HTTP call got through
}

BOOST_FIXTURE_TEST_CASE(login_with_the_otp_from_the_file_and_from_the_admin_call, Fixture) {
  auto c = client(kRegional);
  const auto step1 = c.begin_login();
  BOOST_TEST_REQUIRE(step1.ok(), step1.body);
  BOOST_TEST(step1.header("cache-control") != nullptr);
  const std::string file =
      read_file((dir / "otp" / (kRegional + ".kk-gw-" + kRegional + ".otp")).string());
  std::istringstream fields(file);
  std::string otp, challenge;
  fields >> otp >> challenge;
  BOOST_TEST(otp.size() == 6u);
  BOOST_TEST(challenge == step1.data("challenge_id"));
  const auto mode =
      fs::status(dir / "otp" / (kRegional + ".kk-gw-" + kRegional + ".otp")).permissions();
  BOOST_TEST(((mode & (fs::perms::group_all | fs::perms::others_all)) == fs::perms::none));
  const auto admin = c.admin("GET", "/admin/v1/otp?office_no=" + kRegional);
  BOOST_TEST_REQUIRE(admin.ok(), admin.body);
  BOOST_TEST(admin.data("otp") == otp);
  BOOST_TEST(admin.data("challenge_id") == challenge);

  const auto step2 = c.submit_otp(challenge, otp);
  BOOST_TEST_REQUIRE(step2.ok(), step2.body);
  BOOST_TEST(!c.access_token().empty());
  BOOST_TEST(!c.refresh_token().empty());
  BOOST_TEST(c.sent().ok());
  // The OTP is consumed: the file is gone and the challenge answers KW1004.
  BOOST_TEST(!fs::exists(dir / "otp" / (kRegional + ".kk-gw-" + kRegional + ".otp")));
  BOOST_TEST(c.submit_otp(challenge, otp).code == "KW1004");

  const auto log = c.admin("GET", "/admin/v1/auth-log?office_no=" + kRegional);
  const auto d = parse(log.body);
  const auto& events = d["data"]["events"];
  BOOST_TEST_REQUIRE(events.Size() >= 2u);
  BOOST_TEST(std::string(events[0]["call"].GetString()) == "login");
  BOOST_TEST(std::string(events[0]["outcome"].GetString()) == "OK");
  BOOST_TEST(std::string(events[1]["call"].GetString()) == "otp");
  BOOST_TEST(std::string(events[1]["outcome"].GetString()) == "OK");
}

BOOST_FIXTURE_TEST_CASE(tokens_expire_refresh_and_are_bound_to_the_certificate, Fixture) {
  auto c = logged_in(*this, kRegional);
  BOOST_TEST(c.sent().ok());
  // Expired by the admin call: S4013; a refresh gives a working token.
  BOOST_TEST(c.admin("POST", "/admin/v1/sessions/expire",
                     R"({"office_no":")" + kRegional + R"(","which":"access"})")
                 .ok());
  const auto expired = c.sent();
  BOOST_TEST(expired.status == 401);
  BOOST_TEST(expired.code == "S4013");
  BOOST_TEST(c.refresh().ok());
  BOOST_TEST(c.sent().ok());
  // Expiry through the settings: tokens made with access_ttl 0 are expired at once.
  BOOST_TEST(c.admin("POST", "/admin/v1/settings", R"({"access_ttl":0})").ok());
  BOOST_TEST(c.refresh().ok());
  BOOST_TEST(c.sent().code == "S4013");
  BOOST_TEST(c.admin("POST", "/admin/v1/settings", R"({"access_ttl":3600,"refresh_ttl":0})").ok());
  BOOST_TEST(c.refresh().ok());  // the session's refresh token was made with 8 hours
  BOOST_TEST(c.sent().ok());
  BOOST_TEST(c.admin("POST", "/admin/v1/sessions/expire", R"({"which":"refresh"})").ok());
  BOOST_TEST(c.refresh().code == "KW1006");
  BOOST_TEST(c.admin("POST", "/admin/v1/settings", R"({"refresh_ttl":28800})").ok());
  // Another office's certificate with this token: S4031.
  auto other = client("3271500021");
  other.set_access_token(c.access_token());
  const auto bound = other.sent();
  BOOST_TEST(bound.status == 403);
  BOOST_TEST(bound.code == "S4031");
  // Revoked (a login elsewhere): S4012; no token: S4011; logout: S4012.
  BOOST_TEST(c.admin("POST", "/admin/v1/sessions/revoke", "{}").ok());
  BOOST_TEST(c.sent().code == "S4012");
  auto fresh = logged_in(*this, kRegional);
  BOOST_TEST(fresh.logout().ok());
  BOOST_TEST(fresh.sent().code == "S4012");
  fresh.set_access_token("");
  BOOST_TEST(fresh.sent().code == "S4011");
}

BOOST_FIXTURE_TEST_CASE(lockout_after_n_failures_and_its_reset, Fixture) {
  BOOST_TEST(client(kRegional).admin("POST", "/admin/v1/settings", R"({"lockout_after":3})").ok());
  auto opts = kw::office_options_from_pki(pki().dir(), kRegional, port(), (dir / "otp").string());
  const std::string good = opts.password;
  opts.password = "wrong-password";
  kw::OfficeClient bad(opts);
  BOOST_TEST(bad.begin_login().code == "KW1001");
  BOOST_TEST(bad.begin_login().code == "KW1001");
  // A wrong OTP counts too: the third failure locks.
  auto c = client(kRegional);
  const auto step1 = c.begin_login();
  BOOST_TEST_REQUIRE(step1.ok());
  BOOST_TEST(c.submit_otp(step1.data("challenge_id"), "000000x").code == "KW1003");
  const auto locked = c.begin_login();
  BOOST_TEST(locked.code == "KW1002");
  BOOST_TEST(locked.body.find("locked_until") != std::string::npos);
  BOOST_TEST(c.login().code == "KW1002");  // the right password does not help
  BOOST_TEST(
      c.admin("POST", "/admin/v1/lockout/reset", R"({"office_no":")" + kRegional + R"("})").ok());
  BOOST_TEST(c.login().ok());
  (void)good;
}

BOOST_FIXTURE_TEST_CASE(a_send_is_stored_listed_fetched_and_acknowledged, Fixture) {
  auto sender = logged_in(*this, kRegional);
  auto recipient = logged_in(*this, kNational);
  const Unit u = make_unit("kk1-send-1");
  const auto sent = sender.send(u.body);
  BOOST_TEST_REQUIRE(sent.ok(), sent.body);
  const std::string id = sent.data("item_id");
  BOOST_TEST(id.size() == 18u);
  BOOST_TEST(sent.data("status") == "accepted");

  // The sender's feed: accepted, then delivered (no delivery delay).
  auto feed = parse(sender.sent().body);
  const auto& items = feed["data"]["items"];
  BOOST_TEST_REQUIRE(items.Size() == 2u);
  BOOST_TEST(std::string(items[0]["status"].GetString()) == "accepted");
  BOOST_TEST(std::string(items[1]["status"].GetString()) == "delivered");
  BOOST_TEST(std::string(items[1]["sender_reference"].GetString()) == "kk1-send-1");
  const std::string cursor = feed["data"]["next_cursor"].GetString();
  BOOST_TEST(parse(sender.sent(cursor).body)["data"]["items"].Size() == 0u);

  // The recipient's list and fetch.
  const auto list = parse(recipient.received().body);
  BOOST_TEST_REQUIRE(list["data"]["items"].Size() == 1u);
  BOOST_TEST(std::string(list["data"]["items"][0]["item_id"].GetString()) == id);
  // The size in bytes of the UTF-8 document (not its count of characters).
  BOOST_TEST(list["data"]["items"][0]["document_bytes"].GetInt64() ==
             static_cast<std::int64_t>(u.document.size()));
  const auto fetched = recipient.fetch(id);
  BOOST_TEST_REQUIRE(fetched.ok(), fetched.body);
  const auto doc = parse(fetched.body);
  rapidjson::StringBuffer b;
  kw::JsonWriter w(b);
  doc["data"]["document"].Accept(w);
  BOOST_TEST(std::string(b.GetString()) == u.document);
  // Not the recipient: S4032.
  BOOST_TEST(sender.fetch(id).code == "S4032");

  // The ack moves the sender's status; the same ack again is the same answer, another is KW2401.
  BOOST_TEST(recipient.ack(id, "downloaded").ok());
  BOOST_TEST(recipient.ack(id, "downloaded").ok());
  BOOST_TEST(recipient.ack(id, "rejected", "wrong").code == "KW2401");
  const auto after = parse(sender.sent(cursor).body);
  BOOST_TEST_REQUIRE(after["data"]["items"].Size() == 1u);
  BOOST_TEST(std::string(after["data"]["items"][0]["status"].GetString()) == "downloaded");

  const auto del =
      parse(sender.admin("GET", "/admin/v1/deliveries?sender_reference=kk1-send-1").body);
  const auto& entry = del["data"]["deliveries"][0];
  BOOST_TEST(entry["fetches"].GetInt64() == 1);
  BOOST_TEST(entry["acks"].GetInt64() == 3);
  BOOST_TEST(std::string(entry["status"].GetString()) == "downloaded");
}

BOOST_FIXTURE_TEST_CASE(business_errors_come_in_http_200_and_store_nothing, Fixture) {
  auto sender = logged_in(*this, kRegional);
  // A closed recipient: KW2103; one without the service type: KW2102.
  const Unit to_closed = make_unit("kk1-closed", 7, kClosed);
  BOOST_TEST(sender
                 .admin("PUT", "/admin/v1/offices",
                        R"({"offices":[{"office_no":")" + kClosed + R"(","service_types":[")" +
                            to_closed.recipient_type + R"("],"status":"CLOSED"}]})")
                 .ok());
  const auto closed = sender.send(to_closed.body);
  BOOST_TEST(closed.status == 200);
  BOOST_TEST(closed.code == "KW2103");
  BOOST_TEST(sender
                 .admin("PUT", "/admin/v1/offices",
                        R"({"offices":[{"office_no":")" + kClosed +
                            R"(","service_types":["ZZ"],"status":"ACTIVE"}]})")
                 .ok());
  BOOST_TEST(sender.send(to_closed.body).code == "KW2102");
  // A recipient not in the office list: KW2101 naming the field.
  const auto unknown = sender.send(make_unit("kk1-unknown", 7, "").body);
  BOOST_TEST(unknown.status == 200);
  BOOST_TEST(unknown.result == "NG");
  BOOST_TEST(unknown.code == "KW2101");
  BOOST_TEST(unknown.body.find("/recipient/office_no") != std::string::npos);
  // Another kind than the forms make: KW2202.
  Unit u = make_unit("kk1-kind");
  const auto kind = sender.send(
      kw::send_body(u.reference, kNational, u.recipient_type, "K1", u.month, u.document));
  BOOST_TEST(kind.code == "KW2202");
  // A private-use character in the document: KW2003 at its path.
  std::string doc = u.document;
  const auto at = doc.find("\"ファイル連番\"");
  BOOST_TEST_REQUIRE(at != std::string::npos);
  doc.insert(1, "\"\xEE\x80\x80\":\"x\",");  // U+E000 as a key
  const auto pua =
      sender.send(kw::send_body(u.reference, kNational, u.recipient_type, u.kind, u.month, doc));
  BOOST_TEST(pua.code == "KW2003");
  // The injected business error.
  BOOST_TEST(
      sender.admin("POST", "/admin/v1/faults", R"({"business_error":"KW9001","count":1})").ok());
  const auto busy = sender.send(u.body);
  BOOST_TEST(busy.status == 200);
  BOOST_TEST(busy.code == "KW9001");
  BOOST_TEST(busy.body.find("retry_after") != std::string::npos);
  for (const char* ref : {"kk1-closed", "kk1-unknown", "kk1-kind"}) {
    BOOST_TEST(deliveries(sender, ref) == 0u, ref);
  }
  // The next send goes through.
  BOOST_TEST(sender.send(u.body).ok());
  BOOST_TEST(deliveries(sender, "kk1-kind") == 1u);
}

BOOST_FIXTURE_TEST_CASE(drop_stores_then_cuts_the_answer, Fixture) {
  auto sender = logged_in(*this, kRegional);
  BOOST_TEST(sender
                 .admin("POST", "/admin/v1/faults",
                        R"({"drop":1,"only":"POST /kaigo/careplan/v1/sent-items"})")
                 .ok());
  BOOST_TEST(sender.sent().ok());  // another call: not cut
  const auto cut = sender.send(make_unit("kk1-drop").body);
  BOOST_TEST(cut.ec.failed());
  BOOST_TEST(deliveries(sender, "kk1-drop") == 1u);  // stored before the answer was cut
}

BOOST_FIXTURE_TEST_CASE(reset_before_stores_nothing, Fixture) {
  auto sender = logged_in(*this, kRegional);
  BOOST_TEST(sender
                 .admin("POST", "/admin/v1/faults",
                        R"({"reset_before":1,"only":"POST /kaigo/careplan/v1/sent-items"})")
                 .ok());
  // On a new connection: the shared HTTPS client retries a request that fails on a reused one.
  auto fresh = client(kRegional);
  fresh.set_access_token(sender.access_token());
  const auto reset = fresh.send(make_unit("kk1-reset").body);
  BOOST_TEST(reset.ec.failed());
  BOOST_TEST(deliveries(sender, "kk1-reset") == 0u);
  BOOST_TEST(sender.send(make_unit("kk1-reset").body).ok());
  BOOST_TEST(deliveries(sender, "kk1-reset") == 1u);
}

BOOST_FIXTURE_TEST_CASE(state_survives_a_restart, Fixture) {
  std::string access, id;
  {
    auto sender = logged_in(*this, kRegional);
    const auto sent = sender.send(make_unit("kk1-restart").body);
    BOOST_TEST_REQUIRE(sent.ok());
    id = sent.data("item_id");
    access = sender.access_token();
  }
  const std::uint16_t old_port = port();
  standin->stop();
  standin.reset();
  start(old_port);
  auto again = client(kRegional);
  again.set_access_token(access);  // the session survived
  const auto one = again.call("GET", "/kaigo/careplan/v1/sent-items/" + id);
  BOOST_TEST(one.ok(), one.body);
  BOOST_TEST(one.data("status") == "delivered");
  auto recipient = logged_in(*this, kNational);
  BOOST_TEST(parse(recipient.received().body)["data"]["items"].Size() == 1u);
  BOOST_TEST(deliveries(again, "kk1-restart") == 1u);
}

BOOST_FIXTURE_TEST_CASE(the_delivery_and_auth_logs_hold_no_secret, Fixture) {
  auto c = client(kRegional);
  const auto step1 = c.begin_login();
  BOOST_TEST_REQUIRE(step1.ok());
  const auto otp = c.admin("GET", "/admin/v1/otp?office_no=" + kRegional);
  const std::string code = otp.data("otp"), challenge = otp.data("challenge_id");
  BOOST_TEST_REQUIRE(c.submit_otp(challenge, code).ok());
  BOOST_TEST(c.refresh().ok());
  BOOST_TEST(c.send(make_unit("kk1-secret").body).ok());
  const auto opts =
      kw::office_options_from_pki(pki().dir(), kRegional, port(), (dir / "otp").string());
  const std::string logs =
      c.admin("GET", "/admin/v1/auth-log").body + c.admin("GET", "/admin/v1/deliveries").body;
  BOOST_TEST(logs.find("kk1-secret") != std::string::npos);  // the logs were read
  for (const std::string& secret :
       {opts.password, code, challenge, c.access_token(), c.refresh_token()}) {
    BOOST_TEST_REQUIRE(!secret.empty());
    BOOST_TEST(logs.find(secret) == std::string::npos);
  }
  // Nor is any secret in the state file in the clear, except the open OTP (none now).
  const std::string state =
      read_file((dir / "state.sqlite").string()) + read_file((dir / "state.sqlite-wal").string());
  for (const std::string& secret : {opts.password, c.access_token(), c.refresh_token()}) {
    BOOST_TEST(state.find(secret) == std::string::npos);
  }
}

BOOST_FIXTURE_TEST_CASE(the_office_client_sends_a_4_1_unit_and_acknowledges, Fixture) {
  // A national office's K2 plan to a regional office, as 4.1 files in a folder.
  kakehashi::testing::UnitGenerator gen(17);
  kakehashi::testing::UnitParams params;
  params.service_month = this_month();
  params.users = 1;
  const auto g = gen.make("K2", params);
  const auto name = kakehashi::mapping::parse_file_name(g.files.front().name);
  const fs::path unit = dir / "unit";
  fs::create_directories(unit);
  for (const auto& f : g.files) {
    const auto readdress = [&](const std::string& s) {
      return kakehashi::testing::readdress(s, name.name->from.office_no, kNational,
                                           name.name->to.office_no, kRegional);
    };
    std::ofstream(unit / readdress(f.name), std::ios::binary) << readdress(f.bytes);
  }
  const std::string office = std::string(KAKEHASHI_OFFICE_BIN) + " --pki '" + pki().dir() +
                             "' --port " + std::to_string(port()) + " --office " + kNational +
                             " --otp-dir '" + (dir / "otp").string() + "' ";
  const std::string out = (dir / "office.out").string();
  BOOST_TEST_REQUIRE(
      std::system((office + "send '" + unit.string() + "' --reference nat-1 >" + out).c_str()) ==
      0);
  const auto sent = parse(read_file(out));
  BOOST_TEST_REQUIRE(sent.IsObject());
  const std::string id = sent["data"]["item_id"].GetString();
  auto regional = logged_in(*this, kRegional);
  const auto list = parse(regional.received().body);
  BOOST_TEST_REQUIRE(list["data"]["items"].Size() == 1u);
  BOOST_TEST(std::string(list["data"]["items"][0]["item_id"].GetString()) == id);
  BOOST_TEST(regional.ack(id, "downloaded").ok());
  BOOST_TEST_REQUIRE(std::system((office + "sent >" + out).c_str()) == 0);
  BOOST_TEST(read_file(out).find("\"downloaded\"") != std::string::npos);
  // Refused: the sender cannot acknowledge its own sent item (403 S4032).
  BOOST_TEST(std::system((office + "ack " + id + " downloaded >" + out).c_str()) != 0);
}

namespace {

// One TLS 1.3 connection of an office, kept open; requests on it answer the raw HTTP text.
struct RawConnection {
  RawConnection(std::uint16_t port, const std::string& office)
      : ctx(context_of(office)), stream(io, ctx) {
    stream.lowest_layer().connect({net::ip::make_address("127.0.0.1"), port});
    stream.handshake(net::ssl::stream_base::client);
  }
  static net::ssl::context context_of(const std::string& office) {
    net::ssl::context ctx(net::ssl::context::tls_client);
    ctx.load_verify_file(pki().kw("ca.pem"));
    ctx.use_certificate_chain_file(pki().kw("offices/" + office + ".cert.pem"));
    ctx.use_private_key_file(pki().kw("offices/" + office + ".key.pem"), net::ssl::context::pem);
    return ctx;
  }
  // The answer's head and body as text ("" when the connection failed first).
  std::string get(const std::string& target) {
    const std::string req = "GET " + target + " HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";
    boost::system::error_code ec;
    net::write(stream, net::buffer(req), ec);
    if (ec) return "";
    boost::beast::flat_buffer buffer;
    boost::beast::http::response<boost::beast::http::string_body> res;
    boost::beast::http::read(stream, buffer, res, ec);
    if (ec) return "";
    std::ostringstream out;
    out << res;
    return out.str();
  }
  net::io_context io;
  net::ssl::context ctx;
  net::ssl::stream<net::ip::tcp::socket> stream;
};

}  // namespace

BOOST_FIXTURE_TEST_CASE(rate_limits_answer_429_with_retry_after, Fixture) {
  auto c = logged_in(*this, kRegional);
  BOOST_TEST(c.admin("POST", "/admin/v1/settings", R"({"rate_per_office":0,"rate_burst":2})").ok());
  BOOST_TEST(c.sent().ok());
  BOOST_TEST(c.sent().ok());
  const auto limited = c.sent();
  BOOST_TEST(limited.status == 429);
  BOOST_TEST(limited.code == "S4290");
  BOOST_TEST(limited.header("retry-after") != nullptr);
  // Another office has its own bucket; the login calls have theirs.
  BOOST_TEST(c.admin("POST", "/admin/v1/settings", R"({"auth_rate_per_minute":0})").ok());
  BOOST_TEST(client("3271500021").begin_login().code == "S4290");
}

BOOST_FIXTURE_TEST_CASE(a_request_over_the_connection_cap_is_answered_503_and_closed, Fixture) {
  std::vector<std::unique_ptr<RawConnection>> open;
  for (int i = 0; i < 8; ++i) {
    open.push_back(std::make_unique<RawConnection>(port(), kRegional));
    BOOST_TEST(open.back()->get("/kaigo/careplan/v1/offices").find("S4011") != std::string::npos);
  }
  RawConnection ninth(port(), kRegional);
  const std::string answer = ninth.get("/kaigo/careplan/v1/offices");
  BOOST_TEST(answer.find("503") != std::string::npos, answer);
  BOOST_TEST(answer.find("S5031") != std::string::npos, answer);
  BOOST_TEST(ninth.get("/kaigo/careplan/v1/offices") == "");  // closed after the answer
  RawConnection other(port(), "3271500021");                  // another office is not capped
  BOOST_TEST(other.get("/kaigo/careplan/v1/offices").find("S4011") != std::string::npos);
}

BOOST_FIXTURE_TEST_CASE(garbled_answers_and_system_error_faults, Fixture) {
  auto c = logged_in(*this, kRegional);
  BOOST_TEST(c.admin("POST", "/admin/v1/faults", R"({"malformed":1})").ok());
  const auto malformed = c.sent();
  BOOST_TEST(malformed.status == 200);
  BOOST_TEST(parse(malformed.body).HasParseError());
  BOOST_TEST(c.admin("POST", "/admin/v1/faults", R"({"envelope_garbage":1})").ok());
  const auto garbage = c.sent();
  BOOST_TEST(garbage.status == 200);
  BOOST_TEST(!parse(garbage.body).HasParseError());
  BOOST_TEST(garbage.result == "");
  BOOST_TEST(c.admin("POST", "/admin/v1/faults", R"({"status":500,"count":1})").ok());
  BOOST_TEST(c.sent().code == "S5000");
  BOOST_TEST(c.sent().ok());
  BOOST_TEST(c.admin("POST", "/admin/v1/faults", R"({"maintenance":true,"retry_after":7})").ok());
  const auto maintenance = c.sent();
  BOOST_TEST(maintenance.status == 503);
  BOOST_TEST(maintenance.code == "S5030");
  BOOST_TEST((maintenance.header("retry-after") && *maintenance.header("retry-after") == "7"));
  BOOST_TEST(c.admin("POST", "/admin/v1/faults", R"({"maintenance":false})").ok());
  // delay_ms holds every /kaigo/ answer back (a lower bound only: the machine may be slow).
  BOOST_TEST(c.admin("POST", "/admin/v1/faults", R"({"delay_ms":300})").ok());
  const auto t0 = std::chrono::steady_clock::now();
  BOOST_TEST(c.sent().ok());
  BOOST_TEST((std::chrono::steady_clock::now() - t0 >= std::chrono::milliseconds(300)));
  BOOST_TEST(c.admin("POST", "/admin/v1/faults", R"({"delay_ms":0})").ok());
  BOOST_TEST(c.call("GET", "/kaigo/careplan/v2/offices").code == "S4040");
  BOOST_TEST(c.sent().ok());
}

BOOST_FIXTURE_TEST_CASE(duplicates_rejections_and_the_recipient_side_controls, Fixture) {
  auto sender = logged_in(*this, kRegional);
  BOOST_TEST(
      sender.admin("POST", "/admin/v1/faults", R"({"reject_after_accept":"KW2001","count":1})")
          .ok());
  const auto rejected = sender.send(make_unit("kk1-rej").body);
  BOOST_TEST_REQUIRE(rejected.ok());
  const auto one = sender.call("GET", "/kaigo/careplan/v1/sent-items/" + rejected.data("item_id"));
  BOOST_TEST(one.data("status") == "rejected");
  BOOST_TEST(one.body.find("\"by\":\"service\"") != std::string::npos);
  const auto ok = sender.send(make_unit("kk1-ok").body);
  BOOST_TEST_REQUIRE(ok.ok());
  BOOST_TEST(sender
                 .admin("POST", "/admin/v1/items/" + ok.data("item_id") + "/status",
                        R"({"status":"downloaded"})")
                 .ok());
  BOOST_TEST(
      sender.call("GET", "/kaigo/careplan/v1/sent-items/" + ok.data("item_id")).data("status") ==
      "downloaded");
  // duplicate_listings: the page repeats its first entry at the end.
  BOOST_TEST(sender.admin("POST", "/admin/v1/faults", R"({"duplicate_listings":1})").ok());
  const auto page = parse(sender.sent().body);
  const auto dup = page["data"]["items"].GetArray();
  BOOST_TEST_REQUIRE(dup.Size() >= 2u);
  BOOST_TEST(std::string(dup[0]["cursor"].GetString()) ==
             std::string(dup[dup.Size() - 1]["cursor"].GetString()));
  // An item from a national office's software, for inbound tests.
  const Unit u = make_unit("unused");
  const auto made =
      sender.admin("POST", "/admin/v1/items",
                   R"({"sender":{"office_no":")" + kNational +
                       R"(","service_type":"43"},"recipient":{"office_no":")" + kRegional +
                       R"(","service_type":"43"},"kind":"K2","target_month":")" + u.month +
                       R"(","sender_reference":"nat-x","document":)" + u.document + "}");
  BOOST_TEST_REQUIRE(made.ok(), made.body);
  BOOST_TEST(sender.fetch(made.data("item_id")).ok());
  // A revoked certificate: 403 S4033 on every call.
  BOOST_TEST(
      sender
          .admin("POST", "/admin/v1/certificates/revoke", R"({"office_no":")" + kRegional + R"("})")
          .ok());
  BOOST_TEST(sender.sent().code == "S4033");
}

BOOST_FIXTURE_TEST_CASE(refuse_tls_and_the_body_limit, Fixture) {
  standin->server_faults().refuse_tls = true;
  const std::string why = tls_failure(port(), pki().kw("offices/" + kRegional + ".cert.pem"),
                                      pki().kw("offices/" + kRegional + ".key.pem"), false);
  BOOST_TEST(!why.empty());
  standin->server_faults().refuse_tls = false;

  auto o = kw::options_from_pki(pki().dir(), (dir / "small.sqlite").string());
  o.max_body_bytes = 4096;
  kw::StandinThread small(o);
  small.standin().load_accounts_file(pki().kw("accounts"));
  auto c = kw::OfficeClient(
      kw::office_options_from_pki(pki().dir(), kRegional, small.port(), (dir / "otp").string()));
  BOOST_TEST_REQUIRE(c.login().ok());
  const auto big = c.send(make_unit("kk1-big").body);
  BOOST_TEST(big.status == 400);
  BOOST_TEST(big.code == "S4003");
}
