#include "gateway/registry/registry_service.hpp"

#include <algorithm>
#include <exception>

#include <boost/asio/post.hpp>

#include "gateway/engine/log.hpp"

namespace kakehashi::gateway::registry {

namespace reg = mapping::registry;

RegistryService::RegistryService(boost::asio::io_context& io, engine::Router& router,
                                 Connect connect, RegistrySync::Clock clock,
                                 RegistryServiceOptions options)
    : io_(io),
      router_(router),
      connect_(std::move(connect)),
      clock_(std::move(clock)),
      options_(options),
      timer_(io) {}

RegistryService::~RegistryService() {
  *alive_ = false;
  stopping_ = true;
  timer_.cancel();
  worker_.join();
}

void RegistryService::add_network(SyncNetwork network) {
  networks_.push_back(std::move(network));
}

void RegistryService::start() {
  boost::asio::post(worker_, [this] {
    try {
      load();
    } catch (const std::exception& e) {
      log(LogLevel::kError, "registry-load-failed", {{"error", e.what()}});
    }
    sync_now(false);
  });
}

void RegistryService::load() {
  db_ = connect_();
  store_ = std::make_unique<RegistryStore>(*db_);
  store_->migrate();
  router_.with_registry([this](reg::Registry& registry) { store_->load(registry); });
  if (const auto last = store_->last_sync()) router_.set_registry_version(last->id);
  auto alive = alive_;
  sync_ = std::make_unique<RegistrySync>(
      [this](const std::function<void(reg::Registry&)>& fn) { router_.with_registry(fn); }, *store_,
      clock_,
      [this, alive](std::function<void()> step) {
        if (!*alive) return;
        boost::asio::post(worker_, [this, step = std::move(step)] {
          // A failing store write ends this sync (recorded nowhere); the next one starts afresh.
          std::string error;
          try {
            step();
            return;
          } catch (const std::exception& e) {
            error = e.what();
          }
          log(LogLevel::kError, "registry-sync-failed", {{"error", error}});
          syncing_ = false;
          const auto delay = options_.retry_every;
          boost::asio::post(io_, [this, alive = alive_, delay] {
            if (*alive) {
              timer_.expires_after(delay);
              schedule();
            }
          });
        });
      });
}

void RegistryService::sync_now(bool full, std::function<void(const SyncReport&)> done) {
  boost::asio::post(worker_, [this, full, done = std::move(done)]() mutable {
    if (stopping_ || syncing_) return;
    if (!sync_) {
      // The store could not be opened: try again later.
      try {
        load();
      } catch (...) {
        log(LogLevel::kError, "registry-load-failed",
            {{"error", "the registry store cannot be opened"}});
        boost::asio::post(io_, [this, alive = alive_] {
          if (!*alive) return;
          timer_.expires_after(options_.retry_every);
          schedule();
        });
        return;
      }
    }
    syncing_ = true;
    try {
      sync_->run(networks_, full, [this, done = std::move(done)](SyncReport report) {
        finished(report);
        if (done) done(report);
      });
    } catch (const store::SqlError& e) {
      syncing_ = false;
      log(LogLevel::kError, "registry-sync-failed", {{"error", e.what()}});
    }
  });
}

void RegistryService::finished(const SyncReport& report) {
  syncing_ = false;
  // The version first: the first unit routed on the new listings records this sync.
  if (report.record.id != 0) router_.set_registry_version(report.record.id);
  for (const auto& n : report.fetched) {
    answered_.insert(n);
    router_.mark_loaded(n);
  }
  ++completed_;
  std::string published;
  for (const auto& [n, count] : report.published)
    published += (published.empty() ? "" : " ") + n + ":" + std::to_string(count);
  const auto& r = report.record;
  log(report.ok() ? LogLevel::kInfo : LogLevel::kWarning, "registry-synced",
      {{"sync", std::to_string(r.id)},
       {"mode", r.mode},
       {"networks", r.networks},
       {"added", std::to_string(r.added)},
       {"removed", std::to_string(r.removed)},
       {"changed", std::to_string(r.changed)},
       {"conflicts", std::to_string(r.conflicts)},
       {"published", published},
       {"problems", r.note}});
  const bool all = std::all_of(networks_.begin(), networks_.end(), [this](const SyncNetwork& n) {
    return answered_.count(n.name) != 0;
  });
  const auto delay =
      all ? options_.sync_every : std::min(options_.retry_every, options_.sync_every);
  boost::asio::post(io_, [this, alive = alive_, delay] {
    if (!*alive) return;
    timer_.expires_after(delay);
    schedule();
  });
}

// On the io thread, with the timer's expiry set.
void RegistryService::schedule() {
  if (stopping_) return;
  timer_.async_wait([this, alive = alive_](boost::system::error_code ec) {
    if (ec || !*alive || stopping_) return;
    sync_now(false);
  });
}

void RegistryService::stop() {
  stopping_ = true;
  boost::asio::post(io_, [this, alive = alive_] {
    if (*alive) timer_.cancel();
  });
}

void RegistryService::set_policy(reg::Policy policy) {
  router_.set_policy(std::move(policy));
}

}  // namespace kakehashi::gateway::registry
