#include "gateway/admin/api.hpp"

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <algorithm>
#include <cctype>
#include <ctime>
#include <filesystem>
#include <iomanip>
#include <set>
#include <sstream>

#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include "gateway/admin/prometheus.hpp"
#include "gateway/audit/delivery_status.hpp"
#include "gateway/audit/exporter.hpp"
#include "gateway/audit/verifier.hpp"
#include "gateway/pki/key_file.hpp"
#include "gateway/registry/registry_store.hpp"

namespace kakehashi::gateway::admin {
namespace fs = std::filesystem;
namespace reg = mapping::registry;

namespace {

constexpr std::int64_t kHourMs = 3600 * 1000;
constexpr std::int64_t kDayMs = 24 * kHourMs;
constexpr std::int64_t kJapanOffsetMs = 9 * kHourMs;  // JST, no daylight saving
constexpr std::size_t kMaxLimit = 500;

using Writer = rapidjson::Writer<rapidjson::StringBuffer>;

// A JSON document being written; strings are always given with their length (UTF-8 kept).
class Json {
 public:
  Writer& w() { return w_; }
  void key(std::string_view k) { w_.Key(k.data(), static_cast<rapidjson::SizeType>(k.size())); }
  void str(std::string_view v) { w_.String(v.data(), static_cast<rapidjson::SizeType>(v.size())); }
  void kv(std::string_view k, std::string_view v) {
    key(k);
    str(v);
  }
  void kv(std::string_view k, std::int64_t v) {
    key(k);
    w_.Int64(v);
  }
  void kv_bool(std::string_view k, bool v) {
    key(k);
    w_.Bool(v);
  }
  // A time in ms, or null when 0 (never / unknown).
  void time(std::string_view k, std::int64_t ms) {
    key(k);
    if (ms == 0) {
      w_.Null();
    } else {
      str(audit::iso_time(ms));
    }
  }
  std::string done() { return std::string(buf_.GetString(), buf_.GetSize()); }

 private:
  rapidjson::StringBuffer buf_;
  Writer w_{buf_};
};

void write_office(Json& j, ApiContext& ctx, std::string_view key, const std::string& office_no,
                  const std::string& service_type) {
  j.key(key);
  j.w().StartObject();
  j.kv("office_no", office_no);
  j.kv("service_type", service_type);
  j.kv("name", ctx.office_name(office_no, service_type));
  j.w().EndObject();
}

// The finding code of a reason: the leading "CODE" word (what refusal_summary and the store
// write), else the first "[CODE]". A code starts with a capital letter: a reason's detail may
// quote a file name pattern such as "PREFIX[_YYYYMM]_...", which is not one.
std::string code_of(const std::string& reason) {
  const auto code_char = [](char c) {
    return std::isupper(static_cast<unsigned char>(c)) || c == '_' ||
           std::isdigit(static_cast<unsigned char>(c));
  };
  const auto is_code = [&](std::string_view s) {
    return s.size() >= 3 && std::isupper(static_cast<unsigned char>(s[0])) &&
           std::all_of(s.begin(), s.end(), code_char);
  };
  std::size_t n = 0;
  while (n < reason.size() && code_char(reason[n])) ++n;
  if (is_code(std::string_view(reason).substr(0, n))) return reason.substr(0, n);
  for (auto open = reason.find('['); open != std::string::npos; open = reason.find('[', open + 1)) {
    const auto close = reason.find(']', open);
    if (close == std::string::npos) break;
    const auto code = reason.substr(open + 1, close - open - 1);
    if (is_code(code)) return code;
  }
  return {};
}

void write_transfer(Json& j, ApiContext& ctx, const store::Transfer& t) {
  j.w().StartObject();
  j.kv("id", t.id);
  j.kv("state", t.state);
  // The delivery status offices read (受付/配信/受領/既読/差し戻し/保留; README "Delivery status").
  j.kv("status", audit::status_code(audit::status_of(t.state, t.receipt_state)));
  j.kv("direction", t.direction);
  j.kv("source_network", t.source_adapter);
  j.kv("source_id", t.source_id);
  j.kv("destination_network", t.dest_adapter);
  write_office(j, ctx, "sender", t.sender_office, t.sender_type);
  write_office(j, ctx, "recipient", t.recipient_office, t.recipient_type);
  j.kv("sequence", t.sequence);
  j.kv("kind", t.unit_kind);
  j.kv("attempts", t.attempts);
  j.kv("remote_id", t.remote_id);
  j.kv("receipt", t.receipt_state);
  j.kv("reason", t.reason);
  j.kv("code", code_of(t.reason));
  j.kv("last_error", t.last_error);
  j.time("created_at", t.created_at);
  j.time("updated_at", t.updated_at);
  j.time("finished_at", t.finished_at);
  j.time("next_attempt_at", t.state == store::kAccepted ? t.next_attempt_at : 0);
  j.kv_bool("payload_retained", t.has_payload);
  j.w().EndObject();
}

std::int64_t parse_id(const std::string& text, const char* what) {
  try {
    std::size_t n = 0;
    const auto v = std::stoll(text, &n);
    if (n == text.size() && v >= 0) return v;
  } catch (...) {
  }
  throw ApiError{400, "bad_request", std::string(what) + " must be a non-negative number"};
}

std::int64_t time_param(const QueryParams& q, const char* key, std::int64_t fallback) {
  const auto it = q.find(key);
  if (it == q.end() || it->second.empty()) return fallback;
  const auto v = parse_time(it->second);
  if (!v)
    throw ApiError{400, "bad_request",
                   std::string(key) + " needs a date like 2025-06-01 or 2025-06-01T09:00:00Z"};
  return *v;
}

std::optional<std::string> text_param(const QueryParams& q, const char* key) {
  const auto it = q.find(key);
  if (it == q.end() || it->second.empty()) return std::nullopt;
  return it->second;
}

std::int64_t days_left(std::int64_t until_ms, std::int64_t now) {
  // Floor division: a certificate expiring in 12 hours has 0 days left, an expired one < 0.
  const std::int64_t diff = until_ms - now;
  return diff >= 0 ? diff / kDayMs : -((-diff + kDayMs - 1) / kDayMs);
}

std::int64_t asn1_ms(const ASN1_TIME* t) {
  std::tm tm{};
  if (t == nullptr || ASN1_TIME_to_tm(t, &tm) != 1) return 0;
  return static_cast<std::int64_t>(timegm(&tm)) * 1000;
}

struct Expiry {
  std::string kind, name, subject;
  std::int64_t until = 0;  // not after (certificate) or next update (CRL), ms
  std::string error;       // unreadable file
};

std::string x509_name(X509_NAME* name) {
  std::string out;
  if (BIO* bio = BIO_new(BIO_s_mem())) {
    X509_NAME_print_ex(bio, name, 0, XN_FLAG_RFC2253 & ~ASN1_STRFLGS_ESC_MSB);
    char* data = nullptr;
    const long n = BIO_get_mem_data(bio, &data);
    if (n > 0) out.assign(data, static_cast<std::size_t>(n));
    BIO_free(bio);
  }
  return out;
}

std::vector<Expiry> read_expiry(const ExpirySource& source) {
  std::vector<Expiry> out;
  BIO* bio = BIO_new_file(source.file.c_str(), "r");
  if (bio == nullptr) {
    out.push_back({source.kind, source.name, "", 0, "cannot read " + source.file});
    return out;
  }
  if (source.kind == "crl") {
    while (X509_CRL* crl = PEM_read_bio_X509_CRL(bio, nullptr, nullptr, nullptr)) {
      out.push_back({source.kind, source.name, x509_name(X509_CRL_get_issuer(crl)),
                     asn1_ms(X509_CRL_get0_nextUpdate(crl)), ""});
      X509_CRL_free(crl);
    }
  } else {
    while (X509* cert = PEM_read_bio_X509(bio, nullptr, nullptr, nullptr)) {
      out.push_back({source.kind, source.name, x509_name(X509_get_subject_name(cert)),
                     asn1_ms(X509_get0_notAfter(cert)), ""});
      X509_free(cert);
    }
  }
  BIO_free(bio);
  ERR_clear_error();
  if (out.empty())
    out.push_back(
        {source.kind, source.name, "", 0, "no PEM " + source.kind + " in " + source.file});
  return out;
}

std::optional<registry::SyncRecord> last_sync(ApiContext& ctx) {
  if (!ctx.thread.registry_db) return std::nullopt;
  registry::RegistryStore rs(*ctx.thread.registry_db);
  return rs.last_sync();
}

std::int64_t sum_state(const std::vector<store::StateCount>& counts, const char* state) {
  std::int64_t n = 0;
  for (const auto& c : counts) {
    if (c.state == state) n += c.count;
  }
  return n;
}

std::vector<std::string> unbalanced_directions(const std::vector<store::ReportRow>& rows) {
  std::vector<std::string> out;
  for (const auto& r : rows) {
    if (r.in != r.delivered + r.rejected + r.parked + r.superseded + r.in_flight)
      out.push_back(r.direction);
  }
  return out;
}

}  // namespace

// ---- plumbing -----------------------------------------------------------------------------------

std::optional<Target> parse_target(const std::string& target) {
  if (target.empty() || target[0] != '/') return std::nullopt;
  const auto decode = [](std::string_view in, bool plus_space) -> std::optional<std::string> {
    std::string out;
    for (std::size_t i = 0; i < in.size(); ++i) {
      const char c = in[i];
      if (c == '%') {
        if (i + 2 >= in.size()) return std::nullopt;
        const auto hex = [](char h) -> int {
          if (h >= '0' && h <= '9') return h - '0';
          if (h >= 'a' && h <= 'f') return h - 'a' + 10;
          if (h >= 'A' && h <= 'F') return h - 'A' + 10;
          return -1;
        };
        const int hi = hex(in[i + 1]), lo = hex(in[i + 2]);
        if (hi < 0 || lo < 0) return std::nullopt;
        out += static_cast<char>(hi * 16 + lo);
        i += 2;
      } else if (c == '+' && plus_space) {
        out += ' ';
      } else {
        out += c;
      }
    }
    return out;
  };
  Target t;
  const auto q = target.find('?');
  auto path = decode(std::string_view(target).substr(0, q), false);
  if (!path) return std::nullopt;
  t.path = *path;
  if (q != std::string::npos) {
    std::string_view rest = std::string_view(target).substr(q + 1);
    while (!rest.empty()) {
      const auto amp = rest.find('&');
      const auto pair = rest.substr(0, amp);
      rest = amp == std::string_view::npos ? std::string_view() : rest.substr(amp + 1);
      if (pair.empty()) continue;
      const auto eq = pair.find('=');
      auto k = decode(pair.substr(0, eq), true);
      auto v = eq == std::string_view::npos ? std::optional<std::string>("")
                                            : decode(pair.substr(eq + 1), true);
      if (!k || !v) return std::nullopt;
      t.query[*k] = *v;
    }
  }
  return t;
}

std::optional<std::int64_t> parse_time(const std::string& text) {
  std::tm tm{};
  std::istringstream is(text);
  is >> std::get_time(&tm, text.size() == 10 ? "%Y-%m-%d" : "%Y-%m-%dT%H:%M:%S");
  if (is.fail()) return std::nullopt;
  return static_cast<std::int64_t>(timegm(&tm)) * 1000;
}

http::Response json_response(int status, std::string body) {
  http::Response r;
  r.status = status;
  r.headers = {{"content-type", "application/json; charset=utf-8"}, {"cache-control", "no-store"}};
  r.body = std::move(body);
  r.body += "\n";
  return r;
}

http::Response error_response(const ApiError& error) {
  Json j;
  j.w().StartObject();
  j.kv("error", error.code);
  j.kv("reason", error.reason);
  j.w().EndObject();
  auto r = json_response(error.status, j.done());
  if (error.status == 401) r.headers.emplace_back("www-authenticate", "Bearer realm=\"kakehashi\"");
  return r;
}

const reg::Registry* ApiContext::registry(bool fresh) {
  if (!thread.registry_db) return nullptr;
  if (!thread.registry || fresh || now - thread.registry_loaded_at > 60 * 1000) {
    auto r = std::make_unique<reg::Registry>(sources.registry_policy);
    registry::RegistryStore(*thread.registry_db).load(*r);
    thread.registry = std::move(r);
    thread.registry_loaded_at = now;
  }
  return thread.registry.get();
}

std::string ApiContext::office_name(const std::string& office_no, const std::string& service_type) {
  if (sources.office_name) {
    auto name = sources.office_name(office_no, service_type);
    if (!name.empty()) return name;
  }
  if (office_no.empty()) return "";
  try {
    if (const auto* r = registry()) {
      if (auto o = r->find({office_no, service_type})) return o->name;
      for (const auto& k : r->keys_of(office_no)) {  // v3 names carry no service type
        if (auto o = r->find(k); o && !o->name.empty()) return o->name;
      }
    }
  } catch (const store::SqlError&) {
    // Names are a convenience: a registry read failing leaves them empty.
  }
  return "";
}

// ---- alerts -------------------------------------------------------------------------------------

std::vector<Alert> evaluate_alerts(ApiContext& ctx) {
  std::vector<Alert> out;
  const auto counts = ctx.store().state_counts(0);
  if (const auto parked = sum_state(counts, store::kParked); parked > 0)
    out.push_back({"parked", "", std::to_string(parked) + " transfer(s) parked"});
  for (const auto& source : ctx.sources.expiry) {
    for (const auto& e : read_expiry(source)) {
      if (!e.error.empty()) {
        out.push_back(
            {source.kind == "crl" ? "crl-expiry" : "certificate-expiry", e.name, e.error});
        continue;
      }
      const auto days = days_left(e.until, ctx.now);
      if (days < (source.kind == "crl" ? ctx.config.crl_expiry_days
                                       : ctx.config.certificate_expiry_days)) {
        out.push_back({source.kind == "crl" ? "crl-expiry" : "certificate-expiry", e.name,
                       (days < 0 ? "expired " : "expires in " + std::to_string(days) + " day(s) ") +
                           std::string("(") + audit::iso_time(e.until) + ") " + e.subject});
      }
    }
  }
  for (const auto& n : ctx.engine.networks) {
    if (n.failing_since > 0 && ctx.now - n.failing_since > ctx.config.network_unreachable.count()) {
      out.push_back({"network-unreachable", n.name,
                     "failing since " + audit::iso_time(n.failing_since) + " (" +
                         std::to_string(n.failures) + " consecutive failures)"});
    }
  }
  // A destination refused units for a reason their senders cannot fix (trust between networks,
  // its own policy): the operator must act. Shown for a day after the last one.
  for (const auto& n : ctx.engine.networks) {
    if (n.last_operator_refusal > 0 && ctx.now - n.last_operator_refusal < 24 * kHourMs) {
      out.push_back({"destination-refusal", n.name,
                     std::to_string(n.operator_refusals) +
                         " unit(s) refused for a reason the sender cannot fix; last " +
                         audit::iso_time(n.last_operator_refusal) + ": " +
                         n.last_operator_refusal_reason});
    }
  }
  // Issue 14: a network whose cursor stops moving while its polls keep failing.
  for (const auto& [network, counters] : ctx.sources.adapter_counters) {
    const auto stalled = counters->stalled_polls.load();
    if (stalled >= kInboxStalledPolls)
      out.push_back(
          {"inbox-stalled", network,
           std::to_string(stalled) + " inbox polls failed in a row and the cursor has not moved"});
  }
  try {
    if (const auto s = last_sync(ctx);
        s && ctx.now - s->finished_ms > ctx.config.registry_stale.count())
      out.push_back(
          {"registry-stale", "", "last registry sync finished " + audit::iso_time(s->finished_ms)});
  } catch (const store::SqlError&) {
    // No registry tables yet: nothing synced, nothing stale.
  }
  for (const auto& d : unbalanced_directions(ctx.store().report(0, INT64_MAX)))
    out.push_back(
        {"conservation-drift", d, "in != delivered + rejected + parked + superseded + in flight"});
  return out;
}

// ---- endpoints ----------------------------------------------------------------------------------

http::Response api_session(ApiContext& ctx, const Principal& who) {
  Json j;
  j.w().StartObject();
  j.kv("role", to_string(who.role));
  j.kv("instance", ctx.sources.instance);
  j.kv("actor", who.actor());
  j.kv("version", ctx.sources.version);
  j.w().EndObject();
  return json_response(200, j.done());
}

http::Response api_dashboard(ApiContext& ctx) {
  const std::int64_t day_start = (ctx.now + kJapanOffsetMs) / kDayMs * kDayMs - kJapanOffsetMs;
  const std::int64_t hours_start = ctx.now / kHourMs * kHourMs - 23 * kHourMs;
  const auto today = ctx.store().state_counts(day_start);
  const auto all = ctx.store().state_counts(0);
  const auto hours = ctx.store().hourly_counts(hours_start);
  std::set<std::string> directions;
  for (const auto& c : today) directions.insert(c.direction);
  for (const auto& h : hours) directions.insert(h.direction);
  Json j;
  j.w().StartObject();
  j.kv("instance", ctx.sources.instance);
  j.time("now", ctx.now);
  j.time("day_start", day_start);
  j.key("directions");
  j.w().StartArray();
  for (const auto& d : directions) {
    j.w().StartObject();
    j.kv("direction", d);
    j.key("today");
    j.w().StartObject();
    std::int64_t in = 0;
    std::map<std::string, std::int64_t> by_state;
    for (const auto& c : today) {
      if (c.direction != d) continue;
      in += c.count;
      by_state[c.state] += c.count;
    }
    j.kv("in", in);
    j.kv("delivered", by_state[store::kDelivered]);
    j.kv("rejected", by_state[store::kRejected]);
    j.kv("parked", by_state[store::kParked]);
    j.kv("superseded", by_state[store::kSuperseded]);
    j.kv("in_flight", by_state[store::kAccepted] + by_state[store::kAwaitingRoute]);
    j.w().EndObject();
    j.key("hours");
    j.w().StartArray();
    for (int i = 0; i < 24; ++i) {
      const std::int64_t start = hours_start + i * kHourMs;
      std::int64_t hin = 0, hout = 0;
      for (const auto& h : hours) {
        if (h.direction == d && h.hour_start == start) {
          hin += h.in;
          hout += h.out;
        }
      }
      j.w().StartObject();
      j.time("start", start);
      j.kv("in", hin);
      j.kv("out", hout);
      j.w().EndObject();
    }
    j.w().EndArray();
    j.w().EndObject();
  }
  j.w().EndArray();
  j.kv("backlog", sum_state(all, store::kAccepted) + sum_state(all, store::kAwaitingRoute));
  j.kv("parked", sum_state(all, store::kParked));
  j.key("networks");
  j.w().StartArray();
  for (const auto& n : ctx.engine.networks) {
    j.w().StartObject();
    j.kv("name", n.name);
    j.kv("breaker", n.open_until > 0 ? "open" : "closed");
    j.kv("failures", n.failures);
    j.time("open_until", n.open_until);
    j.time("last_success", n.last_success);
    j.time("last_failure", n.last_failure);
    j.time("failing_since", n.failing_since);
    j.kv_bool("directory_loaded", n.directory_loaded);
    j.w().EndObject();
  }
  j.w().EndArray();
  store::TransferFilter f;
  f.state = store::kRejected;
  f.newest_first = true;
  f.limit = 20;
  j.key("recent_rejections");
  j.w().StartArray();
  for (const auto& t : ctx.store().list(f)) {
    j.w().StartObject();
    j.kv("id", t.id);
    j.time("at", t.finished_at != 0 ? t.finished_at : t.created_at);
    j.kv("direction", t.direction);
    write_office(j, ctx, "sender", t.sender_office, t.sender_type);
    write_office(j, ctx, "recipient", t.recipient_office, t.recipient_type);
    j.kv("code", code_of(t.reason));
    j.kv("reason", t.reason);
    j.w().EndObject();
  }
  j.w().EndArray();
  j.key("alerts");
  j.w().StartArray();
  for (const auto& a : evaluate_alerts(ctx)) {
    j.w().StartObject();
    j.kv("kind", a.kind);
    j.kv("subject", a.subject);
    j.kv("detail", a.detail);
    j.w().EndObject();
  }
  j.w().EndArray();
  j.w().EndObject();
  return json_response(200, j.done());
}

http::Response api_transfers(ApiContext& ctx, const QueryParams& q) {
  store::TransferFilter f;
  f.state = text_param(q, "state");
  f.office = text_param(q, "office");
  f.kind = text_param(q, "kind");
  f.direction = text_param(q, "direction");
  f.from = time_param(q, "from", 0);
  f.to = time_param(q, "to", INT64_MAX);
  const auto limit = text_param(q, "limit");
  f.limit = limit ? static_cast<std::size_t>(
                        std::clamp<std::int64_t>(parse_id(*limit, "limit"), 1, kMaxLimit))
                  : 50;
  const auto offset = text_param(q, "offset");
  f.offset = offset ? static_cast<std::size_t>(parse_id(*offset, "offset")) : 0;
  f.newest_first = true;
  const std::size_t wanted = f.limit;
  f.limit = wanted + 1;  // one more tells whether there is a next page
  auto list = ctx.store().list(f);
  const bool more = list.size() > wanted;
  if (more) list.resize(wanted);
  Json j;
  j.w().StartObject();
  j.key("items");
  j.w().StartArray();
  for (const auto& t : list) write_transfer(j, ctx, t);
  j.w().EndArray();
  j.kv("limit", static_cast<std::int64_t>(wanted));
  j.kv("offset", static_cast<std::int64_t>(f.offset));
  j.kv_bool("more", more);
  j.w().EndObject();
  return json_response(200, j.done());
}

http::Response api_transfer(ApiContext& ctx, std::int64_t id) {
  const auto t = ctx.store().get(id);
  if (!t) throw ApiError{404, "not_found", "no transfer " + std::to_string(id)};
  const auto events = ctx.store().events(id);
  // The audit records with their chain positions and hashes.
  store::AuditQuery q;
  q.transfer_id = id;
  const auto rows = ctx.store().audit_export(q);
  Json j;
  j.w().StartObject();
  j.key("transfer");
  write_transfer(j, ctx, *t);
  j.key("lineage");
  j.w().StartArray();
  const auto stage = [&](const char* name, const store::Event& e, bool ok) {
    j.w().StartObject();
    j.kv("stage", name);
    j.time("at", e.at);
    j.kv("kind", e.kind);
    j.kv("actor", e.actor);
    j.kv("detail", e.detail);
    j.kv_bool("ok", ok);
    j.w().EndObject();
  };
  for (const auto& e : events) {
    const auto& k = e.kind;
    if (k == "accepted" || k == "refused" || k == "duplicate") {
      stage("intake", e, k != "refused");
      if (k != "duplicate") stage("checks", e, k == "accepted");
    } else if (k == "translation-receipt") {
      stage("translation", e, true);
    } else if (k == "delivered" || k == "attempt-failed" || k == "released" || k == "superseded") {
      stage("delivery", e, k == "delivered" || k == "superseded");
    } else if (k.rfind("receipt-", 0) == 0 || k.rfind("notice-sent-", 0) == 0) {
      stage("receipt", e, k.find("rejected") == std::string::npos);
    } else if (k == "rejected-by-destination" || k == "route-refused") {
      stage("rejection", e, false);
    } else if (k == "parked") {
      stage("parking", e, false);
    } else if (k == "redriven") {
      stage("operator", e, true);
    } else {
      stage("other", e, true);
    }
  }
  j.w().EndArray();
  j.key("events");
  j.w().StartArray();
  for (const auto& r : rows) {
    j.w().StartObject();
    j.kv("id", r.record.id);
    j.key("seq");
    if (r.record.seq) {
      j.w().Int64(*r.record.seq);
    } else {
      j.w().Null();
    }
    j.time("at", r.record.at);
    j.kv("kind", r.record.kind);
    j.kv("actor", r.record.actor);
    j.kv("detail", r.record.detail);
    j.kv("hash", r.record.hash);
    j.w().EndObject();
  }
  j.w().EndArray();
  j.w().EndObject();
  return json_response(200, j.done());
}

http::Response api_parked(ApiContext& ctx) {
  store::TransferFilter f;
  f.state = store::kParked;
  f.limit = kMaxLimit;
  Json j;
  j.w().StartObject();
  j.key("items");
  j.w().StartArray();
  for (const auto& t : ctx.store().list(f)) write_transfer(j, ctx, t);
  j.w().EndArray();
  j.w().EndObject();
  return json_response(200, j.done());
}

http::Response api_act(ApiContext& ctx, std::int64_t id, const std::string& action,
                       const Principal& who, const std::string& body) {
  if (who.role != Role::kOperator)
    throw ApiError{403, "forbidden", "the auditor role may read and export, not " + action};
  std::string reason;
  if (action == "park" && !body.empty()) {
    rapidjson::Document doc;
    doc.Parse(body.data(), body.size());
    if (doc.HasParseError() || !doc.IsObject())
      throw ApiError{400, "bad_request",
                     "the body must be a JSON object like {\"reason\": \"...\"}"};
    if (doc.HasMember("reason")) {
      if (!doc["reason"].IsString()) throw ApiError{400, "bad_request", "reason must be a string"};
      reason.assign(doc["reason"].GetString(), doc["reason"].GetStringLength());
    }
  }
  // Recorded like `kakehashi relay retry|park ID [--reason TEXT] --actor NAME` records it.
  std::string command = "relay " + action + " " + std::to_string(id);
  if (!reason.empty()) command += " --reason " + reason;
  auto& s = ctx.store();
  s.record_operator_command(who.actor(), command, ctx.now);
  const auto t = s.get(id);
  if (!t) throw ApiError{404, "not_found", "no transfer " + std::to_string(id)};
  if (action == "retry") {
    if (!s.redrive(id, who.actor(), ctx.now))
      throw ApiError{409, "conflict",
                     "transfer " + std::to_string(id) + " is " + t->state + ", not parked"};
  } else {
    if (t->state != store::kAccepted)
      throw ApiError{409, "conflict",
                     "transfer " + std::to_string(id) + " is " + t->state + ", not in flight"};
    if (!s.park(id, reason.empty() ? "parked by an operator" : reason, who.actor(), ctx.now))
      throw ApiError{409, "conflict",
                     "transfer " + std::to_string(id) + " finished before it could be parked"};
  }
  const auto after = s.get(id);
  Json j;
  j.w().StartObject();
  j.kv("id", id);
  j.kv("state", after ? after->state : std::string());
  j.kv("result", action == "retry" ? "re-driven" : "parked");
  j.w().EndObject();
  return json_response(200, j.done());
}

http::Response api_registry_conflicts(ApiContext& ctx) {
  Json j;
  j.w().StartObject();
  j.key("conflicts");
  j.w().StartArray();
  const auto* r = ctx.registry(true);
  if (r != nullptr) {
    for (const auto& c : r->conflicts()) {
      j.w().StartObject();
      j.kv("kind", reg::to_string(c.kind));
      j.kv("office_no", c.key.office_no);
      j.kv("service_type", c.key.service_type);
      j.kv("name", ctx.office_name(c.key.office_no, c.key.service_type));
      j.key("networks");
      j.w().StartArray();
      for (const auto& n : c.networks) j.str(n);
      j.w().EndArray();
      j.kv("detail", c.detail);
      j.key("params");  // the detail as values: the console words it in its language
      j.w().StartObject();
      for (const auto& [k, v] : c.params) j.kv(k, v);
      j.w().EndObject();
      j.w().EndObject();
    }
  }
  j.w().EndArray();
  // The gateway's own publications listed back by a network: not conflicts, one count.
  j.kv("echoes", static_cast<std::int64_t>(r != nullptr ? r->echoes() : 0));
  j.w().EndObject();
  return json_response(200, j.done());
}

http::Response api_registry_last_sync(ApiContext& ctx) {
  Json j;
  j.w().StartObject();
  const auto s = last_sync(ctx);
  j.key("sync");
  if (!s) {
    j.w().Null();
  } else {
    j.w().StartObject();
    j.kv("id", s->id);
    j.kv("mode", s->mode);
    j.time("started_at", s->started_ms);
    j.time("finished_at", s->finished_ms);
    j.kv("networks", s->networks);
    j.kv("added", s->added);
    j.kv("removed", s->removed);
    j.kv("changed", s->changed);
    j.kv("conflicts", s->conflicts);
    j.kv("note", s->note);
    j.w().EndObject();
  }
  j.key("changes");
  j.w().StartArray();
  if (s) {
    for (const auto& c : registry::RegistryStore(*ctx.thread.registry_db).diff_of(s->id).changes) {
      j.w().StartObject();
      j.kv("kind", reg::to_string(c.kind));
      j.kv("office_no", c.key.office_no);
      j.kv("service_type", c.key.service_type);
      j.kv("name", ctx.office_name(c.key.office_no, c.key.service_type));
      j.key("fields");
      j.w().StartArray();
      for (const auto& f : c.fields) {
        j.w().StartObject();
        j.kv("field", f.field);
        j.kv("before", f.before);
        j.kv("after", f.after);
        j.w().EndObject();
      }
      j.w().EndArray();
      j.w().EndObject();
    }
  }
  j.w().EndArray();
  j.w().EndObject();
  return json_response(200, j.done());
}

http::Response api_audit_verify(ApiContext& ctx) {
  auto& s = ctx.store();
  const auto records = s.audit_records();
  const auto checkpoints = s.audit_checkpoints();
  const auto head = s.audit_head();
  mapping::cms::X509Ptr cert;
  if (!ctx.sources.audit_certificate_file.empty()) {
    try {
      cert = pki::load_certificate(ctx.sources.audit_certificate_file);
    } catch (const std::exception& e) {
      throw ApiError{500, "internal",
                     std::string("cannot read the audit certificate: ") + e.what()};
    }
  }
  audit::VerifyReport r;
  if (!cert && !checkpoints.empty()) {
    r.breakage = audit::Breakage::kCheckpointForged;
    r.detail = "no gateway certificate configured to check the signed checkpoints";
  } else {
    r = audit::verify_chain(records, checkpoints, head, cert.get(), 0);
  }
  const std::int64_t unsealed = r.last_seq - r.last_checkpoint_seq;
  Json j;
  j.w().StartObject();  // the fields and order of `kakehashi audit verify --json`
  j.kv_bool("intact", r.intact());
  j.kv("result", audit::to_string(r.breakage));
  j.kv("records", static_cast<std::int64_t>(r.records));
  j.kv("last_seq", r.last_seq);
  j.kv("checkpoints", static_cast<std::int64_t>(r.checkpoints));
  j.kv("last_checkpoint_seq", r.last_checkpoint_seq);
  j.kv("unsealed_records", r.intact() ? unsealed : 0);
  if (!r.intact()) {
    j.kv("record_id", r.record_id);
    j.kv("record_seq", r.record_seq);
    j.kv("checkpoint", r.checkpoint);
    j.kv("detail", r.detail);
  }
  j.time("checked_at", ctx.now);
  j.w().EndObject();
  return json_response(200, j.done());
}

http::Response api_audit_export(ApiContext& ctx, const QueryParams& q) {
  const auto format = text_param(q, "format").value_or("csv");
  if (format != "csv" && format != "jsonl")
    throw ApiError{400, "bad_request", "format must be csv or jsonl"};
  store::AuditQuery aq;
  aq.from = time_param(q, "from", 0);
  aq.to = time_param(q, "to", INT64_MAX);
  aq.office = text_param(q, "office");
  std::string name = "kakehashi-audit";
  if (const auto t = text_param(q, "transfer")) {
    aq.transfer_id = parse_id(*t, "transfer");
    name += "-transfer-" + std::to_string(*aq.transfer_id);
  }
  const auto safe = [](const std::string& v) {
    std::string out;
    for (char c : v) out += std::isalnum(static_cast<unsigned char>(c)) || c == '-' ? c : '_';
    return out;
  };
  if (aq.office) name += "-office-" + safe(*aq.office);
  if (const auto v = text_param(q, "from")) name += "-from-" + safe(*v);
  if (const auto v = text_param(q, "to")) name += "-to-" + safe(*v);
  const auto rows = ctx.store().audit_export(aq);
  std::ostringstream out;
  if (format == "csv") {
    audit::write_csv(rows, out);
  } else {
    audit::write_jsonl(rows, out);
  }
  http::Response r;
  r.status = 200;
  r.headers = {
      {"content-type", format == "csv" ? "text/csv; charset=utf-8" : "application/x-ndjson"},
      {"content-disposition", "attachment; filename=\"" + name + "." + format + "\""},
      {"cache-control", "no-store"}};
  r.body = out.str();
  return r;
}

http::Response metrics(ApiContext& ctx) {
  PrometheusText p;
  const auto counts = ctx.store().state_counts(0);
  p.family("kakehashi_info", "gauge", "The gateway instance answering.");
  p.sample("kakehashi_info", {{"instance", ctx.sources.instance}, {"version", ctx.sources.version}},
           1);

  // Units by direction (the store's view: every instance sharing it, since the store began).
  std::map<std::pair<std::string, std::string>, std::int64_t> in, out, states;
  for (const auto& c : counts) {
    in[{c.direction, c.refused_at_intake ? "refused" : "accepted"}] += c.count;
    if (c.state == store::kDelivered || c.state == store::kRejected ||
        c.state == store::kSuperseded)
      out[{c.direction, c.state}] += c.count;
    states[{c.direction, c.state}] += c.count;
  }
  p.family(
      "kakehashi_units_in_total", "counter",
      "Units taken in, by direction and outcome at intake (accepted, or refused at admission).");
  for (const auto& [k, v] : in)
    p.sample("kakehashi_units_in_total", {{"direction", k.first}, {"outcome", k.second}},
             static_cast<double>(v));
  p.family("kakehashi_units_out_total", "counter",
           "Units that reached a final outcome, by direction: delivered, rejected (rejection sent "
           "to the sender) or superseded.");
  for (const auto& [k, v] : out)
    p.sample("kakehashi_units_out_total", {{"direction", k.first}, {"outcome", k.second}},
             static_cast<double>(v));
  p.family("kakehashi_transfers", "gauge", "Transfers by direction and state.");
  for (const auto& [k, v] : states)
    p.sample("kakehashi_transfers", {{"direction", k.first}, {"state", k.second}},
             static_cast<double>(v));
  p.family("kakehashi_backlog", "gauge",
           "Accepted transfers not yet delivered (in flight), awaiting their route included.");
  p.sample("kakehashi_backlog", {},
           static_cast<double>(sum_state(counts, store::kAccepted) +
                               sum_state(counts, store::kAwaitingRoute)));
  p.family("kakehashi_parked", "gauge", "Parked transfers waiting for an operator.");
  p.sample("kakehashi_parked", {}, static_cast<double>(sum_state(counts, store::kParked)));

  const auto& c = ctx.engine.counters;
  p.family("kakehashi_retries_total", "counter",
           "Failed delivery attempts rescheduled by this process.");
  p.sample("kakehashi_retries_total", {}, static_cast<double>(c.retries));
  p.family("kakehashi_engine_events_total", "counter",
           "What this process's relay engine did since it started.");
  for (const auto& [name, v] : std::initializer_list<std::pair<const char*, std::int64_t>>{
           {"accepted", c.accepted},
           {"refused", c.refused},
           {"duplicate", c.duplicates},
           {"delivered", c.delivered},
           {"destination_refused", c.destination_refused},
           {"retry", c.retries},
           {"released", c.released},
           {"parked", c.parked},
           {"receipt", c.receipts},
           {"notice_sent", c.notices_sent}})
    p.sample("kakehashi_engine_events_total", {{"event", name}}, static_cast<double>(v));

  p.family("kakehashi_commit_groups_total", "counter",
           "Store transactions of the group committer (one fsync each), by outcome.");
  p.sample("kakehashi_commit_groups_total", {{"outcome", "committed"}},
           static_cast<double>(c.commit_groups - c.commit_group_failures));
  p.sample("kakehashi_commit_groups_total", {{"outcome", "failed"}},
           static_cast<double>(c.commit_group_failures));
  p.family(
      "kakehashi_commit_operations_total", "counter",
      "Operations carried by the group committer's transactions (divide by groups: group size).");
  p.sample("kakehashi_commit_operations_total", {}, static_cast<double>(c.commit_operations));

  p.family("kakehashi_relay_latency_seconds", "histogram",
           "Time from durable accept to delivery, per direction (this process).");
  for (const auto& [direction, h] : ctx.engine.latency) {
    for (std::size_t i = 0; i < std::size(engine::LatencyHistogram::kBounds); ++i)
      p.sample(
          "kakehashi_relay_latency_seconds_bucket",
          {{"direction", direction}, {"le", format_value(engine::LatencyHistogram::kBounds[i])}},
          static_cast<double>(h.buckets[i]));
    p.sample("kakehashi_relay_latency_seconds_bucket", {{"direction", direction}, {"le", "+Inf"}},
             static_cast<double>(h.count));
    p.sample("kakehashi_relay_latency_seconds_sum", {{"direction", direction}}, h.sum);
    p.sample("kakehashi_relay_latency_seconds_count", {{"direction", direction}},
             static_cast<double>(h.count));
  }

  p.family("kakehashi_network_breaker_open", "gauge",
           "1 while deliveries to the network are paused (circuit open).");
  for (const auto& n : ctx.engine.networks)
    p.sample("kakehashi_network_breaker_open", {{"network", n.name}}, n.open_until > 0 ? 1 : 0);
  // The adapters' degraded paths (issues 14, 15).
  using Counter = std::atomic<std::uint64_t> AdapterCounters::*;
  const std::pair<const char*, Counter> adapter_counts[] = {
      {"polls_failed", &AdapterCounters::polls_failed},
      {"malformed_answers", &AdapterCounters::malformed_answers},
      {"items_unreadable", &AdapterCounters::items_unreadable},
      {"items_skipped", &AdapterCounters::items_skipped},
      {"relogins", &AdapterCounters::relogins},
      {"tls_verify_failures", &AdapterCounters::tls_verify_failures},
      {"push_refused", &AdapterCounters::push_refused}};
  p.family("kakehashi_adapter_events_total", "counter",
           "Degraded paths of a network adapter by kind (unreadable items refused, failed "
           "polls, malformed answers, re-logins, TLS verification failures, refused pushes).");
  for (const auto& [network, adapter] : ctx.sources.adapter_counters)
    for (const auto& [kind, member] : adapter_counts)
      p.sample("kakehashi_adapter_events_total", {{"network", network}, {"kind", kind}},
               static_cast<double>(((*adapter).*member).load()));
  p.family("kakehashi_inbox_stalled_polls", "gauge",
           "Inbox polls failed in a row while the network's unit cursor stayed put.");
  for (const auto& [network, adapter] : ctx.sources.adapter_counters)
    p.sample("kakehashi_inbox_stalled_polls", {{"network", network}},
             static_cast<double>(adapter->stalled_polls.load()));
  p.family("kakehashi_network_consecutive_failures", "gauge",
           "Failed deliveries to the network since its last answer.");
  for (const auto& n : ctx.engine.networks)
    p.sample("kakehashi_network_consecutive_failures", {{"network", n.name}},
             static_cast<double>(n.failures));
  p.family("kakehashi_network_last_success_timestamp_seconds", "gauge",
           "When the network last answered a delivery (0: not since start).");
  for (const auto& n : ctx.engine.networks)
    p.sample("kakehashi_network_last_success_timestamp_seconds", {{"network", n.name}},
             static_cast<double>(n.last_success) / 1000.0);
  p.family("kakehashi_network_directory_loaded", "gauge",
           "1 once the network's office directory has been loaded.");
  for (const auto& n : ctx.engine.networks)
    p.sample("kakehashi_network_directory_loaded", {{"network", n.name}},
             n.directory_loaded ? 1 : 0);

  p.family("kakehashi_registry_sync_age_seconds", "gauge",
           "Seconds since the last registry sync finished.");
  try {
    if (const auto s = last_sync(ctx))
      p.sample("kakehashi_registry_sync_age_seconds", {},
               static_cast<double>(ctx.now - s->finished_ms) / 1000.0);
  } catch (const store::SqlError&) {
  }
  p.family("kakehashi_audit_checkpoint_age_seconds", "gauge",
           "Seconds since the last signed audit checkpoint.");
  if (const auto at = ctx.store().last_checkpoint_at())
    p.sample("kakehashi_audit_checkpoint_age_seconds", {},
             static_cast<double>(ctx.now - *at) / 1000.0);

  p.family("kakehashi_certificate_expiry_days", "gauge",
           "Days until a certificate expires (negative: expired).");
  std::vector<Expiry> crls;
  for (const auto& source : ctx.sources.expiry) {
    for (auto& e : read_expiry(source)) {
      if (!e.error.empty()) continue;
      if (source.kind == "crl") {
        crls.push_back(std::move(e));
        continue;
      }
      p.sample("kakehashi_certificate_expiry_days", {{"name", e.name}, {"subject", e.subject}},
               static_cast<double>(days_left(e.until, ctx.now)));
    }
  }
  p.family("kakehashi_crl_expiry_days", "gauge",
           "Days until a CRL's next update is due (negative: stale).");
  for (const auto& e : crls)
    p.sample("kakehashi_crl_expiry_days", {{"name", e.name}, {"issuer", e.subject}},
             static_cast<double>(days_left(e.until, ctx.now)));

  const auto report = ctx.store().report(0, INT64_MAX);
  p.family("kakehashi_conservation_balanced", "gauge",
           "1 when in = delivered + rejected + parked + superseded + in flight, per direction.");
  for (const auto& r : report)
    p.sample("kakehashi_conservation_balanced", {{"direction", r.direction}},
             r.in == r.delivered + r.rejected + r.parked + r.superseded + r.in_flight ? 1 : 0);

  const auto alerts = evaluate_alerts(ctx);
  p.family("kakehashi_alerts", "gauge", "Active alerts by kind.");
  for (const char* kind :
       {"parked", "certificate-expiry", "crl-expiry", "network-unreachable", "destination-refusal",
        "registry-stale", "conservation-drift", "inbox-stalled"}) {
    const auto n =
        std::count_if(alerts.begin(), alerts.end(), [&](const Alert& a) { return a.kind == kind; });
    p.sample("kakehashi_alerts", {{"kind", kind}}, static_cast<double>(n));
  }
  p.family("kakehashi_alert_active", "gauge", "1 for each active alert.");
  std::set<std::pair<std::string, std::string>> seen;
  for (const auto& a : alerts) {
    if (seen.insert({a.kind, a.subject}).second)
      p.sample("kakehashi_alert_active", {{"kind", a.kind}, {"subject", a.subject}}, 1);
  }
  http::Response r;
  r.status = 200;
  r.headers = {{"content-type", kPrometheusContentType}, {"cache-control", "no-store"}};
  r.body = p.text();
  return r;
}

http::Response readyz(ApiContext& ctx) {
  std::vector<std::string> reasons;
  try {
    (void)ctx.store().last_checkpoint_at();
  } catch (const store::SqlError& e) {
    reasons.push_back("store unreachable: " + e.message);
  }
  if (ctx.sources.engine && !ctx.engine.running) reasons.push_back("relay engine not running");
  for (const auto& n : ctx.engine.networks) {
    if (!n.directory_loaded) reasons.push_back("directory of " + n.name + " not loaded yet");
    if (n.open_until > 0 && n.failing_since > 0 &&
        ctx.now - n.failing_since > ctx.config.network_unreachable.count())
      reasons.push_back("network " + n.name + " unreachable since " +
                        audit::iso_time(n.failing_since) + " (circuit open)");
  }
  Json j;
  j.w().StartObject();
  j.kv_bool("ready", reasons.empty());
  j.key("reasons");
  j.w().StartArray();
  for (const auto& r : reasons) j.str(r);
  j.w().EndArray();
  j.w().EndObject();
  return json_response(reasons.empty() ? 200 : 503, j.done());
}

std::vector<ExpirySource> trust_domain_expiry_sources(const std::string& network,
                                                      const std::string& directory) {
  std::vector<ExpirySource> out;
  for (const auto& [sub, kind] : {std::pair<const char*, const char*>{"anchors", "certificate"},
                                  {"intermediates", "certificate"},
                                  {"crls", "crl"}}) {
    std::error_code ec;
    std::vector<fs::path> files;
    for (const auto& e : fs::directory_iterator(fs::path(directory) / sub, ec)) {
      if (e.is_regular_file() && e.path().extension() == ".pem") files.push_back(e.path());
    }
    std::sort(files.begin(), files.end());
    for (const auto& f : files)
      out.push_back(
          {kind, "trust_domain " + network + " " + std::string(sub) + "/" + f.filename().string(),
           f.string()});
  }
  return out;
}

}  // namespace kakehashi::gateway::admin
