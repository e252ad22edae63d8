#include "gateway/registry/sync_network.hpp"

#include <utility>
#include <vector>

#include "gateway/engine/router.hpp"

namespace kakehashi::gateway::registry {

SyncNetwork sync_network_for(const std::string& name, const DirectoryTraits& traits,
                             Adapter* adapter) {
  SyncNetwork n;
  n.name = name;
  n.adapter = adapter;
  n.incremental = traits.incremental;
  n.publish_active_only = traits.publish_active_only;
  n.listing_shows_publication = traits.listing_shows_publication;
  if (traits.takes_publication && adapter != nullptr) {
    n.publish = [adapter](std::vector<reg::SourceEntry> entries,
                          std::function<void(SendResult)> done) {
      std::vector<DirectoryEntry> out;
      out.reserve(entries.size());
      for (const auto& e : entries) out.push_back(engine::to_directory_entry(e));
      adapter->publish_directory(std::move(out), std::move(done));
    };
  }
  return n;
}

void seed_declared_publication(reg::Registry& registry, const std::string& name,
                               const std::vector<OfficeRef>& declared) {
  if (declared.empty()) return;
  std::vector<reg::OfficeKey> keys;
  keys.reserve(declared.size());
  for (const auto& o : declared) keys.push_back({o.office_no, o.service_type});
  (void)registry.set_published(name, keys);
}

}  // namespace kakehashi::gateway::registry
