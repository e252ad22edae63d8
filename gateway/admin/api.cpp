#include "gateway/admin/api.hpp"

#include <algorithm>

#include "gateway/admin/cross_site.hpp"
#include "gateway/admin/endpoints.hpp"
#include "gateway/admin/json_writer.hpp"
#include "gateway/admin/metrics.hpp"
#include "gateway/registry/registry_store.hpp"
#include "mapping/common/iso_time.hpp"

namespace kakehashi::gateway::admin {
namespace reg = mapping::registry;

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

adapters::http::Response json_response(int status, std::string body) {
  adapters::http::Response r;
  r.status = status;
  r.headers = {{"content-type", "application/json; charset=utf-8"}, {"cache-control", "no-store"}};
  r.body = std::move(body);
  r.body += "\n";
  return r;
}

adapters::http::Response error_response(const ApiError& error) {
  JsonWriter j;
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
  const auto v = mapping::common::parse_day_or_time_ms(it->second);
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

// ---- routing ------------------------------------------------------------------------------------

namespace {

// /api/transfers/{id} and /api/transfers/{id}/{action}; nullopt when the path is not one.
struct TransferPath {
  std::int64_t id = 0;
  std::string action;  // "" for the transfer itself
};
std::optional<TransferPath> transfer_path(const std::string& path) {
  constexpr std::string_view kPrefix = "/api/transfers/";
  if (path.rfind(kPrefix, 0) != 0) return std::nullopt;
  std::string rest = path.substr(kPrefix.size());
  TransferPath out;
  const auto slash = rest.find('/');
  if (slash != std::string::npos) {
    out.action = rest.substr(slash + 1);
    rest = rest.substr(0, slash);
  }
  if (rest.empty() || rest.size() > 18 ||
      !std::all_of(rest.begin(), rest.end(), [](char c) { return c >= '0' && c <= '9'; }))
    return std::nullopt;
  out.id = std::stoll(rest);
  return out;
}

Routed refuse(int status, std::string code, std::string reason) {
  Routed r;
  r.refusal = ApiError{status, std::move(code), std::move(reason)};
  return r;
}

// /api/networks/{network}/offices...: the operator's office logins (office_endpoints.hpp).
Routed route_office(const adapters::http::Request& req, const std::string& path,
                    const Principal& who) {
  try {
    auto office = office_path(path);
    const bool post = office_request_is_post(office->kind);
    if (req.method != (post ? "POST" : "GET"))
      return refuse(405, "method_not_allowed", post ? "use POST" : "use GET");
    if (who.role != Role::kOperator)
      return refuse(403, "forbidden", "office logins need the operator role");
    if (post) {
      if (auto refusal = cross_site_refusal(req)) {
        auto r = refuse(403, "forbidden", std::move(*refusal));
        r.cross_site = true;
        return r;
      }
    }
    if (office->kind == OfficeRequest::Kind::kOtp) office->otp = parse_otp_body(req.body);
    office->actor = who.actor();
    Routed r;
    r.office = std::move(office);
    return r;
  } catch (const ApiError& e) {
    return refuse(e.status, e.code, e.reason);
  }
}

}  // namespace

Routed route(adapters::http::Request req, const Target& target, const Principal& who) {
  const std::string& path = target.path;
  const auto only_get = [&req](Work work) {
    if (req.method != "GET") return refuse(405, "method_not_allowed", "use GET");
    Routed r;
    r.work = std::move(work);
    return r;
  };
  const auto& q = target.query;
  if (path == "/metrics") return only_get([](ApiContext& ctx) { return metrics(ctx); });
  if (path == "/api/session")
    return only_get([who](ApiContext& ctx) { return api_session(ctx, who); });
  if (path == "/api/dashboard") return only_get([](ApiContext& ctx) { return api_dashboard(ctx); });
  if (path == "/api/transfers")
    return only_get([q](ApiContext& ctx) { return api_transfers(ctx, q); });
  if (path == "/api/parked") return only_get([](ApiContext& ctx) { return api_parked(ctx); });
  if (path == "/api/registry/conflicts")
    return only_get([](ApiContext& ctx) { return api_registry_conflicts(ctx); });
  if (path == "/api/registry/last-sync")
    return only_get([](ApiContext& ctx) { return api_registry_last_sync(ctx); });
  if (path == "/api/audit/verify")
    return only_get([](ApiContext& ctx) { return api_audit_verify(ctx); });
  if (path == "/api/audit/export")
    return only_get([q](ApiContext& ctx) { return api_audit_export(ctx, q); });
  if (path == "/api/audit/evidence")
    return only_get([q](ApiContext& ctx) { return api_audit_evidence(ctx, q); });
  if (const auto t = transfer_path(path)) {
    if (t->action.empty()) {
      const auto id = t->id;
      return only_get([id](ApiContext& ctx) { return api_transfer(ctx, id); });
    }
    if (t->action == "retry" || t->action == "park") {
      if (req.method != "POST") return refuse(405, "method_not_allowed", "use POST");
      // Refused before any store work: the auditor never acts, not even in the log.
      if (who.role != Role::kOperator)
        return refuse(403, "forbidden", "the auditor role may read and export, not " + t->action);
      // A page of another site must not act with the browser's credentials (cross_site.hpp).
      if (auto refusal = cross_site_refusal(req)) {
        auto r = refuse(403, "forbidden", std::move(*refusal));
        r.cross_site = true;
        return r;
      }
      Routed r;
      r.work = [id = t->id, action = t->action, who, body = std::move(req.body)](ApiContext& ctx) {
        return api_act(ctx, id, action, who, body);
      };
      return r;
    }
  }
  if (path.rfind("/api/networks/", 0) == 0) return route_office(req, path, who);
  return refuse(404, "not_found", "no such endpoint: " + path);
}

}  // namespace kakehashi::gateway::admin
