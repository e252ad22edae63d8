// The regional network over real TLS on loopback: the stand-in (members, signatures, mailboxes,
// receipts, directory, faults, restart), the office client, and the adapter against it.

#define BOOST_TEST_MODULE regional
#include <boost/test/unit_test.hpp>

#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <regex>
#include <set>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <rapidjson/document.h>

#include "adapters/common/http/asio.hpp"
#include "adapters/common/http/https_client.hpp"
#include "adapters/regional/regional_adapter.hpp"
#include "adapters/regional/rhn_wire.hpp"
#include "gateway/pki/key_file.hpp"
#include "gateway/pki/trust_domain_loader.hpp"
#include "mapping/cms/signer.hpp"
#include "mapping/cms/verify.hpp"
#include "tests/adapters/behaviour/behaviour_suite.hpp"
#include "tests/adapters/behaviour/pipeline_sink.hpp"
#include "tests/careplan_gen/generator.hpp"
#include "tests/peers/regional/office_client.hpp"
#include "tests/peers/regional/regional_standin.hpp"

// Printers so Boost.Test can show these values in failure messages.
namespace kakehashi::mapping {
inline std::ostream& boost_test_print_type(std::ostream& o, const OfficeRef& r) {
  return o << r.office_no << "/" << r.service_type;
}
}  // namespace kakehashi::mapping
namespace kakehashi::gateway {
inline std::ostream& boost_test_print_type(std::ostream& o, SendResult::Status s) {
  return o << static_cast<int>(s);
}
}  // namespace kakehashi::gateway

namespace fs = std::filesystem;
namespace asio = boost::asio;
using namespace kakehashi;
using namespace kakehashi::adapters::regional;
using gateway::SendResult;

namespace {

std::string run(const std::string& cmd, int* exit_code = nullptr) {
  std::string out;
  FILE* p = popen((cmd + " 2>&1").c_str(), "r");
  if (p == nullptr) throw std::runtime_error("popen failed");
  char buf[4096];
  std::size_t n = 0;
  while ((n = fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
  const int status = pclose(p);
  if (exit_code != nullptr) *exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return out;
}

// The development PKI (deploy/pki.sh) plus two more member certificates, made once per run.
struct Env {
  fs::path root;
  fs::path pki;
  Env() {
    std::string tmpl = (fs::temp_directory_path() / "kakehashi-regional-XXXXXX").string();
    if (mkdtemp(tmpl.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
    root = tmpl;
    pki = root / "pki";
    int rc = 0;
    const auto out = run(std::string("'") + KAKEHASHI_PKI_SCRIPT + "' '" + pki.string() + "'", &rc);
    if (rc != 0) throw std::runtime_error("deploy/pki.sh failed: " + out);
    for (const char* cn : {"regional-facility-b", "regional-stranger"}) issue_member(cn);
  }
  ~Env() {
    std::error_code ec;
    fs::remove_all(root, ec);
  }
  // A TLS client certificate from the regional CA with the given CN (members are CNs).
  void issue_member(const std::string& cn) {
    const auto base = (pki / "members" / cn).string();
    fs::create_directories(pki / "members");
    const auto ca = pki / "ca" / "regional-ca";
    int rc = 0;
    const auto out =
        run("set -e; cd '" + (pki / "members").string() + "'; umask 077; " +
                "openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out '" + base +
                ".key.pem' 2>/dev/null; openssl req -new -key '" + base +
                ".key.pem' -subj '/C=JP/O=Regional Care Network (dev)/CN=" + cn + "' -out '" +
                base + ".csr'; openssl x509 -req -in '" + base + ".csr' -CA '" +
                (ca / "cert.pem").string() + "' -CAkey '" + (ca / "key.pem").string() +
                "' -CAcreateserial -CAserial members.srl -days 30 -extfile '" +
                (pki / "ca" / "extensions.cnf").string() + "' -extensions tls_client -out '" +
                base + ".cert.pem' 2>/dev/null",
            &rc);
    if (rc != 0) throw std::runtime_error("cannot issue member certificate: " + out);
  }
};

Env& env() {
  static Env e;
  return e;
}

constexpr const char* kSeed = R"({
  "members": [
    {"cn": "regional-standin-client", "facility_id": "F-A"},
    {"cn": "regional-facility-b", "facility_id": "F-B"},
    {"cn": "kakehashi-gateway-regional-client", "facility_id": "KAKEHASHI-GW", "gateway": true}
  ],
  "facilities": [
    {"facility_id": "F-A", "name": "Matsue care", "kana": "マツエ", "prefecture": "32", "offices": [
      {"office_no": "3271500013", "service_type": "43", "name": "A care managers", "status": "ACTIVE"},
      {"office_no": "3271500021", "service_type": "11", "name": "A home help", "status": "ACTIVE"}]},
    {"facility_id": "F-B", "name": "Izumo care", "prefecture": "32", "offices": [
      {"office_no": "3271500039", "service_type": "43", "name": "B care managers", "status": "ACTIVE"},
      {"office_no": "3271500047", "service_type": "11", "name": "B home help", "status": "ACTIVE"},
      {"office_no": "3271500054", "service_type": "13", "name": "B nursing", "status": "SUSPENDED"}]}
  ]})";

const mapping::OfficeRef kA43{"3271500013", "43"};
const mapping::OfficeRef kA11{"3271500021", "11"};
const mapping::OfficeRef kB43{"3271500039", "43"};
const mapping::OfficeRef kB11{"3271500047", "11"};
const mapping::OfficeRef kB13{"3271500054", "13"};
const mapping::OfficeRef kNational11{"1371100452", "11"};
const mapping::OfficeRef kNational43{"1370100016", "43"};

// A stand-in with a fresh state file (or a given one, to test restarts).
struct Standin {
  fs::path state;
  std::unique_ptr<standin::RegionalStandin> server;
  std::uint16_t port = 0;

  explicit Standin(const std::string& name, std::size_t max_message_bytes = 64u << 20) {
    state = env().root / (name + ".sqlite");
    fs::remove(state);
    open(max_message_bytes);
  }
  void open(std::size_t max_message_bytes = 64u << 20, std::uint16_t at_port = 0) {
    const auto seed = env().root / "seed.json";
    std::ofstream(seed) << kSeed;
    standin::StandinOptions o;
    o.pki_dir = env().pki;
    o.state_file = state;
    o.seed_directory = seed;
    o.max_message_bytes = max_message_bytes;
    o.port = at_port;
    server = std::make_unique<standin::RegionalStandin>(o);
    port = server->start();
  }
  // Stops (every connection closed) and serves the same state again, on the same port if asked.
  void restart(bool same_port = false) {
    const auto old_port = port;
    server->stop();
    server.reset();
    open(64u << 20, same_port ? old_port : 0);
  }
};

adapters::http::TlsConfig member_tls(const std::string& who) {
  adapters::http::TlsConfig t;
  t.ca_file = (env().pki / "tls/regional-ca.pem").string();
  fs::path base;
  if (who == "A") base = env().pki / "tls/regional-standin-client";
  if (who == "B") base = env().pki / "members/regional-facility-b";
  if (who == "stranger") base = env().pki / "members/regional-stranger";
  if (who == "gateway") base = env().pki / "tls/gateway-regional-client-ec";
  if (who == "national") base = env().pki / "tls/national-standin-client";
  t.cert_file = base.string() + ".cert.pem";
  t.key_file = base.string() + ".key.pem";
  return t;
}

std::unique_ptr<office::OfficeClient> client(const Standin& s, const std::string& who) {
  office::OfficeClientOptions o;
  o.port = s.port;
  o.tls = member_tls(who);
  o.timeout = std::chrono::milliseconds(10000);
  return std::make_unique<office::OfficeClient>(o);
}

mapping::cms::Credential office_key(const std::string& network, const std::string& office_no) {
  const auto base = env().pki / "offices" / network / office_no;
  return gateway::pki::load_credential(base.string() + ".cert.pem", base.string() + ".key.pem");
}

// A generated K2 unit whose file names are re-addressed from `from` to `to`.
std::vector<office::OfficeFile> unit_files(std::uint64_t seed, const mapping::OfficeRef& from,
                                           const mapping::OfficeRef& to) {
  testing::UnitGenerator gen(seed);
  auto unit = gen.make("K2");
  std::vector<office::OfficeFile> out;
  for (auto& f : unit.files) {
    auto parsed = mapping::parse_file_name(f.name);
    if (!parsed.name) throw std::runtime_error("generator name does not parse: " + f.name);
    parsed.name->from = from;
    parsed.name->to = to;
    out.push_back({parsed.name->build(), f.bytes});
  }
  return out;
}

RhnMessage message_from_a(const std::string& id, const mapping::OfficeRef& to,
                          std::uint64_t seed = 1) {
  return office::build_message(id, {"F-A", kA43}, to, unit_files(seed, kA43, to),
                               office_key("regional", kA43.office_no), "plan 2025-05", "cover");
}

std::string error_code(const adapters::http::Response& r) {
  return r.status >= 200 && r.status < 300 ? "" : decode_error(r.status, r.body).code;
}

// Sink recording what the adapter hands over; accepts unless told otherwise.
struct RecordingSink : gateway::AdapterSink {
  std::vector<gateway::InboundUnit> units;
  std::vector<gateway::InboundReceipt> receipts;
  bool accept = true;
  void on_unit(gateway::InboundUnit unit, std::function<void(bool)> done) override {
    units.push_back(std::move(unit));
    done(accept);
  }
  void on_receipt(gateway::InboundReceipt receipt, std::function<void(bool)> done) override {
    receipts.push_back(std::move(receipt));
    done(accept);
  }
};

// The shared wait (tests/support/run_until.hpp) with this suite's deadline.
bool run_until(asio::io_context& io, const std::function<bool()>& pred,
               std::chrono::seconds limit = std::chrono::seconds(20)) {
  return testing::run_until(io, pred, limit);
}

RegionalAdapterConfig adapter_config(const Standin& s) {
  RegionalAdapterConfig c;
  c.port = s.port;
  c.tls = member_tls("gateway");
  c.facility_id = "KAKEHASHI-GW";
  c.poll_interval = std::chrono::milliseconds(50);
  c.timeout = std::chrono::milliseconds(10000);
  return c;
}

// An adapter on a fresh io_context with a recording sink.
struct AdapterRig {
  asio::io_context io;
  RecordingSink sink;
  std::unique_ptr<RegionalAdapter> adapter;
  std::vector<std::string> events;       // adapter log events, in order
  std::vector<std::string> event_items;  // the message ids they named
  std::shared_ptr<gateway::AdapterCounters> counters;
  explicit AdapterRig(RegionalAdapterConfig config, std::string unit_cursor = "") {
    gateway::AdapterContext ctx;
    ctx.executor = io.get_executor();
    ctx.sink = &sink;
    ctx.name = "regional";
    ctx.unit_cursor = std::move(unit_cursor);
    ctx.events.sink = [this](gateway::AdapterLogLevel, std::string_view event,
                             const gateway::AdapterLogFields& fields) {
      events.emplace_back(event);
      for (const auto& [k, v] : fields)
        if (k == "message") event_items.push_back(v);
    };
    counters = ctx.events.counters;
    adapter = std::make_unique<RegionalAdapter>(std::move(config), ctx);
  }
  std::size_t events_named(const std::string& name) const {
    return static_cast<std::size_t>(std::count(events.begin(), events.end(), name));
  }
  ~AdapterRig() {
    bool drained = false;
    adapter->stop([&drained] { drained = true; });
    run_until(io, [&] { return drained; });
    adapter.reset();
    io.restart();
    io.poll();
  }
  SendResult send(gateway::OutboundUnit unit) {
    std::optional<SendResult> result;
    adapter->send(std::move(unit), [&result](SendResult r) { result = std::move(r); });
    BOOST_REQUIRE(run_until(io, [&] { return result.has_value(); }));
    return *result;
  }
  SendResult receipt(gateway::OutboundReceipt r) {
    std::optional<SendResult> result;
    adapter->send_receipt(std::move(r), [&result](SendResult x) { result = std::move(x); });
    BOOST_REQUIRE(run_until(io, [&] { return result.has_value(); }));
    return *result;
  }
  SendResult publish(std::vector<gateway::DirectoryEntry> entries) {
    std::optional<SendResult> result;
    adapter->publish_directory(std::move(entries),
                               [&result](SendResult x) { result = std::move(x); });
    BOOST_REQUIRE(run_until(io, [&] { return result.has_value(); }));
    return *result;
  }
  gateway::DirectoryResult directory() {
    std::optional<gateway::DirectoryResult> result;
    adapter->fetch_directory("", [&result](gateway::DirectoryResult x) { result = std::move(x); });
    BOOST_REQUIRE(run_until(io, [&] { return result.has_value(); }));
    return *result;
  }
};

gateway::DirectoryEntry national_entry(const mapping::OfficeRef& o, std::string status = "ACTIVE") {
  gateway::DirectoryEntry e;
  e.office = o;
  e.name = "National office " + o.office_no;
  e.prefecture = "13";
  e.status = std::move(status);
  return e;
}

// A unit from a national office, signed by that office (detached), for the gateway to relay.
gateway::OutboundUnit national_unit(const std::string& key, const mapping::OfficeRef& to,
                                    std::uint64_t seed = 7) {
  gateway::OutboundUnit u;
  u.idempotency_key = key;
  u.sender = kNational11;
  u.recipient = to;
  u.unit_kind = "K5";
  u.subject = "actuals";
  u.message = "from the national side";
  const auto signer = office_key("national", kNational11.office_no);
  for (auto& f : unit_files(seed, kNational11, to)) {
    const auto* p = reinterpret_cast<const std::uint8_t*>(f.bytes.data());
    auto sig = mapping::cms::sign({p, f.bytes.size()}, signer, {.detached = true});
    BOOST_REQUIRE(sig.ok());
    gateway::SignedFile file;
    file.name = f.name;
    file.content = f.bytes;
    file.cms.assign(sig.value().begin(), sig.value().end());
    u.files.push_back(std::move(file));
  }
  return u;
}

int deliveries(office::OfficeClient& c, const std::string& message_id, std::int64_t* attempts) {
  auto r = c.call("GET", "/admin/v1/deliveries?message_id=" + message_id);
  BOOST_REQUIRE_EQUAL(r.status, 200);
  const std::regex att("\"attempts\":([0-9]+)");
  int count = 0;
  for (std::sregex_iterator it(r.body.begin(), r.body.end(), att), end; it != end; ++it) {
    ++count;
    if (attempts != nullptr) *attempts = std::stoll((*it)[1]);
  }
  return count;
}

// A raw TLS exchange with custom client settings: the first bytes of the answer, or "" when
// the server refused (handshake or read failed).
std::string raw_exchange(std::uint16_t port,
                         const std::function<void(asio::ssl::context&)>& setup) {
  asio::io_context io;
  asio::ssl::context ctx(asio::ssl::context::tls_client);
  ctx.load_verify_file((env().pki / "tls/regional-ca.pem").string());
  ctx.set_verify_mode(asio::ssl::verify_peer);
  setup(ctx);
  asio::ssl::stream<asio::ip::tcp::socket> stream(io, ctx);
  boost::system::error_code ec;
  stream.next_layer().connect({asio::ip::make_address("127.0.0.1"), port}, ec);
  if (ec) return "";
  stream.handshake(asio::ssl::stream_base::client, ec);
  if (ec) return "";
  const std::string req = "GET /rhn/v1/directory HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";
  asio::write(stream, asio::buffer(req), ec);
  if (ec) return "";
  char buf[64];
  const auto n = stream.read_some(asio::buffer(buf), ec);
  if (ec) return "";
  return std::string(buf, n);
}

// The shared adapter behaviour suite against the regional stand-in: the gateway member sends
// units of a national office it published, signed by that office.
class RegionalPeer final : public testing::BehaviourPeer {
 public:
  RegionalPeer() : standin_("behaviour") {
    const std::string offices =
        R"({"offices":[{"office_no":"1371100452","service_type":"11","status":"ACTIVE"}]})";
    if (client(standin_, "gateway")->call("PUT", "/rhn/v1/directory/external", offices).status !=
        200) {
      throw std::runtime_error("cannot publish the external directory");
    }
  }
  std::unique_ptr<gateway::Adapter> make_adapter(gateway::AdapterContext context) override {
    auto config = adapter_config(standin_);
    config.poll_interval = std::chrono::milliseconds(200);
    return make_regional_adapter(std::move(config), std::move(context));
  }
  gateway::OutboundUnit sample_unit(const std::string& key) override {
    // Signed once per key, so that a resend is byte-identical (as the engine's would be).
    auto it = units_.find(key);
    if (it == units_.end()) it = units_.emplace(key, national_unit(key, kA43)).first;
    return it->second;
  }
  std::size_t delivered_count(const std::string& key) override {
    return static_cast<std::size_t>(deliveries(*admin(), key, nullptr));
  }
  // The external directory: a national office the gateway reaches.
  std::vector<gateway::DirectoryEntry> sample_publication() override {
    gateway::DirectoryEntry e;
    e.office = {"1371100452", "11"};
    e.name = "National home help";
    e.status = "ACTIVE";
    return {e};
  }
  bool can_reset_connections() const override { return true; }
  void reset_connections() override { standin_.restart(true); }
  bool can_misbehave() const override { return true; }
  void answer_malformed_next(int count) override {
    fault(R"({"only":"POST /rhn/v1/messages","malformed_responses":)" + std::to_string(count) +
          "}");
  }
  void answer_retry_after_next(int count, std::chrono::seconds after) override {
    fault(R"({"only":"POST /rhn/v1/messages","fail_status":503,"fail_count":)" +
          std::to_string(count) + R"(,"retry_after":)" + std::to_string(after.count()) + "}");
  }

 private:
  std::unique_ptr<office::OfficeClient> admin() { return client(standin_, "A"); }
  void fault(const std::string& body) {
    if (admin()->call("POST", "/admin/v1/faults", body).status != 200) {
      throw std::runtime_error("stand-in refused the fault");
    }
  }
  Standin standin_;
  std::map<std::string, gateway::OutboundUnit> units_;
};

const testing::BehaviourSuiteRegistrar kBehaviour("regional_behaviour",
                                                  [] { return std::make_unique<RegionalPeer>(); });

}  // namespace

BOOST_AUTO_TEST_SUITE(wire)

BOOST_AUTO_TEST_CASE(base64_is_strict_and_round_trips) {
  const std::string bytes(
      "\x00\xff\x10"
      "abc\x80",
      7);
  for (std::size_t n = 0; n <= bytes.size(); ++n) {
    const auto text = base64_encode(bytes.substr(0, n));
    const auto back = base64_decode(text);
    BOOST_REQUIRE(back.has_value());
    BOOST_TEST(*back == bytes.substr(0, n));
  }
  BOOST_TEST(base64_encode("ab") == "YWI=");
  for (const char* bad : {"YWI", "YW=I", "Y===", "YWI*", "YW I", "=YWI", "YWI=YWI="}) {
    BOOST_TEST_CONTEXT(bad) {
      BOOST_TEST(!base64_decode(bad).has_value());
    }
  }
}

BOOST_AUTO_TEST_CASE(message_decoding_names_the_offending_field) {
  RhnMessage m;
  m.message_id = "k-1";
  m.from = {"F-A", kA43};
  m.to = kB11;
  m.documents.push_back({"UPPLAN_202505_3271500013_43_3271500047_11_20250325104805.CSV", "text/csv",
                         "a,b\r\n", "sig"});
  const auto good = encode_message(m);
  BOOST_TEST(std::holds_alternative<RhnMessage>(decode_message(good)));
  auto field_of = [](const std::string& json) {
    auto r = decode_message(json);
    const auto* e = std::get_if<RhnError>(&r);
    return e == nullptr ? std::string("accepted") : e->code + " " + e->field;
  };
  auto with = [&](const std::string& from, const std::string& to) {
    std::string json = good;
    json.replace(json.find(from), from.size(), to);
    return json;
  };
  BOOST_TEST(field_of("[]") == "INVALID_REQUEST ");
  BOOST_TEST(field_of(with("\"k-1\"", "\"k 1\"")) == "INVALID_REQUEST message_id");
  BOOST_TEST(field_of(with("\"3271500013\"", "\"327150001\"")) == "INVALID_REQUEST from.office_no");
  BOOST_TEST(field_of(with("\"careplan\"", "\"mail\"")) == "INVALID_REQUEST service");
  BOOST_TEST(field_of(with("\"text/csv\"", "\"application/zip\"")) ==
             "INVALID_DOCUMENT documents[0].media_type");
  BOOST_TEST(field_of(with("\"c2ln\"", "\"c2l\"")) == "INVALID_DOCUMENT documents[0].signature");
  BOOST_TEST(field_of(with("_3271500047_11_", "_3271500039_43_")) ==
             "INVALID_DOCUMENT documents[0].filename");
  BOOST_TEST(field_of(good.substr(0, good.size() / 2)) == "INVALID_REQUEST ");
}

BOOST_AUTO_TEST_CASE(pages_reject_what_is_not_the_contract) {
  BOOST_TEST(decode_mailbox_page(R"({"items":[],"next_since":0,"more":false})").has_value());
  BOOST_TEST(!decode_mailbox_page(R"({"items":{},"next_since":0})").has_value());
  // Issue 14: one malformed entry no longer spoils the page; an entry without a sequence is
  // left out and counted, one with a sequence and an id is kept for the fetch to judge.
  const auto skipped = decode_mailbox_page(
      R"({"items":[{"sequence":-1,"id":"m","from":{},"to":{}}],"next_since":0})");
  BOOST_TEST_REQUIRE(skipped.has_value());
  BOOST_TEST(skipped->items.empty());
  BOOST_TEST(skipped->skipped == 1u);
  const auto kept =
      decode_mailbox_page(R"({"items":[{"sequence":3,"id":"m","from":{}}],"next_since":3})");
  BOOST_TEST_REQUIRE(kept.has_value());
  BOOST_TEST_REQUIRE(kept->items.size() == 1u);
  BOOST_TEST(kept->items[0].id == "m");
  BOOST_TEST(!decode_mailbox_page("{\"items\":[").has_value());
  BOOST_TEST(
      !decode_receipt_page(R"({"items":[{"sequence":1,"id":"m","state":"LOST"}],"next_since":1})")
           .has_value());
  BOOST_TEST(
      !decode_directory(R"({"facilities":[{"facility_id":"F","offices":[{"office_no":1}]}]})")
           .has_value());
  BOOST_TEST(!decode_send_answer(R"({"id":""})").has_value());
  const auto e = decode_error(502, "<html>bad gateway</html>");
  BOOST_TEST(e.code == "HTTP_502");
}

// tests/fuzz finding: RapidJSON parses recursively, so "[[[[…" from a peer overflowed the stack.
BOOST_AUTO_TEST_CASE(deeply_nested_bodies_are_refused_unparsed) {
  const std::string deep = "{\"facilities\":" + std::string(300000, '[');
  BOOST_TEST(!decode_directory(deep).has_value());
  BOOST_TEST(!decode_mailbox_page(deep).has_value());
  BOOST_TEST(decode_error(500, deep).code == "HTTP_500");
  BOOST_TEST(std::holds_alternative<RhnError>(decode_message(deep)));
  // Brackets inside strings do not count.
  BOOST_TEST(decode_send_answer("{\"id\":\"" + std::string(100, '[') +
                                "\",\"message_id\":\"m\",\"accepted_at\":\"t\"}")
                 .has_value());
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(standin)

BOOST_AUTO_TEST_CASE(members_are_authenticated_by_client_certificate) {
  Standin s("auth");
  auto a = client(s, "A");
  BOOST_TEST(a->directory().status == 200);
  auto stranger = client(s, "stranger");
  BOOST_TEST(error_code(stranger->directory()) == "UNKNOWN_MEMBER");
  // A certificate from the national CA never gets past the handshake.
  auto national = client(s, "national");
  BOOST_TEST(national->directory().status == 0);
  // The baseline exchange works, so the refusals below are the server's doing.
  const auto ok = raw_exchange(s.port, [](asio::ssl::context& c) {
    c.use_certificate_chain_file((env().pki / "tls/regional-standin-client.cert.pem").string());
    c.use_private_key_file((env().pki / "tls/regional-standin-client.key.pem").string(),
                           asio::ssl::context::pem);
  });
  BOOST_TEST(ok.rfind("HTTP/1.1 200", 0) == 0);
  BOOST_TEST(raw_exchange(s.port, [](asio::ssl::context&) {}).empty());  // no client certificate
  const auto tls11 = raw_exchange(s.port, [](asio::ssl::context& c) {
    c.use_certificate_chain_file((env().pki / "tls/regional-standin-client.cert.pem").string());
    c.use_private_key_file((env().pki / "tls/regional-standin-client.key.pem").string(),
                           asio::ssl::context::pem);
    SSL_CTX_set_security_level(c.native_handle(), 0);
    SSL_CTX_set_min_proto_version(c.native_handle(), TLS1_1_VERSION);
    SSL_CTX_set_max_proto_version(c.native_handle(), TLS1_1_VERSION);
  });
  BOOST_TEST(tls11.empty());
  s.server->server_faults().refuse_tls = true;
  BOOST_TEST(client(s, "A")->directory().status == 0);
}

BOOST_AUTO_TEST_CASE(office_send_reaches_the_recipient_mailbox_with_read_receipt) {
  Standin s("send");
  auto a = client(s, "A");
  auto b = client(s, "B");
  const auto msg = message_from_a("a-1", kB11);
  auto sent = a->send(msg);
  BOOST_REQUIRE_EQUAL(sent.status, 201);
  auto answer = decode_send_answer(sent.body);
  BOOST_REQUIRE(answer);
  // Not in the sender's mailbox, in the recipient's.
  BOOST_TEST(decode_mailbox_page(a->mailbox().body)->items.empty());
  auto page = decode_mailbox_page(b->mailbox().body);
  BOOST_REQUIRE(page);
  BOOST_REQUIRE_EQUAL(page->items.size(), 1u);
  BOOST_TEST(page->items[0].id == answer->id);
  BOOST_TEST(page->items[0].sequence == 1);
  BOOST_TEST(page->items[0].state == "UNREAD");
  // Only the recipient may fetch; documents come back byte for byte and still verify.
  BOOST_TEST(error_code(a->fetch(answer->id)) == "NOT_FOUND");
  auto item = decode_mailbox_item(b->fetch(answer->id).body);
  BOOST_REQUIRE(item);
  BOOST_REQUIRE_EQUAL(item->documents.size(), msg.documents.size());
  const auto domain = gateway::pki::load_trust_domain(env().pki / "regional");
  for (std::size_t i = 0; i < msg.documents.size(); ++i) {
    BOOST_TEST(item->documents[i].content == msg.documents[i].content);
    BOOST_TEST(item->documents[i].signature == msg.documents[i].signature);
    const auto& d = item->documents[i];
    const auto v = mapping::cms::verify_signed_data(
        {reinterpret_cast<const std::uint8_t*>(d.signature.data()), d.signature.size()},
        mapping::cms::ByteView{reinterpret_cast<const std::uint8_t*>(d.content.data()),
                               d.content.size()},
        domain);
    BOOST_TEST(v.valid());
  }
  BOOST_TEST(item->from.facility_id == "F-A");
  // Read receipt flows back to the sender.
  BOOST_TEST(b->read(answer->id).status == 200);
  BOOST_TEST(b->read(answer->id).status == 200);  // reading twice answers the same
  auto receipts = decode_receipt_page(a->receipts().body);
  BOOST_REQUIRE(receipts);
  BOOST_REQUIRE_EQUAL(receipts->items.size(), 1u);
  BOOST_TEST(receipts->items[0].id == answer->id);
  BOOST_TEST(receipts->items[0].state == "READ");
  BOOST_TEST(decode_receipt_page(a->receipts(receipts->next_since).body)->items.empty());
  // A second message gets the next sequence; `since` resumes after the first.
  BOOST_REQUIRE_EQUAL(a->send(message_from_a("a-2", kB11, 2)).status, 201);
  auto next = decode_mailbox_page(b->mailbox(page->next_since).body);
  BOOST_REQUIRE_EQUAL(next->items.size(), 1u);
  BOOST_TEST(next->items[0].sequence == 2);
  // limit pages with `more`.
  auto first = decode_mailbox_page(b->mailbox(0, 1).body);
  BOOST_TEST(first->items.size() == 1u);
  BOOST_TEST(first->more);
}

BOOST_AUTO_TEST_CASE(idempotent_replay_and_conflict) {
  Standin s("idem");
  auto a = client(s, "A");
  const auto msg = message_from_a("a-idem", kB11);
  auto first = a->send(msg);
  BOOST_REQUIRE_EQUAL(first.status, 201);
  auto again = a->send(msg);
  BOOST_TEST(again.status == 201);
  BOOST_TEST(again.body == first.body);
  BOOST_REQUIRE(again.header("idempotent-replay") != nullptr);
  auto changed = msg;
  changed.subject = "something else";
  BOOST_TEST(error_code(a->send(changed)) == "IDEMPOTENCY_CONFLICT");
  std::int64_t attempts = 0;
  BOOST_TEST(deliveries(*a, "a-idem", &attempts) == 1);
  BOOST_TEST(attempts == 3);
  BOOST_TEST(decode_mailbox_page(client(s, "B")->mailbox().body)->items.size() == 1u);
}

BOOST_AUTO_TEST_CASE(signatures_and_office_holding_are_enforced) {
  Standin s("sig");
  auto a = client(s, "A");
  // Content changed after signing.
  auto tampered = message_from_a("t-1", kB11);
  tampered.documents[0].content[10] ^= 0x01;
  auto r = a->send(tampered);
  BOOST_TEST(error_code(r) == "SIGNATURE_INVALID");
  BOOST_TEST(decode_error(r.status, r.body).reason == "content-mismatch");
  // Signed by another office of the same facility.
  auto other = office::build_message("t-2", {"F-A", kA43}, kB11, unit_files(1, kA43, kB11),
                                     office_key("regional", kA11.office_no));
  BOOST_TEST(error_code(a->send(other)) == "SIGNER_MISMATCH");
  // Signed by a national office: not the regional domain.
  auto foreign = office::build_message("t-3", {"F-A", kA43}, kB11, unit_files(1, kA43, kB11),
                                       office_key("national", "1370100016"));
  BOOST_TEST(error_code(a->send(foreign)) == "SIGNATURE_INVALID");
  // An office of another facility, properly signed by that office.
  auto not_held = office::build_message("t-4", {"F-A", kB43}, kB11, unit_files(1, kB43, kB11),
                                        office_key("regional", kB43.office_no));
  BOOST_TEST(error_code(a->send(not_held)) == "OFFICE_NOT_HELD");
  // Claiming another facility's id.
  auto wrong_facility = office::build_message("t-5", {"F-B", kB43}, kB11, unit_files(1, kB43, kB11),
                                              office_key("regional", kB43.office_no));
  BOOST_TEST(error_code(a->send(wrong_facility)) == "OFFICE_NOT_HELD");
  // The gateway may not speak for native offices either.
  auto gw = client(s, "gateway");
  auto as_native =
      office::build_message("t-6", {"KAKEHASHI-GW", kA43}, kB11, unit_files(1, kA43, kB11),
                            office_key("regional", kA43.office_no));
  BOOST_TEST(error_code(gw->send(as_native)) == "OFFICE_NOT_HELD");
  // Nothing of the above was delivered; a refused key can be reused once corrected.
  BOOST_TEST(deliveries(*a, "t-1", nullptr) == 0);
  BOOST_TEST(a->send(message_from_a("t-1", kB11)).status == 201);
}

BOOST_AUTO_TEST_CASE(every_documented_error_code_is_reachable) {
  // The codes of PROTOCOL.md §10, read from the document itself.
  std::ifstream in(KAKEHASHI_PROTOCOL_MD);
  std::stringstream ss;
  ss << in.rdbuf();
  const std::string doc = ss.str();
  const auto table = doc.substr(doc.find("## 10. Error codes"));
  std::set<std::string> documented;
  const std::regex row(R"(\n\| ([0-9]{3}) \| `([A-Z_]+)` \|)");
  std::map<std::string, int> status_of;
  for (std::sregex_iterator it(table.begin(), table.end(), row), end; it != end; ++it) {
    documented.insert((*it)[2]);
    status_of[(*it)[2]] = std::stoi((*it)[1]);
  }
  BOOST_REQUIRE_GE(documented.size(), 15u);

  Standin s("codes", 2u << 20);
  auto a = client(s, "A");
  auto b = client(s, "B");
  std::map<std::string, int> seen;
  auto note = [&seen](const adapters::http::Response& r) {
    if (r.status >= 400) seen[decode_error(r.status, r.body).code] = r.status;
  };
  note(a->call("POST", "/rhn/v1/messages", "not json"));
  auto bad_name = message_from_a("c-1", kB11);
  bad_name.documents[0].filename = "notes.txt";
  bad_name.documents[0].media_type = "text/plain";
  note(a->send(bad_name));
  note(client(s, "stranger")->directory());
  note(a->send(office::build_message("c-2", {"F-A", kB43}, kB11, unit_files(1, kB43, kB11),
                                     office_key("regional", kB43.office_no))));
  note(a->call("PUT", "/rhn/v1/directory/external", R"({"offices":[]})"));
  note(a->fetch("m-999999999999"));
  note(a->call("DELETE", "/rhn/v1/mailbox"));
  auto msg = message_from_a("c-3", kB11);
  auto sent = a->send(msg);
  BOOST_REQUIRE_EQUAL(sent.status, 201);
  msg.body = "changed";
  note(a->send(msg));
  const auto id = decode_send_answer(sent.body)->id;
  BOOST_REQUIRE_EQUAL(b->read(id).status, 200);
  note(b->reject(id, "too late"));
  note(a->call("POST", "/rhn/v1/messages", std::string(3u << 20, 'x')));
  auto tampered = message_from_a("c-4", kB11);
  tampered.documents[0].content[5] ^= 0x20;
  note(a->send(tampered));
  note(a->send(office::build_message("c-5", {"F-A", kA43}, kB11, unit_files(1, kA43, kB11),
                                     office_key("regional", kA11.office_no))));
  note(a->send(message_from_a("c-6", {"3271500062", "15"})));
  note(a->send(message_from_a("c-7", kB13)));
  for (int status : {429, 503, 500}) {
    const std::string body =
        R"({"fail_status":)" + std::to_string(status) + R"(,"fail_count":1,"retry_after":3})";
    BOOST_REQUIRE_EQUAL(a->call("POST", "/admin/v1/faults", body).status, 200);
    auto r = a->directory();
    note(r);
    if (status != 500) {
      BOOST_REQUIRE(r.header("retry-after") != nullptr);
      BOOST_TEST(*r.header("retry-after") == "3");
    }
  }
  for (const auto& code : documented) {
    BOOST_TEST_CONTEXT(code) {
      BOOST_TEST(seen.count(code) == 1u);
      if (seen.count(code)) BOOST_TEST(seen[code] == status_of[code]);
    }
  }
  for (const auto& [code, status] : seen) {
    BOOST_TEST_CONTEXT(code) {
      BOOST_TEST(documented.count(code) == 1u);
    }
  }
}

BOOST_AUTO_TEST_CASE(maintenance_and_reject_receipts) {
  Standin s("maint");
  auto a = client(s, "A");
  auto b = client(s, "B");
  auto sent = a->send(message_from_a("m-1", kB11));
  BOOST_REQUIRE_EQUAL(sent.status, 201);
  const auto id = decode_send_answer(sent.body)->id;
  BOOST_TEST(error_code(b->reject(id, "")) == "INVALID_REQUEST");
  BOOST_TEST(b->reject(id, "E-CSV-COLUMNS line 3").status == 200);
  BOOST_TEST(b->reject(id, "E-CSV-COLUMNS line 3").status == 200);
  BOOST_TEST(error_code(b->reject(id, "another reason")) == "STATE_CONFLICT");
  auto receipts = decode_receipt_page(a->receipts().body);
  BOOST_REQUIRE_EQUAL(receipts->items.size(), 1u);
  BOOST_TEST(receipts->items[0].state == "REJECTED");
  BOOST_TEST(receipts->items[0].reason == "E-CSV-COLUMNS line 3");
  BOOST_REQUIRE_EQUAL(
      a->call("POST", "/admin/v1/faults", R"({"maintenance":true,"retry_after":9})").status, 200);
  auto r = a->mailbox();
  BOOST_TEST(error_code(r) == "MAINTENANCE");
  BOOST_TEST(error_code(a->mailbox()) == "MAINTENANCE");
  BOOST_REQUIRE_EQUAL(a->call("POST", "/admin/v1/faults", R"({"maintenance":false})").status, 200);
  BOOST_TEST(a->mailbox().status == 200);
}

BOOST_AUTO_TEST_CASE(restart_keeps_state) {
  Standin s("restart");
  const auto r1 = message_from_a("r-1", kB11);  // signed once: the replay is byte-identical
  {
    auto a = client(s, "A");
    BOOST_REQUIRE_EQUAL(a->send(r1).status, 201);
  }
  s.restart();
  auto a = client(s, "A");
  auto b = client(s, "B");
  auto page = decode_mailbox_page(b->mailbox().body);
  BOOST_REQUIRE_EQUAL(page->items.size(), 1u);
  // The key is still remembered, and sequences continue.
  auto replay = a->send(r1);
  BOOST_TEST(replay.status == 201);
  BOOST_TEST(replay.header("idempotent-replay") != nullptr);
  BOOST_REQUIRE_EQUAL(a->send(message_from_a("r-2", kB11, 3)).status, 201);
  page = decode_mailbox_page(b->mailbox().body);
  BOOST_REQUIRE_EQUAL(page->items.size(), 2u);
  BOOST_TEST(page->items[1].sequence == 2);
}

BOOST_AUTO_TEST_CASE(office_client_executable) {
  Standin s("office_exe");
  const auto files = env().root / "office_exe_files";
  fs::create_directories(files);
  std::string args;
  for (const auto& f : unit_files(4, kA43, kB11)) {
    std::ofstream(files / f.name, std::ios::binary) << f.bytes;
    args += " '" + (files / f.name).string() + "'";
  }
  const std::string base = std::string("'") + KAKEHASHI_OFFICE_BIN + "' --port " +
                           std::to_string(s.port) + " --pki '" + env().pki.string() + "' ";
  int rc = -1;
  auto out = run(base +
                     "send --facility F-A --office 3271500013 --type 43 --to 3271500047:11 "
                     "--message-id exe-1" +
                     args,
                 &rc);
  BOOST_TEST(rc == 0, out);
  auto answer = decode_send_answer(out);
  BOOST_REQUIRE(answer);
  const std::string as_b =
      " --cert '" + (env().pki / "members/regional-facility-b.cert.pem").string() + "' --key '" +
      (env().pki / "members/regional-facility-b.key.pem").string() + "' ";
  out = run(base + as_b + "mailbox", &rc);
  BOOST_TEST(rc == 0);
  BOOST_TEST(out.find(answer->id) != std::string::npos);
  out = run(base + as_b + "fetch " + answer->id + " --out '" +
                (env().root / "office_exe_out").string() + "'",
            &rc);
  BOOST_TEST(rc == 0);
  BOOST_TEST(fs::exists(env().root / "office_exe_out"));
  out = run(base + as_b + "read " + answer->id, &rc);
  BOOST_TEST(rc == 0);
  out = run(base + "receipts", &rc);
  BOOST_TEST(rc == 0);
  BOOST_TEST(out.find("\"READ\"") != std::string::npos);
  out = run(base + "fetch " + answer->id, &rc);
  BOOST_TEST(rc == 1);  // not the recipient: an error answer
}

BOOST_AUTO_TEST_CASE(standin_executable_prints_port_and_serves) {
  const auto seed = env().root / "exe-seed.json";
  std::ofstream(seed) << kSeed;
  const std::vector<std::string> args = {KAKEHASHI_STANDIN_BIN,
                                         "--pki",
                                         env().pki.string(),
                                         "--state",
                                         (env().root / "exe.sqlite").string(),
                                         "--seed-directory",
                                         seed.string()};
  std::vector<char*> argv;
  for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  int out[2];
  BOOST_REQUIRE_EQUAL(pipe(out), 0);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, out[1], 1);
  posix_spawn_file_actions_addclose(&actions, out[0]);
  pid_t pid = 0;
  const int rc = posix_spawn(&pid, KAKEHASHI_STANDIN_BIN, &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  close(out[1]);
  BOOST_REQUIRE_EQUAL(rc, 0);
  FILE* f = fdopen(out[0], "r");
  char line[64] = {0};
  const bool got = fgets(line, sizeof line, f) != nullptr;
  std::string first = got ? line : "";
  int port = 0;
  if (first.rfind("port=", 0) == 0) port = std::atoi(first.c_str() + 5);
  if (port > 0) {
    office::OfficeClientOptions o;
    o.port = static_cast<std::uint16_t>(port);
    o.tls = member_tls("A");
    office::OfficeClient a(o);
    auto dir = decode_directory(a.directory().body);
    BOOST_REQUIRE(dir);
    BOOST_TEST(dir->size() == 3u);  // F-A, F-B and the gateway's external facility
  }
  kill(pid, SIGTERM);
  int status = 0;
  waitpid(pid, &status, 0);
  fclose(f);
  BOOST_TEST(first.rfind("port=", 0) == 0, first);
  BOOST_TEST(port > 0);
  BOOST_TEST(WIFEXITED(status));
  BOOST_TEST(WEXITSTATUS(status) == 0);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(adapter)

BOOST_AUTO_TEST_CASE(config_is_parsed_with_key_paths) {
  rapidjson::Document doc;
  doc.Parse(R"({"port": 8443, "facility_id": "KAKEHASHI-GW", "poll_interval": "2s",
               "tls": {"ca_file": "ca.pem", "cert_file": "c.pem", "key_file": "k.pem"},
               "push": {"port": 9443, "peer": {"subject_cn": "regional-standin-client"},
                        "tls": {"ca_file": "ca.pem", "cert_file": "s.pem", "key_file": "sk.pem"}}})");
  std::vector<gateway::ConfigError> errors;
  auto c = parse_regional_config(gateway::ConfigNode(&doc, "adapters.regional", &errors));
  BOOST_TEST(errors.empty());
  BOOST_TEST(c.port == 8443);
  BOOST_TEST(c.poll_interval.count() == 2000);
  BOOST_TEST(c.push.enabled);
  BOOST_TEST(c.push.port == 9443);
  rapidjson::Document bad;
  bad.Parse(R"({"port": 0, "facility_id": "bad id!", "tls": {"ca_file": "x"}, "typo": 1})");
  errors.clear();
  parse_regional_config(gateway::ConfigNode(&bad, "adapters.regional", &errors));
  std::set<std::string> paths;
  for (const auto& e : errors) paths.insert(e.path);
  BOOST_TEST(paths.count("adapters.regional.port") == 1u);
  BOOST_TEST(paths.count("adapters.regional.facility_id") == 1u);
  BOOST_TEST(paths.count("adapters.regional.tls.cert_file") == 1u);
  BOOST_TEST(paths.count("adapters.regional.typo") == 1u);
}

BOOST_AUTO_TEST_CASE(publish_send_directory_and_receipts) {
  Standin s("adapter_send");
  AdapterRig rig(adapter_config(s));
  // Before publishing, the gateway cannot speak for the national office.
  auto refused = rig.send(national_unit("k-0", kA43));
  BOOST_TEST(refused.status == SendResult::Status::kRejected);
  BOOST_TEST(refused.error_code == "OFFICE_NOT_HELD");
  auto published = rig.publish({national_entry(kNational11), national_entry(kNational43)});
  BOOST_TEST(published.status == SendResult::Status::kAccepted);
  auto dir = rig.directory();
  BOOST_REQUIRE(dir.status.status == SendResult::Status::kAccepted);
  int own = 0;
  int native = 0;
  for (const auto& e : dir.entries) {
    if (e.published_by_gateway) {
      ++own;
      BOOST_TEST(e.facility_id == "KAKEHASHI-GW");
    } else {
      ++native;
    }
  }
  BOOST_TEST(own == 2);
  BOOST_TEST(native == 5);
  const auto k1 = national_unit("k-1", kA43);  // signed once: a resend is byte-identical
  auto sent = rig.send(k1);
  BOOST_REQUIRE_MESSAGE(sent.status == SendResult::Status::kAccepted,
                        sent.error_code + " " + sent.message);
  BOOST_TEST(!sent.remote_id.empty());
  auto replay = rig.send(k1);
  BOOST_TEST(replay.status == SendResult::Status::kAccepted);
  BOOST_TEST(replay.remote_id == sent.remote_id);
  auto a = client(s, "A");
  BOOST_TEST(deliveries(*a, "k-1", nullptr) == 1);
  auto item = decode_mailbox_item(a->fetch(sent.remote_id).body);
  BOOST_REQUIRE(item);
  BOOST_TEST(item->from.office == kNational11);
  // Recipient rules surface as rejections with the contract's code.
  BOOST_TEST(rig.send(national_unit("k-2", kB13)).error_code == "RECIPIENT_INACTIVE");
  // The office reads it: the adapter's receipt poll hands a read receipt to the engine.
  BOOST_REQUIRE_EQUAL(a->read(sent.remote_id).status, 200);
  rig.adapter->start();
  BOOST_REQUIRE(run_until(rig.io, [&] { return !rig.sink.receipts.empty(); }));
  BOOST_TEST(rig.sink.receipts[0].remote_id == sent.remote_id);
  BOOST_TEST((rig.sink.receipts[0].state == gateway::ReceiptState::kRead));
  BOOST_TEST(rig.sink.receipts[0].cursor == "1");
}

namespace {

// The notice log of the stand-in for one office (GET /admin/v1/notices, PROTOCOL.md §12).
rapidjson::Document notices_of(office::OfficeClient& admin, const std::string& office_no) {
  const auto r = admin.call("GET", "/admin/v1/notices?office_no=" + office_no);
  BOOST_REQUIRE_EQUAL(r.status, 200);
  rapidjson::Document d;
  d.Parse(r.body.data(), r.body.size());
  BOOST_REQUIRE(!d.HasParseError() && d.HasMember("notices") && d["notices"].IsArray());
  return d;
}

struct NoticeRig : AdapterRig {
  using AdapterRig::AdapterRig;
  SendResult notice(const std::string& office_no, const std::string& text,
                    const std::string& key) {
    gateway::OfficeNotice n;
    n.office.office_no = office_no;
    n.text = text;
    n.idempotency_key = key;
    std::optional<SendResult> result;
    adapter->send_notice(std::move(n), [&result](SendResult r) { result = std::move(r); });
    BOOST_REQUIRE(run_until(io, [&] { return result.has_value(); }));
    return *result;
  }
};

}  // namespace

// Issue 16: an office whose national session needs a login is told on its own network. The
// adapter posts the notice (POST /rhn/v1/notices, mutual TLS); the stand-in keeps it in its
// notice log for the office; a resend is the same notice.
BOOST_AUTO_TEST_CASE(office_notice_reaches_the_office_on_the_regional_network) {
  Standin s("notices");
  NoticeRig rig(adapter_config(s));
  auto admin = client(s, "A");
  const std::string text =
      "【Kakehashi ゲートウェイからのお知らせ】\n全国側へのログインにワンタイムパスワードが必要です。\n"
      "(kaigoweb, 3271500013: login_required)\n";
  const std::string key = "kh-office-kaigoweb-3271500013-login_required-1765000000000";
  const auto sent = rig.notice(kA43.office_no, text, key);
  BOOST_REQUIRE_MESSAGE(sent.status == SendResult::Status::kAccepted,
                        sent.error_code + " " + sent.message);
  BOOST_TEST(sent.remote_id.rfind("n-", 0) == 0u, sent.remote_id);
  {
    const auto d = notices_of(*admin, kA43.office_no);
    BOOST_REQUIRE_EQUAL(d["notices"].Size(), 1u);
    const auto& n = d["notices"][0];
    BOOST_TEST(std::string(n["text"].GetString()) == text);
    BOOST_TEST(std::string(n["notice_id"].GetString()) == key);
    BOOST_TEST(std::string(n["id"].GetString()) == sent.remote_id);
    BOOST_TEST(std::string(n["sender"].GetString()) == "kakehashi-gateway-regional-client");
    BOOST_TEST(std::string(n["service_type"].GetString()).empty());  // the office as a whole
    BOOST_TEST(n["attempts"].GetInt64() == 1);
  }
  // Other offices are told nothing.
  BOOST_TEST(notices_of(*admin, kA11.office_no)["notices"].Size() == 0u);

  // The engine's retry after a lost answer: the same notice, not a second one.
  const auto again = rig.notice(kA43.office_no, text, key);
  BOOST_TEST(again.status == SendResult::Status::kAccepted);
  BOOST_TEST(again.remote_id == sent.remote_id);
  {
    const auto d = notices_of(*admin, kA43.office_no);
    BOOST_REQUIRE_EQUAL(d["notices"].Size(), 1u);
    BOOST_TEST(d["notices"][0]["attempts"].GetInt64() == 2);
  }
  // The same key with another text is a conflict (never retried).
  const auto conflict = rig.notice(kA43.office_no, text + "x", key);
  BOOST_TEST(conflict.status == SendResult::Status::kRejected);
  BOOST_TEST(conflict.error_code == "IDEMPOTENCY_CONFLICT");
}

BOOST_AUTO_TEST_CASE(office_notices_follow_the_contract) {
  Standin s("notice_rules");
  NoticeRig rig(adapter_config(s));
  auto admin = client(s, "A");
  // Only offices the network's facilities hold: not an unknown one, not the gateway's own
  // publication.
  BOOST_TEST(rig.notice("3271500062", "t", "n-unknown").error_code == "RECIPIENT_UNKNOWN");
  BOOST_REQUIRE(rig.publish({national_entry(kNational11)}).status ==
                SendResult::Status::kAccepted);
  const auto own = rig.notice(kNational11.office_no, "t", "n-own");
  BOOST_TEST(own.status == SendResult::Status::kRejected);
  BOOST_TEST(own.error_code == "RECIPIENT_UNKNOWN");
  // A facility member cannot send notices.
  RhnNotice by_facility{"n-facility", kB43, "t"};
  BOOST_TEST(error_code(admin->call("POST", "/rhn/v1/notices", encode_notice(by_facility))) ==
             "NOT_GATEWAY");
  // Maintenance: transient, with the network's Retry-After.
  BOOST_REQUIRE_EQUAL(
      admin->call("POST", "/admin/v1/faults", R"({"fail_status":503,"fail_count":1,"retry_after":7})")
          .status,
      200);
  const auto held = rig.notice(kA43.office_no, "t", "n-maintenance");
  BOOST_TEST(held.status == SendResult::Status::kRetry);
  BOOST_REQUIRE(held.retry_after.has_value());
  BOOST_TEST(held.retry_after->count() == 7);
  // A text beyond the contract's bytes is cut on a character boundary; control characters other
  // than line feeds become spaces; a key outside the id charset is hashed into one.
  const std::string kana = "あ";  // 3 bytes of UTF-8
  std::string long_text = "a\tb\n";
  while (long_text.size() <= kMaxNoticeTextBytes) long_text += kana;
  const auto cut = rig.notice(kB43.office_no, long_text, "key with spaces/and slashes");
  BOOST_REQUIRE_MESSAGE(cut.status == SendResult::Status::kAccepted,
                        cut.error_code + " " + cut.message);
  const auto d = notices_of(*admin, kB43.office_no);
  BOOST_REQUIRE_EQUAL(d["notices"].Size(), 1u);
  const std::string stored = d["notices"][0]["text"].GetString();
  const std::size_t prefix = 4;  // "a b\n"
  const std::size_t expected = prefix + (kMaxNoticeTextBytes - prefix) / kana.size() * kana.size();
  BOOST_TEST(stored.size() == expected);
  BOOST_TEST(stored.substr(0, prefix) == "a b\n");
  BOOST_TEST(std::string(d["notices"][0]["notice_id"].GetString()).rfind("kh-notice-", 0) == 0u);
}

BOOST_AUTO_TEST_CASE(notice_decoding_names_the_offending_field) {
  const auto field_of = [](const std::string& body) {
    const auto r = decode_notice(body);
    const auto* e = std::get_if<RhnError>(&r);
    return e == nullptr ? std::string("<accepted>") : e->field;
  };
  BOOST_TEST(field_of(R"({"notice_id":"k","to":{"office_no":"3271500013"},"text":"t"})") ==
             "<accepted>");
  BOOST_TEST(field_of("[]") == "");
  BOOST_TEST(field_of(R"({"to":{"office_no":"3271500013"},"text":"t"})") == "notice_id");
  BOOST_TEST(field_of(R"({"notice_id":"k","text":"t"})") == "to");
  BOOST_TEST(field_of(R"({"notice_id":"k","to":{"office_no":"32715"},"text":"t"})") ==
             "to.office_no");
  BOOST_TEST(field_of(
                 R"({"notice_id":"k","to":{"office_no":"3271500013","service_type":"4"},"text":"t"})") ==
             "to.service_type");
  BOOST_TEST(field_of(R"({"notice_id":"k","to":{"office_no":"3271500013"},"text":""})") == "text");
  BOOST_TEST(field_of(R"({"notice_id":"k","to":{"office_no":"3271500013"},"text":"a\u0007"})") ==
             "text");
  BOOST_TEST(field_of(R"({"notice_id":"k","to":{"office_no":"3271500013"},"text":")" +
                      std::string(kMaxNoticeTextBytes + 1, 'x') + "\"}") == "text");
  BOOST_TEST(field_of("{\"notice_id\":\"k\",\"to\":{\"office_no\":\"3271500013\"},\"text\":\"\xFF\"}") ==
             "");  // not UTF-8
  // What the adapter writes, the stand-in reads.
  RhnNotice n{"kh-1", kA43, "line 1\nline 2"};
  const auto back = decode_notice(encode_notice(n));
  BOOST_REQUIRE(std::holds_alternative<RhnNotice>(back));
  BOOST_TEST(std::get<RhnNotice>(back).text == n.text);
  BOOST_TEST((std::get<RhnNotice>(back).to == kA43));
}

BOOST_AUTO_TEST_CASE(mailbox_poll_hands_units_and_answers_receipts) {
  Standin s("adapter_poll");
  AdapterRig rig(adapter_config(s));
  BOOST_REQUIRE(rig.publish({national_entry(kNational11)}).status == SendResult::Status::kAccepted);
  auto a = client(s, "A");
  auto first = a->send(message_from_a("p-1", kNational11));
  BOOST_REQUIRE_EQUAL(first.status, 201);
  BOOST_REQUIRE_EQUAL(a->send(message_from_a("p-2", kNational11, 5)).status, 201);
  rig.adapter->start();
  BOOST_REQUIRE(run_until(rig.io, [&] { return rig.sink.units.size() >= 2; }));
  const auto& u = rig.sink.units[0];
  BOOST_TEST(u.source_id == decode_send_answer(first.body)->id);
  BOOST_TEST(u.sender_facility == "F-A");
  BOOST_TEST(u.sender == kA43);
  BOOST_TEST(u.recipient == kNational11);
  BOOST_TEST(u.cursor == "1");
  BOOST_TEST(rig.sink.units[1].cursor == "2");
  BOOST_REQUIRE(!u.files.empty());
  BOOST_TEST(!u.files[0].attached);
  BOOST_TEST(!u.files[0].content.empty());
  BOOST_TEST(!u.files[0].cms.empty());
  // Receipts back to the sending office: read for one, a rejection with reason for the other.
  gateway::OutboundReceipt read;
  read.source_id = u.source_id;
  read.state = gateway::ReceiptState::kRead;
  BOOST_TEST(rig.receipt(read).status == SendResult::Status::kAccepted);
  gateway::OutboundReceipt rejected;
  rejected.source_id = rig.sink.units[1].source_id;
  rejected.state = gateway::ReceiptState::kRejected;
  rejected.reason = "E-UNIT-INCOMPLETE: UPPLAN missing";
  BOOST_TEST(rig.receipt(rejected).status == SendResult::Status::kAccepted);
  // Rejecting what was read is refused by the network.
  read.state = gateway::ReceiptState::kRejected;
  auto conflict = rig.receipt(read);
  BOOST_TEST(conflict.status == SendResult::Status::kRejected);
  BOOST_TEST(conflict.error_code == "STATE_CONFLICT");
  auto receipts = decode_receipt_page(a->receipts().body);
  BOOST_REQUIRE_EQUAL(receipts->items.size(), 2u);
  BOOST_TEST(receipts->items[0].state == "READ");
  BOOST_TEST(receipts->items[1].state == "REJECTED");
  BOOST_TEST(receipts->items[1].reason == rejected.reason);
  // Nothing more is handed over once the cursor passed both.
  BOOST_REQUIRE_EQUAL(a->send(message_from_a("p-3", kNational11, 6)).status, 201);
  BOOST_REQUIRE(run_until(rig.io, [&] { return rig.sink.units.size() >= 3; }));
  BOOST_TEST(rig.sink.units.size() == 3u);
  BOOST_TEST(rig.sink.units[2].cursor == "3");
}

BOOST_AUTO_TEST_CASE(cursor_moves_only_after_accept_and_resumes) {
  Standin s("adapter_cursor");
  auto a = client(s, "A");
  {
    AdapterRig rig(adapter_config(s));
    BOOST_REQUIRE(rig.publish({national_entry(kNational11)}).status ==
                  SendResult::Status::kAccepted);
    BOOST_REQUIRE_EQUAL(a->send(message_from_a("c-1", kNational11)).status, 201);
    rig.sink.accept = false;
    rig.adapter->start();
    // Refused by the engine: handed over again on the next poll, never skipped.
    BOOST_REQUIRE(run_until(rig.io, [&] { return rig.sink.units.size() >= 2; }));
    BOOST_TEST(rig.sink.units[0].source_id == rig.sink.units[1].source_id);
  }
  BOOST_REQUIRE_EQUAL(a->send(message_from_a("c-2", kNational11, 8)).status, 201);
  // A restarted adapter with the persisted cursor "1" starts after the first item.
  AdapterRig rig(adapter_config(s), "1");
  rig.adapter->start();
  BOOST_REQUIRE(run_until(rig.io, [&] { return !rig.sink.units.empty(); }));
  BOOST_TEST(rig.sink.units[0].cursor == "2");
}

BOOST_AUTO_TEST_CASE(duplicate_listing_is_handed_over_with_the_same_source_id) {
  Standin s("adapter_dup");
  AdapterRig rig(adapter_config(s));
  BOOST_REQUIRE(rig.publish({national_entry(kNational11)}).status == SendResult::Status::kAccepted);
  auto a = client(s, "A");
  BOOST_REQUIRE_EQUAL(a->call("POST", "/admin/v1/faults", R"({"duplicate_listings":1})").status,
                      200);
  BOOST_REQUIRE_EQUAL(a->send(message_from_a("d-1", kNational11)).status, 201);
  rig.adapter->start();
  BOOST_REQUIRE(run_until(rig.io, [&] { return rig.sink.units.size() >= 2; }));
  BOOST_TEST(rig.sink.units[0].source_id == rig.sink.units[1].source_id);
  BOOST_TEST(rig.sink.units[0].cursor == rig.sink.units[1].cursor);
}

BOOST_AUTO_TEST_CASE(malformed_and_failing_polls_are_retried) {
  Standin s("adapter_poll_faults");
  AdapterRig rig(adapter_config(s));
  BOOST_REQUIRE(rig.publish({national_entry(kNational11)}).status == SendResult::Status::kAccepted);
  auto a = client(s, "A");
  BOOST_REQUIRE_EQUAL(a->send(message_from_a("pf-1", kNational11)).status, 201);
  // The first two listings come back unparsable: the poll retries on its timer.
  BOOST_REQUIRE_EQUAL(a->call("POST", "/admin/v1/faults",
                              R"({"only":"GET /rhn/v1/mailbox","malformed_responses":2})")
                          .status,
                      200);
  rig.adapter->start();
  BOOST_REQUIRE(run_until(rig.io, [&] { return !rig.sink.units.empty(); }));
  BOOST_TEST(rig.sink.units.size() == 1u);
  // The adapter runs only inside run_until, so the fault is in place before it fetches pf-2.
  auto second = a->send(message_from_a("pf-2", kNational11, 3));
  BOOST_REQUIRE_EQUAL(second.status, 201);
  const std::string id = decode_send_answer(second.body)->id;
  BOOST_REQUIRE_EQUAL(
      a->call("POST", "/admin/v1/faults",
              R"({"only":"GET /rhn/v1/messages/)" + id + R"(","malformed_responses":1})")
          .status,
      200);
  BOOST_REQUIRE(run_until(rig.io, [&] { return rig.sink.units.size() >= 2; }));
  BOOST_TEST(rig.sink.units.size() == 2u);
  BOOST_TEST(rig.sink.units[1].source_id == id);
  BOOST_TEST(rig.sink.units[1].cursor == "2");
  std::int64_t faults_left = -1;
  auto state = a->call("GET", "/admin/v1/faults");
  std::smatch m;
  if (std::regex_search(state.body, m, std::regex("\"malformed_responses\":([0-9]+)"))) {
    faults_left = std::stoll(m[1]);
  }
  BOOST_TEST(faults_left == 0);  // the malformed fetch happened and was retried
}

BOOST_AUTO_TEST_CASE(retry_after_and_malformed_answers) {
  Standin s("adapter_faults");
  AdapterRig rig(adapter_config(s));
  BOOST_REQUIRE(rig.publish({national_entry(kNational11)}).status == SendResult::Status::kAccepted);
  auto a = client(s, "A");
  BOOST_REQUIRE_EQUAL(
      a->call("POST", "/admin/v1/faults", R"({"fail_status":429,"fail_count":1,"retry_after":7})")
          .status,
      200);
  const auto f1 = national_unit("f-1", kA43);
  const auto f2 = national_unit("f-2", kA43);
  auto limited = rig.send(f1);
  BOOST_TEST(limited.status == SendResult::Status::kRetry);
  BOOST_TEST(limited.error_code == "RATE_LIMITED");
  BOOST_REQUIRE(limited.retry_after.has_value());
  BOOST_TEST(limited.retry_after->count() == 7);
  BOOST_REQUIRE_EQUAL(
      a->call("POST", "/admin/v1/faults", R"({"maintenance":true,"retry_after":120})").status, 200);
  auto maintenance = rig.send(f1);
  BOOST_TEST(maintenance.status == SendResult::Status::kRetry);
  BOOST_TEST(maintenance.error_code == "MAINTENANCE");
  BOOST_TEST(maintenance.retry_after.value_or(std::chrono::seconds(0)).count() == 120);
  BOOST_REQUIRE_EQUAL(
      a->call("POST", "/admin/v1/faults", R"({"maintenance":false,"malformed_responses":1})")
          .status,
      200);
  auto malformed = rig.send(f1);
  BOOST_TEST(malformed.status == SendResult::Status::kRetry);
  BOOST_TEST(malformed.error_code == "MALFORMED_RESPONSE");
  auto resent = rig.send(f1);
  BOOST_TEST(resent.status == SendResult::Status::kAccepted);
  BOOST_TEST(deliveries(*a, "f-1", nullptr) == 1);
  // A malformed directory is an error, not a crash.
  BOOST_REQUIRE_EQUAL(a->call("POST", "/admin/v1/faults", R"({"malformed_responses":1})").status,
                      200);
  auto dir = rig.directory();
  BOOST_TEST(dir.status.status == SendResult::Status::kRetry);
  BOOST_TEST(dir.entries.empty());
  // A connection dropped mid-answer is a transient transport error; the resend lands once.
  BOOST_REQUIRE_EQUAL(a->call("POST", "/admin/v1/faults", R"({"drop_responses":1})").status, 200);
  auto dropped = rig.send(f2);
  BOOST_TEST(dropped.status == SendResult::Status::kRetry);
  auto again = rig.send(f2);
  BOOST_TEST(again.status == SendResult::Status::kAccepted);
  BOOST_TEST(deliveries(*a, "f-2", nullptr) == 1);
  // Peer gone (kept-alive connections closed, nothing listening): transient.
  s.server->stop();
  auto refused = rig.send(national_unit("f-3", kA43));
  BOOST_TEST(refused.status == SendResult::Status::kRetry);
  BOOST_TEST(refused.error_code == "TRANSPORT");
}

BOOST_AUTO_TEST_CASE(slow_answer_times_out_as_transient) {
  Standin s("adapter_slow");
  auto config = adapter_config(s);
  config.timeout = std::chrono::milliseconds(300);
  AdapterRig rig(config);
  auto a = client(s, "A");
  BOOST_REQUIRE_EQUAL(a->call("POST", "/admin/v1/faults", R"({"delay_ms":1500})").status, 200);
  auto slow = rig.directory();
  BOOST_TEST(slow.status.status == SendResult::Status::kRetry);
  BOOST_TEST(slow.status.error_code == "TIMEOUT");
  BOOST_REQUIRE_EQUAL(a->call("POST", "/admin/v1/faults", R"({"delay_ms":0})").status, 200);
  BOOST_TEST(rig.directory().status.status == SendResult::Status::kAccepted);
}

BOOST_AUTO_TEST_CASE(stop_drains_in_flight_calls_once) {
  Standin s("adapter_stop");
  AdapterRig rig(adapter_config(s));
  rig.adapter->start();
  std::optional<SendResult> result;
  int drained = 0;
  bool result_before_drain = false;
  rig.adapter->send(national_unit("s-1", kA43), [&](SendResult r) { result = std::move(r); });
  rig.adapter->stop([&] {
    ++drained;
    result_before_drain = result.has_value();
  });
  BOOST_REQUIRE(run_until(rig.io, [&] { return drained > 0; }));
  BOOST_TEST(result_before_drain);
  rig.io.restart();
  rig.io.poll();
  BOOST_TEST(drained == 1);
  // After stop, calls answer at once with a transient error; start again works.
  auto late = rig.send(national_unit("s-2", kA43));
  BOOST_TEST(late.status == SendResult::Status::kRetry);
  BOOST_TEST(late.error_code == "ADAPTER_STOPPED");
  rig.adapter->start();
  BOOST_TEST(rig.directory().status.status == SendResult::Status::kAccepted);
}

BOOST_AUTO_TEST_CASE(push_notice_triggers_a_poll) {
  Standin s("adapter_push");
  auto config = adapter_config(s);
  config.poll_interval = std::chrono::hours(1);  // only a notice can bring the second message
  config.push.enabled = true;
  config.push.tls.ca_file = (env().pki / "tls/regional-ca.pem").string();
  config.push.tls.cert_file = (env().pki / "tls/gateway-regional-server-ec.cert.pem").string();
  config.push.tls.key_file = (env().pki / "tls/gateway-regional-server-ec.key.pem").string();
  config.push.peer.subject_cn = "regional-standin-client";  // the stand-in's push identity
  AdapterRig rig(config);
  BOOST_REQUIRE(rig.publish({national_entry(kNational11)}).status == SendResult::Status::kAccepted);
  auto a = client(s, "A");
  BOOST_REQUIRE_EQUAL(a->send(message_from_a("n-1", kNational11)).status, 201);
  bool registered = false;
  rig.adapter->on_push_registered([&](bool ok) { registered = ok; });
  rig.adapter->start();
  BOOST_REQUIRE(run_until(rig.io, [&] { return registered && rig.sink.units.size() == 1; }));
  BOOST_TEST(rig.adapter->push_port() != 0);
  BOOST_REQUIRE_EQUAL(a->send(message_from_a("n-2", kNational11, 9)).status, 201);
  BOOST_REQUIRE(run_until(rig.io, [&] { return rig.sink.units.size() == 2; }));
  BOOST_TEST(rig.sink.units[1].cursor == "2");
  BOOST_TEST(s.server->notices_delivered() >= 1);
}

// ---- pipelined intake (AdapterSink, intake_window > 1) ---------------------------------------

constexpr std::size_t kWindow = 4;

// The adapter with a sink that answers like the engine, up to kWindow items at once; pages of 3
// end inside the window, so the next page is listed while items are outstanding.
struct PipelineRig {
  asio::io_context io;
  testing::PipelineSink sink;
  std::unique_ptr<RegionalAdapter> adapter;
  explicit PipelineRig(const Standin& s) {
    auto config = adapter_config(s);
    config.page_size = 3;
    gateway::AdapterContext ctx;
    ctx.executor = io.get_executor();
    ctx.sink = &sink;
    ctx.name = "regional";
    ctx.intake_window = kWindow;
    adapter = std::make_unique<RegionalAdapter>(std::move(config), ctx);
  }
  ~PipelineRig() {
    bool drained = false;
    adapter->stop([&drained] { drained = true; });
    sink.units.answer_held(0);  // after a failed check: whatever is still held, refused
    sink.receipts.answer_held(0);
    run_until(io, [&] { return drained; });
    adapter.reset();
    io.restart();
    io.poll();
  }
};

std::vector<std::string> ids_of(const std::vector<testing::PipelineSink::Handed>& v) {
  std::vector<std::string> out;
  for (const auto& h : v) out.push_back(h.id);
  return out;
}

// The gateway publishes kNational11; office A then sends it `count` messages: their ids.
std::vector<std::string> mail_for_the_gateway(const Standin& s, std::size_t count,
                                              std::uint64_t seed) {
  auto gw = client(s, "gateway");
  const std::string offices =
      R"({"offices":[{"office_no":"1371100452","service_type":"11","status":"ACTIVE"}]})";
  BOOST_REQUIRE_EQUAL(gw->call("PUT", "/rhn/v1/directory/external", offices).status, 200);
  auto a = client(s, "A");
  std::vector<std::string> ids;
  for (std::size_t i = 0; i < count; ++i) {
    auto sent = a->send(message_from_a("pipe-" + std::to_string(seed + i), kNational11, seed + i));
    BOOST_REQUIRE_EQUAL(sent.status, 201);
    ids.push_back(decode_send_answer(sent.body)->id);
  }
  return ids;
}

BOOST_AUTO_TEST_CASE(pipelined_mailbox_fills_the_window_in_order) {
  Standin s("adapter_pipelined");
  const auto ids = mail_for_the_gateway(s, 10, 300);
  PipelineRig rig(s);
  rig.sink.receipts.set_hold(false);
  rig.adapter->start();
  testing::drive_pipelined_intake(rig.io, rig.sink.units, kWindow, ids.size());
  auto& lane = rig.sink.units;
  BOOST_TEST(lane.max_outstanding() > 1u);
  BOOST_TEST(lane.max_outstanding() <= kWindow);
  BOOST_TEST(ids_of(lane.handed()) == ids, boost::test_tools::per_element());  // each once
  // The engine persists the cursors of the items answered true, in hand-over order.
  const auto handed = lane.handed();
  const auto accepted = lane.accepted();
  BOOST_TEST_REQUIRE(accepted.size() == handed.size());
  for (std::size_t i = 0; i < handed.size(); ++i) {
    BOOST_TEST(accepted[i].cursor == std::to_string(i + 1));
    BOOST_TEST(handed[i].cursor == std::to_string(i + 1));
  }
  // The adapter's own position is past the last of them: a new message is the next one handed.
  auto a = client(s, "A");
  auto later = a->send(message_from_a("pipe-later", kNational11, 320));
  BOOST_REQUIRE_EQUAL(later.status, 201);
  testing::drive_pipelined_intake(rig.io, lane, kWindow, ids.size() + 1);
  BOOST_REQUIRE_EQUAL(lane.handed().size(), ids.size() + 1);
  BOOST_TEST(lane.handed().back().id == decode_send_answer(later.body)->id);
}

BOOST_AUTO_TEST_CASE(pipelined_mailbox_starts_over_after_the_last_true) {
  Standin s("adapter_pipelined_false");
  const auto ids = mail_for_the_gateway(s, 10, 340);
  PipelineRig rig(s);
  rig.sink.receipts.set_hold(false);
  rig.adapter->start();
  // Second window (items 4-7): 4 true, 5 false, and 6, 7 false with it (the contract).
  testing::drive_pipelined_intake(rig.io, rig.sink.units, kWindow, ids.size(), 1);
  auto& lane = rig.sink.units;
  BOOST_TEST(lane.max_outstanding() <= kWindow);
  // 0-7, then the run starts over at 5: nothing skipped, nothing true twice.
  std::vector<std::string> expected(ids.begin(), ids.begin() + 8);
  expected.insert(expected.end(), ids.begin() + 5, ids.end());
  BOOST_TEST(ids_of(lane.handed()) == expected, boost::test_tools::per_element());
  BOOST_TEST(ids_of(lane.accepted()) == ids, boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(pipelined_stop_waits_for_every_outstanding_item) {
  Standin s("adapter_pipelined_stop");
  mail_for_the_gateway(s, 6, 380);
  PipelineRig rig(s);
  rig.sink.receipts.set_hold(false);
  rig.adapter->start();
  auto& lane = rig.sink.units;
  BOOST_REQUIRE(run_until(rig.io, [&] { return lane.held() == kWindow; }));
  int drained = 0;
  rig.adapter->stop([&] { ++drained; });
  {
    // Waiting for something not to happen: a bounded run of the adapter, not a sleep.
    auto guard = asio::make_work_guard(rig.io);
    rig.io.restart();
    rig.io.run_for(std::chrono::milliseconds(300));
  }
  BOOST_TEST(drained == 0);
  BOOST_TEST(lane.handed().size() == kWindow);
  lane.answer_held(0);  // the engine stopping: every item refused
  BOOST_REQUIRE(run_until(rig.io, [&] { return drained > 0; }));
  rig.io.restart();
  rig.io.poll();
  BOOST_TEST(drained == 1);
  BOOST_TEST(lane.handed().size() == kWindow);
}

BOOST_AUTO_TEST_CASE(pipelined_receipts_wait_for_every_answer_after_a_false) {
  Standin s("adapter_pipelined_receipts");
  std::vector<std::string> ids;
  {
    AdapterRig sender(adapter_config(s));  // not started: it only sends
    BOOST_REQUIRE(sender.publish({national_entry(kNational11)}).status ==
                  SendResult::Status::kAccepted);
    for (std::uint64_t i = 0; i < 10; ++i) {
      auto sent = sender.send(national_unit("pr-" + std::to_string(i), kA43, 360 + i));
      BOOST_REQUIRE(sent.status == SendResult::Status::kAccepted);
      ids.push_back(sent.remote_id);
    }
  }
  auto a = client(s, "A");
  for (const auto& id : ids) BOOST_REQUIRE_EQUAL(a->read(id).status, 200);
  PipelineRig rig(s);
  rig.sink.units.set_hold(false);
  rig.adapter->start();
  // Second window (items 4-7): 6 and 7 are answered false first; nothing may be handed over
  // until 4 and 5 are answered (true, against the contract: the position still moves past them).
  testing::drive_pipelined_intake(rig.io, rig.sink.receipts, kWindow, ids.size(), 2, true);
  auto& lane = rig.sink.receipts;
  BOOST_TEST(lane.max_outstanding() == kWindow);
  std::vector<std::string> expected(ids.begin(), ids.begin() + 8);
  expected.insert(expected.end(), ids.begin() + 6, ids.end());
  BOOST_TEST(ids_of(lane.handed()) == expected, boost::test_tools::per_element());
  BOOST_TEST(ids_of(lane.accepted()) == ids, boost::test_tools::per_element());
}

BOOST_AUTO_TEST_SUITE_END()

namespace {

// Issue 14: a mailbox message served broken for good (`kind`, the stand-in's poison_next) is
// handed over as unreadable with its reason (a JSON path), logged once and counted, and the good
// message sent after it arrives; polling on does not offer the bad one again. On the old adapter
// the mailbox stopped at the bad message for good and neither came.
void poison_then_good(const std::string& kind, const std::string& reason_part, std::uint64_t seed) {
  Standin s("poison_" + kind);
  AdapterRig rig(adapter_config(s));
  BOOST_REQUIRE(rig.publish({national_entry(kNational11)}).status == SendResult::Status::kAccepted);
  auto a = client(s, "A");
  BOOST_REQUIRE_EQUAL(
      a->call("POST", "/admin/v1/faults", R"({"poison_next":")" + kind + R"("})").status, 200);
  auto bad = a->send(message_from_a("bad-" + kind, kNational11, seed));
  BOOST_REQUIRE_EQUAL(bad.status, 201);
  auto good = a->send(message_from_a("good-" + kind, kNational11, seed + 1));
  BOOST_REQUIRE_EQUAL(good.status, 201);
  const std::string bad_id = decode_send_answer(bad.body)->id;
  const std::string good_id = decode_send_answer(good.body)->id;
  rig.adapter->start();
  BOOST_REQUIRE(run_until(rig.io, [&] { return rig.sink.units.size() >= 2; }));
  const auto& first = rig.sink.units[0];
  BOOST_TEST(first.source_id == bad_id);
  BOOST_TEST(first.unreadable.find(reason_part) != std::string::npos, first.unreadable);
  BOOST_TEST(first.files.empty());
  BOOST_TEST(first.cursor == "1");
  const auto& second = rig.sink.units[1];
  BOOST_TEST(second.source_id == good_id);
  BOOST_TEST(second.unreadable.empty());
  BOOST_TEST(!second.files.empty());
  BOOST_TEST(second.cursor == "2");
  // More polls: the cursor moved past both, nothing is offered or logged again.
  const auto polls_end = std::chrono::steady_clock::now() + std::chrono::milliseconds(400);
  run_until(rig.io, [&] { return std::chrono::steady_clock::now() > polls_end; });
  BOOST_TEST(rig.sink.units.size() == 2u);
  BOOST_TEST(rig.counters->items_unreadable.load() == 1u);
  BOOST_TEST(rig.events_named("item-unreadable") == 1u);
  BOOST_TEST((std::count(rig.event_items.begin(), rig.event_items.end(), bad_id) == 1));
  // The refusal goes back through the network's reject path.
  gateway::OutboundReceipt refusal;
  refusal.source_id = bad_id;
  refusal.state = gateway::ReceiptState::kRejected;
  refusal.reason = "ITEM_UNREADABLE (" + first.unreadable + ")";
  BOOST_TEST(rig.receipt(refusal).status == SendResult::Status::kAccepted);
  auto receipts = decode_receipt_page(a->receipts().body);
  BOOST_REQUIRE(receipts.has_value());
  BOOST_REQUIRE_EQUAL(receipts->items.size(), 1u);
  BOOST_TEST(receipts->items[0].state == "REJECTED");
}

}  // namespace

BOOST_AUTO_TEST_SUITE(regional_poison)

BOOST_AUTO_TEST_CASE(bad_base64_is_refused_and_the_next_message_arrives) {
  poison_then_good("bad_base64", "documents[0].content: not base64", 401);
}

BOOST_AUTO_TEST_CASE(base64_with_a_line_break_is_refused_and_the_next_message_arrives) {
  poison_then_good("base64_newline", "documents[0].content: not base64", 411);
}

BOOST_AUTO_TEST_CASE(missing_field_is_refused_and_the_next_message_arrives) {
  poison_then_good("missing_field", "from.office_no: missing", 421);
}

BOOST_AUTO_TEST_CASE(too_deep_json_is_refused_and_the_next_message_arrives) {
  poison_then_good("deep_json", "nested deeper than", 431);
}

// Issue 14: a message with more documents than the contract's 100 was taken.
BOOST_AUTO_TEST_CASE(more_than_100_documents_are_refused_and_the_next_message_arrives) {
  poison_then_good("too_many_documents", "documents: 101 entries, the contract allows 1-100", 441);
}

// A message whose answer never parses: transient twice, refused the third time in a row.
BOOST_AUTO_TEST_CASE(a_message_that_never_parses_is_refused_after_three_answers) {
  Standin s("poison_cut");
  AdapterRig rig(adapter_config(s));
  BOOST_REQUIRE(rig.publish({national_entry(kNational11)}).status == SendResult::Status::kAccepted);
  auto a = client(s, "A");
  auto bad = a->send(message_from_a("cut-1", kNational11, 451));
  BOOST_REQUIRE_EQUAL(bad.status, 201);
  const std::string id = decode_send_answer(bad.body)->id;
  BOOST_REQUIRE_EQUAL(a->send(message_from_a("cut-2", kNational11, 452)).status, 201);
  BOOST_REQUIRE_EQUAL(
      a->call("POST", "/admin/v1/faults",
              R"({"only":"GET /rhn/v1/messages/)" + id + R"(","malformed_responses":1000})")
          .status,
      200);
  rig.adapter->start();
  BOOST_REQUIRE(run_until(rig.io, [&] { return rig.sink.units.size() >= 2; }));
  BOOST_TEST(rig.sink.units[0].source_id == id);
  BOOST_TEST(rig.sink.units[0].unreadable.find("body: not JSON") != std::string::npos);
  BOOST_TEST(rig.sink.units[1].unreadable.empty());
  BOOST_TEST(rig.counters->malformed_answers.load() == 2u);
  BOOST_TEST(rig.counters->polls_failed.load() >= 2u);
  BOOST_TEST(rig.events_named("poll-failed") == 1u);  // once per streak, not per retry
}

// A mailbox failing on every call grows the stalled gauge while the cursor stays; it drops to 0
// once a poll goes through.
BOOST_AUTO_TEST_CASE(failing_polls_grow_the_stalled_gauge_and_recover) {
  Standin s("poison_stalled");
  AdapterRig rig(adapter_config(s));
  auto a = client(s, "A");
  BOOST_REQUIRE_EQUAL(a->call("POST", "/admin/v1/faults",
                              R"({"only":"GET /rhn/v1/mailbox","fail_status":500,"fail_count":5})")
                          .status,
                      200);
  rig.adapter->start();
  BOOST_REQUIRE(run_until(rig.io, [&] { return rig.counters->stalled_polls.load() >= 3; }));
  BOOST_TEST(rig.events_named("poll-failed") == 1u);
  BOOST_REQUIRE(run_until(rig.io, [&] { return rig.counters->stalled_polls.load() == 0; }));
  BOOST_TEST(rig.events_named("poll-recovered") == 1u);
}

BOOST_AUTO_TEST_SUITE_END()

// ---- the push listener (issue 14): a notice-sized body limit, a connection cap, and only the
// network's own push identity -------------------------------------------------------------------

namespace {

RegionalAdapterConfig push_config(const Standin& s) {
  auto config = adapter_config(s);
  config.poll_interval = std::chrono::hours(1);
  config.push.enabled = true;
  config.push.tls.ca_file = (env().pki / "tls/regional-ca.pem").string();
  config.push.tls.cert_file = (env().pki / "tls/gateway-regional-server-ec.cert.pem").string();
  config.push.tls.key_file = (env().pki / "tls/gateway-regional-server-ec.key.pem").string();
  config.push.peer.subject_cn = "regional-standin-client";
  config.push.max_connections = 2;
  return config;
}

// A client of the push listener with `who`'s certificate, on the rig's io_context.
struct PushClient {
  PushClient(AdapterRig& rig, const std::string& who) : rig_(rig) {
    adapters::http::ClientOptions o;
    o.port = rig.adapter->push_port();
    o.tls = member_tls(who);
    o.timeout = std::chrono::milliseconds(5000);
    o.max_connections = 1;
    client = std::make_unique<adapters::http::HttpsClient>(rig.io.get_executor(), o);
  }
  // The status, or 0 when the connection failed.
  int post(std::string body) {
    std::optional<int> status;
    adapters::http::Request req;
    req.method = "POST";
    req.target = "/rhn/notice";
    req.headers = {{"content-type", "application/json"}};
    req.body = std::move(body);
    client->request(std::move(req), [&](boost::system::error_code ec, adapters::http::Response r) {
      status = ec ? 0 : r.status;
    });
    BOOST_REQUIRE(run_until(rig_.io, [&] { return status.has_value(); }));
    return *status;
  }
  AdapterRig& rig_;
  std::unique_ptr<adapters::http::HttpsClient> client;
};

const std::string kNotice = R"({"event":"mailbox","sequence":1})";

}  // namespace

// Issue 14: a server certificate that fails verification is logged (peer, reason) and counted.
BOOST_AUTO_TEST_CASE(tls_verification_failures_are_logged_and_counted) {
  Standin s("tls_verify");
  auto config = adapter_config(s);
  config.tls.ca_file = (env().pki / "tls/national-ca.pem").string();  // not the server's CA
  AdapterRig rig(config);
  const auto result = rig.directory();
  BOOST_TEST(result.status.status == SendResult::Status::kRetry);
  BOOST_TEST(rig.counters->tls_verify_failures.load() >= 1u);
  BOOST_TEST(rig.events_named("tls-verify-failed") >= 1u);
}

BOOST_AUTO_TEST_SUITE(regional_push)

// Every facility holds a certificate of the regional CA: only the pinned identity may push.
BOOST_AUTO_TEST_CASE(only_the_networks_push_identity_is_served) {
  Standin s("push_identity");
  AdapterRig rig(push_config(s));
  rig.adapter->start();
  BOOST_REQUIRE(run_until(rig.io, [&] { return rig.adapter->push_port() != 0; }));
  PushClient facility(rig, "B");
  BOOST_TEST(facility.post(kNotice) == 0);  // closed after the handshake, nothing read
  BOOST_TEST(rig.counters->push_refused.load() == 1u);
  BOOST_TEST(rig.events_named("push-refused") == 1u);
  PushClient network(rig, "A");  // regional-standin-client: the network's push identity
  BOOST_TEST(network.post(kNotice) == 204);
  BOOST_TEST(rig.counters->push_refused.load() == 1u);
}

BOOST_AUTO_TEST_CASE(a_fingerprint_pin_takes_that_certificate_only) {
  Standin s("push_fingerprint");
  auto config = push_config(s);
  config.push.peer.subject_cn.clear();
  const auto cert = gateway::pki::load_certificate(member_tls("A").cert_file);
  unsigned char* der = nullptr;
  const int n = i2d_X509(cert.get(), &der);
  BOOST_REQUIRE(n > 0);
  config.push.peer.sha256 = adapters::http::sha256_hex_of(
      std::string(reinterpret_cast<const char*>(der), static_cast<std::size_t>(n)));
  OPENSSL_free(der);
  AdapterRig rig(config);
  rig.adapter->start();
  BOOST_REQUIRE(run_until(rig.io, [&] { return rig.adapter->push_port() != 0; }));
  BOOST_TEST(PushClient(rig, "A").post(kNotice) == 204);
  BOOST_TEST(PushClient(rig, "stranger").post(kNotice) == 0);
  BOOST_TEST(rig.counters->push_refused.load() == 1u);
}

// A notice is a few dozen bytes: a body over 4 KiB is refused (it was 64 MiB).
BOOST_AUTO_TEST_CASE(a_body_larger_than_a_notice_is_refused) {
  Standin s("push_body");
  AdapterRig rig(push_config(s));
  rig.adapter->start();
  BOOST_REQUIRE(run_until(rig.io, [&] { return rig.adapter->push_port() != 0; }));
  PushClient network(rig, "A");
  BOOST_TEST(network.post(std::string(kMaxPushNoticeBytes + 1, ' ')) == 413);
  BOOST_TEST(rig.counters->push_refused.load() == 1u);
  BOOST_TEST(PushClient(rig, "A").post(kNotice) == 204);
}

// Open connections beyond push.max_connections are closed before the handshake.
BOOST_AUTO_TEST_CASE(connections_over_the_cap_are_closed) {
  Standin s("push_cap");
  AdapterRig rig(push_config(s));  // max_connections = 2
  rig.adapter->start();
  BOOST_REQUIRE(run_until(rig.io, [&] { return rig.adapter->push_port() != 0; }));
  PushClient first(rig, "A");
  PushClient second(rig, "A");
  BOOST_TEST(first.post(kNotice) == 204);  // both stay open (keep-alive)
  BOOST_TEST(second.post(kNotice) == 204);
  PushClient third(rig, "A");
  BOOST_TEST(third.post(kNotice) == 0);
  BOOST_TEST(rig.counters->push_refused.load() == 1u);
  first.client.reset();  // a place frees up once a connection closes
  BOOST_REQUIRE(run_until(rig.io, [&] {
    PushClient again(rig, "A");
    return again.post(kNotice) == 204;
  }));
}

BOOST_AUTO_TEST_CASE(push_settings_must_name_the_identity) {
  const auto parse = [](const std::string& push) {
    rapidjson::Document d;
    const std::string json = R"({"port":8443,"facility_id":"KAKEHASHI-GW",)"
                             R"("tls":{"ca_file":"a","cert_file":"b","key_file":"c"},"push":)" +
                             push + "}";
    d.Parse(json.c_str());
    std::vector<gateway::ConfigError> errors;
    gateway::ConfigNode node(&d, "networks.regional.settings", &errors);
    (void)parse_regional_config(node);
    std::string all;
    for (const auto& e : errors) all += e.path + ": " + e.message + "\n";
    return all;
  };
  const std::string tls = R"("tls":{"ca_file":"a","cert_file":"b","key_file":"c"})";
  BOOST_TEST(parse("{" + tls + "}").find("networks.regional.settings.push.peer") !=
             std::string::npos);
  BOOST_TEST(parse("{" + tls + R"(,"peer":{"sha256":"zz"}})")
                 .find("networks.regional.settings.push.peer.sha256") != std::string::npos);
  BOOST_TEST(parse("{" + tls + R"(,"peer":{"subject_cn":"regional-standin-client"}})").empty());
}

BOOST_AUTO_TEST_SUITE_END()
