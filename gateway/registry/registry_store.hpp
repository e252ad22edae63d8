#pragma once
// The registry's tables (kh_registry_*) on the gateway's SQL store, SQLite or PostgreSQL: each
// network's last listing and incremental cursor, what the gateway published to each network,
// and every sync with the diff it made. Owns its own idempotent migration.

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "gateway/store/sql_connection.hpp"
#include "mapping/registry/registry.hpp"

namespace kakehashi::gateway::registry {

namespace reg = mapping::registry;

// What one network's fetch changed in the stored listing.
struct ListingChange {
  std::string network;
  std::vector<reg::SourceEntry> upserts;
  std::vector<reg::OfficeKey> deletes;
  std::optional<std::string> cursor;  // the next changed_since, when the network gives one
};

struct SyncRecord {
  std::int64_t id = 0;
  std::string mode;  // full | incremental | publish
  std::int64_t started_ms = 0;
  std::int64_t finished_ms = 0;
  std::string networks;  // "national:incremental:1000 regional:full:5000" (fetched entries)
  std::int64_t added = 0, removed = 0, changed = 0, conflicts = 0;
  std::string note;  // fetch or publish failures, "" when all went well
};

class RegistryStore {
 public:
  explicit RegistryStore(store::SqlConnection& db) : db_(db) {}

  void migrate();  // creates the tables when missing; safe to run at every start

  // Every stored listing and publication, into a fresh registry.
  void load(reg::Registry& registry);
  std::optional<std::string> cursor(const std::string& network);

  // One transaction: the listings' changes, the sync row and its diff. Returns the sync id.
  std::int64_t record_sync(SyncRecord record, const std::vector<ListingChange>& listings,
                           const reg::Diff& diff);
  // What the gateway now publishes to `network` (after the network accepted it), and whether
  // that network's listing flags it as the gateway's (Registry::set_published).
  void record_published(const std::string& network, const std::vector<reg::OfficeKey>& offices,
                        bool listing_flags_publication = false);
  void annotate_sync(std::int64_t id, const std::string& note);

  std::optional<SyncRecord> sync(std::int64_t id);
  std::optional<SyncRecord> last_sync();
  std::vector<SyncRecord> recent_syncs(int limit);
  reg::Diff diff_of(std::int64_t sync_id);

 private:
  store::SqlConnection& db_;
};

}  // namespace kakehashi::gateway::registry
