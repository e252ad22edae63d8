#include "gateway/registry/registry_store.hpp"

#include <map>
#include <set>
#include <type_traits>

namespace kakehashi::gateway::registry {

namespace {

constexpr const char* kSchema = R"(
CREATE TABLE IF NOT EXISTS kh_registry_entry (
  network TEXT NOT NULL, office_no TEXT NOT NULL, service_type TEXT NOT NULL,
  name TEXT NOT NULL, kana TEXT NOT NULL, facility_id TEXT NOT NULL, prefecture TEXT NOT NULL,
  status TEXT NOT NULL, updated_at TEXT NOT NULL, published_by_gateway INTEGER NOT NULL,
  PRIMARY KEY (network, office_no, service_type));
CREATE TABLE IF NOT EXISTS kh_registry_cursor (
  network TEXT PRIMARY KEY, changed_since TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS kh_registry_published (
  network TEXT NOT NULL, office_no TEXT NOT NULL, service_type TEXT NOT NULL,
  PRIMARY KEY (network, office_no, service_type));
CREATE TABLE IF NOT EXISTS kh_registry_publication (
  network TEXT PRIMARY KEY, listing_flags INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS kh_registry_sync (
  id BIGINT PRIMARY KEY, mode TEXT NOT NULL, started_ms BIGINT NOT NULL, finished_ms BIGINT NOT NULL,
  networks TEXT NOT NULL, added BIGINT NOT NULL, removed BIGINT NOT NULL, changed BIGINT NOT NULL,
  conflicts BIGINT NOT NULL, note TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS kh_registry_change (
  sync_id BIGINT NOT NULL, seq BIGINT NOT NULL, kind TEXT NOT NULL, office_no TEXT NOT NULL,
  service_type TEXT NOT NULL, field TEXT NOT NULL, before_value TEXT NOT NULL, after_value TEXT NOT NULL,
  PRIMARY KEY (sync_id, seq));
)";

std::string col(const store::SqlRow& row, std::size_t i) {
  return row.at(i).value_or("");
}
std::int64_t num(const store::SqlRow& row, std::size_t i) {
  return std::stoll(row.at(i).value_or("0"));
}

// Runs `work` in one transaction, rolled back if it throws.
template <typename Work>
auto in_transaction(store::SqlConnection& db, Work work) {
  db.begin();
  try {
    if constexpr (std::is_void_v<decltype(work())>) {
      work();
      db.commit();
    } else {
      auto r = work();
      db.commit();
      return r;
    }
  } catch (...) {
    db.rollback();
    throw;
  }
}

SyncRecord sync_from(const store::SqlRow& r) {
  SyncRecord s;
  s.id = num(r, 0);
  s.mode = col(r, 1);
  s.started_ms = num(r, 2);
  s.finished_ms = num(r, 3);
  s.networks = col(r, 4);
  s.added = num(r, 5);
  s.removed = num(r, 6);
  s.changed = num(r, 7);
  s.conflicts = num(r, 8);
  s.note = col(r, 9);
  return s;
}

constexpr const char* kSyncColumns =
    "SELECT id, mode, started_ms, finished_ms, networks, added, removed, changed, conflicts, note "
    "FROM kh_registry_sync ";

}  // namespace

void RegistryStore::migrate() {
  db_.execute_script(kSchema);
}

void RegistryStore::load(reg::Registry& registry) {
  std::map<std::string, std::vector<reg::SourceEntry>> listings;
  for (const auto& r : db_.query(
           "SELECT network, office_no, service_type, name, kana, facility_id, prefecture, status, "
           "updated_at, published_by_gateway FROM kh_registry_entry")) {
    reg::SourceEntry e;
    e.key = {col(r, 1), col(r, 2)};
    e.name = col(r, 3);
    e.kana = col(r, 4);
    e.facility_id = col(r, 5);
    e.prefecture = col(r, 6);
    e.status = reg::parse_status(col(r, 7));
    e.updated_at = col(r, 8);
    e.published_by_gateway = num(r, 9) != 0;
    listings[col(r, 0)].push_back(std::move(e));
  }
  std::map<std::string, std::vector<reg::OfficeKey>> published;
  for (const auto& r :
       db_.query("SELECT network, office_no, service_type FROM kh_registry_published")) {
    published[col(r, 0)].push_back({col(r, 1), col(r, 2)});
  }
  std::set<std::string> flagging;
  for (const auto& r : db_.query("SELECT network, listing_flags FROM kh_registry_publication")) {
    published[col(r, 0)];
    if (num(r, 1) != 0) flagging.insert(col(r, 0));
  }
  // A network that answered once with an empty listing still counts as loaded.
  for (const auto& r : db_.query("SELECT network FROM kh_registry_cursor")) listings[col(r, 0)];
  for (const auto& [network, keys] : published)
    (void)registry.set_published(network, keys, flagging.count(network) != 0);
  for (const auto& [network, entries] : listings) (void)registry.replace(network, entries);
}

std::optional<std::string> RegistryStore::cursor(const std::string& network) {
  const auto rows =
      db_.query("SELECT changed_since FROM kh_registry_cursor WHERE network = ?", {network});
  if (rows.empty() || col(rows[0], 0).empty()) return std::nullopt;
  return col(rows[0], 0);
}

std::int64_t RegistryStore::record_sync(SyncRecord record,
                                        const std::vector<ListingChange>& listings,
                                        const reg::Diff& diff) {
  return in_transaction(db_, [&] {
    for (const auto& l : listings) {
      for (const auto& k : l.deletes) {
        db_.query(
            "DELETE FROM kh_registry_entry WHERE network = ? AND office_no = ? AND service_type = "
            "?",
            {l.network, k.office_no, k.service_type});
      }
      for (const auto& e : l.upserts) {
        db_.query(
            "INSERT INTO kh_registry_entry (network, office_no, service_type, name, kana, "
            "facility_id, "
            "prefecture, status, updated_at, published_by_gateway) VALUES (?,?,?,?,?,?,?,?,?,?) "
            "ON CONFLICT (network, office_no, service_type) DO UPDATE SET name = excluded.name, "
            "kana = excluded.kana, facility_id = excluded.facility_id, prefecture = "
            "excluded.prefecture, "
            "status = excluded.status, updated_at = excluded.updated_at, "
            "published_by_gateway = excluded.published_by_gateway",
            {l.network, e.key.office_no, e.key.service_type, e.name, e.kana, e.facility_id,
             e.prefecture, std::string(reg::to_string(e.status)), e.updated_at,
             std::int64_t{e.published_by_gateway ? 1 : 0}});
      }
      db_.query(
          "INSERT INTO kh_registry_cursor (network, changed_since) VALUES (?, ?) "
          "ON CONFLICT (network) DO UPDATE SET changed_since = excluded.changed_since",
          {l.network, l.cursor.value_or("")});
    }
    const auto next = db_.query("SELECT COALESCE(MAX(id), 0) + 1 FROM kh_registry_sync");
    record.id = num(next.at(0), 0);
    record.added = static_cast<std::int64_t>(diff.count(reg::ChangeKind::kAdded));
    record.removed = static_cast<std::int64_t>(diff.count(reg::ChangeKind::kRemoved));
    record.changed = static_cast<std::int64_t>(diff.count(reg::ChangeKind::kChanged));
    db_.query(
        "INSERT INTO kh_registry_sync (id, mode, started_ms, finished_ms, networks, added, "
        "removed, "
        "changed, conflicts, note) VALUES (?,?,?,?,?,?,?,?,?,?)",
        {record.id, record.mode, record.started_ms, record.finished_ms, record.networks,
         record.added, record.removed, record.changed, record.conflicts, record.note});
    std::int64_t seq = 0;
    for (const auto& c : diff.changes) {
      for (const auto& f : c.fields) {
        db_.query(
            "INSERT INTO kh_registry_change (sync_id, seq, kind, office_no, service_type, field, "
            "before_value, after_value) VALUES (?,?,?,?,?,?,?,?)",
            {record.id, ++seq, std::string(reg::to_string(c.kind)), c.key.office_no,
             c.key.service_type, f.field, f.before, f.after});
      }
    }
    return record.id;
  });
}

void RegistryStore::record_published(const std::string& network,
                                     const std::vector<reg::OfficeKey>& offices,
                                     bool listing_flags_publication) {
  in_transaction(db_, [&] {
    db_.query("DELETE FROM kh_registry_published WHERE network = ?", {network});
    db_.query("DELETE FROM kh_registry_publication WHERE network = ?", {network});
    db_.query("INSERT INTO kh_registry_publication (network, listing_flags) VALUES (?,?)",
              {network, std::int64_t{listing_flags_publication ? 1 : 0}});
    for (const auto& k : offices) {
      db_.query(
          "INSERT INTO kh_registry_published (network, office_no, service_type) VALUES (?,?,?)",
          {network, k.office_no, k.service_type});
    }
  });
}

void RegistryStore::annotate_sync(std::int64_t id, const std::string& note) {
  db_.query("UPDATE kh_registry_sync SET note = ? WHERE id = ?", {note, id});
}

std::optional<SyncRecord> RegistryStore::sync(std::int64_t id) {
  const auto rows = db_.query(std::string(kSyncColumns) + "WHERE id = ?", {id});
  if (rows.empty()) return std::nullopt;
  return sync_from(rows[0]);
}

std::optional<SyncRecord> RegistryStore::last_sync() {
  const auto rows = db_.query(std::string(kSyncColumns) + "ORDER BY id DESC LIMIT 1");
  if (rows.empty()) return std::nullopt;
  return sync_from(rows[0]);
}

std::vector<SyncRecord> RegistryStore::recent_syncs(int limit) {
  std::vector<SyncRecord> out;
  for (const auto& r :
       db_.query(std::string(kSyncColumns) + "ORDER BY id DESC LIMIT ?", {std::int64_t{limit}})) {
    out.push_back(sync_from(r));
  }
  return out;
}

reg::Diff RegistryStore::diff_of(std::int64_t sync_id) {
  reg::Diff diff;
  for (const auto& r :
       db_.query("SELECT kind, office_no, service_type, field, before_value, after_value "
                 "FROM kh_registry_change WHERE sync_id = ? ORDER BY seq",
                 {sync_id})) {
    const std::string kind = col(r, 0);
    const reg::OfficeKey key{col(r, 1), col(r, 2)};
    if (diff.changes.empty() || !(diff.changes.back().key == key)) {
      diff.changes.push_back({kind == "added"     ? reg::ChangeKind::kAdded
                              : kind == "removed" ? reg::ChangeKind::kRemoved
                                                  : reg::ChangeKind::kChanged,
                              key,
                              {}});
    }
    diff.changes.back().fields.push_back({col(r, 3), col(r, 4), col(r, 5)});
  }
  return diff;
}

}  // namespace kakehashi::gateway::registry
