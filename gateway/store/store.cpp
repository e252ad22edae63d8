// The store's frame: the connection, transactions and batches, adapter cursors and named leases,
// and the audit chain written inside every state change's transaction.

#include "gateway/store/store.hpp"

#include <sstream>

#include "gateway/store/store_internal.hpp"

namespace kakehashi::gateway::store {

namespace {

constexpr const char* kHeadKey = "audit_head";

}  // namespace

Store::Store(std::unique_ptr<SqlConnection> connection, AuditOptions audit)
    : db_(std::move(connection)), audit_(std::move(audit)) {}
Store::~Store() = default;

Dialect Store::dialect() const {
  return db_->dialect();
}

void Store::batch(const std::function<void()>& operations) {
  transaction([&] { operations(); });
}

// ---- adapter cursors and named leases ----------------------------------------------------------

void Store::save_cursor(const CursorUpdate& c, std::int64_t now) {
  save_cursor_row(*db_, c, now);
}

std::optional<std::string> Store::load_cursor(const std::string& adapter, const std::string& kind) {
  const auto rows =
      db_->query("SELECT value FROM kh_cursors WHERE adapter = ? AND kind = ?", {adapter, kind});
  if (rows.empty()) return std::nullopt;
  return to_s(rows[0][0]);
}

bool Store::try_lease(const std::string& name, const std::string& owner, std::int64_t now,
                      std::int64_t ttl_ms) {
  return transaction([&] {
    const auto rows = db_->query(
        "INSERT INTO kh_leases (name, owner, until_at) VALUES (?, ?, ?) "
        "ON CONFLICT (name) DO UPDATE SET owner = excluded.owner, until_at = excluded.until_at "
        "WHERE kh_leases.owner = excluded.owner OR kh_leases.until_at <= ? RETURNING owner",
        {name, owner, now + ttl_ms, now});
    return !rows.empty();
  });
}

// ---- the audit log: one hash chain over kh_events, sealed by signed checkpoints ----------------

void Store::add_event(std::int64_t transfer_id, const std::string& kind, const std::string& detail,
                      std::int64_t now) {
  transaction([&] { append_event(transfer_id, kind, detail, audit_.actor, now); });
}

Store::Head Store::lock_head() {
  const auto rows = db_->query(db_->dialect() == Dialect::kPostgres
                                   ? "SELECT value FROM kh_meta WHERE key = ? FOR UPDATE"
                                   : "SELECT value FROM kh_meta WHERE key = ?",
                               {std::string(kHeadKey)});
  Head h;
  if (rows.empty()) throw SqlError{"the audit chain head is missing: run migrate", false};
  std::istringstream is(to_s(rows[0][0]));
  is >> h.seq >> h.hash >> h.cp_number >> h.cp_seq >> h.cp_at;
  if (is.fail()) throw SqlError{"the audit chain head is unreadable", false};
  return h;
}

Store::Head& Store::transaction_head() {
  if (!head_) head_ = std::make_unique<Head>(lock_head());
  return *head_;
}

void Store::save_head(const Head& h) {
  db_->query("UPDATE kh_meta SET value = ? WHERE key = ?",
             {std::to_string(h.seq) + " " + h.hash + " " + std::to_string(h.cp_number) + " " +
                  std::to_string(h.cp_seq) + " " + std::to_string(h.cp_at),
              std::string(kHeadKey)});
}


void Store::migrate_audit() {
  // Stores made before schema 2: add the newer columns, then chain the existing events in id
  // order so the whole history verifies from record 1.
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
  if (!db_->query("SELECT value FROM kh_meta WHERE key = ?", {std::string(kHeadKey)}).empty())
    return;
  Head h;
  for (const auto& r :
       db_->query("SELECT id, transfer_id, at, kind, detail FROM kh_events ORDER BY id")) {
    audit::AuditRecord rec;
    rec.transfer_id = to_i64(r[1]);
    rec.at = to_i64(r[2]);
    rec.kind = to_s(r[3]);
    rec.detail = to_s(r[4]);
    rec.actor = audit_.actor;
    const std::string hash = audit::record_hash(h.seq + 1, h.hash, rec);
    db_->query("UPDATE kh_events SET seq = ?, actor = ?, prev_hash = ?, hash = ? WHERE id = ?",
               {h.seq + 1, rec.actor, h.hash, hash, to_i64(r[0])});
    ++h.seq;
    h.hash = hash;
  }
  db_->query("INSERT INTO kh_meta (key, value) VALUES (?, '') ON CONFLICT (key) DO NOTHING",
             {std::string(kHeadKey)});
  save_head(h);
}

void Store::append_event(std::int64_t transfer_id, const std::string& kind,
                         const std::string& detail, const std::string& actor, std::int64_t now) {
  if (!audit_.chained) {
    db_->query(
        "INSERT INTO kh_events (transfer_id, at, kind, detail, actor) VALUES (?, ?, ?, ?, ?)",
        {transfer_id, now, kind, detail, actor});
    return;
  }
  Head& h = transaction_head();
  audit::AuditRecord rec;
  rec.transfer_id = transfer_id;
  rec.at = now;
  rec.kind = kind;
  rec.actor = actor;
  rec.detail = detail;
  const std::int64_t seq = h.seq + 1;
  const std::string hash = audit::record_hash(seq, h.hash, rec);
  db_->query(
      "INSERT INTO kh_events (transfer_id, at, kind, detail, seq, actor, prev_hash, hash) "
      "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
      {transfer_id, now, kind, detail, seq, actor, h.hash, hash});
  h.seq = seq;
  h.hash = hash;
  if (h.cp_at == 0) h.cp_at = now;  // the time trigger counts from the first record
  if (audit_.sign_checkpoint && (h.seq - h.cp_seq >= audit_.checkpoint_every_records ||
                                 now - h.cp_at >= audit_.checkpoint_every_ms)) {
    write_checkpoint(h, now);
  }
  head_dirty_ = true;
}

void Store::write_checkpoint(Head& h, std::int64_t now) {
  audit::Checkpoint c;
  c.number = h.cp_number + 1;
  c.seq = h.seq;
  c.hash = h.hash;
  c.at = now;
  auto signature = audit_.sign_checkpoint(c);
  // A signing failure leaves the records chained but unsealed; the next record tries again and
  // `audit verify` reports how many records follow the last checkpoint.
  if (!signature) return;
  db_->query(
      "INSERT INTO kh_audit_checkpoints (number, seq, hash, at, signature) "
      "VALUES (?, ?, ?, ?, ?)",
      {c.number, c.seq, c.hash, c.at, *signature});
  h.cp_number = c.number;
  h.cp_seq = c.seq;
  h.cp_at = now;
}

void Store::record_operator_command(const std::string& actor, const std::string& command,
                                    std::int64_t now) {
  transaction([&] { append_event(0, "operator-command", command, actor, now); });
}

bool Store::checkpoint(std::int64_t now) {
  if (!audit_.sign_checkpoint || !audit_.chained) return false;
  return transaction([&] {
    Head& h = transaction_head();
    if (h.seq == h.cp_seq) return false;
    const std::int64_t before = h.cp_number;
    write_checkpoint(h, now);
    if (h.cp_number == before) return false;
    head_dirty_ = true;
    return true;
  });
}

namespace {

audit::AuditRecord record_from(const SqlRow& r) {
  audit::AuditRecord rec;
  rec.id = to_i64(r[0]);
  if (r[1]) rec.seq = to_i64(r[1]);
  rec.transfer_id = to_i64(r[2]);
  rec.at = to_i64(r[3]);
  rec.kind = to_s(r[4]);
  rec.actor = to_s(r[5]);
  rec.detail = to_s(r[6]);
  rec.prev_hash = to_s(r[7]);
  rec.hash = to_s(r[8]);
  return rec;
}

}  // namespace

std::vector<audit::AuditRecord> Store::audit_records() {
  std::vector<audit::AuditRecord> out;
  for (const auto& r : db_->query("SELECT id, seq, transfer_id, at, kind, actor, detail, "
                                  "prev_hash, hash FROM kh_events ORDER BY id"))
    out.push_back(record_from(r));
  return out;
}

std::vector<audit::Checkpoint> Store::audit_checkpoints() {
  std::vector<audit::Checkpoint> out;
  for (const auto& r : db_->query(
           "SELECT number, seq, hash, at, signature FROM kh_audit_checkpoints ORDER BY number")) {
    out.push_back({to_i64(r[0]), to_i64(r[1]), to_s(r[2]), to_i64(r[3]), to_s(r[4])});
  }
  return out;
}

std::optional<audit::ChainHead> Store::audit_head() {
  const auto rows = db_->query("SELECT value FROM kh_meta WHERE key = ?", {std::string(kHeadKey)});
  if (rows.empty()) return std::nullopt;
  audit::ChainHead h;
  std::istringstream is(to_s(rows[0][0]));
  is >> h.seq >> h.hash;
  if (is.fail()) return audit::ChainHead{INT64_MAX, "unreadable"};
  return h;
}

std::vector<audit::ExportRow> Store::audit_export(const AuditQuery& q) {
  std::string sql =
      "SELECT e.id, e.seq, e.transfer_id, e.at, e.kind, e.actor, e.detail, e.prev_hash, e.hash, "
      "t.sender_office, t.recipient_office FROM kh_events e "
      "LEFT JOIN kh_transfers t ON t.id = e.transfer_id WHERE e.at >= ? AND e.at < ?";
  std::vector<SqlValue> params{q.from, q.to};
  if (q.office) {
    sql += " AND (t.sender_office = ? OR t.recipient_office = ?)";
    params.emplace_back(*q.office);
    params.emplace_back(*q.office);
  }
  if (q.transfer_id) {
    sql += " AND e.transfer_id = ?";
    params.emplace_back(*q.transfer_id);
  }
  sql += " ORDER BY e.seq, e.id";
  std::vector<audit::ExportRow> out;
  for (const auto& r : db_->query(sql, params))
    out.push_back({record_from(r), to_s(r[9]), to_s(r[10])});
  return out;
}

}  // namespace kakehashi::gateway::store
