// The admin listener over real TLS on 127.0.0.1 (port 0), against a SQLite store holding a few
// transfers: authentication (tokens, client certificates), roles, every endpoint, the audit
// export compared with `kakehashi audit export`, and /metrics read by a strict parser of the
// Prometheus text format.

#define BOOST_TEST_MODULE kakehashi_admin
#include <boost/test/unit_test.hpp>

#include <fcntl.h>
#include <unistd.h>

#include <atomic>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <future>
#include <map>
#include <mutex>
#include <regex>
#include <set>
#include <sstream>
#include <thread>

#include <rapidjson/document.h>

#include "adapters/common/http/asio.hpp"
#include "gateway/admin/access.hpp"
#include "gateway/admin/admin_config.hpp"
#include "gateway/admin/admin_server.hpp"
#include "gateway/admin/alerts.hpp"
#include "gateway/admin/api.hpp"
#include "gateway/admin/prometheus.hpp"
#include "gateway/audit/exporter.hpp"
#include "gateway/cli/command.hpp"
#include "gateway/registry/registry_store.hpp"
#include "gateway/store/store.hpp"

namespace fs = std::filesystem;
namespace net = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using namespace kakehashi::gateway;

namespace {

// ---- a strict Prometheus text-format (0.0.4) parser ---------------------------------------------

struct Sample {
  std::string name;
  std::map<std::string, std::string> labels;
  double value = 0;
};

struct Exposition {
  std::map<std::string, std::string> types;  // family -> type
  std::map<std::string, std::string> help;
  std::vector<Sample> samples;
  std::vector<std::string> errors;

  const Sample* find(const std::string& name,
                     const std::map<std::string, std::string>& labels = {}) const {
    for (const auto& s : samples) {
      if (s.name != name) continue;
      bool all = true;
      for (const auto& [k, v] : labels) {
        auto it = s.labels.find(k);
        if (it == s.labels.end() || it->second != v) all = false;
      }
      if (all) return &s;
    }
    return nullptr;
  }
};

bool metric_name(const std::string& n) {
  return std::regex_match(n, std::regex("[a-zA-Z_:][a-zA-Z0-9_:]*"));
}
bool label_name(const std::string& n) {
  return std::regex_match(n, std::regex("[a-zA-Z_][a-zA-Z0-9_]*"));
}

std::optional<double> parse_value(const std::string& v) {
  if (v == "+Inf" || v == "Inf") return INFINITY;
  if (v == "-Inf") return -INFINITY;
  if (v == "NaN") return NAN;
  if (!std::regex_match(v, std::regex("[-+]?([0-9]+(\\.[0-9]*)?|\\.[0-9]+)([eE][-+]?[0-9]+)?")))
    return std::nullopt;
  return std::strtod(v.c_str(), nullptr);
}

// The family a sample belongs to, given the declared types.
std::string family_of(const std::string& name, const std::map<std::string, std::string>& types) {
  if (types.count(name)) return name;
  for (const char* suffix : {"_bucket", "_sum", "_count"}) {
    const std::string s = suffix;
    if (name.size() > s.size() && name.compare(name.size() - s.size(), s.size(), s) == 0) {
      const auto base = name.substr(0, name.size() - s.size());
      auto it = types.find(base);
      if (it != types.end() && (it->second == "histogram" || it->second == "summary")) return base;
    }
  }
  return "";
}

Exposition parse_prometheus(const std::string& text) {
  Exposition e;
  auto err = [&](int line, const std::string& what) {
    e.errors.push_back("line " + std::to_string(line) + ": " + what);
  };
  if (!text.empty() && text.back() != '\n') err(0, "does not end with a newline");
  std::istringstream in(text);
  std::string line;
  int n = 0;
  std::string current;           // the family whose samples are being read
  std::set<std::string> closed;  // families whose block ended (no interleaving)
  std::set<std::string> series;
  while (std::getline(in, line)) {
    ++n;
    if (line.empty()) continue;
    if (line[0] == '#') {
      std::istringstream f(line.substr(1));
      std::string kw, name;
      f >> kw >> name;
      if (kw != "HELP" && kw != "TYPE") continue;  // a plain comment
      if (!metric_name(name)) err(n, "bad metric name in " + kw);
      std::string rest;
      std::getline(f, rest);
      if (!rest.empty() && rest[0] == ' ') rest.erase(0, 1);
      if (kw == "HELP") {
        if (e.help.count(name)) err(n, "second HELP for " + name);
        for (std::size_t i = 0; i < rest.size(); ++i) {
          if (rest[i] == '\\' &&
              (i + 1 >= rest.size() || (rest[i + 1] != '\\' && rest[i + 1] != 'n')))
            err(n, "bad escape in HELP");
          if (rest[i] == '\\') ++i;
        }
        e.help[name] = rest;
      } else {
        if (e.types.count(name)) err(n, "second TYPE for " + name);
        static const std::set<std::string> kTypes{"counter", "gauge", "histogram", "summary",
                                                  "untyped"};
        if (!kTypes.count(rest)) err(n, "unknown type " + rest);
        if (closed.count(name) || current == name) err(n, "TYPE after samples of " + name);
        e.types[name] = rest;
      }
      continue;
    }
    Sample s;
    std::size_t i = 0;
    while (i < line.size() && line[i] != '{' && line[i] != ' ') ++i;
    s.name = line.substr(0, i);
    if (!metric_name(s.name)) err(n, "bad metric name '" + s.name + "'");
    if (i < line.size() && line[i] == '{') {
      ++i;
      while (i < line.size() && line[i] != '}') {
        std::size_t eq = line.find('=', i);
        if (eq == std::string::npos) {
          err(n, "label without =");
          break;
        }
        const auto lname = line.substr(i, eq - i);
        if (!label_name(lname)) err(n, "bad label name '" + lname + "'");
        i = eq + 1;
        if (i >= line.size() || line[i] != '"') {
          err(n, "label value not quoted");
          break;
        }
        ++i;
        std::string value;
        bool ended = false;
        while (i < line.size()) {
          const char c = line[i++];
          if (c == '"') {
            ended = true;
            break;
          }
          if (c == '\\') {
            if (i >= line.size()) break;
            const char x = line[i++];
            if (x == 'n') {
              value += '\n';
            } else if (x == '\\' || x == '"') {
              value += x;
            } else {
              err(n, "bad escape in label value");
            }
          } else {
            value += c;
          }
        }
        if (!ended) {
          err(n, "unterminated label value");
          break;
        }
        if (s.labels.count(lname)) err(n, "duplicate label " + lname);
        s.labels[lname] = value;
        if (i < line.size() && line[i] == ',') ++i;
      }
      if (i >= line.size() || line[i] != '}') {
        err(n, "labels not closed");
        continue;
      }
      ++i;
    }
    if (i >= line.size() || line[i] != ' ') {
      err(n, "no value");
      continue;
    }
    std::istringstream vs(line.substr(i + 1));
    std::string value, timestamp, extra;
    vs >> value >> timestamp >> extra;
    const auto v = parse_value(value);
    if (!v) err(n, "bad value '" + value + "'");
    if (!timestamp.empty() && !std::regex_match(timestamp, std::regex("-?[0-9]+")))
      err(n, "bad timestamp");
    if (!extra.empty()) err(n, "trailing text");
    s.value = v.value_or(0);
    const auto family = family_of(s.name, e.types);
    if (family.empty()) {
      err(n, "sample " + s.name + " without a TYPE");
    } else {
      if (family != current) {
        if (closed.count(family)) err(n, "samples of " + family + " are not together");
        if (!current.empty()) closed.insert(current);
        current = family;
      }
      const auto& type = e.types[family];
      if (type == "histogram" && s.name == family) err(n, "histogram sample without a suffix");
      if (type == "histogram" && s.name == family + "_bucket" && !s.labels.count("le"))
        err(n, "bucket without le");
      if (type == "counter" && *v < 0) err(n, "negative counter");
    }
    std::string key = s.name;
    for (const auto& [k, val] : s.labels) key += "|" + k + "=" + val;
    if (!series.insert(key).second) err(n, "duplicate series " + key);
    e.samples.push_back(std::move(s));
  }
  // Histograms: cumulative buckets, ascending le, +Inf equal to _count.
  for (const auto& [family, type] : e.types) {
    if (type != "histogram") continue;
    std::map<std::string, std::vector<std::pair<double, double>>> buckets;  // labels w/o le
    std::map<std::string, double> counts;
    for (const auto& s : e.samples) {
      auto labels = s.labels;
      const auto le = labels.count("le") ? labels["le"] : "";
      labels.erase("le");
      std::string key;
      for (const auto& [k, v] : labels) key += k + "=" + v + ",";
      if (s.name == family + "_bucket")
        buckets[key].push_back({parse_value(le).value_or(NAN), s.value});
      if (s.name == family + "_count") counts[key] = s.value;
    }
    for (const auto& [key, bs] : buckets) {
      for (std::size_t i = 1; i < bs.size(); ++i) {
        if (!(bs[i].first > bs[i - 1].first)) e.errors.push_back(family + ": le not ascending");
        if (bs[i].second < bs[i - 1].second)
          e.errors.push_back(family + ": buckets not cumulative");
      }
      if (bs.empty() || !std::isinf(bs.back().first))
        e.errors.push_back(family + ": no +Inf bucket");
      if (!counts.count(key) || counts[key] != bs.back().second)
        e.errors.push_back(family + ": +Inf != _count");
    }
  }
  return e;
}

// ---- fixtures -----------------------------------------------------------------------------------

std::string read_text(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

std::string first_line(const fs::path& p) {
  auto t = read_text(p);
  return t.substr(0, t.find('\n'));
}

// The development PKI (deploy/pki.sh), made once for the whole run.
const fs::path& pki_dir() {
  static const fs::path dir = [] {
    const auto d = fs::temp_directory_path() / ("kh-admin-pki-" + std::to_string(::getpid()));
    const std::string cmd =
        std::string("bash ") + KAKEHASHI_PKI_SCRIPT + " " + d.string() + " >/dev/null";
    if (std::system(cmd.c_str()) != 0) throw std::runtime_error("deploy/pki.sh failed");
    return d;
  }();
  return dir;
}

struct PkiCleanup {
  ~PkiCleanup() {
    std::error_code ec;
    fs::remove_all(fs::temp_directory_path() / ("kh-admin-pki-" + std::to_string(::getpid())), ec);
  }
};
BOOST_TEST_GLOBAL_FIXTURE(PkiCleanup);

struct Reply {
  int status = 0;
  std::map<std::string, std::string> headers;
  std::string body;
  rapidjson::Document json() const {
    rapidjson::Document d;
    d.Parse(body.data(), body.size());
    BOOST_TEST_REQUIRE(!d.HasParseError(), "not JSON: " << body);
    return d;
  }
};

constexpr std::int64_t kNow = 1748736000000;  // 2025-06-01T00:00:00Z
constexpr std::int64_t kHour = 3600 * 1000;

// A network whose offices log in themselves (issue 16), as its adapter's OfficeLogins shows it:
// four offices in four states; the code 483920 is accepted. Called on the io thread; answers at
// once (the caller's thread, as the contract allows) unless `silent`.
struct FakeOfficeLogins : OfficeLogins {
  std::mutex mutex;
  std::vector<OfficeSessionView> views;
  std::vector<std::string> otps;  // codes submitted, in order
  bool silent = false;            // never answers (another instance would carry it out)
  bool throws = false;            // office_states throws instead of answering
  std::vector<std::function<void(LoginStep)>> unanswered;

  FakeOfficeLogins() {
    OfficeSessionView due;  // active; its session lapses in 20 minutes; certificate: 60 days
    due.office_no = "3271500021";
    due.state = "active";
    due.user_id = "kk-gw-3271500021";
    due.access_expires_at = "2025-06-01T00:10:00Z";
    due.refresh_expires_at = "2025-06-01T00:20:00Z";
    due.certificate_not_after = "2025-07-31T00:00:00Z";
    OfficeSessionView lapsed;
    lapsed.office_no = "3271500013";
    lapsed.state = "login_required";
    lapsed.detail = "the 8-hour session lapsed";
    lapsed.certificate_not_after = "2027-06-01T00:00:00Z";
    OfficeSessionView locked;
    locked.office_no = "3271500039";
    locked.state = "locked";
    locked.locked_until = "2025-06-01T00:30:00Z";
    OfficeSessionView invalid;
    invalid.office_no = "3271500047";
    invalid.state = "credentials_invalid";
    invalid.detail = "S4033 certificate revoked";
    views = {due, lapsed, locked, invalid};
  }

  OfficeSessionView* find(const std::string& office) {
    for (auto& v : views)
      if (v.office_no == office) return &v;
    return nullptr;
  }

  void begin_login(std::string office, std::function<void(LoginStep)> done) override {
    LoginStep step;
    {
      std::lock_guard lock(mutex);
      if (silent) return unanswered.push_back(std::move(done));
      auto* v = find(office);
      if (v == nullptr) {
        step.state = "unknown_office";
      } else if (v->state == "locked") {
        step.state = "locked";
        step.locked_until = v->locked_until;
      } else {
        v->state = "awaiting_otp";
        step.state = "awaiting_otp";
        step.otp_delivery = "sms";
        step.otp_destination_hint = "***-****-5678";
        step.otp_expires_at = "2025-06-01T00:05:00Z";
      }
    }
    done(std::move(step));
  }
  void submit_otp(std::string office, std::string otp,
                  std::function<void(LoginStep)> done) override {
    LoginStep step;
    {
      std::lock_guard lock(mutex);
      otps.push_back(otp);
      auto* v = find(office);
      if (v == nullptr) {
        step.state = "unknown_office";
      } else if (otp == "483920") {
        v->state = "active";
        v->refresh_expires_at = "2025-06-01T08:00:00Z";
        step.state = "active";
        step.refresh_expires_at = v->refresh_expires_at;
      } else {
        step.state = "awaiting_otp";
        step.error = "KW1003";
        step.message = "wrong one-time password";
      }
    }
    done(std::move(step));
  }
  void office_states(std::function<void(std::vector<OfficeSessionView>)> done) override {
    std::vector<OfficeSessionView> copy;
    {
      std::lock_guard lock(mutex);
      if (throws) throw std::runtime_error("adapter bug");
      copy = views;
    }
    done(std::move(copy));
  }
};

// Everything written to stderr (the gateway's log) while alive.
struct CaptureStderr {
  fs::path file;
  int saved = -1;
  CaptureStderr() {
    file = fs::temp_directory_path() / ("kh-admin-stderr-" + std::to_string(::getpid()));
    std::fflush(stderr);
    saved = ::dup(2);
    const int fd = ::open(file.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    ::dup2(fd, 2);
    ::close(fd);
  }
  std::string text() {
    std::fflush(stderr);
    std::ifstream in(file, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  }
  ~CaptureStderr() {
    std::fflush(stderr);
    ::dup2(saved, 2);
    ::close(saved);
    std::error_code ec;
    fs::remove(file, ec);
  }
};

store::NewTransfer unit(const std::string& source_id, const std::string& sequence,
                        const std::string& recipient) {
  store::NewTransfer t;
  t.source_adapter = "regional";
  t.source_id = source_id;
  t.dest_adapter = "national";
  t.direction = "regional->national";
  t.sender_office = "3271500013";
  t.sender_type = "43";
  t.recipient_office = recipient;
  t.recipient_type = "11";
  t.sequence = sequence;
  t.unit_kind = "K2";
  t.subject_key = "K2:202506:" + source_id;
  t.idempotency_key = "kh-" + source_id;
  t.payload = "sealed " + source_id;
  t.event_detail = "checks passed";
  return t;
}

struct Gateway {
  fs::path dir;
  std::string db;
  std::int64_t parked = 0, delivered = 0, in_flight = 0, refused = 0;
  std::string operator_token, auditor_token;
  net::io_context io;
  std::optional<net::executor_work_guard<net::io_context::executor_type>> work;
  std::thread thread;
  std::unique_ptr<admin::AdminServer> server;
  std::uint16_t port = 0;
  std::mutex mutex;
  admin::EngineSnapshot engine;  // what the fake engine shows (guarded by mutex)
  // The evidence bundle maker (AdminSources::evidence); empty: none offered.
  std::function<std::string(const std::string&, const std::string&, std::int64_t)> evidence;
  // The national adapter's counters as the daemon hands them over (atomics: no mutex).
  std::shared_ptr<kakehashi::gateway::AdapterCounters> national_adapter =
      std::make_shared<kakehashi::gateway::AdapterCounters>();
  // A network "kaigo" whose offices log in themselves; null: none.
  std::shared_ptr<FakeOfficeLogins> office_logins;
  std::chrono::milliseconds office_login_wait{std::chrono::seconds(20)};

  Gateway() {
    static int counter = 0;
    dir = fs::temp_directory_path() /
          ("kh-admin-" + std::to_string(::getpid()) + "-" + std::to_string(++counter));
    fs::create_directories(dir);
    db = (dir / "store.db").string();
    operator_token = first_line(pki_dir() / "admin/operator.token");
    auditor_token = first_line(pki_dir() / "admin/auditor.token");
    auto s = open_store();
    s->migrate();
    delivered =
        s->accept(unit("a", "20250601090000", "1371100452"), std::nullopt, kNow - 3 * kHour).id;
    parked =
        s->accept(unit("b", "20250601090001", "1371100460"), std::nullopt, kNow - 2 * kHour).id;
    in_flight = s->accept(unit("c", "20250601090002", "1371100478"), std::nullopt, kNow - kHour).id;
    auto bad = unit("d", "20250601090003", "1371100452");
    bad.state = store::kRejected;
    bad.dest_adapter = "";
    bad.reason = "[FIELD_DATE] UPJSK.CSV line 2";
    refused = s->accept(bad, std::nullopt, kNow - kHour).id;
    const auto claimed = s->claim_transfers("test", kNow - 3 * kHour + 1000, 60000, 10, {});
    for (const auto& t : claimed) {
      if (t.id == delivered)
        s->mark_delivered(t.id, "test", "remote-1", "to national as remote-1", kNow - 2 * kHour);
    }
    s->park(parked, "failed 8 times; last: 503", "engine", kNow - kHour);

    engine.running = true;
    engine.counters.retries = 7;
    engine.counters.commit_groups = 5;
    engine.counters.commit_group_failures = 1;
    engine.counters.commit_operations = 40;
    engine::NetworkStatus national;
    national.name = "national";
    national.directory_loaded = true;
    national.last_success = kNow - 1000;
    engine::NetworkStatus regional = national;
    regional.name = "regional";
    engine.networks = {national, regional};
    engine.latency["regional->national"].observe(0.5);
    engine.latency["regional->national"].observe(42);
  }

  std::unique_ptr<store::Store> open_store() const {
    store::AuditOptions audit;
    audit.actor = "gateway:test";
    return std::make_unique<store::Store>(store::open_sqlite(db), audit);
  }

  admin::AdminConfig config() const {
    admin::AdminConfig c;
    c.enabled = true;
    c.port = 0;
    c.certificate_file = (pki_dir() / "tls/admin-server.cert.pem").string();
    c.key_file = (pki_dir() / "tls/admin-server.key.pem").string();
    c.tokens_file = (pki_dir() / "admin/tokens").string();
    c.client_ca_file = (pki_dir() / "tls/admin-ca.pem").string();
    c.operator_subjects = {"CN=operator,OU=Admin,O=Kakehashi,C=JP"};
    c.auditor_subjects = {"CN=auditor,OU=Admin,O=Kakehashi,C=JP"};
    c.certificate_expiry_days = 30;
    c.office_login_wait = office_login_wait;
    return c;
  }

  void start() {
    admin::AdminSources s;
    s.instance = "gw-test";
    s.version = "0.0.0";
    const auto path = db;
    s.open_store = [this] { return open_store(); };
    s.open_registry_db = [path] { return store::open_sqlite(path); };
    s.engine = [this] {
      std::lock_guard lock(mutex);
      return engine;
    };
    s.office_name = [](const std::string& no, const std::string&) -> std::string {
      if (no == "3271500013") return "かけはし居宅介護支援事業所";
      if (no == "1371100452") return "Tokyo \"Day\" Service";
      return "";
    };
    s.expiry = admin::trust_domain_expiry_sources("national", (pki_dir() / "national").string());
    s.expiry.push_back(
        {"certificate", "admin.tls", (pki_dir() / "tls/admin-server.cert.pem").string()});
    s.audit_certificate_file = "";
    s.evidence = evidence;
    s.clock = [] { return kNow; };
    s.adapter_counters["national"] = national_adapter;
    if (office_logins) {
      s.office_logins = [logins = office_logins] {
        return admin::OfficeLoginsByNetwork{{"kaigo", logins.get()}, {"national", nullptr}};
      };
    }
    server = std::make_unique<admin::AdminServer>(io, config(), std::move(s));
    port = server->start(0);
    work.emplace(net::make_work_guard(io));
    thread = std::thread([this] { io.run(); });
  }

  ~Gateway() {
    if (server) {
      std::promise<void> stopped;
      net::post(io, [&] {
        server->stop();
        stopped.set_value();
      });
      stopped.get_future().wait();
      work.reset();
      io.stop();
      thread.join();
      server.reset();
    }
    std::error_code ec;
    fs::remove_all(dir, ec);
  }

  // A POST carries X-Kakehashi-Request: 1 as the console sends it, unless `headers` is given
  // (then exactly those extra headers).
  Reply call(
      const std::string& method, const std::string& target, const std::string& token = "",
      const std::string& body = "", const std::string& client = "",
      std::optional<std::vector<std::pair<std::string, std::string>>> headers = std::nullopt) {
    net::io_context ioc;
    net::ssl::context ctx(net::ssl::context::tls_client);
    ctx.load_verify_file((pki_dir() / "tls/admin-ca.pem").string());
    ctx.set_verify_mode(net::ssl::verify_peer);
    if (!client.empty()) {
      ctx.use_certificate_chain_file(
          (pki_dir() / ("tls/admin-" + client + "-client.cert.pem")).string());
      ctx.use_private_key_file((pki_dir() / ("tls/admin-" + client + "-client.key.pem")).string(),
                               net::ssl::context::pem);
    }
    beast::ssl_stream<beast::tcp_stream> stream(ioc, ctx);
    beast::get_lowest_layer(stream).connect(
        net::ip::tcp::endpoint(net::ip::make_address("127.0.0.1"), port));
    stream.handshake(net::ssl::stream_base::client);
    bhttp::request<bhttp::string_body> req{bhttp::string_to_verb(method), target, 11};
    req.set(bhttp::field::host, "127.0.0.1");
    if (!token.empty()) req.set(bhttp::field::authorization, "Bearer " + token);
    if (!headers && method == "POST")
      headers = std::vector<std::pair<std::string, std::string>>{{"X-Kakehashi-Request", "1"}};
    for (const auto& [name, value] :
         headers.value_or(std::vector<std::pair<std::string, std::string>>{}))
      req.set(name, value);
    req.body() = body;
    req.prepare_payload();
    bhttp::write(stream, req);
    beast::flat_buffer buffer;
    bhttp::response<bhttp::string_body> res;
    bhttp::read(stream, buffer, res);
    Reply r;
    r.status = static_cast<int>(res.result_int());
    for (const auto& f : res) {
      std::string name(f.name_string());
      for (auto& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      r.headers[name] = std::string(f.value());
    }
    r.body = res.body();
    beast::error_code ec;
    stream.shutdown(ec);  // the server may close first; either is fine here
    return r;
  }
  Reply get(const std::string& target, const std::string& token) {
    return call("GET", target, token);
  }
};

std::string cli_export(const std::string& db, std::vector<std::string> args) {
  std::vector<std::string> argv{"kakehashi", "audit", "export", "--store", db};
  argv.insert(argv.end(), args.begin(), args.end());
  std::ostringstream out, err;
  const int rc = kakehashi::gateway::cli::run_cli(argv, {out, err});
  BOOST_TEST(rc == 0, err.str());
  return out.str();
}

std::size_t count_events(Gateway& g, const std::string& kind) {
  auto s = g.open_store();
  std::size_t n = 0;
  for (const auto& r : s->audit_records()) n += r.kind == kind;
  return n;
}

}  // namespace

// ---- unit tests
// -----------------------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(prometheus_writer_escapes_and_parses) {
  admin::PrometheusText p;
  p.family("kh_test_total", "counter", "help with \\ backslash\nand newline");
  p.sample("kh_test_total", {{"name", "a \"quoted\" \\ value\nwith newline"}}, 3);
  p.family("kh_test_seconds", "histogram", "h");
  p.sample("kh_test_seconds_bucket", {{"le", "1"}}, 1);
  p.sample("kh_test_seconds_bucket", {{"le", "+Inf"}}, 2);
  p.sample("kh_test_seconds_sum", {}, 1.5);
  p.sample("kh_test_seconds_count", {}, 2);
  const auto e = parse_prometheus(p.text());
  BOOST_TEST(e.errors.empty(), p.text());
  BOOST_TEST_REQUIRE(e.samples.size() == 5u);
  BOOST_TEST(e.samples[0].labels.at("name") == "a \"quoted\" \\ value\nwith newline");
  BOOST_TEST(admin::format_value(0.25) == "0.25");
  BOOST_TEST(admin::format_value(INFINITY) == "+Inf");
  // The parser itself refuses what it must.
  BOOST_TEST(!parse_prometheus("x 1\n").errors.empty());  // no TYPE
  BOOST_TEST(!parse_prometheus("# TYPE x gauge\nx{a=\"b} 1\n").errors.empty());
  BOOST_TEST(!parse_prometheus("# TYPE x gauge\nx 1\nx 2\n").errors.empty());  // duplicate series
  BOOST_TEST(!parse_prometheus("# TYPE x gauge\nx one\n").errors.empty());
}

BOOST_AUTO_TEST_CASE(token_file_lines_and_permissions) {
  const auto dir = fs::temp_directory_path() / ("kh-admin-tokens-" + std::to_string(::getpid()));
  fs::create_directories(dir);
  const auto file = dir / "tokens";
  {
    std::ofstream out(file);
    out << "# comment\n\noperator 0123456789abcdef0123 alice\nauditor sha256:"
        << std::string(64, 'a') << "\nroot abcdefabcdefabcdef\noperator short\n";
  }
  fs::permissions(file, fs::perms::owner_read | fs::perms::owner_write);
  auto t = admin::read_token_file(file.string());
  BOOST_TEST(t.entries.size() == 2u);
  BOOST_TEST(t.errors.size() == 2u);  // unknown role, short token
  BOOST_TEST(t.entries[0].name == "alice");
  BOOST_TEST((t.entries[0].sha256 == admin::sha256("0123456789abcdef0123")));
  fs::permissions(file, fs::perms::group_read, fs::perm_options::add);
  t = admin::read_token_file(file.string());
  BOOST_TEST_REQUIRE(t.errors.size() == 1u);
  BOOST_TEST(t.errors[0].find("chmod 600") != std::string::npos);
  fs::remove_all(dir);
}

BOOST_AUTO_TEST_CASE(config_section_is_validated_with_key_paths) {
  const std::string good =
      R"({"listen": "127.0.0.1:0", "tls": {"certificate_file": ")" +
      (pki_dir() / "tls/admin-server.cert.pem").string() + R"(", "key_file": ")" +
      (pki_dir() / "tls/admin-server.key.pem").string() + R"("}, "tokens_file": ")" +
      (pki_dir() / "admin/tokens").string() +
      R"(", "alerts": {"certificate_expiry_days": 10, "network_unreachable": "5m"}})";
  rapidjson::Document doc;
  doc.Parse(good.c_str());
  std::vector<ConfigError> errors;
  const auto c = admin::parse_admin_config(ConfigNode(&doc, "admin", &errors));
  BOOST_TEST(errors.empty());
  BOOST_TEST(c.enabled);
  BOOST_TEST(c.port == 0);
  BOOST_TEST(c.certificate_expiry_days == 10);
  BOOST_TEST(c.network_unreachable.count() == 300000);

  doc.Parse(
      R"({"listen": "nowhere", "tls": {"certificate_file": "/nonexistent.pem", "key_file": "/nonexistent.key"},
                "tokens_file": "/nonexistent-tokens", "bogus": 1})");
  errors.clear();
  (void)admin::parse_admin_config(ConfigNode(&doc, "admin", &errors));
  std::set<std::string> paths;
  for (const auto& e : errors) paths.insert(e.path);
  BOOST_TEST(paths.count("admin.listen") == 1u);
  BOOST_TEST(paths.count("admin.tls.certificate_file") == 1u);
  BOOST_TEST(paths.count("admin.tls.key_file") == 1u);
  BOOST_TEST(paths.count("admin.tokens_file") == 1u);
  BOOST_TEST(paths.count("admin.bogus") == 1u);
}

BOOST_AUTO_TEST_CASE(parse_target_decodes_queries) {
  const auto t = admin::parse_target("/api/transfers?office=327%2015&state=parked&x");
  BOOST_TEST_REQUIRE(t.has_value());
  BOOST_TEST(t->path == "/api/transfers");
  BOOST_TEST(t->query.at("office") == "327 15");
  BOOST_TEST(t->query.at("x") == "");
  BOOST_TEST(!admin::parse_target("/a?b=%4").has_value());
  BOOST_TEST(!admin::parse_target("nope").has_value());
}

// ---- over TLS
// -------------------------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(health_and_readiness_need_no_auth) {
  Gateway g;
  g.start();
  auto r = g.get("/healthz", "");
  BOOST_TEST(r.status == 200);
  BOOST_TEST(r.json()["status"].GetString() == std::string("ok"));
  r = g.get("/readyz", "");
  BOOST_TEST(r.status == 200, r.body);
  BOOST_TEST(r.json()["ready"].GetBool());
  {
    std::lock_guard lock(g.mutex);
    g.engine.networks[0].directory_loaded = false;
    g.engine.networks[1].failures = 9;
    g.engine.networks[1].failing_since = kNow - 3600 * 1000;
    g.engine.networks[1].open_until = kNow + 1000;
  }
  r = g.get("/readyz", "");
  BOOST_TEST(r.status == 503);
  const auto d = r.json();
  BOOST_TEST(!d["ready"].GetBool());
  BOOST_TEST(d["reasons"].Size() == 2u, r.body);
}

BOOST_AUTO_TEST_CASE(authentication_by_token_and_certificate) {
  Gateway g;
  g.start();
  auto r = g.get("/api/session", "");
  BOOST_TEST(r.status == 401);
  BOOST_TEST(r.json()["error"].GetString() == std::string("unauthorized"));
  BOOST_TEST(r.headers.count("www-authenticate") == 1u);
  BOOST_TEST(g.get("/api/session", "wrong-token-wrong-token").status == 401);
  BOOST_TEST(g.get("/metrics", "").status == 401);
  r = g.get("/api/session", g.operator_token);
  BOOST_TEST(r.status == 200);
  BOOST_TEST(r.json()["role"].GetString() == std::string("operator"));
  BOOST_TEST(r.json()["actor"].GetString() == std::string("admin:dev-operator"));
  BOOST_TEST(r.json()["instance"].GetString() == std::string("gw-test"));
  r = g.get("/api/session", g.auditor_token);
  BOOST_TEST(r.json()["role"].GetString() == std::string("auditor"));
  r = g.call("GET", "/api/session", "", "", "operator");
  BOOST_TEST(r.status == 200);
  BOOST_TEST(r.json()["role"].GetString() == std::string("operator"));
  r = g.call("GET", "/api/session", "", "", "auditor");
  BOOST_TEST(r.json()["role"].GetString() == std::string("auditor"));
  // A certificate does not rescue a wrong token.
  BOOST_TEST(g.call("GET", "/api/session", "wrong-token-wrong-token", "", "operator").status ==
             401);
  BOOST_TEST(r.headers.at("x-content-type-options") == "nosniff");
}

BOOST_AUTO_TEST_CASE(auditor_may_not_act_operator_may_and_is_audited) {
  Gateway g;
  g.start();
  const auto before = count_events(g, "operator-command");
  const auto retry = "/api/transfers/" + std::to_string(g.parked) + "/retry";
  auto r = g.call("POST", retry, g.auditor_token);
  BOOST_TEST(r.status == 403);
  BOOST_TEST(r.json()["error"].GetString() == std::string("forbidden"));
  BOOST_TEST(std::string(r.json()["reason"].GetString()).find("auditor") != std::string::npos);
  r = g.call("POST", "/api/transfers/" + std::to_string(g.in_flight) + "/park", g.auditor_token);
  BOOST_TEST(r.status == 403);
  BOOST_TEST(count_events(g, "operator-command") == before);
  BOOST_TEST(g.open_store()->get(g.parked)->state == store::kParked);

  BOOST_TEST(g.call("GET", retry, g.operator_token).status == 405);
  r = g.call("POST", retry, g.operator_token);
  BOOST_TEST(r.status == 200, r.body);
  BOOST_TEST(r.json()["state"].GetString() == std::string("accepted"));
  BOOST_TEST(g.open_store()->get(g.parked)->state == store::kAccepted);
  r = g.call("POST", retry, g.operator_token);
  BOOST_TEST(r.status == 409);
  r = g.call("POST", "/api/transfers/" + std::to_string(g.in_flight) + "/park", g.operator_token,
             R"({"reason": "held for a check"})");
  BOOST_TEST(r.status == 200, r.body);
  BOOST_TEST(g.open_store()->get(g.in_flight)->state == store::kParked);
  BOOST_TEST(g.open_store()->get(g.in_flight)->reason == "held for a check");
  BOOST_TEST(g.call("POST", "/api/transfers/999999/retry", g.operator_token).status == 404);
  BOOST_TEST(g.call("POST", "/api/transfers/1/park", g.operator_token, "not json").status == 400);

  // The audit log holds each command with its actor, like `kakehashi relay retry|park`.
  std::vector<std::string> commands, redrives;
  for (const auto& rec : g.open_store()->audit_records()) {
    if (rec.kind == "operator-command" && rec.actor == "admin:dev-operator")
      commands.push_back(rec.detail);
    if (rec.kind == "redriven") redrives.push_back(rec.actor);
  }
  BOOST_TEST(
      std::count(commands.begin(), commands.end(), "relay retry " + std::to_string(g.parked)) == 2);
  BOOST_TEST(
      std::count(commands.begin(), commands.end(),
                 "relay park " + std::to_string(g.in_flight) + " --reason held for a check") == 1);
  BOOST_TEST_REQUIRE(redrives.size() == 1u);
  BOOST_TEST(redrives[0] == "admin:dev-operator");
}

// Cross-site requests (issue 14): with a client-certificate login, a page of another site could
// POST text/plain to an action and re-drive a transfer. Now an action needs the console's header,
// and Origin / Sec-Fetch-Site, when the browser sends them, must be this listener's own.
BOOST_AUTO_TEST_CASE(cross_site_actions_are_refused) {
  Gateway g;
  g.start();
  const auto before = count_events(g, "operator-command");
  const auto retry = "/api/transfers/" + std::to_string(g.parked) + "/retry";
  using Headers = std::vector<std::pair<std::string, std::string>>;
  const std::vector<std::pair<const char*, Headers>> refused{
      // What a cross-site form or fetch sends: a simple content type, the foreign origin.
      {"form post", {{"Content-Type", "text/plain"}, {"Origin", "https://evil.example"}}},
      {"no header at all", {}},
      {"json without the header", {{"Content-Type", "application/json"}}},
      {"header, foreign origin",
       {{"X-Kakehashi-Request", "1"}, {"Origin", "https://evil.example"}}},
      {"header, null origin", {{"X-Kakehashi-Request", "1"}, {"Origin", "null"}}},
      {"header, other port", {{"X-Kakehashi-Request", "1"}, {"Origin", "https://127.0.0.1:8443"}}},
      {"header, cross-site fetch",
       {{"X-Kakehashi-Request", "1"}, {"Sec-Fetch-Site", "cross-site"}}},
      {"wrong header value", {{"X-Kakehashi-Request", "yes"}}},
  };
  for (const auto& [name, headers] : refused) {
    BOOST_TEST_CONTEXT(name) {
      const auto r = g.call("POST", retry, "", "", "operator", headers);
      BOOST_TEST(r.status == 403);
      BOOST_TEST(r.json()["error"].GetString() == std::string("forbidden"));
      BOOST_TEST(g.open_store()->get(g.parked)->state == store::kParked);
    }
  }
  const auto park = "/api/transfers/" + std::to_string(g.in_flight) + "/park";
  BOOST_TEST(g.call("POST", park, g.operator_token, "{}", "", Headers{}).status == 403);
  BOOST_TEST(g.open_store()->get(g.in_flight)->state == store::kAccepted);
  BOOST_TEST(count_events(g, "operator-command") == before);  // nothing acted, nothing audited

  // The console: same origin, its header.
  const auto r = g.call("POST", retry, "", "", "operator",
                        Headers{{"X-Kakehashi-Request", "1"},
                                {"Origin", "https://127.0.0.1"},
                                {"Sec-Fetch-Site", "same-origin"},
                                {"Content-Type", "application/json"}});
  BOOST_TEST(r.status == 200, r.body);
  BOOST_TEST(g.open_store()->get(g.parked)->state == store::kAccepted);
  // Reads need nothing more.
  BOOST_TEST(
      g.call("GET", "/api/session", "", "", "operator", Headers{{"Origin", "https://evil.example"}})
          .status == 200);
}

BOOST_AUTO_TEST_CASE(dashboard_transfers_and_parked) {
  Gateway g;
  g.start();
  auto r = g.get("/api/dashboard", g.auditor_token);
  BOOST_TEST_REQUIRE(r.status == 200, r.body);
  auto d = r.json();
  BOOST_TEST(d["backlog"].GetInt64() == 1);
  BOOST_TEST(d["parked"].GetInt64() == 1);
  BOOST_TEST_REQUIRE(d["directions"].Size() == 1u);
  const auto& dir = d["directions"][0];
  BOOST_TEST(dir["direction"].GetString() == std::string("regional->national"));
  BOOST_TEST(dir["hours"].Size() == 24u);
  std::int64_t in = 0, out = 0;
  for (const auto& h : dir["hours"].GetArray()) {
    in += h["in"].GetInt64();
    out += h["out"].GetInt64();
  }
  BOOST_TEST(in == 4);
  BOOST_TEST(out == 2);  // one delivered, one refused
  BOOST_TEST(d["networks"].Size() == 2u);
  BOOST_TEST(d["networks"][0]["breaker"].GetString() == std::string("closed"));
  BOOST_TEST_REQUIRE(d["recent_rejections"].Size() == 1u);
  BOOST_TEST(d["recent_rejections"][0]["code"].GetString() == std::string("FIELD_DATE"));
  BOOST_TEST(d["recent_rejections"][0]["sender"]["name"].GetString() ==
             std::string("かけはし居宅介護支援事業所"));
  bool parked_alert = false;
  for (const auto& a : d["alerts"].GetArray())
    parked_alert |= a["kind"].GetString() == std::string("parked");
  BOOST_TEST(parked_alert);

  r = g.get("/api/transfers?state=parked", g.auditor_token);
  BOOST_TEST_REQUIRE(r.status == 200, r.body);
  d = r.json();
  BOOST_TEST_REQUIRE(d["items"].Size() == 1u);
  BOOST_TEST(d["items"][0]["id"].GetInt64() == g.parked);
  BOOST_TEST(d["items"][0]["status"].GetString() == std::string("held"));  // 保留
  r = g.get("/api/transfers?office=1371100452&limit=1", g.auditor_token);
  d = r.json();
  BOOST_TEST(d["items"].Size() == 1u);
  BOOST_TEST(d["more"].GetBool());
  BOOST_TEST(d["items"][0]["recipient"]["name"].GetString() ==
             std::string("Tokyo \"Day\" Service"));
  r = g.get("/api/transfers?office=1371100452&limit=1&offset=1", g.auditor_token);
  BOOST_TEST(!r.json()["more"].GetBool());
  BOOST_TEST(g.get("/api/transfers?kind=P1", g.auditor_token).json()["items"].Size() == 0u);
  BOOST_TEST(g.get("/api/transfers?kind=K2&from=2025-05-31T22:30:00Z", g.auditor_token)
                 .json()["items"]
                 .Size() == 2u);
  BOOST_TEST(g.get("/api/transfers?from=yesterday", g.auditor_token).status == 400);

  r = g.get("/api/transfers/" + std::to_string(g.delivered), g.auditor_token);
  BOOST_TEST_REQUIRE(r.status == 200, r.body);
  d = r.json();
  BOOST_TEST(d["transfer"]["state"].GetString() == std::string("delivered"));
  std::set<std::string> stages;
  for (const auto& s : d["lineage"].GetArray()) stages.insert(s["stage"].GetString());
  BOOST_TEST(stages.count("intake") == 1u);
  BOOST_TEST(stages.count("checks") == 1u);
  BOOST_TEST(stages.count("delivery") == 1u);
  BOOST_TEST(d["events"].Size() >= 2u);
  BOOST_TEST(std::string(d["events"][0]["hash"].GetString()).size() == 64u);
  BOOST_TEST(g.get("/api/transfers/424242", g.auditor_token).status == 404);

  r = g.get("/api/parked", g.auditor_token);
  BOOST_TEST(r.json()["items"].Size() == 1u);
  BOOST_TEST(g.get("/api/nothing", g.auditor_token).status == 404);
}

BOOST_AUTO_TEST_CASE(registry_and_audit_endpoints) {
  Gateway g;
  g.start();
  auto r = g.get("/api/registry/conflicts", g.auditor_token);
  BOOST_TEST(r.status == 200, r.body);
  BOOST_TEST(r.json()["conflicts"].IsArray());
  r = g.get("/api/registry/last-sync", g.auditor_token);
  BOOST_TEST(r.status == 200, r.body);
  BOOST_TEST(r.json()["sync"].IsNull());
  r = g.get("/api/audit/verify", g.auditor_token);
  BOOST_TEST_REQUIRE(r.status == 200, r.body);
  auto d = r.json();
  BOOST_TEST(d["intact"].GetBool(), r.body);
  BOOST_TEST(d["records"].GetInt64() > 4);
}

BOOST_AUTO_TEST_CASE(audit_export_equals_the_command_line) {
  Gateway g;
  g.start();
  struct Case {
    std::string query;
    std::vector<std::string> args;
  };
  const std::vector<Case> cases{
      {"format=csv", {"--format", "csv"}},
      {"format=jsonl", {"--format", "jsonl"}},
      {"format=csv&office=1371100452", {"--format", "csv", "--office", "1371100452"}},
      {"format=jsonl&transfer=" + std::to_string(g.delivered),
       {"--format", "jsonl", "--transfer", std::to_string(g.delivered)}},
      {"format=csv&from=2025-05-31T22:00:00Z&to=2025-06-01",
       {"--format", "csv", "--from", "2025-05-31T22:00:00Z", "--to", "2025-06-01"}},
  };
  for (const auto& c : cases) {
    const auto r = g.get("/api/audit/export?" + c.query, g.auditor_token);
    BOOST_TEST_REQUIRE(r.status == 200, r.body);
    BOOST_TEST(r.headers.at("content-disposition").find("attachment; filename=\"kakehashi-audit") ==
               0u);
    const auto expected = cli_export(g.db, c.args);
    BOOST_TEST(!expected.empty());
    BOOST_TEST((r.body == expected), c.query);
  }
  // And the exporter directly.
  std::ostringstream direct;
  store::AuditQuery q;
  audit::write_csv(g.open_store()->audit_export(q), direct);
  BOOST_TEST((g.get("/api/audit/export?format=csv", g.auditor_token).body == direct.str()));
  BOOST_TEST(g.get("/api/audit/export?format=xml", g.auditor_token).status == 400);
}

// The evidence download (issue 18): for auditors and operators, the office and month checked
// before anything is made, the file served as an attachment; the bundle itself is tested in
// tests/audit/evidence_test.cpp.
BOOST_AUTO_TEST_CASE(audit_evidence_downloads_the_bundle) {
  {
    Gateway g;
    g.start();
    BOOST_TEST(
        g.get("/api/audit/evidence?office=3271500013&month=202506", g.auditor_token).status == 404);
  }
  std::atomic<int> made{0};
  Gateway g;
  g.evidence = [&made](const std::string& office, const std::string& month, std::int64_t now) {
    ++made;
    return "{\"bundle\": \"" + office + "/" + month + "/" + std::to_string(now) + "\"}";
  };
  g.start();
  for (const auto& token : {g.auditor_token, g.operator_token}) {
    const auto r = g.get("/api/audit/evidence?office=3271500013&month=202506", token);
    BOOST_TEST_REQUIRE(r.status == 200, r.body);
    BOOST_TEST(r.headers.at("content-disposition") ==
               "attachment; filename=\"evidence-3271500013-202506.json\"");
    BOOST_TEST(r.body == "{\"bundle\": \"3271500013/202506/" + std::to_string(kNow) + "\"}");
  }
  for (const std::string bad : {"office=32715&month=202506", "office=3271500013&month=2025-06",
                                "office=3271500013&month=202513", "month=202506"}) {
    const auto r = g.get("/api/audit/evidence?" + bad, g.auditor_token);
    BOOST_TEST(r.status == 400, bad);
    BOOST_TEST(r.body.find(bad.rfind("office=3271500013", 0) == 0 ? "month" : "office") !=
                   std::string::npos,
               r.body);
  }
  BOOST_TEST(made.load() == 2);
}

BOOST_AUTO_TEST_CASE(metrics_parse_as_prometheus_text) {
  Gateway g;
  g.start();
  const auto r = g.get("/metrics", g.auditor_token);
  BOOST_TEST_REQUIRE(r.status == 200, r.body);
  BOOST_TEST(r.headers.at("content-type").find("text/plain; version=0.0.4") == 0u);
  const auto e = parse_prometheus(r.body);
  for (const auto& err : e.errors) BOOST_ERROR(err);
  BOOST_TEST(e.errors.empty(), r.body);
  const auto value = [&](const std::string& name,
                         const std::map<std::string, std::string>& labels = {}) {
    const auto* s = e.find(name, labels);
    BOOST_TEST_REQUIRE(s != nullptr, name);
    return s->value;
  };
  BOOST_TEST(value("kakehashi_backlog") == 1);
  BOOST_TEST(value("kakehashi_parked") == 1);
  BOOST_TEST(value("kakehashi_retries_total") == 7);
  BOOST_TEST(value("kakehashi_commit_groups_total", {{"outcome", "committed"}}) == 4);
  BOOST_TEST(value("kakehashi_commit_groups_total", {{"outcome", "failed"}}) == 1);
  BOOST_TEST(value("kakehashi_commit_operations_total") == 40);
  BOOST_TEST(value("kakehashi_units_in_total",
                   {{"direction", "regional->national"}, {"outcome", "accepted"}}) == 3);
  BOOST_TEST(value("kakehashi_units_in_total", {{"outcome", "refused"}}) == 1);
  BOOST_TEST(value("kakehashi_units_out_total", {{"outcome", "delivered"}}) == 1);
  BOOST_TEST(
      value("kakehashi_relay_latency_seconds_count", {{"direction", "regional->national"}}) == 2);
  BOOST_TEST(value("kakehashi_relay_latency_seconds_bucket", {{"le", "1"}}) == 1);
  BOOST_TEST(value("kakehashi_network_breaker_open", {{"network", "national"}}) == 0);
  BOOST_TEST(value("kakehashi_alerts", {{"kind", "parked"}}) == 1);
  BOOST_TEST(value("kakehashi_conservation_balanced", {{"direction", "regional->national"}}) == 1);
  BOOST_TEST(value("kakehashi_certificate_expiry_days", {{"name", "admin.tls"}}) > 0);
  BOOST_TEST(e.find("kakehashi_crl_expiry_days") != nullptr);
  BOOST_TEST(e.types.at("kakehashi_relay_latency_seconds") == "histogram");
  for (const auto& [name, type] : e.types) BOOST_TEST(e.help.count(name) == 1u, name);
}

BOOST_AUTO_TEST_CASE(alerts_are_evaluated_on_demand) {
  Gateway g;
  g.start();
  {
    std::lock_guard lock(g.mutex);
    g.engine.networks[0].failures = 3;
    g.engine.networks[0].failing_since = kNow - 2 * kHour;
  }
  std::promise<std::vector<std::string>> kinds;
  net::post(g.io, [&] {
    g.server->check_alerts([&](std::vector<std::string> k) { kinds.set_value(std::move(k)); });
  });
  const auto k = kinds.get_future().get();
  const std::set<std::string> set(k.begin(), k.end());
  BOOST_TEST(set.count("parked") == 1u);
  BOOST_TEST(set.count("network-unreachable") == 1u);
  BOOST_TEST(set.count("conservation-drift") == 0u);
  BOOST_TEST(set.count("destination-refusal") == 0u);
}

// Issue 22: a destination network refused a unit for a reason its sender cannot fix (it does
// not trust the sender network's CA): an operator alert for a day after the last one.
BOOST_AUTO_TEST_CASE(a_refusal_the_sender_cannot_fix_raises_an_alert) {
  Gateway g;
  g.start();
  const auto kinds = [&g] {
    std::promise<std::vector<std::string>> p;
    net::post(g.io, [&] {
      g.server->check_alerts([&](std::vector<std::string> k) { p.set_value(std::move(k)); });
    });
    const auto k = p.get_future().get();
    return std::set<std::string>(k.begin(), k.end());
  };
  {
    std::lock_guard lock(g.mutex);
    g.engine.networks[0].operator_refusals = 2;
    g.engine.networks[0].last_operator_refusal = kNow - kHour;
    g.engine.networks[0].last_operator_refusal_reason =
        "DESTINATION_TRUST SIGNATURE_INVALID: unknown-ca";
  }
  BOOST_TEST(kinds().count("destination-refusal") == 1u);
  {
    std::lock_guard lock(g.mutex);
    g.engine.networks[0].last_operator_refusal = kNow - 25 * kHour;
  }
  BOOST_TEST(kinds().count("destination-refusal") == 0u);
}

// Issue 14: an inbox whose cursor stops moving while its polls keep failing raises
// inbox-stalled; it clears once a poll goes through. The adapter's counters are in /metrics.
BOOST_AUTO_TEST_CASE(inbox_stalled_alert_is_raised_and_cleared) {
  Gateway g;
  g.start();
  const auto kinds_now = [&] {
    std::promise<std::vector<std::string>> kinds;
    net::post(g.io, [&] {
      g.server->check_alerts([&](std::vector<std::string> k) { kinds.set_value(std::move(k)); });
    });
    const auto k = kinds.get_future().get();
    return std::set<std::string>(k.begin(), k.end());
  };
  g.national_adapter->stalled_polls = admin::kInboxStalledPolls - 1;
  BOOST_TEST(kinds_now().count("inbox-stalled") == 0u);
  g.national_adapter->stalled_polls = admin::kInboxStalledPolls;
  g.national_adapter->items_unreadable = 3;
  BOOST_TEST(kinds_now().count("inbox-stalled") == 1u);
  const auto r = g.get("/metrics", g.auditor_token);
  BOOST_TEST_REQUIRE(r.status == 200, r.body);
  const auto e = parse_prometheus(r.body);
  BOOST_TEST(e.errors.empty(), r.body);
  const auto* unreadable = e.find("kakehashi_adapter_events_total",
                                  {{"network", "national"}, {"kind", "items_unreadable"}});
  BOOST_TEST_REQUIRE(unreadable != nullptr);
  BOOST_TEST(unreadable->value == 3);
  const auto* alert = e.find("kakehashi_alerts", {{"kind", "inbox-stalled"}});
  BOOST_TEST_REQUIRE(alert != nullptr);
  BOOST_TEST(alert->value == 1);
  g.national_adapter->stalled_polls = 0;  // a poll went through
  BOOST_TEST(kinds_now().count("inbox-stalled") == 0u);
}

// PROTOCOL.md §7.8 (kaigoweb): an adapter's labelled counters are a family each, with the
// network's name; known values show at 0, made-up ones past the cap count under "other".
BOOST_AUTO_TEST_CASE(adapter_labelled_counters_are_rendered) {
  Gateway g;
  auto sends = g.national_adapter->labelled.get("kakehashi_test_sends_total", "Sends by outcome.",
                                                "outcome", {"accepted", "refused"});
  sends->add("accepted", 3);
  auto codes =
      g.national_adapter->labelled.get("kakehashi_test_codes_total", "Codes seen.", "code", {}, 2);
  codes->add("KW2101");
  codes->add("S4290");
  codes->add("KW9999");            // past the cap
  codes->add("a \"quoted\" one");  // not a code's shape
  g.start();
  const auto r = g.get("/metrics", g.auditor_token);
  BOOST_TEST_REQUIRE(r.status == 200, r.body);
  const auto e = parse_prometheus(r.body);
  for (const auto& err : e.errors) BOOST_ERROR(err);
  BOOST_TEST(e.types.at("kakehashi_test_sends_total") == "counter");
  BOOST_TEST(e.help.at("kakehashi_test_sends_total") == "Sends by outcome.");
  const auto value = [&](const std::string& name, const std::map<std::string, std::string>& l) {
    const auto* s = e.find(name, l);
    BOOST_TEST_REQUIRE(s != nullptr, name);
    return s->value;
  };
  BOOST_TEST(
      value("kakehashi_test_sends_total", {{"network", "national"}, {"outcome", "accepted"}}) == 3);
  BOOST_TEST(
      value("kakehashi_test_sends_total", {{"network", "national"}, {"outcome", "refused"}}) == 0);
  BOOST_TEST(value("kakehashi_test_codes_total", {{"network", "national"}, {"code", "KW2101"}}) ==
             1);
  BOOST_TEST(value("kakehashi_test_codes_total", {{"network", "national"}, {"code", "other"}}) ==
             2);
  BOOST_TEST(r.body.find("KW9999") == std::string::npos);
  BOOST_TEST(r.body.find("quoted") == std::string::npos);
}

BOOST_AUTO_TEST_CASE(console_files_are_served) {
  Gateway g;
  g.start();
  auto r = g.get("/", "");
  BOOST_TEST(r.status == 200);
  BOOST_TEST(r.headers.at("content-type").find("text/html") == 0u);
  BOOST_TEST(r.headers.at("content-security-policy").find("default-src 'self'") == 0u);
  r = g.get("/app.js", "");
  BOOST_TEST(r.status == 200);
  BOOST_TEST(r.headers.at("content-type").find("text/javascript") == 0u);
  BOOST_TEST(g.get("/missing.js", "").status == 404);
  BOOST_TEST(g.call("POST", "/", "").status == 405);
}

BOOST_AUTO_TEST_CASE(registry_conflicts_and_last_sync_from_the_store) {
  Gateway g;
  namespace reg = kakehashi::mapping::registry;
  const auto entry = [](const std::string& no, const std::string& type, const std::string& name) {
    reg::SourceEntry e;
    e.key = {no, type};
    e.name = name;
    return e;
  };
  // One office listed on both networks under different names: a conflict.
  const std::vector<reg::SourceEntry> national{entry("1371100452", "11", "東京デイサービス"),
                                               entry("3271500021", "43", "両方ケアプラン")};
  const std::vector<reg::SourceEntry> regional{entry("3271500021", "43", "両方ケアプラン 別名"),
                                               entry("3271500039", "11", "地域デイ")};
  reg::Registry registry(reg::Policy{{"regional", "national"}, {}});
  auto diff = registry.replace("national", national);
  diff.append(registry.replace("regional", regional));
  BOOST_TEST_REQUIRE(!registry.conflicts().empty());
  {
    auto db = store::open_sqlite(g.db);
    registry::RegistryStore rs(*db);
    rs.migrate();
    registry::SyncRecord rec;
    rec.mode = "full";
    rec.started_ms = kNow - 1000;
    rec.finished_ms = kNow - 500;
    rec.networks = "national:full:2 regional:full:2";
    rec.added = static_cast<std::int64_t>(diff.count(reg::ChangeKind::kAdded));
    rec.conflicts = static_cast<std::int64_t>(registry.conflicts().size());
    rs.record_sync(
        rec, {{"national", national, {}, std::nullopt}, {"regional", regional, {}, std::nullopt}},
        diff);
  }
  g.start();
  auto r = g.get("/api/registry/conflicts", g.auditor_token);
  BOOST_TEST_REQUIRE(r.status == 200, r.body);
  auto d = r.json();
  BOOST_TEST_REQUIRE(d["conflicts"].Size() >= 1u, r.body);
  bool both = false;
  for (const auto& c : d["conflicts"].GetArray()) {
    if (c["office_no"].GetString() == std::string("3271500021")) {
      both = true;
      BOOST_TEST(c["networks"].Size() >= 1u);
      BOOST_TEST(std::string(c["name"].GetString()).find("両方ケアプラン") == 0u, r.body);
      // The detail as values, for the console to word in Japanese or English (issue 20).
      BOOST_TEST(c["params"].IsObject(), r.body);
      if (c["kind"].GetString() == std::string("on_both_networks"))
        BOOST_TEST(c["params"]["home_reason"].GetString() == std::string("preference"), r.body);
    }
  }
  BOOST_TEST(both, r.body);
  BOOST_TEST(d["echoes"].IsInt64(), r.body);  // none here: nothing was published
  r = g.get("/api/registry/last-sync", g.auditor_token);
  BOOST_TEST_REQUIRE(r.status == 200, r.body);
  d = r.json();
  BOOST_TEST_REQUIRE(d["sync"].IsObject(), r.body);
  BOOST_TEST(d["sync"]["mode"].GetString() == std::string("full"));
  BOOST_TEST(d["changes"].Size() == diff.changes.size());
  BOOST_TEST(d["changes"][0]["fields"].IsArray());
  // Office names come from the registry when the engine does not know them.
  r = g.get("/api/transfers?office=1371100478", g.auditor_token);
  BOOST_TEST(r.status == 200);
  const auto m = g.get("/metrics", g.auditor_token);
  const auto e = parse_prometheus(m.body);
  BOOST_TEST(e.errors.empty());
  const auto* age = e.find("kakehashi_registry_sync_age_seconds");
  BOOST_TEST_REQUIRE(age != nullptr);
  BOOST_TEST(age->value == 0.5);
}

// Issue 14: a reason whose detail quotes the file name pattern ("PREFIX[_YYYYMM]_...") showed
// the code "_YYYYMM"; the code is the reason's leading one.
BOOST_AUTO_TEST_CASE(a_transfer_code_is_the_code_its_reason_starts_with) {
  Gateway g;
  g.start();
  auto bad = unit("e", "20250601090004", "1371100452");
  bad.state = store::kRejected;
  bad.dest_adapter = "";
  bad.reason =
      "NAME_UNRECOGNISED UPPLAN_202506_x.csv (not a care-plan file name: expected "
      "PREFIX[_YYYYMM]_<office 10>_<type 2>_<office 10>_<type 2>_<YYYYMMDDHHMMSS>.CSV with a "
      "known prefix)";
  const auto id = g.open_store()->accept(bad, std::nullopt, kNow - kHour).id;
  const auto r = g.get("/api/transfers/" + std::to_string(id), g.auditor_token);
  BOOST_TEST_REQUIRE(r.status == 200, r.body);
  BOOST_TEST(r.json()["transfer"]["code"].GetString() == std::string("NAME_UNRECOGNISED"));
  // A reason that only carries its code in brackets keeps it.
  const auto d = g.get("/api/transfers/" + std::to_string(g.refused), g.auditor_token).json();
  BOOST_TEST(d["transfer"]["code"].GetString() == std::string("FIELD_DATE"));
}

// ---- office logins (issue 16) -------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(office_logins_list_login_and_code) {
  Gateway g;
  g.office_logins = std::make_shared<FakeOfficeLogins>();
  g.start();
  CaptureStderr log;
  auto r = g.get("/api/networks/kaigo/offices", g.operator_token);
  BOOST_TEST_REQUIRE(r.status == 200, r.body);
  auto j = r.json();
  BOOST_TEST(std::string(j["network"].GetString()) == "kaigo");
  BOOST_TEST_REQUIRE(j["offices"].Size() == 4u);
  BOOST_TEST(std::string(j["offices"][0]["office_no"].GetString()) == "3271500013");  // sorted
  BOOST_TEST(std::string(j["offices"][0]["state"].GetString()) == "login_required");
  BOOST_TEST(j["offices"][0]["refresh_expires_at"].IsNull());
  BOOST_TEST(std::string(j["offices"][1]["refresh_expires_at"].GetString()) ==
             "2025-06-01T00:20:00Z");
  BOOST_TEST(r.body.find("token") == std::string::npos);

  // Who may: operators only; POSTs need the cross-site header; methods; unknown names.
  BOOST_TEST(g.get("/api/networks/kaigo/offices", g.auditor_token).status == 403);
  BOOST_TEST(g.get("/api/networks/kaigo/offices", "").status == 401);
  BOOST_TEST(g.get("/api/networks/regional/offices", g.operator_token).status == 404);
  BOOST_TEST(g.get("/api/networks/national/offices", g.operator_token).status == 404);
  BOOST_TEST(g.get("/api/networks/kaigo/offices/3271500013/login", g.operator_token).status == 405);
  BOOST_TEST(g.get("/api/networks/kaigo/elsewhere", g.operator_token).status == 404);
  BOOST_TEST(
      g.call("POST", "/api/networks/kaigo/offices/3271500013/login", g.auditor_token).status ==
      403);
  BOOST_TEST(g.call("POST", "/api/networks/kaigo/offices/3271500013/login", g.operator_token, "",
                    "", std::vector<std::pair<std::string, std::string>>{})
                 .status == 403);

  // Step 1: where the code went.
  r = g.call("POST", "/api/networks/kaigo/offices/3271500013/login", g.operator_token);
  BOOST_TEST_REQUIRE(r.status == 200, r.body);
  j = r.json();
  BOOST_TEST(std::string(j["state"].GetString()) == "awaiting_otp");
  BOOST_TEST(std::string(j["otp_delivery"].GetString()) == "sms");
  BOOST_TEST(std::string(j["otp_destination_hint"].GetString()) == "***-****-5678");
  BOOST_TEST(std::string(j["otp_expires_at"].GetString()) == "2025-06-01T00:05:00Z");
  r = g.get("/api/networks/kaigo/offices/3271500013", g.operator_token);
  BOOST_TEST_REQUIRE(r.status == 200, r.body);
  BOOST_TEST(std::string(r.json()["state"].GetString()) == "awaiting_otp");

  // Step 2: a malformed body, a wrong code, the right one.
  const std::string otp = "/api/networks/kaigo/offices/3271500013/login/otp";
  BOOST_TEST(g.call("POST", otp, g.operator_token, "{\"code\":\"483920\"}").status == 400);
  BOOST_TEST(g.call("POST", otp, g.operator_token, "{\"otp\":\"48 39\"}").status == 400);
  r = g.call("POST", otp, g.operator_token, "{\"otp\":\"000000\"}");
  BOOST_TEST_REQUIRE(r.status == 200, r.body);
  j = r.json();
  BOOST_TEST(std::string(j["state"].GetString()) == "awaiting_otp");
  BOOST_TEST(std::string(j["error"].GetString()) == "KW1003");
  r = g.call("POST", otp, g.operator_token, "{\"otp\":\"483920\"}");
  BOOST_TEST_REQUIRE(r.status == 200, r.body);
  j = r.json();
  BOOST_TEST(std::string(j["state"].GetString()) == "active");
  BOOST_TEST(std::string(j["refresh_expires_at"].GetString()) == "2025-06-01T08:00:00Z");
  BOOST_TEST(!j.HasMember("otp_destination_hint"));
  {
    std::lock_guard lock(g.office_logins->mutex);
    BOOST_TEST(g.office_logins->otps == (std::vector<std::string>{"000000", "483920"}),
               boost::test_tools::per_element());
  }

  // Locked: refused by the adapter, the answer says until when; an office it does not know.
  r = g.call("POST", "/api/networks/kaigo/offices/3271500039/login", g.operator_token);
  BOOST_TEST_REQUIRE(r.status == 200, r.body);
  BOOST_TEST(std::string(r.json()["state"].GetString()) == "locked");
  BOOST_TEST(std::string(r.json()["locked_until"].GetString()) == "2025-06-01T00:30:00Z");
  r = g.call("POST", "/api/networks/kaigo/offices/9999999999/login", g.operator_token);
  BOOST_TEST(r.status == 404);
  BOOST_TEST(g.get("/api/networks/kaigo/offices/9999999999", g.operator_token).status == 404);

  // Each login step is an operator command in the audit log (5 carried out; refusals are not).
  {
    auto s = g.open_store();
    std::vector<std::string> commands;
    for (const auto& rec : s->audit_records())
      if (rec.kind == "operator-command") commands.push_back(rec.detail);
    BOOST_TEST_REQUIRE(commands.size() == 5u);
    BOOST_TEST(commands[0].find("office login kaigo 3271500013") != std::string::npos);
    BOOST_TEST(commands[1].find("office otp kaigo 3271500013") != std::string::npos);
    for (const auto& c : commands) BOOST_TEST(c.find("483920") == std::string::npos);
  }

  // The log says what happened, never the codes or where they went.
  const auto text = log.text();
  BOOST_TEST(text.find("admin-office-login") != std::string::npos);
  for (const char* secret : {"483920", "000000", "***-****-5678", "5678"})
    BOOST_TEST(text.find(secret) == std::string::npos, secret);
}

BOOST_AUTO_TEST_CASE(office_login_without_an_answer_is_pending) {
  Gateway g;
  g.office_logins = std::make_shared<FakeOfficeLogins>();
  g.office_logins->silent = true;
  g.office_login_wait = std::chrono::milliseconds(200);
  g.start();
  const auto r = g.call("POST", "/api/networks/kaigo/offices/3271500013/login", g.operator_token);
  BOOST_TEST(r.status == 202, r.body);
  BOOST_TEST(std::string(r.json()["state"].GetString()) == "pending");
  // A late answer after the timeout is dropped (the reply was sent once).
  std::promise<void> answered;
  net::post(g.io, [&] {
    std::lock_guard lock(g.office_logins->mutex);
    LoginStep late;
    late.state = "active";
    for (auto& done : g.office_logins->unanswered) done(late);
    answered.set_value();
  });
  answered.get_future().wait();
}

BOOST_AUTO_TEST_CASE(an_adapter_that_throws_is_answered_500_and_left_out_of_alerts) {
  Gateway g;
  g.office_logins = std::make_shared<FakeOfficeLogins>();
  g.office_logins->throws = true;
  g.start();
  BOOST_TEST(g.get("/api/networks/kaigo/offices", g.operator_token).status == 500);
  const auto r = g.get("/metrics", g.auditor_token);  // still answers, without the offices
  BOOST_TEST_REQUIRE(r.status == 200, r.body);
  BOOST_TEST(parse_prometheus(r.body).find("kakehashi_offices") == nullptr);
}

BOOST_AUTO_TEST_CASE(office_alerts_and_the_office_gauge) {
  Gateway g;
  g.office_logins = std::make_shared<FakeOfficeLogins>();
  g.start();
  std::promise<std::vector<std::string>> kinds;
  net::post(g.io, [&] {
    g.server->check_alerts([&](std::vector<std::string> k) { kinds.set_value(std::move(k)); });
  });
  const auto k = kinds.get_future().get();
  const std::multiset<std::string> set(k.begin(), k.end());
  BOOST_TEST(set.count("office-login-required") == 1u);
  BOOST_TEST(set.count("office-locked") == 1u);
  BOOST_TEST(set.count("office-credentials-invalid") == 1u);
  BOOST_TEST(set.count("office-login-due") == 1u);
  BOOST_TEST(set.count("office-certificate-expiring") == 1u);  // 60 days; the other has 2 years

  auto r = g.get("/metrics", g.auditor_token);
  BOOST_TEST_REQUIRE(r.status == 200, r.body);
  const auto e = parse_prometheus(r.body);
  for (const auto& err : e.errors) BOOST_ERROR(err);
  const auto value = [&](const std::string& name,
                         const std::map<std::string, std::string>& labels) {
    const auto* s = e.find(name, labels);
    BOOST_TEST_REQUIRE(s != nullptr, name);
    return s->value;
  };
  BOOST_TEST(value("kakehashi_offices", {{"network", "kaigo"}, {"state", "active"}}) == 1);
  BOOST_TEST(value("kakehashi_offices", {{"network", "kaigo"}, {"state", "locked"}}) == 1);
  BOOST_TEST(value("kakehashi_offices", {{"network", "kaigo"}, {"state", "awaiting_otp"}}) == 0);
  BOOST_TEST(value("kakehashi_office_certificate_expiry_days",
                   {{"network", "kaigo"}, {"office", "3271500021"}}) == 60);
  BOOST_TEST(value("kakehashi_alert_active",
                   {{"kind", "office-locked"}, {"subject", "kaigo/3271500039"}}) == 1);
  BOOST_TEST(value("kakehashi_alerts", {{"kind", "office-certificate-expiring"}}) == 1);

  r = g.get("/api/dashboard", g.auditor_token);
  BOOST_TEST_REQUIRE(r.status == 200, r.body);
  BOOST_TEST(r.body.find("office 3271500021 on kaigo: its client certificate expires on "
                         "2025-07-31") != std::string::npos);
  BOOST_TEST(r.body.find("kk-gw-") == std::string::npos);  // user IDs stay out of alerts
}

BOOST_AUTO_TEST_CASE(office_alert_thresholds) {
  admin::AdminConfig config;  // office_login_due 30 min, office certificates 90 days
  OfficeSessionView v;
  v.office_no = "3271500013";
  v.state = "active";
  const auto kinds_at = [&](const std::string& refresh, const std::string& not_after) {
    v.refresh_expires_at = refresh;
    v.certificate_not_after = not_after;
    std::multiset<std::string> out;
    for (const auto& a : admin::office_alerts({{"kaigo", {v}}}, config, kNow)) {
      BOOST_TEST(a.subject == "kaigo/3271500013");
      out.insert(a.kind);
    }
    return out;
  };
  BOOST_TEST(kinds_at("2025-06-01T00:29:00Z", "").count("office-login-due") == 1u);
  BOOST_TEST(kinds_at("2025-06-01T00:31:00Z", "").count("office-login-due") == 0u);
  BOOST_TEST(kinds_at("", "2025-08-29T00:00:00Z").count("office-certificate-expiring") == 1u);
  BOOST_TEST(kinds_at("", "2025-09-01T00:00:00Z").count("office-certificate-expiring") == 0u);
  BOOST_TEST(kinds_at("", "2025-05-01T00:00:00Z").count("office-certificate-expiring") == 1u);
  v.state = "login_required";  // no login-due for an office that must log in anyway
  BOOST_TEST(kinds_at("2025-06-01T00:10:00Z", "") ==
             (std::multiset<std::string>{"office-login-required"}));
}
