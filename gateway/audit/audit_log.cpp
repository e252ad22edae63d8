#include "gateway/audit/audit_log.hpp"

#include <sstream>

namespace kakehashi::gateway::audit {
namespace {

using store::Dialect;
using store::SqlError;
using store::SqlRow;
using store::SqlValue;

constexpr const char* kHeadKey = "audit_head";

std::int64_t to_i64(const std::optional<std::string>& v) {
  return v ? std::stoll(*v) : 0;
}
std::string to_s(const std::optional<std::string>& v) {
  return v.value_or("");
}

AuditRecord record_from(const SqlRow& r) {
  AuditRecord rec;
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

// The chain head row: last position and hash, and the last checkpoint's number, position and
// time. A transaction's first record reads it (on PostgreSQL `FOR UPDATE`: its row lock is what
// serialises the chain), later records of that transaction use it from memory, and it is
// written back once before the commit.
struct AuditLog::Head {
  std::int64_t seq = 0;
  std::string hash{kGenesisHash};
  std::int64_t cp_number = 0, cp_seq = 0, cp_at = 0;
};

AuditLog::AuditLog(store::SqlConnection& db, AuditOptions options)
    : db_(db), options_(std::move(options)) {}
AuditLog::~AuditLog() = default;

AuditLog::Head AuditLog::lock_head() {
  const auto rows = db_.query(db_.dialect() == Dialect::kPostgres
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

AuditLog::Head& AuditLog::transaction_head() {
  if (!head_) head_ = std::make_unique<Head>(lock_head());
  return *head_;
}

void AuditLog::save_head(const Head& h) {
  db_.query("UPDATE kh_meta SET value = ? WHERE key = ?",
            {std::to_string(h.seq) + " " + h.hash + " " + std::to_string(h.cp_number) + " " +
                 std::to_string(h.cp_seq) + " " + std::to_string(h.cp_at),
             std::string(kHeadKey)});
}

void AuditLog::before_commit() {
  if (head_ && head_dirty_) save_head(*head_);
  forget();
}

void AuditLog::forget() {
  head_.reset();
  head_dirty_ = false;
}

void AuditLog::start_chain() {
  if (!db_.query("SELECT value FROM kh_meta WHERE key = ?", {std::string(kHeadKey)}).empty())
    return;
  Head h;
  for (const auto& r :
       db_.query("SELECT id, transfer_id, at, kind, detail FROM kh_events ORDER BY id")) {
    AuditRecord rec;
    rec.transfer_id = to_i64(r[1]);
    rec.at = to_i64(r[2]);
    rec.kind = to_s(r[3]);
    rec.detail = to_s(r[4]);
    rec.actor = options_.actor;
    const std::string hash = record_hash(h.seq + 1, h.hash, rec);
    db_.query("UPDATE kh_events SET seq = ?, actor = ?, prev_hash = ?, hash = ? WHERE id = ?",
              {h.seq + 1, rec.actor, h.hash, hash, to_i64(r[0])});
    ++h.seq;
    h.hash = hash;
  }
  db_.query("INSERT INTO kh_meta (key, value) VALUES (?, '') ON CONFLICT (key) DO NOTHING",
            {std::string(kHeadKey)});
  save_head(h);
}

void AuditLog::append(std::int64_t transfer_id, const std::string& kind, const std::string& detail,
                      const std::string& actor, std::int64_t now) {
  if (!options_.chained) {
    db_.query("INSERT INTO kh_events (transfer_id, at, kind, detail, actor) VALUES (?, ?, ?, ?, ?)",
              {transfer_id, now, kind, detail, actor});
    return;
  }
  Head& h = transaction_head();
  AuditRecord rec;
  rec.transfer_id = transfer_id;
  rec.at = now;
  rec.kind = kind;
  rec.actor = actor;
  rec.detail = detail;
  const std::int64_t seq = h.seq + 1;
  const std::string hash = record_hash(seq, h.hash, rec);
  db_.query(
      "INSERT INTO kh_events (transfer_id, at, kind, detail, seq, actor, prev_hash, hash) "
      "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
      {transfer_id, now, kind, detail, seq, actor, h.hash, hash});
  h.seq = seq;
  h.hash = hash;
  if (h.cp_at == 0) h.cp_at = now;  // the time trigger counts from the first record
  if (options_.sign_checkpoint && (h.seq - h.cp_seq >= options_.checkpoint_every_records ||
                                   now - h.cp_at >= options_.checkpoint_every_ms)) {
    write_checkpoint(h, now);
  }
  head_dirty_ = true;
}

void AuditLog::write_checkpoint(Head& h, std::int64_t now) {
  Checkpoint c;
  c.number = h.cp_number + 1;
  c.seq = h.seq;
  c.hash = h.hash;
  c.at = now;
  auto signature = options_.sign_checkpoint(c);
  // A signing failure leaves the records chained but unsealed; the next record tries again and
  // `audit verify` reports how many records follow the last checkpoint.
  if (!signature) return;
  db_.query(
      "INSERT INTO kh_audit_checkpoints (number, seq, hash, at, signature) "
      "VALUES (?, ?, ?, ?, ?)",
      {c.number, c.seq, c.hash, c.at, *signature});
  h.cp_number = c.number;
  h.cp_seq = c.seq;
  h.cp_at = now;
}

bool AuditLog::checkpoint(std::int64_t now) {
  if (!options_.sign_checkpoint || !options_.chained) return false;
  Head& h = transaction_head();
  if (h.seq == h.cp_seq) return false;
  const std::int64_t before = h.cp_number;
  write_checkpoint(h, now);
  if (h.cp_number == before) return false;
  head_dirty_ = true;
  return true;
}

std::vector<AuditRecord> AuditLog::records() {
  std::vector<AuditRecord> out;
  for (const auto& r : db_.query("SELECT id, seq, transfer_id, at, kind, actor, detail, "
                                 "prev_hash, hash FROM kh_events ORDER BY id"))
    out.push_back(record_from(r));
  return out;
}

std::vector<Checkpoint> AuditLog::checkpoints() {
  std::vector<Checkpoint> out;
  for (const auto& r : db_.query(
           "SELECT number, seq, hash, at, signature FROM kh_audit_checkpoints ORDER BY number")) {
    out.push_back({to_i64(r[0]), to_i64(r[1]), to_s(r[2]), to_i64(r[3]), to_s(r[4])});
  }
  return out;
}

std::optional<ChainHead> AuditLog::head() {
  const auto rows = db_.query("SELECT value FROM kh_meta WHERE key = ?", {std::string(kHeadKey)});
  if (rows.empty()) return std::nullopt;
  ChainHead h;
  std::istringstream is(to_s(rows[0][0]));
  is >> h.seq >> h.hash;
  if (is.fail()) return ChainHead{INT64_MAX, "unreadable"};
  return h;
}

std::vector<ExportRow> AuditLog::export_rows(const AuditQuery& q) {
  std::string sql =
      "SELECT e.id, e.seq, e.transfer_id, e.at, e.kind, e.actor, e.detail, e.prev_hash, e.hash, "
      "t.sender_office, t.recipient_office, t.path FROM kh_events e "
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
  std::vector<ExportRow> out;
  for (const auto& r : db_.query(sql, params))
    out.push_back({record_from(r), to_s(r[9]), to_s(r[10]), to_s(r[11])});
  return out;
}

std::optional<std::int64_t> AuditLog::last_checkpoint_at() {
  const auto rows = db_.query("SELECT MAX(at) FROM kh_audit_checkpoints");
  if (rows.empty() || !rows[0][0]) return std::nullopt;
  return to_i64(rows[0][0]);
}

}  // namespace kakehashi::gateway::audit
