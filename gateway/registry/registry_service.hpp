#pragma once
// The daemon's office registry (issue 6): keeps the engine's router on the reconciled registry of
// every network's directory. At start it loads the stored registry, then syncs at once and every
// `sync_every` (every `retry_every` until each network has answered once); each sync is recorded
// with its diff like `kakehashi registry sync`, publishes each side's reachable offices to the
// other (regional external directory, national represented offices), and moves the router's
// registry version to the sync's id. Store work and reconciling run on the service's own thread,
// never on the network thread.

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/thread_pool.hpp>

#include "gateway/engine/router.hpp"
#include "gateway/registry/registry_store.hpp"
#include "gateway/registry/registry_sync.hpp"
#include "gateway/registry/sync_network.hpp"
#include "gateway/store/sql_connection.hpp"

namespace kakehashi::gateway::registry {

struct RegistryServiceOptions {
  std::chrono::milliseconds sync_every{std::chrono::minutes(5)};
  std::chrono::milliseconds retry_every{std::chrono::seconds(5)};  // until each network answered
};

class RegistryService {
 public:
  using Connect = std::function<std::unique_ptr<store::SqlConnection>()>;

  RegistryService(boost::asio::io_context& io, engine::Router& router, Connect connect,
                  RegistrySync::Clock clock, RegistryServiceOptions options);
  ~RegistryService();
  RegistryService(const RegistryService&) = delete;
  RegistryService& operator=(const RegistryService&) = delete;

  void add_network(SyncNetwork network);  // before start()
  // Loads the stored registry into the router, then syncs now and on the interval.
  void start();
  // No further syncs; a running one completes (its adapters' answers are still awaited).
  void stop();
  // One sync now (skipped while one runs); `done` runs on the service's thread.
  void sync_now(bool full, std::function<void(const SyncReport&)> done = {});
  // Preference and per-office overrides (SIGHUP); routing uses them at once.
  void set_policy(mapping::registry::Policy policy);

  std::int64_t completed_syncs() const { return completed_.load(); }

 private:
  void load();
  void schedule();
  void finished(const SyncReport& report);

  boost::asio::io_context& io_;
  engine::Router& router_;
  Connect connect_;
  RegistrySync::Clock clock_;
  RegistryServiceOptions options_;
  std::vector<SyncNetwork> networks_;
  boost::asio::thread_pool worker_{1};  // the store connection and every blocking step
  boost::asio::steady_timer timer_;
  std::unique_ptr<store::SqlConnection> db_;
  std::unique_ptr<RegistryStore> store_;
  std::unique_ptr<RegistrySync> sync_;
  std::set<std::string> answered_;  // networks that answered once (worker thread)
  bool syncing_ = false;            // worker thread
  std::atomic<bool> stopping_{false};
  std::atomic<std::int64_t> completed_{0};
  std::shared_ptr<std::atomic<bool>> alive_ = std::make_shared<std::atomic<bool>>(true);
};

}  // namespace kakehashi::gateway::registry
