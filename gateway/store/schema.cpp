// The store's schema: the tables of a new store, and the steps that bring an older one up to
// kSchemaVersion. migrate() is idempotent and safe with several instances starting together.

#include "gateway/store/store_internal.hpp"

namespace kakehashi::gateway::store {

// 2: kh_events is the hash-chained audit log; 3: kh_early_receipts; 4: unit identity
// (kh_transfers.unit_digest and the unique kh_transfers_identity): migrate_unit_identity();
// 5: per-office logins (kh_transfers.claims, kh_adapter_vault): migrate_office_sessions();
// 6: evidence kept apart from payloads (kh_evidence, kh_transfers.path): migrate_evidence().
constexpr int kSchemaVersion = 6;

namespace {

std::string schema(Dialect d) {
  const std::string id =
      d == Dialect::kSqlite ? "INTEGER PRIMARY KEY AUTOINCREMENT" : "BIGSERIAL PRIMARY KEY";
  const std::string blob = d == Dialect::kSqlite ? "BLOB" : "BYTEA";
  return R"(
CREATE TABLE IF NOT EXISTS kh_transfers (
  id )" + id +
         R"(,
  source_adapter TEXT NOT NULL,
  source_id TEXT NOT NULL,
  dest_adapter TEXT NOT NULL,
  direction TEXT NOT NULL,
  sender_office TEXT NOT NULL, sender_type TEXT NOT NULL,
  recipient_office TEXT NOT NULL, recipient_type TEXT NOT NULL,
  sequence TEXT NOT NULL,
  unit_kind TEXT NOT NULL,
  subject_key TEXT NOT NULL,
  state TEXT NOT NULL,
  attempts BIGINT NOT NULL DEFAULT 0,
  next_attempt_at BIGINT NOT NULL DEFAULT 0,
  lease_owner TEXT,
  lease_until BIGINT NOT NULL DEFAULT 0,
  remote_id TEXT,
  idempotency_key TEXT NOT NULL,
  receipt_state TEXT,
  reason TEXT,
  last_error TEXT,
  created_at BIGINT NOT NULL,
  updated_at BIGINT NOT NULL,
  finished_at BIGINT,
  payload )" +
         blob + R"(,
  outbound )" +
         blob + R"(,
  unit_digest TEXT,
  claims BIGINT NOT NULL DEFAULT 0,
  path TEXT,
  UNIQUE (source_adapter, source_id)
);
CREATE INDEX IF NOT EXISTS kh_transfers_due ON kh_transfers (state, next_attempt_at);
CREATE INDEX IF NOT EXISTS kh_transfers_pair ON kh_transfers
  (sender_office, recipient_office, dest_adapter, state, sequence);
CREATE INDEX IF NOT EXISTS kh_transfers_remote ON kh_transfers (dest_adapter, remote_id);
CREATE INDEX IF NOT EXISTS kh_transfers_created ON kh_transfers (created_at);
CREATE TABLE IF NOT EXISTS kh_notices (
  id )" + id +
         R"(,
  transfer_id BIGINT NOT NULL,
  adapter TEXT NOT NULL,
  source_id TEXT NOT NULL,
  state TEXT NOT NULL,
  reason TEXT,
  idempotency_key TEXT NOT NULL UNIQUE,
  status TEXT NOT NULL,
  attempts BIGINT NOT NULL DEFAULT 0,
  next_attempt_at BIGINT NOT NULL DEFAULT 0,
  lease_owner TEXT,
  lease_until BIGINT NOT NULL DEFAULT 0,
  last_error TEXT,
  created_at BIGINT NOT NULL,
  updated_at BIGINT NOT NULL
);
CREATE INDEX IF NOT EXISTS kh_notices_due ON kh_notices (status, next_attempt_at);
CREATE TABLE IF NOT EXISTS kh_cursors (
  adapter TEXT NOT NULL,
  kind TEXT NOT NULL,
  value TEXT NOT NULL,
  updated_at BIGINT NOT NULL,
  PRIMARY KEY (adapter, kind)
);
CREATE TABLE IF NOT EXISTS kh_events (
  id )" + id +
         R"(,
  transfer_id BIGINT NOT NULL,
  at BIGINT NOT NULL,
  kind TEXT NOT NULL,
  detail TEXT NOT NULL,
  seq BIGINT,
  actor TEXT,
  prev_hash TEXT,
  hash TEXT
);
CREATE INDEX IF NOT EXISTS kh_events_transfer ON kh_events (transfer_id, id);
CREATE TABLE IF NOT EXISTS kh_audit_checkpoints (
  number BIGINT PRIMARY KEY,
  seq BIGINT NOT NULL,
  hash TEXT NOT NULL,
  at BIGINT NOT NULL,
  signature TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS kh_early_receipts (
  dest_adapter TEXT NOT NULL,
  remote_id TEXT NOT NULL,
  state TEXT NOT NULL,
  reason TEXT NOT NULL,
  received_at BIGINT NOT NULL,
  PRIMARY KEY (dest_adapter, remote_id, state)
);
CREATE TABLE IF NOT EXISTS kh_leases (
  name TEXT PRIMARY KEY,
  owner TEXT NOT NULL,
  until_at BIGINT NOT NULL
);
CREATE TABLE IF NOT EXISTS kh_adapter_vault (
  adapter TEXT NOT NULL,
  key TEXT NOT NULL,
  value )" +
         blob + R"( NOT NULL,
  generation BIGINT NOT NULL,
  updated_at BIGINT NOT NULL,
  PRIMARY KEY (adapter, key)
);
CREATE TABLE IF NOT EXISTS kh_evidence (
  transfer_id BIGINT NOT NULL,
  kind TEXT NOT NULL,
  name TEXT NOT NULL,
  content )" +
         blob + R"(,
  signature )" +
         blob + R"( NOT NULL,
  created_at BIGINT NOT NULL,
  keep_until BIGINT NOT NULL,
  PRIMARY KEY (transfer_id, kind, name)
);
CREATE INDEX IF NOT EXISTS kh_evidence_keep ON kh_evidence (keep_until);
CREATE TABLE IF NOT EXISTS kh_meta (
  key TEXT PRIMARY KEY,
  value TEXT NOT NULL
);
)";
}

// The store's schema version, 0 when it has none yet (no kh_meta: a new store).
int stored_version(SqlConnection& db) {
  const bool have_meta =
      db.dialect() == Dialect::kPostgres
          ? !db.query(
                   "SELECT 1 FROM information_schema.tables WHERE table_schema = "
                   "current_schema() AND table_name = 'kh_meta'")
                 .empty()
          : !db.query("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'kh_meta'")
                 .empty();
  if (!have_meta) return 0;
  const auto rows = db.query("SELECT value FROM kh_meta WHERE key = 'schema_version'");
  return rows.empty() || !rows[0][0] ? 0 : std::stoi(*rows[0][0]);
}

}  // namespace

void Store::migrate() {
  if (db_->dialect() == Dialect::kPostgres) {
    // Several instances may start together: serialise schema creation.
    transaction([&] {
      db_->query("SELECT pg_advisory_xact_lock(727274)");
      // Up to date: no DDL at all. Even an ALTER ... IF NOT EXISTS takes its table's exclusive
      // lock, which deadlocks with another instance already writing (and is wasted work).
      if (stored_version(*db_) == kSchemaVersion) return;
      db_->execute_script(schema(Dialect::kPostgres));
      migrate_audit();
      migrate_unit_identity();
      migrate_office_sessions();
      migrate_evidence();
      db_->query(
          "INSERT INTO kh_meta (key, value) VALUES ('schema_version', ?) "
          "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
          {std::to_string(kSchemaVersion)});
    });
    return;
  }
  transaction([&] {
    db_->execute_script(schema(Dialect::kSqlite));
    migrate_audit();
    migrate_unit_identity();
    migrate_office_sessions();
    migrate_evidence();
    db_->query(
        "INSERT INTO kh_meta (key, value) VALUES ('schema_version', ?) "
        "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        {std::to_string(kSchemaVersion)});
  });
}

void Store::migrate_audit() {
  // Stores made before schema 2: add the newer columns, then chain the existing events in id
  // order so the whole history verifies from record 1 (the audit log's start_chain).
  const std::string blob = db_->dialect() == Dialect::kSqlite ? "BLOB" : "BYTEA";
  const std::vector<std::pair<std::string, std::string>> columns{
      {"kh_events", "seq BIGINT"},
      {"kh_events", "actor TEXT"},
      {"kh_events", "prev_hash TEXT"},
      {"kh_events", "hash TEXT"},
      {"kh_transfers", "outbound " + blob}};
  for (const auto& [table, column] : columns) {
    if (db_->dialect() == Dialect::kPostgres) {
      db_->execute_script("ALTER TABLE " + table + " ADD COLUMN IF NOT EXISTS " + column);
      continue;
    }
    const auto have = db_->query("SELECT 1 FROM pragma_table_info('" + table + "') WHERE name = ?",
                                 {column.substr(0, column.find(' '))});
    if (have.empty()) db_->execute_script("ALTER TABLE " + table + " ADD COLUMN " + column);
  }
  db_->execute_script("CREATE INDEX IF NOT EXISTS kh_events_at ON kh_events (at)");
  log_.start_chain();
}

// Schema 4, a step of its own. A store made before it gets the unit_digest column (NULL on its
// existing transfers: they keep only their source identity, since their payloads are sealed
// with a key the store does not hold), the unique identity index over the transfers that carry
// a digest.
void Store::migrate_unit_identity() {
  if (db_->dialect() == Dialect::kPostgres) {
    db_->execute_script("ALTER TABLE kh_transfers ADD COLUMN IF NOT EXISTS unit_digest TEXT");
  } else if (db_->query("SELECT 1 FROM pragma_table_info('kh_transfers') WHERE name = ?",
                        {std::string("unit_digest")})
                 .empty()) {
    db_->execute_script("ALTER TABLE kh_transfers ADD COLUMN unit_digest TEXT");
  }
  db_->execute_script(
      "CREATE UNIQUE INDEX IF NOT EXISTS kh_transfers_identity ON kh_transfers "
      "(sender_office, sender_type, recipient_office, recipient_type, sequence) "
      "WHERE unit_digest IS NOT NULL");
}

// Schema 5, a step of its own: kh_transfers.claims (how often delivery claimed each transfer,
// OutboundUnit::attempt); kh_adapter_vault is a plain CREATE TABLE IF NOT EXISTS (schema()). A
// store made before it starts each transfer's count at its attempts (every counted attempt was a
// claim; a claim whose lease lapsed before was not counted then).
void Store::migrate_office_sessions() {
  bool added = false;
  if (db_->dialect() == Dialect::kPostgres) {
    added = db_->query(
                   "SELECT 1 FROM information_schema.columns WHERE table_schema = "
                   "current_schema() AND table_name = 'kh_transfers' AND column_name = 'claims'")
                .empty();
    if (added)
      db_->execute_script("ALTER TABLE kh_transfers ADD COLUMN claims BIGINT NOT NULL DEFAULT 0");
  } else if (db_->query("SELECT 1 FROM pragma_table_info('kh_transfers') WHERE name = ?",
                        {std::string("claims")})
                 .empty()) {
    added = true;
    db_->execute_script("ALTER TABLE kh_transfers ADD COLUMN claims BIGINT NOT NULL DEFAULT 0");
  }
  if (added) db_->execute_script("UPDATE kh_transfers SET claims = attempts");
}

// Schema 6, a step of its own: kh_transfers.path (which path a unit took: signed,
// translated-to-national, attested-from-national); kh_evidence is a plain CREATE TABLE IF NOT
// EXISTS (schema()). Transfers made before it have no recorded path (NULL: the audit export
// says "-"): the store cannot tell afterwards which networks signed.
void Store::migrate_evidence() {
  if (db_->dialect() == Dialect::kPostgres) {
    db_->execute_script("ALTER TABLE kh_transfers ADD COLUMN IF NOT EXISTS path TEXT");
  } else if (db_->query("SELECT 1 FROM pragma_table_info('kh_transfers') WHERE name = ?",
                        {std::string("path")})
                 .empty()) {
    db_->execute_script("ALTER TABLE kh_transfers ADD COLUMN path TEXT");
  }
}

}  // namespace kakehashi::gateway::store
