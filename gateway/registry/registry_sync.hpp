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
using Publisher = std::function<void(std::vector<reg::SourceEntry>, std::function<void(SendResult)>)>;

struct SyncNetwork {
  std::string name;
  Adapter* adapter = nullptr;
  bool incremental = false;          // fetch_directory honours changed_since
  bool publish_active_only = false;  // the network takes only offices that receive now
  Publisher publish;                 // empty: nothing is published to this network
};

struct SyncReport {
  SyncRecord record;       // as stored (id, counts, note)
  reg::Diff diff;
  std::map<std::string, std::size_t> published;  // network → offices published
  bool ok() const { return record.note.empty(); }
};

class RegistrySync {
 public:
  using Clock = std::function<std::int64_t()>;  // milliseconds since the epoch

  // `registry` must hold what `store` holds (RegistryStore::load) before the first run.
  RegistrySync(reg::Registry& registry, RegistryStore& store, Clock clock);

  // `full` ignores the stored cursors. `done` runs once, on the thread of the last answer.
  void run(std::vector<SyncNetwork> networks, bool full, std::function<void(SyncReport)> done);

 private:
  struct Run;
  void reconcile(const std::shared_ptr<Run>& run);
  void publish_next(const std::shared_ptr<Run>& run, std::size_t index);
  void finish(const std::shared_ptr<Run>& run);

  reg::Registry& registry_;
  RegistryStore& store_;
  Clock clock_;
};

}  // namespace kakehashi::gateway::registry
