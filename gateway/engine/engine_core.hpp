#pragma once
// What the relay engine's parts share (internal to gateway/engine): the options and the clock,
// the worker pool with one store connection per worker thread, the networks with their adapters,
// the router, the counters, and the hooks one part uses to wake another. The engine
// (relay_engine.cpp) owns one; intake, the group committer, delivery and the notice sender each
// hold a reference. Touched on the io thread only, except where a line says otherwise.

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/thread_pool.hpp>

#include "gateway/adapter/adapter.hpp"
#include "gateway/engine/log.hpp"
#include "gateway/engine/office_holds.hpp"
#include "gateway/engine/relay_engine.hpp"
#include "gateway/engine/router.hpp"
#include "gateway/engine/unit_codec.hpp"
#include "gateway/store/store.hpp"
#include "mapping/cms/credential.hpp"

namespace kakehashi::gateway::engine {

// One network the engine talks to: its binding and, once started, its adapter.
struct BoundNetwork {
  NetworkBinding binding;  // trust and cosigner: under EngineCore::credentials_mutex
  // Set while this instance holds the network's poll lease (renewed on ticks).
  std::shared_ptr<std::atomic<bool>> may_poll = std::make_shared<std::atomic<bool>>(false);
  std::unique_ptr<AdapterSink> sink;
  std::unique_ptr<Adapter> adapter;
  bool directory_loaded = false;
};

struct EngineCore {
  EngineCore(boost::asio::io_context& io_context, EngineOptions engine_options,
             StoreFactory store_factory, PayloadCipher payload_cipher,
             std::shared_ptr<const mapping::cms::Credential> signer,
             std::vector<std::string> route_preference, Clock engine_clock);

  std::int64_t now() const { return clock(); }
  // This worker thread's own store connection, opened on first use (worker threads only).
  store::Store& worker_store();
  // Runs `work(store)` on a worker and `then(ok, result)` on the io thread (unless the engine is
  // gone). The engine's single exception barrier: a throwing `work` answers ok = false, logged.
  template <typename Work, typename Then>
  void on_worker(Work work, Then then);

  boost::asio::io_context& io;
  EngineOptions options;
  StoreFactory stores;
  PayloadCipher cipher;
  Router router;  // thread-safe (workers resolve while the io thread updates)
  Clock clock;    // called from any thread
  boost::asio::thread_pool pool;
  std::map<std::string, std::unique_ptr<BoundNetwork>> networks;
  EngineCounters counters;
  // Sender offices held on a network, and the offices' latest reported states (io thread).
  OfficeHolds office_holds;
  std::mutex credentials_mutex;  // bindings' trust/cosigner and receipt_signer (SIGHUP swaps)
  std::shared_ptr<const mapping::cms::Credential> receipt_signer;
  bool stopping = false;
  std::shared_ptr<bool> alive = std::make_shared<bool>(true);  // false once the engine is gone
  // Set by the engine: claim due transfers, claim due notices, finish a stop if nothing is left.
  std::function<void()> pump_transfers, pump_notices, maybe_finish_stop;
  // Tells an office on its own network of its latest reported state (Engine::on_office_state).
  std::function<void(const std::string& network, const std::string& office)> tell_office;
  // Units awaiting their route (awaiting_routes.hpp): one of (sender, recipient) offices was
  // just taken in (look at them now); whether a unit of that pair awaits its route.
  std::function<void(const std::string&, const std::string&)> route_awaiting;
  std::function<bool(const std::string&, const std::string&)> awaiting_route_holds;
};

template <typename Work, typename Then>
void EngineCore::on_worker(Work work, Then then) {
  using Result = decltype(work(std::declval<store::Store&>()));
  boost::asio::post(pool, [this, flag = alive, work = std::move(work),
                           then = std::move(then)]() mutable {
    Result result{};
    bool ok = true;
    std::string error;
    try {
      result = work(worker_store());
    } catch (const std::exception& e) {
      ok = false;
      error = e.what();
    }
    if (!ok) log(LogLevel::kError, "worker-failed", {{"error", error}});
    boost::asio::post(io, [flag, ok, result = std::move(result), then = std::move(then)]() mutable {
      if (*flag) then(ok, std::move(result));
    });
  });
}

}  // namespace kakehashi::gateway::engine
