#include "gateway/engine/relay_engine.hpp"

#include <algorithm>
#include <atomic>

#include "gateway/engine/awaiting_routes.hpp"
#include "gateway/engine/delivery.hpp"
#include "gateway/engine/engine_core.hpp"
#include "gateway/engine/engine_vault.hpp"
#include "gateway/engine/group_committer.hpp"
#include "gateway/engine/intake_pipeline.hpp"
#include "gateway/engine/log.hpp"
#include "gateway/engine/notice_sender.hpp"

// The engine's lifecycle and wiring: networks and their adapters, start and stop, the tick
// (directory refresh, payload purge, poll leases), credential reload. The pipeline's steps live
// beside it: intake_pipeline, group_committer, delivery, notice_sender.

namespace kakehashi::gateway::engine {

// Each adapter gets its own sink, so the engine knows which network a unit came from.
class NetworkSink final : public AdapterSink {
 public:
  NetworkSink(Engine& engine, std::string name) : engine_(engine), name_(std::move(name)) {}
  void on_unit(InboundUnit unit, std::function<void(bool)> done) override {
    engine_.on_unit(name_, std::move(unit), std::move(done));
  }
  void on_receipt(InboundReceipt receipt, std::function<void(bool)> done) override {
    engine_.on_receipt(name_, std::move(receipt), std::move(done));
  }

 private:
  Engine& engine_;
  std::string name_;
};

Engine::Engine(boost::asio::io_context& io, EngineOptions options, StoreFactory stores,
               PayloadCipher cipher, std::shared_ptr<const mapping::cms::Credential> receipt_signer,
               std::vector<std::string> route_preference, Clock clock)
    : core_(std::make_unique<EngineCore>(io, std::move(options), std::move(stores),
                                         std::move(cipher), std::move(receipt_signer),
                                         std::move(route_preference), std::move(clock))),
      committer_(std::make_unique<GroupCommitter>(*core_)),
      intake_(std::make_unique<IntakePipeline>(*core_, *committer_)),
      delivery_(std::make_unique<Delivery>(*core_, *committer_)),
      notices_(std::make_unique<NoticeSender>(*core_, *committer_)),
      awaiting_(std::make_unique<AwaitingRoutes>(*core_)),
      tick_timer_(io) {
  core_->pump_transfers = [this] { delivery_->pump(); };
  core_->pump_notices = [this] { notices_->pump(); };
  core_->maybe_finish_stop = [this] { maybe_finish_stop(); };
  core_->tell_office = [this](const std::string& network, const std::string& office) {
    tell_office(network, office);
  };
  core_->route_awaiting = [this](const std::string& sender, const std::string& recipient) {
    awaiting_->wake(sender, recipient);
  };
  core_->awaiting_route_holds = [this](const std::string& sender, const std::string& recipient) {
    return awaiting_->holds(sender, recipient);
  };
}

Engine::~Engine() {
  *core_->alive = false;
  tick_timer_.cancel();
  core_->pool.join();
}

void Engine::add_network(NetworkBinding binding) {
  auto n = std::make_unique<BoundNetwork>();
  const std::string name = binding.name;
  n->binding = std::move(binding);
  core_->networks[name] = std::move(n);
}

void Engine::start() {
  if (started_) return;
  started_ = true;
  {
    auto s = core_->stores();
    s->migrate();
    for (auto& [name, n] : core_->networks) {
      AdapterContext ctx;
      ctx.executor = core_->io.get_executor();
      n->sink = std::make_unique<NetworkSink>(*this, name);
      ctx.sink = n->sink.get();
      ctx.name = name;
      ctx.intake_window = std::max<std::size_t>(1, core_->options.intake_window);
      ctx.unit_cursor = s->load_cursor(name, "units").value_or("");
      ctx.receipt_cursor = s->load_cursor(name, "receipts").value_or("");
      ctx.may_poll = [flag = n->may_poll] { return flag->load(); };
      // Sealed records shared by the instances (sessions of per-office logins).
      ctx.vault = std::make_shared<EngineVault>(*core_, name);
      ctx.office_state = [this, alive = core_->alive, name](OfficeStateReport report) {
        if (*alive) on_office_state(name, std::move(report));
      };
      n->adapter = n->binding.make_adapter(ctx);
      n->may_poll->store(s->try_lease("poll:" + name, core_->options.instance_id, core_->now(),
                                      core_->options.lease.count()));
    }
    last_lease_renewal_ms_ = core_->now();
  }
  for (auto& [name, n] : core_->networks) n->adapter->start();
  log(LogLevel::kInfo, "engine-started",
      {{"instance", core_->options.instance_id},
       {"networks", std::to_string(core_->networks.size())}});
  if (core_->options.refresh_directories) refresh_directories();
  schedule_tick();
}

Adapter* Engine::adapter(const std::string& network) {
  const auto it = core_->networks.find(network);
  return it == core_->networks.end() ? nullptr : it->second->adapter.get();
}

void Engine::refresh_directories(std::function<void()> done) {
  last_directory_refresh_ = std::chrono::steady_clock::now();
  auto remaining = std::make_shared<std::size_t>(core_->networks.size());
  auto finished = std::make_shared<std::function<void()>>(std::move(done));
  if (core_->networks.empty() && *finished) (*finished)();
  for (auto& [name, n] : core_->networks) {
    BoundNetwork* net = n.get();
    net->adapter->fetch_directory(
        "", [this, alive = core_->alive, net, remaining, finished](DirectoryResult r) {
          if (!*alive) return;
          if (r.status.status == SendResult::Status::kAccepted) {
            core_->router.update(net->binding.name, r.entries);
            net->directory_loaded = true;
            log(LogLevel::kInfo, "directory-loaded",
                {{"network", net->binding.name}, {"entries", std::to_string(r.entries.size())}});
          } else {
            log(LogLevel::kWarning, "directory-failed",
                {{"network", net->binding.name},
                 {"error", r.status.error_code + " " + r.status.message}});
          }
          if (--*remaining == 0 && *finished) (*finished)();
        });
  }
}

void Engine::schedule_tick() {
  tick_timer_.expires_after(core_->options.tick);
  tick_timer_.async_wait([this, alive = core_->alive](boost::system::error_code ec) {
    if (ec || !*alive || core_->stopping) return;
    const auto steady = std::chrono::steady_clock::now();
    bool all_loaded = true;
    for (auto& [name, n] : core_->networks) all_loaded &= n->directory_loaded;
    const auto refresh_every =
        all_loaded ? core_->options.directory_refresh : std::chrono::milliseconds(5000);
    if (core_->options.refresh_directories && steady - last_directory_refresh_ >= refresh_every)
      refresh_directories();
    if (steady - last_purge_ >= std::chrono::minutes(10)) {
      last_purge_ = steady;
      const std::int64_t now = core_->now();
      const std::int64_t before = now - core_->options.retention.count();
      // Payloads on their schedule; evidence only once its own retention has passed.
      core_->on_worker(
          [before, now](store::Store& s) {
            return std::pair(s.purge_payloads(before), s.purge_evidence(now));
          },
          [](bool ok, std::pair<std::int64_t, std::int64_t> n) {
            if (ok && n.first > 0)
              log(LogLevel::kInfo, "payloads-purged", {{"count", std::to_string(n.first)}});
            if (ok && n.second > 0)
              log(LogLevel::kInfo, "evidence-purged", {{"count", std::to_string(n.second)}});
          });
    }
    if (core_->now() - last_lease_renewal_ms_ >= core_->options.lease.count() / 4) {
      last_lease_renewal_ms_ = core_->now();
      renew_poll_leases();
    }
    // Units awaiting their route: routed once the directories they wait for have answered.
    awaiting_->tick();
    delivery_->pump();
    notices_->pump();
    schedule_tick();
  });
}

// One instance at a time polls each network's inbox; the lease is renewed well before it ends
// and taken over when its holder stops renewing (dies).
void Engine::renew_poll_leases() {
  std::vector<std::pair<std::string, std::shared_ptr<std::atomic<bool>>>> flags;
  for (auto& [name, n] : core_->networks) flags.emplace_back(name, n->may_poll);
  core_->on_worker(
      [this, flags](store::Store& s) {
        for (const auto& [name, flag] : flags)
          flag->store(s.try_lease("poll:" + name, core_->options.instance_id, core_->now(),
                                  core_->options.lease.count()));
        return 0;
      },
      [](bool, int) {});
}

void Engine::reload_credentials(const std::string& network,
                                std::shared_ptr<const mapping::cms::TrustDomain> trust,
                                std::shared_ptr<const mapping::cms::Credential> cosigner) {
  const auto it = core_->networks.find(network);
  if (it == core_->networks.end()) return;
  std::lock_guard lock(core_->credentials_mutex);
  if (trust) it->second->binding.trust = std::move(trust);
  if (cosigner) it->second->binding.cosigner = std::move(cosigner);
}

void Engine::reload_receipt_signer(std::shared_ptr<const mapping::cms::Credential> signer) {
  std::lock_guard lock(core_->credentials_mutex);
  core_->receipt_signer = std::move(signer);
}

void Engine::on_unit(const std::string& network, InboundUnit unit, std::function<void(bool)> done) {
  intake_->on_unit(network, std::move(unit), std::move(done));
}

void Engine::on_receipt(const std::string& network, InboundReceipt receipt,
                        std::function<void(bool)> done) {
  intake_->on_receipt(network, std::move(receipt), std::move(done));
}

const EngineCounters& Engine::counters() const {
  return core_->counters;
}

std::vector<NetworkStatus> Engine::network_status() const {
  return delivery_->network_status();
}

const std::map<std::string, LatencyHistogram>& Engine::latency() const {
  return delivery_->latency();
}

Router& Engine::router() {
  return core_->router;
}

std::vector<OfficeState> Engine::office_states() const {
  return core_->office_holds.states();
}

namespace {

// What an office is told on its own network when its units wait on another: the adapter's
// detail (never a secret), and where and why.
std::string office_notice_text(const OfficeState& r) {
  std::string text = "【Kakehashi ゲートウェイからのお知らせ】\n";
  text += r.detail.empty() ? "事業所 " + r.office_no + " の " + r.network +
                                 " への送信は、操作が必要なため保留しています。"
                           : r.detail;
  text += "\n(" + r.network + ", " + r.office_no + ": " + r.state;
  if (!r.until.empty()) text += " until " + r.until;
  text += ")\n";
  return text;
}

}  // namespace

// An office's state on a network where it logs in (PROTOCOL kaigoweb §7.2). Every report is
// logged; entering a holding state tells the office once per change and holds its outbound units
// there; "active" releases them at once.
void Engine::on_office_state(const std::string& network, OfficeStateReport report) {
  const std::int64_t now = core_->now();
  const std::string office = report.office.office_no;
  ++core_->counters.office_reports;
  log(report.holds_outbound ? LogLevel::kWarning : LogLevel::kInfo, "office-state",
      {{"network", network},
       {"office", office},
       {"from", report.previous_state},
       {"to", report.state},
       {"detail", report.detail},
       {"until", report.until}});
  const bool changed =
      core_->office_holds.record(network, report, now) && report.previous_state != report.state;
  if (!report.holds_outbound) {
    core_->office_holds.release(network, office);
    // Units held in the store (by any instance) are due now.
    core_->on_worker(
        [this, network, office](store::Store& s) {
          return s.release_office(network, office, core_->now());
        },
        [this, network, office](bool ok, std::int64_t released) {
          if (ok && released > 0)
            log(LogLevel::kInfo, "office-released",
                {{"network", network}, {"office", office}, {"units", std::to_string(released)}});
          core_->pump_transfers();
        });
    return;
  }
  core_->office_holds.hold(network, office, now + core_->options.office_recheck.count());
  if (changed) tell_office(network, office);
}

// The office's own network is the one its units to `network` came from (or its units from there
// went to). None yet: the notice is owed until its first unit is held there.
void Engine::tell_office(const std::string& network, const std::string& office) {
  const auto state = core_->office_holds.state(network, office);
  if (!state || !state->holds_outbound) return;
  const std::string key = "kh-office-" + network + "-" + office + "-" + state->state + "-" +
                          std::to_string(state->reported_at);
  core_->on_worker(
      [this, network, office, key, text = office_notice_text(*state)](store::Store& s) {
        return s.add_office_notice(network, office, text, key, core_->now());
      },
      [this, network, office](bool ok, std::optional<std::string> home) {
        if (!ok) return;
        if (!home) {
          core_->office_holds.owe_notice(network, office);
          log(LogLevel::kInfo, "office-notice-owed", {{"network", network}, {"office", office}});
          return;
        }
        ++core_->counters.office_notices;
        log(LogLevel::kInfo, "office-notice-queued",
            {{"network", network}, {"office", office}, {"told_on", *home}});
        core_->pump_notices();
      });
}

// ---- stop -------------------------------------------------------------------------------------

void Engine::stop(std::function<void()> stopped) {
  if (core_->stopping) return;
  core_->stopping = true;
  stopped_ = std::move(stopped);
  tick_timer_.cancel();
  log(LogLevel::kInfo, "engine-stopping", {{"in_flight", std::to_string(delivery_->in_flight())}});
  maybe_finish_stop();
}

void Engine::maybe_finish_stop() {
  if (!core_->stopping || !stopped_) return;
  if (!delivery_->idle() || !notices_->idle() || intake_->in_flight() > 0 || !committer_->idle() ||
      !awaiting_->idle())
    return;
  auto stopped = std::move(stopped_);
  stopped_ = nullptr;
  auto remaining = std::make_shared<std::size_t>(core_->networks.size());
  auto done = std::make_shared<std::function<void()>>(std::move(stopped));
  if (core_->networks.empty()) {
    (*done)();
    return;
  }
  for (auto& [name, n] : core_->networks) {
    n->adapter->stop([this, remaining, done] {
      if (--*remaining == 0) {
        log(LogLevel::kInfo, "engine-stopped",
            {{"delivered", std::to_string(core_->counters.delivered)}});
        (*done)();
      }
    });
  }
}

}  // namespace kakehashi::gateway::engine
