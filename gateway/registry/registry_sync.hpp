#pragma once
// One registry sync: fetch each network's directory through its adapter (incrementally from the
// stored cursor where the network supports it), reconcile into the registry, publish to each
// network what the gateway reaches through the others, and record the sync and its diff.

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "gateway/adapter/adapter.hpp"
#include "gateway/registry/registry_store.hpp"
#include "mapping/registry/registry.hpp"

namespace kakehashi::gateway::registry {

// Hands a network the offices the gateway reaches elsewhere (replacing what it had before).
using Publisher =
    std::function<void(std::vector<reg::SourceEntry>, std::function<void(SendResult)>)>;

struct SyncNetwork {
  std::string name;
  Adapter* adapter = nullptr;
  bool incremental = false;          // fetch_directory honours changed_since
  bool publish_active_only = false;  // the network takes only offices that receive now
  Publisher publish;                 // empty: nothing is published to this network
  // The network lists what it was given, flagged as the gateway's (the regional external
  // directory): a publication changed there by someone else is sent again.
  bool listing_shows_publication = false;
};

struct SyncReport {
  SyncRecord record;  // as stored (id, counts, note)
  reg::Diff diff;
  std::map<std::string, std::size_t> published;  // network → offices published
  std::vector<std::string> fetched;              // networks whose directory answered
  bool ok() const { return record.note.empty(); }
};

class RegistrySync {
 public:
  using Clock = std::function<std::int64_t()>;  // milliseconds since the epoch
  // Runs `fn` on the registry (the daemon: under the router's write lock).
  using Access = std::function<void(const std::function<void(reg::Registry&)>& fn)>;
  // Runs a step that blocks (reconciling, store writes) where blocking is allowed (the daemon:
  // a worker thread, never the network thread). Empty: inline, on the adapter's thread.
  using Offload = std::function<void(std::function<void()>)>;

  // `registry` must hold what `store` holds (RegistryStore::load) before the first run.
  RegistrySync(reg::Registry& registry, RegistryStore& store, Clock clock);
  RegistrySync(Access access, RegistryStore& store, Clock clock, Offload offload);

  // `full` ignores the stored cursors. `done` runs once, on the thread of the last answer.
  void run(std::vector<SyncNetwork> networks, bool full, std::function<void(SyncReport)> done);

 private:
  struct Run;
  void reconcile(const std::shared_ptr<Run>& run);
  void reconcile_locked(const std::shared_ptr<Run>& run, reg::Registry& registry);
  void publish_next(const std::shared_ptr<Run>& run, std::size_t index);
  void finish(const std::shared_ptr<Run>& run);

  Access access_;
  RegistryStore& store_;
  Clock clock_;
  Offload offload_;
  // What each network last accepted from this object: the same publication is not sent again
  // (the regional network stamps every publication anew, which the next sync would record as a
  // change of every published office).
  std::map<std::string, std::vector<reg::SourceEntry>> last_published_;
};

}  // namespace kakehashi::gateway::registry
