#include "gateway/admin/admin_server.hpp"

#include <chrono>
#include <mutex>
#include <set>
#include <thread>

#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/thread_pool.hpp>

#include "adapters/common/http/https_server.hpp"
#include "gateway/admin/access.hpp"
#include "gateway/admin/alerts.hpp"
#include "gateway/admin/api.hpp"
#include "gateway/admin/console_assets.hpp"
#include "gateway/admin/endpoints.hpp"
#include "gateway/engine/log.hpp"
#include "gateway/registry/registry_store.hpp"

namespace kakehashi::gateway::admin {
namespace net = boost::asio;

namespace {

std::int64_t system_now() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// How long /metrics, the dashboard and the alert check wait for the adapters' office states.
constexpr std::chrono::seconds kOfficeViewsWait{5};

void add_security_headers(adapters::http::Response& r) {
  r.headers.emplace_back("x-content-type-options", "nosniff");
  r.headers.emplace_back("x-frame-options", "DENY");
  r.headers.emplace_back("referrer-policy", "no-referrer");
  r.headers.emplace_back("content-security-policy", "default-src 'self'; frame-ancestors 'none'");
  r.headers.emplace_back("strict-transport-security", "max-age=31536000");
}

}  // namespace

struct AdminServer::Impl : std::enable_shared_from_this<Impl> {
  Impl(net::io_context& io_context, AdminConfig admin_config, AdminSources admin_sources)
      : io(io_context),
        config(std::move(admin_config)),
        sources(std::move(admin_sources)),
        pool(config.workers),
        timer(io_context) {
    if (!sources.clock) sources.clock = system_now;
  }

  net::io_context& io;
  AdminConfig config;
  AdminSources sources;
  std::unique_ptr<AccessControl> access;
  std::unique_ptr<adapters::http::HttpsServer> server;
  net::thread_pool pool;
  net::steady_timer timer;
  bool stopped = false;
  std::mutex threads_mutex;
  std::map<std::thread::id, std::unique_ptr<ThreadState>> threads;
  std::set<std::pair<std::string, std::string>> active_alerts;  // io thread

  using Reply = std::function<void(adapters::http::Response)>;

  ThreadState& thread_state() {
    std::lock_guard lock(threads_mutex);
    auto& slot = threads[std::this_thread::get_id()];
    if (!slot) slot = std::make_unique<ThreadState>();
    return *slot;
  }

  void open_connections(ThreadState& ts) {
    if (!ts.store) ts.store = sources.open_store();
    if (!ts.registry_db && sources.open_registry_db) {
      ts.registry_db = sources.open_registry_db();
      try {
        registry::RegistryStore(*ts.registry_db).migrate();
      } catch (const store::SqlError&) {
        // A read-only role cannot create tables; reads then fail and say so.
      }
    }
  }

  EngineSnapshot snapshot() const { return sources.engine ? sources.engine() : EngineSnapshot{}; }

  // The networks with office logins now (io thread).
  OfficeLoginsByNetwork office_logins() const {
    OfficeLoginsByNetwork out;
    if (!sources.office_logins) return out;
    for (const auto& [network, logins] : sources.office_logins()) {
      if (logins != nullptr) out.emplace(network, logins);
    }
    return out;
  }

  // Takes the engine snapshot and, when `offices`, the offices of the networks with office
  // logins (asked of their adapters), then calls `next` with it on the io thread.
  void with_snapshot(bool offices, std::function<void(std::shared_ptr<EngineSnapshot>)> next) {
    auto snap = std::make_shared<EngineSnapshot>(snapshot());
    auto logins = offices ? office_logins() : OfficeLoginsByNetwork{};
    if (logins.empty()) return next(std::move(snap));
    collect_office_views(io, logins, kOfficeViewsWait,
                         [snap, next = std::move(next)](OfficeViews views) {
                           snap->offices = std::move(views);
                           next(snap);
                         });
  }

  // Runs `work` on the pool with this thread's connections; `reply` gets the response. With
  // `offices`, the snapshot carries the offices of the networks with office logins.
  void on_pool(Work work, Reply reply, bool readiness = false, bool offices = false) {
    with_snapshot(offices,
                  [self = shared_from_this(), work = std::move(work), reply = std::move(reply),
                   readiness](std::shared_ptr<EngineSnapshot> snap) mutable {
                    self->post_work(std::move(snap), std::move(work), std::move(reply), readiness);
                  });
  }

  void post_work(std::shared_ptr<EngineSnapshot> snap, Work work, Reply reply, bool readiness) {
    net::post(pool, [self = shared_from_this(), snap, work = std::move(work),
                     reply = std::move(reply), readiness] {
      auto& ts = self->thread_state();
      try {
        self->open_connections(ts);
        ApiContext ctx{ts, self->sources, self->config, *snap, self->sources.clock()};
        reply(work(ctx));
      } catch (const ApiError& e) {
        reply(error_response(e));
      } catch (const store::SqlError& e) {
        // Reconnect next time: the connection may be what failed.
        ts = ThreadState{};
        if (readiness) {
          reply(json_response(503, "{\"ready\":false,\"reasons\":[\"store unreachable\"]}"));
        } else {
          log(LogLevel::kError, "admin-store-error", {{"error", e.what()}});
          reply(error_response({503, "unavailable", "the store is unavailable"}));
        }
      } catch (const std::exception& e) {
        log(LogLevel::kError, "admin-handler-error", {{"error", e.what()}});
        reply(error_response({500, "internal", "internal error"}));
      }
    });
  }

  void handle(adapters::http::Request req, Reply respond) {
    Reply reply = [respond = std::move(respond)](adapters::http::Response r) {
      add_security_headers(r);
      respond(std::move(r));
    };
    const auto target = parse_target(req.target);
    if (!target) return reply(error_response({400, "bad_request", "malformed request target"}));
    const std::string& path = target->path;
    const bool get = req.method == "GET";
    if (path == "/healthz") {
      if (!get) return reply(error_response({405, "method_not_allowed", "use GET"}));
      return reply(json_response(200, "{\"status\":\"ok\"}"));
    }
    if (path == "/readyz") {
      if (!get) return reply(error_response({405, "method_not_allowed", "use GET"}));
      return on_pool([](ApiContext& ctx) { return readyz(ctx); }, std::move(reply), true);
    }
    const bool api = path == "/api" || path.rfind("/api/", 0) == 0;
    if (!api && path != "/metrics") return serve_static(req, path, reply);

    const auto who = access->authenticate(req);
    if (!who)
      return reply(error_response(
          {401, "unauthorized", "a valid bearer token or client certificate is needed"}));
    auto routed = route(std::move(req), *target, *who);
    if (routed.refusal) {
      if (routed.cross_site)
        log(LogLevel::kWarning, "admin-cross-site-refused",
            {{"path", path}, {"actor", who->actor()}});
      return reply(error_response(*routed.refusal));
    }
    if (routed.office) {
      if (!office_request_is_post(routed.office->kind))
        return serve_office(std::move(*routed.office), std::move(reply));
      return record_then_serve_office(std::move(*routed.office), std::move(reply));
    }
    // The offices' states feed the alerts (dashboard, metrics) and the office gauge.
    const bool offices = path == "/metrics" || path == "/api/dashboard";
    on_pool(std::move(routed.work), std::move(reply), false, offices);
  }

  // An office-login request, on the io thread (the adapters' OfficeLogins live there).
  void serve_office(OfficeRequest request, Reply reply) {
    const auto logins = office_logins();
    const auto it = logins.find(request.network);
    serve_office_request(io, std::move(request), it == logins.end() ? nullptr : it->second,
                         config.office_login_wait, std::move(reply));
  }

  // A login step is an operator action: recorded in the audit log first (on the pool, like
  // retry and park), then carried out; a store failure answers 503 and nothing is done.
  void record_then_serve_office(OfficeRequest request, Reply reply) {
    net::post(pool, [self = shared_from_this(), request = std::move(request),
                     reply = std::move(reply)]() mutable {
      auto& ts = self->thread_state();
      try {
        self->open_connections(ts);
        ts.store->record_operator_command(request.actor, office_audit_command(request),
                                          self->sources.clock());
      } catch (const store::SqlError& e) {
        ts = ThreadState{};
        log(LogLevel::kError, "admin-store-error", {{"error", e.what()}});
        return reply(error_response({503, "unavailable", "the store is unavailable"}));
      } catch (const std::exception& e) {
        log(LogLevel::kError, "admin-handler-error", {{"error", e.what()}});
        return reply(error_response({500, "internal", "internal error"}));
      }
      net::post(self->io, [self, request = std::move(request), reply = std::move(reply)]() mutable {
        self->serve_office(std::move(request), std::move(reply));
      });
    });
  }

  void serve_static(const adapters::http::Request& req, const std::string& path,
                    const Reply& reply) {
    if (req.method != "GET") return reply(error_response({405, "method_not_allowed", "use GET"}));
    const std::string name = path == "/" ? "index.html" : path.substr(1);
    for (const auto& asset : console_assets()) {
      if (asset.path == name) {
        adapters::http::Response r;
        r.headers = {{"content-type", std::string(asset.content_type)},
                     {"cache-control", "no-cache"}};
        r.body.assign(asset.data.data(), asset.data.size());
        return reply(std::move(r));
      }
    }
    adapters::http::Response r;
    r.status = 404;
    r.headers = {{"content-type", "text/plain; charset=utf-8"}};
    r.body = "not found\n";
    reply(std::move(r));
  }

  void check_alerts(std::function<void(std::vector<std::string>)> done) {
    net::post(io, [self = shared_from_this(), done = std::move(done)]() mutable {
      self->with_snapshot(
          true, [self, done = std::move(done)](std::shared_ptr<EngineSnapshot> snap) mutable {
            self->evaluate_on_pool(std::move(snap), std::move(done));
          });
    });
  }

  void evaluate_on_pool(std::shared_ptr<EngineSnapshot> snap,
                        std::function<void(std::vector<std::string>)> done) {
    auto self = shared_from_this();
    net::post(self->pool, [self, snap, done = std::move(done)]() mutable {
      auto& ts = self->thread_state();
      std::optional<std::vector<Alert>> alerts;
      try {
        self->open_connections(ts);
        ApiContext ctx{ts, self->sources, self->config, *snap, self->sources.clock()};
        alerts = evaluate_alerts(ctx);
      } catch (const store::SqlError& e) {
        ts = ThreadState{};
        log(LogLevel::kError, "admin-alerts-failed", {{"error", e.what()}});
      } catch (const std::exception& e) {
        log(LogLevel::kError, "admin-alerts-failed", {{"error", e.what()}});
      }
      // Weak: a check still queued when the io_context stops must not keep the listener alive.
      net::post(self->io, [weak = self->weak_from_this(), alerts = std::move(alerts),
                           done = std::move(done)] {
        auto listener = weak.lock();
        if (!listener) return;
        std::vector<std::string> kinds;
        if (alerts) listener->log_transitions(*alerts);
        for (const auto& a : listener->active_alerts) kinds.push_back(a.first);
        if (done) done(std::move(kinds));
      });
    });
  }

  // Alerts are logged when they start and when they clear, not on every check.
  void log_transitions(const std::vector<Alert>& alerts) {
    std::set<std::pair<std::string, std::string>> now;
    for (const auto& a : alerts) {
      now.insert({a.kind, a.subject});
      if (!active_alerts.count({a.kind, a.subject}))
        log(LogLevel::kWarning, "alert",
            {{"alert", a.kind}, {"subject", a.subject}, {"detail", a.detail}});
    }
    for (const auto& a : active_alerts) {
      if (!now.count(a))
        log(LogLevel::kInfo, "alert-cleared", {{"alert", a.first}, {"subject", a.second}});
    }
    active_alerts = std::move(now);
  }

  void schedule_alerts() {
    if (stopped) return;
    timer.expires_after(config.alert_every);
    timer.async_wait([weak = weak_from_this()](boost::system::error_code ec) {
      auto self = weak.lock();
      if (ec || !self || self->stopped) return;
      self->check_alerts({});
      self->schedule_alerts();
    });
  }
};

AdminServer::AdminServer(net::io_context& io, AdminConfig config, AdminSources sources)
    : impl_(std::make_shared<Impl>(io, std::move(config), std::move(sources))) {}

AdminServer::~AdminServer() {
  stop();
}

std::uint16_t AdminServer::start(std::optional<std::uint16_t> port_override) {
  auto& c = impl_->config;
  std::vector<TokenEntry> tokens;
  if (!c.tokens_file.empty()) {
    auto file = read_token_file(c.tokens_file);
    if (!file.errors.empty()) throw std::runtime_error("admin.tokens_file: " + file.errors.front());
    tokens = std::move(file.entries);
  }
  impl_->access =
      std::make_unique<AccessControl>(std::move(tokens), c.operator_subjects, c.auditor_subjects);
  adapters::http::TlsConfig tls;
  tls.cert_file = c.certificate_file;
  tls.key_file = c.key_file;
  tls.ca_file = c.client_ca_file;
  tls.allow_tls12 = c.allow_tls12;
  tls.require_peer_cert = false;  // tokens work without one; a presented one must verify
  adapters::http::ServerOptions options;
  options.max_body_bytes = 64 * 1024;
  options.max_header_bytes = 16 * 1024;
  options.on_error = [](const std::string& what) {
    log(LogLevel::kWarning, "admin-connection-error", {{"error", what}});
  };
  std::weak_ptr<Impl> weak = impl_;
  impl_->server = std::make_unique<adapters::http::HttpsServer>(
      impl_->io, tls,
      [weak](adapters::http::Request request,
             std::function<void(adapters::http::Response)> respond) {
        auto self = weak.lock();
        if (!self) return respond(adapters::http::Response{503, {}, "stopping\n"});
        self->handle(std::move(request), std::move(respond));
      },
      options);
  const auto port = impl_->server->listen(c.address, port_override.value_or(c.port));
  log(LogLevel::kInfo, "admin-listening", {{"address", c.address}, {"port", std::to_string(port)}});
  impl_->schedule_alerts();
  return port;
}

void AdminServer::stop() {
  if (!impl_ || impl_->stopped) return;
  impl_->stopped = true;
  impl_->timer.cancel();
  if (impl_->server) impl_->server->stop();
  impl_->pool.join();
}

void AdminServer::check_alerts(std::function<void(std::vector<std::string>)> done) {
  impl_->check_alerts(std::move(done));
}

}  // namespace kakehashi::gateway::admin
