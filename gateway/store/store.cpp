#include "gateway/store/store.hpp"

#include <map>
#include <sstream>

#include "gateway/audit/insured.hpp"
#include "gateway/store/sender_notices.hpp"

namespace kakehashi::gateway::store {
namespace {

// 2: kh_events is the hash-chained audit log; 3: kh_early_receipts; 4: unit identity
// (kh_transfers.unit_digest and the unique kh_transfers_identity): migrate_unit_identity().
constexpr int kSchemaVersion = 4;
constexpr const char* kHeadKey = "audit_head";

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
CREATE TABLE IF NOT EXISTS kh_meta (
  key TEXT PRIMARY KEY,
  value TEXT NOT NULL
);
)";
}

const char* kTransferColumns =
    "id, source_adapter, source_id, dest_adapter, direction, sender_office, sender_type, "
    "recipient_office, recipient_type, sequence, unit_kind, subject_key, state, attempts, "
    "next_attempt_at, remote_id, idempotency_key, receipt_state, reason, last_error, created_at, "
    "updated_at, finished_at, payload IS NOT NULL";

std::int64_t to_i64(const std::optional<std::string>& v) {
  return v ? std::stoll(*v) : 0;
}
std::string to_s(const std::optional<std::string>& v) {
  return v.value_or("");
}

bool truthy(const std::optional<std::string>& v) {
  return v && (*v == "1" || *v == "t" || *v == "true");
}

Transfer transfer_from(const SqlRow& r) {
  Transfer t;
  t.id = to_i64(r[0]);
  t.source_adapter = to_s(r[1]);
  t.source_id = to_s(r[2]);
  t.dest_adapter = to_s(r[3]);
  t.direction = to_s(r[4]);
  t.sender_office = to_s(r[5]);
  t.sender_type = to_s(r[6]);
  t.recipient_office = to_s(r[7]);
  t.recipient_type = to_s(r[8]);
  t.sequence = to_s(r[9]);
  t.unit_kind = to_s(r[10]);
  t.subject_key = to_s(r[11]);
  t.state = to_s(r[12]);
  t.attempts = to_i64(r[13]);
  t.next_attempt_at = to_i64(r[14]);
  t.remote_id = to_s(r[15]);
  t.idempotency_key = to_s(r[16]);
  t.receipt_state = to_s(r[17]);
  t.reason = to_s(r[18]);
  t.last_error = to_s(r[19]);
  t.created_at = to_i64(r[20]);
  t.updated_at = to_i64(r[21]);
  t.finished_at = to_i64(r[22]);
  t.has_payload = truthy(r[23]);
  return t;
}

std::string placeholders(std::size_t n) {
  std::string s;
  for (std::size_t i = 0; i < n; ++i) s += i == 0 ? "?" : ", ?";
  return s;
}

}  // namespace

// The chain head row: last position and hash, and the last checkpoint's number, position and
// time. A transaction's first record reads it (on PostgreSQL `FOR UPDATE`: its row lock is what
// serialises the chain), later records of that transaction use it from memory, and it is
// written back once before the commit.
struct Store::Head {
  std::int64_t seq = 0;
  std::string hash{audit::kGenesisHash};
  std::int64_t cp_number = 0, cp_seq = 0, cp_at = 0;
};

Store::Store(std::unique_ptr<SqlConnection> connection, AuditOptions audit)
    : db_(std::move(connection)), audit_(std::move(audit)) {}
Store::~Store() = default;

Dialect Store::dialect() const {
  return db_->dialect();
}

template <typename Fn>
auto Store::transaction(Fn&& fn) {
  // Inside batch(): part of the batch's transaction (its retry re-runs the whole batch).
  if (depth_ > 0) return fn();
  // The chain head is read (and locked) by the transaction's first record, kept in memory for
  // the others and written once, just before the commit.
  const auto finish = [&] {
    --depth_;
    if (head_ && head_dirty_) save_head(*head_);
    head_.reset();
    head_dirty_ = false;
    db_->commit();
  };
  const auto abandon = [&] {
    depth_ = 0;
    head_.reset();
    head_dirty_ = false;
    db_->rollback();
  };
  for (int attempt = 1;; ++attempt) {
    try {
      db_->begin();
      ++depth_;
      if constexpr (std::is_void_v<decltype(fn())>) {
        fn();
        finish();
        return;
      } else {
        auto result = fn();
        finish();
        return result;
      }
    } catch (const SqlError& e) {
      abandon();
      if (!e.transient || attempt >= 5) throw;
    } catch (...) {
      abandon();
      throw;
    }
  }
}

void Store::batch(const std::function<void()>& operations) {
  transaction([&] { operations(); });
}

void Store::migrate() {
  if (db_->dialect() == Dialect::kPostgres) {
    // Several instances may start together: serialise schema creation.
    transaction([&] {
      db_->query("SELECT pg_advisory_xact_lock(727274)");
      db_->execute_script(schema(Dialect::kPostgres));
      migrate_audit();
      migrate_unit_identity();
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
    db_->query(
        "INSERT INTO kh_meta (key, value) VALUES ('schema_version', ?) "
        "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        {std::to_string(kSchemaVersion)});
  });
}

AcceptOutcome Store::accept(const NewTransfer& t, const std::optional<CursorUpdate>& cursor,
                            std::int64_t now) {
  return transaction([&] {
    AcceptOutcome out;
    const auto existing =
        db_->query("SELECT id, state FROM kh_transfers WHERE source_adapter = ? AND source_id = ?",
                   {t.source_adapter, t.source_id});
    // The same unit under another source id: one indexed lookup (kh_transfers_identity), only
    // for a unit that passed admission.
    std::vector<SqlRow> same_unit;
    const bool admitted = t.state == kAccepted || t.state == kAwaitingRoute;
    if (existing.empty() && admitted && !t.unit_digest.empty()) {
      same_unit = db_->query(
          "SELECT id, state, unit_digest, source_id FROM kh_transfers WHERE sender_office = ? "
          "AND sender_type = ? AND recipient_office = ? AND recipient_type = ? AND sequence = ? "
          "AND unit_digest IS NOT NULL",
          {t.sender_office, t.sender_type, t.recipient_office, t.recipient_type, t.sequence});
    }
    // Other files under a sequence already taken: refused, the first unit stays as it is.
    NewTransfer refused;
    const NewTransfer* row = &t;
    if (!same_unit.empty() && to_s(same_unit[0][2]) != t.unit_digest) {
      const auto notice =
          sequence_reused_notice(t.sequence, to_i64(same_unit[0][0]), to_s(same_unit[0][3]));
      refused = t;
      refused.state = kRejected;
      refused.dest_adapter.clear();
      refused.unit_digest.clear();
      refused.reason = notice.reason;
      refused.notice_text = notice.text;
      refused.event_detail += "; refused: " + notice.reason;
      row = &refused;
      same_unit.clear();
    }
    if (!existing.empty()) {
      out.id = to_i64(existing[0][0]);
      out.state = to_s(existing[0][1]);
      out.duplicate = true;
      append_event(out.id, std::string("duplicate"),
                   std::string("the source offered the same item again; first outcome stands"),
                   audit_.actor, now);
    } else if (!same_unit.empty()) {
      out.id = to_i64(same_unit[0][0]);
      out.state = to_s(same_unit[0][1]);
      out.duplicate = true;
      out.same_unit = true;
      append_event(out.id, std::string("duplicate"),
                   "the same unit (sender, recipient, sequence and files) was offered again by " +
                       t.source_adapter + " as " + t.source_id + "; first outcome stands",
                   audit_.actor, now);
    } else {
      const NewTransfer& u = *row;  // as stored: refused here, or as given
      const bool finished = u.state != kAccepted && u.state != kAwaitingRoute;
      const auto rows = db_->query(
          "INSERT INTO kh_transfers (source_adapter, source_id, dest_adapter, direction, "
          "sender_office, sender_type, recipient_office, recipient_type, sequence, unit_kind, "
          "subject_key, state, attempts, next_attempt_at, idempotency_key, reason, created_at, "
          "updated_at, finished_at, payload, unit_digest) "
          "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 0, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
          {u.source_adapter,
           u.source_id,
           u.dest_adapter,
           u.direction,
           u.sender_office,
           u.sender_type,
           u.recipient_office,
           u.recipient_type,
           u.sequence,
           u.unit_kind,
           u.subject_key,
           u.state,
           now,
           u.idempotency_key,
           u.reason.empty() ? SqlValue{} : SqlValue{u.reason},
           now,
           now,
           finished ? SqlValue{now} : SqlValue{},
           Blob{u.payload},
           !finished && !u.unit_digest.empty() ? SqlValue{u.unit_digest} : SqlValue{}});
      out.id = to_i64(rows.at(0)[0]);
      out.state = u.state;
      if (row == &refused) out.reason = u.reason;
      std::string detail = u.event_detail;
      if (!u.insured_numbers.empty()) {
        // Keyed hashes only: an auditor given a number finds it with `audit hash-insured`.
        if (audit_.insured_key.empty()) {
          detail += "; insured numbers " + std::to_string(u.insured_numbers.size()) +
                    " (not recorded: no audit key)";
        } else {
          detail += "; insured";
          for (const auto& n : u.insured_numbers)
            detail += " " + audit::insured_hash(audit_.insured_key, n);
        }
      }
      append_event(out.id, std::string(finished ? "refused" : "accepted"), detail, audit_.actor,
                   now);
      if (u.state == kRejected) {
        db_->query(
            "INSERT INTO kh_notices (transfer_id, adapter, source_id, state, reason, "
            "idempotency_key, status, next_attempt_at, created_at, updated_at) "
            "VALUES (?, ?, ?, 'rejected', ?, ?, 'pending', ?, ?, ?)",
            {out.id, u.source_adapter, u.source_id,
             u.notice_text.empty() ? u.reason : u.notice_text,
             "kh-notice-" + std::to_string(out.id) + "-rejected", now, now, now});
      }
    }
    if (cursor) {
      db_->query(
          "INSERT INTO kh_cursors (adapter, kind, value, updated_at) VALUES (?, ?, ?, ?) "
          "ON CONFLICT (adapter, kind) DO UPDATE SET value = excluded.value, "
          "updated_at = excluded.updated_at",
          {cursor->adapter, cursor->kind, cursor->value, now});
    }
    return out;
  });
}

void Store::save_cursor(const CursorUpdate& c, std::int64_t now) {
  db_->query(
      "INSERT INTO kh_cursors (adapter, kind, value, updated_at) VALUES (?, ?, ?, ?) "
      "ON CONFLICT (adapter, kind) DO UPDATE SET value = excluded.value, "
      "updated_at = excluded.updated_at",
      {c.adapter, c.kind, c.value, now});
}

std::optional<std::string> Store::load_cursor(const std::string& adapter, const std::string& kind) {
  const auto rows =
      db_->query("SELECT value FROM kh_cursors WHERE adapter = ? AND kind = ?", {adapter, kind});
  if (rows.empty()) return std::nullopt;
  return to_s(rows[0][0]);
}

std::vector<Transfer> Store::claim_transfers(const std::string& owner, std::int64_t now,
                                             std::int64_t lease_ms, std::size_t limit,
                                             const std::vector<std::string>& paused) {
  return transaction([&]() -> std::vector<Transfer> {
    std::vector<Transfer> out;
    // Superseding a pair's head makes the next unit of that pair the head: claim again then.
    for (int round = 0; round < 8 && out.size() < limit; ++round) {
      const std::size_t superseded =
          claim_round(owner, now, lease_ms, limit - out.size(), paused, out);
      if (superseded == 0) break;
    }
    return out;
  });
}

std::size_t Store::claim_round(const std::string& owner, std::int64_t now, std::int64_t lease_ms,
                               std::size_t limit, const std::vector<std::string>& paused,
                               std::vector<Transfer>& out) {
  std::string sql =
      "UPDATE kh_transfers SET lease_owner = ?, lease_until = ? WHERE id IN ("
      "SELECT t.id FROM kh_transfers t WHERE t.state = 'accepted' AND t.next_attempt_at <= ? "
      "AND t.lease_until <= ? ";
  std::vector<SqlValue> params{owner, now + lease_ms, now, now};
  if (!paused.empty()) {
    sql += "AND t.dest_adapter NOT IN (" + placeholders(paused.size()) + ") ";
    for (const auto& p : paused) params.emplace_back(p);
  }
  // Ordered per (sender office, recipient office, destination), whatever the service types:
  // stricter than per (office, type) pair, and what DESIGN §5 and the crash test hold.
  sql +=
      "AND NOT EXISTS (SELECT 1 FROM kh_transfers o WHERE o.sender_office = t.sender_office "
      "AND o.recipient_office = t.recipient_office AND o.dest_adapter = t.dest_adapter "
      "AND o.state = 'accepted' AND o.sequence < t.sequence) "
      // One unit of a pair in flight at a time: an older unit that arrives while a newer one
      // is being sent waits for that attempt's outcome instead of racing it.
      "AND NOT EXISTS (SELECT 1 FROM kh_transfers o WHERE o.sender_office = t.sender_office "
      "AND o.recipient_office = t.recipient_office AND o.dest_adapter = t.dest_adapter "
      "AND o.state = 'accepted' AND o.lease_until > ? AND o.id <> t.id) "
      "ORDER BY t.next_attempt_at, t.id LIMIT ?";
  params.emplace_back(now);
  params.emplace_back(static_cast<std::int64_t>(limit));
  if (db_->dialect() == Dialect::kPostgres) sql += " FOR UPDATE SKIP LOCKED";
  sql += ") RETURNING " + std::string(kTransferColumns) + ", payload, outbound";
  const auto rows = db_->query(sql, params);
  std::size_t superseded = 0;
  for (const auto& r : rows) {
    Transfer t = transfer_from(r);
    if (r[24]) t.payload = decode_blob(db_->dialect(), *r[24]);
    if (r[25]) t.outbound = decode_blob(db_->dialect(), *r[25]);
    // A newer unit that replaces exactly what this one carries (same pair with service types,
    // kind, month and users) already went out: this one must never follow it. Its sender is
    // told, by the same path as a rejection.
    if (!t.subject_key.empty()) {
      const auto newer = db_->query(
          "SELECT id, sequence, source_id FROM kh_transfers WHERE sender_office = ? "
          "AND recipient_office = ? AND dest_adapter = ? AND state = 'delivered' "
          "AND sequence > ? AND sender_type = ? AND recipient_type = ? AND subject_key = ? "
          "ORDER BY sequence DESC LIMIT 1",
          {t.sender_office, t.recipient_office, t.dest_adapter, t.sequence, t.sender_type,
           t.recipient_type, t.subject_key});
      if (!newer.empty()) {
        const auto notice =
            superseded_notice(to_i64(newer[0][0]), to_s(newer[0][1]), to_s(newer[0][2]));
        db_->query(
            "UPDATE kh_transfers SET state = 'superseded', reason = ?, lease_owner = NULL, "
            "lease_until = 0, finished_at = ?, updated_at = ? WHERE id = ?",
            {notice.reason, now, now, t.id});
        append_event(t.id, std::string("superseded"), notice.reason, audit_.actor, now);
        db_->query(
            "INSERT INTO kh_notices (transfer_id, adapter, source_id, state, reason, "
            "idempotency_key, status, next_attempt_at, created_at, updated_at) "
            "VALUES (?, ?, ?, 'rejected', ?, ?, 'pending', ?, ?, ?) "
            "ON CONFLICT (idempotency_key) DO NOTHING",
            {t.id, t.source_adapter, t.source_id, notice.text,
             "kh-notice-" + std::to_string(t.id) + "-superseded", now, now, now});
        ++superseded;
        continue;
      }
    }
    out.push_back(std::move(t));
  }
  return superseded;
}

bool Store::mark_delivered(std::int64_t id, const std::string& owner, const std::string& remote_id,
                           const std::string& detail, std::int64_t now,
                           const std::string& receipt_detail) {
  return transaction([&] {
    const auto rows = db_->query(
        "UPDATE kh_transfers SET state = 'delivered', remote_id = ?, lease_owner = NULL, "
        "lease_until = 0, attempts = attempts + 1, finished_at = ?, updated_at = ?, "
        "last_error = NULL WHERE id = ? AND state = 'accepted' AND lease_owner = ? RETURNING id",
        {remote_id, now, now, id, owner});
    // Lease lost (another instance took the unit over): its outcome is that instance's record.
    if (rows.empty()) return false;
    append_event(id, std::string("delivered"), detail, audit_.actor, now);
    if (!receipt_detail.empty())
      append_event(id, std::string("translation-receipt"), receipt_detail, audit_.actor, now);
    apply_early_receipts(id, now);
    return true;
  });
}

void Store::save_outbound(std::int64_t id, const std::string& sealed) {
  db_->query("UPDATE kh_transfers SET outbound = ? WHERE id = ? AND outbound IS NULL",
             {Blob{sealed}, id});
}

bool Store::retry_later(std::int64_t id, const std::string& owner, std::int64_t next_attempt_at,
                        const std::string& error, std::int64_t now) {
  return transaction([&] {
    const auto rows = db_->query(
        "UPDATE kh_transfers SET attempts = attempts + 1, next_attempt_at = ?, "
        "lease_owner = NULL, lease_until = 0, last_error = ?, updated_at = ? "
        "WHERE id = ? AND lease_owner = ? RETURNING id",
        {next_attempt_at, error, now, id, owner});
    if (rows.empty()) return false;
    append_event(id, std::string("attempt-failed"), error, audit_.actor, now);
    return true;
  });
}

void Store::release(std::int64_t id, const std::string& owner, std::int64_t next_attempt_at,
                    const std::string& why, std::int64_t now) {
  db_->query(
      "UPDATE kh_transfers SET next_attempt_at = ?, lease_owner = NULL, lease_until = 0, "
      "last_error = ?, updated_at = ? WHERE id = ? AND lease_owner = ?",
      {next_attempt_at, why, now, id, owner});
}

bool Store::park(std::int64_t id, const std::string& reason, const std::string& actor,
                 std::int64_t now) {
  return transaction([&] {
    const auto rows = db_->query(
        "UPDATE kh_transfers SET state = 'parked', reason = ?, lease_owner = NULL, "
        "lease_until = 0, finished_at = ?, updated_at = ? WHERE id = ? AND state = 'accepted' "
        "RETURNING id",
        {reason, now, now, id});
    if (rows.empty()) return false;  // already finished (delivered, refused, parked)
    append_event(id, std::string("parked"), actor + ": " + reason, actor, now);
    return true;
  });
}

void Store::reject_at_destination(std::int64_t id, const std::string& reason,
                                  const std::string& notice_text, std::int64_t now) {
  transaction([&] {
    const auto rows = db_->query(
        "UPDATE kh_transfers SET state = 'rejected', reason = ?, lease_owner = NULL, "
        "lease_until = 0, attempts = attempts + 1, finished_at = ?, updated_at = ? "
        "WHERE id = ? AND state = 'accepted' RETURNING source_adapter, source_id",
        {reason, now, now, id});
    append_event(id, std::string("rejected-by-destination"), reason, audit_.actor, now);
    if (!rows.empty()) {
      db_->query(
          "INSERT INTO kh_notices (transfer_id, adapter, source_id, state, reason, "
          "idempotency_key, status, next_attempt_at, created_at, updated_at) "
          "VALUES (?, ?, ?, 'rejected', ?, ?, 'pending', ?, ?, ?) "
          "ON CONFLICT (idempotency_key) DO NOTHING",
          {id, to_s(rows[0][0]), to_s(rows[0][1]), notice_text.empty() ? reason : notice_text,
           "kh-notice-" + std::to_string(id) + "-rejected", now, now, now});
    }
  });
}

bool Store::redrive(std::int64_t id, const std::string& actor, std::int64_t now) {
  return transaction([&] {
    const auto rows = db_->query(
        "UPDATE kh_transfers SET state = 'accepted', attempts = 0, next_attempt_at = ?, "
        "finished_at = NULL, updated_at = ? WHERE id = ? AND state = 'parked' RETURNING id",
        {now, now, id});
    if (rows.empty()) return false;
    append_event(id, std::string("redriven"), actor, actor, now);
    return true;
  });
}

std::optional<std::int64_t> Store::record_receipt(
    const std::string& dest_adapter, const std::string& remote_id, const std::string& state,
    const std::string& reason, const std::optional<CursorUpdate>& cursor, std::int64_t now) {
  return transaction([&]() -> std::optional<std::int64_t> {
    std::optional<std::int64_t> result;
    const auto rows =
        db_->query("SELECT id FROM kh_transfers WHERE dest_adapter = ? AND remote_id = ?",
                   {dest_adapter, remote_id});
    if (!rows.empty()) {
      result = to_i64(rows[0][0]);
      apply_receipt(*result, state, reason, now);
    } else {
      // The network may report a receipt before this gateway has recorded the delivery's remote
      // id (a crash between the network's answer and the commit, then a redelivery answered with
      // the first result). Kept here, it is applied when the delivery is recorded; never lost.
      db_->query(
          "INSERT INTO kh_early_receipts (dest_adapter, remote_id, state, reason, "
          "received_at) VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
          {dest_adapter, remote_id, state, reason, now});
    }
    if (cursor) {
      db_->query(
          "INSERT INTO kh_cursors (adapter, kind, value, updated_at) VALUES (?, ?, ?, ?) "
          "ON CONFLICT (adapter, kind) DO UPDATE SET value = excluded.value, "
          "updated_at = excluded.updated_at",
          {cursor->adapter, cursor->kind, cursor->value, now});
    }
    return result;
  });
}

void Store::apply_receipt(std::int64_t id, const std::string& state, const std::string& reason,
                          std::int64_t now) {
  const auto rows = db_->query(
      "SELECT source_adapter, source_id, receipt_state FROM kh_transfers WHERE id = ?", {id});
  if (rows.empty()) return;
  // read after delivered is news; the same state twice, or delivered after read, is not.
  const std::string previous = to_s(rows[0][2]);
  if (previous == state || (previous == "read" && state == "delivered")) return;
  db_->query("UPDATE kh_transfers SET receipt_state = ?, updated_at = ? WHERE id = ?",
             {state, now, id});
  append_event(id, "receipt-" + state, reason, audit_.actor, now);
  db_->query(
      "INSERT INTO kh_notices (transfer_id, adapter, source_id, state, reason, "
      "idempotency_key, status, next_attempt_at, created_at, updated_at) "
      "VALUES (?, ?, ?, ?, ?, ?, 'pending', ?, ?, ?) "
      "ON CONFLICT (idempotency_key) DO NOTHING",
      {id, to_s(rows[0][0]), to_s(rows[0][1]), state, reason,
       "kh-notice-" + std::to_string(id) + "-" + state, now, now, now});
}

void Store::apply_early_receipts(std::int64_t id, std::int64_t now) {
  const auto rows = db_->query(
      "SELECT e.dest_adapter, e.remote_id, e.state, e.reason FROM kh_early_receipts e "
      "JOIN kh_transfers t ON t.dest_adapter = e.dest_adapter AND t.remote_id = e.remote_id "
      "WHERE t.id = ? ORDER BY e.received_at, e.state",
      {id});
  for (const auto& r : rows) {
    apply_receipt(id, to_s(r[2]), to_s(r[3]), now);
    db_->query(
        "DELETE FROM kh_early_receipts WHERE dest_adapter = ? AND remote_id = ? AND state = ?",
        {to_s(r[0]), to_s(r[1]), to_s(r[2])});
  }
}

std::vector<Notice> Store::claim_notices(const std::string& owner, std::int64_t now,
                                         std::int64_t lease_ms, std::size_t limit) {
  return transaction([&] {
    std::string sql =
        "UPDATE kh_notices SET lease_owner = ?, lease_until = ? WHERE id IN (SELECT id FROM "
        "kh_notices WHERE status = 'pending' AND next_attempt_at <= ? AND lease_until <= ? "
        "ORDER BY id LIMIT ?";
    if (db_->dialect() == Dialect::kPostgres) sql += " FOR UPDATE SKIP LOCKED";
    sql +=
        ") RETURNING id, transfer_id, adapter, source_id, state, reason, idempotency_key, "
        "attempts";
    const auto rows =
        db_->query(sql, {owner, now + lease_ms, now, now, static_cast<std::int64_t>(limit)});
    std::vector<Notice> out;
    for (const auto& r : rows) {
      Notice n;
      n.id = to_i64(r[0]);
      n.transfer_id = to_i64(r[1]);
      n.adapter = to_s(r[2]);
      n.source_id = to_s(r[3]);
      n.state = to_s(r[4]);
      n.reason = to_s(r[5]);
      n.idempotency_key = to_s(r[6]);
      n.attempts = to_i64(r[7]);
      out.push_back(std::move(n));
    }
    return out;
  });
}

void Store::notice_sent(std::int64_t id, std::int64_t now) {
  transaction([&] {
    const auto rows = db_->query(
        "UPDATE kh_notices SET status = 'sent', lease_owner = NULL, lease_until = 0, "
        "attempts = attempts + 1, updated_at = ? WHERE id = ? RETURNING transfer_id, state",
        {now, id});
    if (!rows.empty()) {
      append_event(to_i64(rows[0][0]), "notice-sent-" + to_s(rows[0][1]),
                   std::string("the source network was told"), audit_.actor, now);
    }
  });
}

void Store::notice_retry(std::int64_t id, std::int64_t next_attempt_at, const std::string& error,
                         std::int64_t now) {
  db_->query(
      "UPDATE kh_notices SET attempts = attempts + 1, next_attempt_at = ?, "
      "lease_owner = NULL, lease_until = 0, last_error = ?, updated_at = ? WHERE id = ?",
      {next_attempt_at, error, now, id});
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

std::vector<Transfer> Store::list(const TransferFilter& f) {
  std::string sql = "SELECT " + std::string(kTransferColumns) +
                    " FROM kh_transfers WHERE created_at >= ? AND created_at < ?";
  std::vector<SqlValue> params{f.from, f.to};
  if (f.state) {
    sql += " AND state = ?";
    params.emplace_back(*f.state);
  }
  if (f.office) {
    sql += " AND (sender_office = ? OR recipient_office = ?)";
    params.emplace_back(*f.office);
    params.emplace_back(*f.office);
  }
  if (f.direction) {
    sql += " AND direction = ?";
    params.emplace_back(*f.direction);
  }
  if (f.kind) {
    sql += " AND unit_kind = ?";
    params.emplace_back(*f.kind);
  }
  sql += f.newest_first ? " ORDER BY id DESC LIMIT ? OFFSET ?" : " ORDER BY id LIMIT ? OFFSET ?";
  params.emplace_back(static_cast<std::int64_t>(f.limit));
  params.emplace_back(static_cast<std::int64_t>(f.offset));
  std::vector<Transfer> out;
  for (const auto& r : db_->query(sql, params)) out.push_back(transfer_from(r));
  return out;
}

std::vector<StateCount> Store::state_counts(std::int64_t since) {
  std::vector<StateCount> out;
  for (const auto& r : db_->query(
           "SELECT direction, state, CASE WHEN dest_adapter = '' AND state <> 'awaiting_route' "
           "THEN 1 ELSE 0 END, COUNT(*) FROM kh_transfers WHERE created_at >= ? GROUP BY "
           "direction, state, CASE WHEN dest_adapter = '' AND state <> 'awaiting_route' THEN 1 "
           "ELSE 0 END ORDER BY direction, state",
           {since})) {
    out.push_back({to_s(r[0]), to_s(r[1]), to_i64(r[2]) != 0, to_i64(r[3])});
  }
  return out;
}

std::vector<HourCount> Store::hourly_counts(std::int64_t since) {
  std::map<std::pair<std::string, std::int64_t>, HourCount> by;
  const auto add = [&](const char* sql, bool in) {
    for (const auto& r : db_->query(sql, {since, since})) {
      const std::int64_t hour = since + to_i64(r[1]) * 3600000;
      auto& h = by[{to_s(r[0]), hour}];
      h.direction = to_s(r[0]);
      h.hour_start = hour;
      (in ? h.in : h.out) += to_i64(r[2]);
    }
  };
  add("SELECT direction, (created_at - ?) / 3600000 AS h, COUNT(*) FROM kh_transfers "
      "WHERE created_at >= ? GROUP BY direction, h",
      true);
  add("SELECT direction, (finished_at - ?) / 3600000 AS h, COUNT(*) FROM kh_transfers "
      "WHERE finished_at >= ? AND state IN ('delivered', 'rejected') GROUP BY direction, h",
      false);
  std::vector<HourCount> out;
  for (auto& [k, v] : by) out.push_back(std::move(v));
  return out;
}

std::optional<std::int64_t> Store::last_checkpoint_at() {
  const auto rows = db_->query("SELECT MAX(at) FROM kh_audit_checkpoints");
  if (rows.empty() || !rows[0][0]) return std::nullopt;
  return to_i64(rows[0][0]);
}

std::optional<Transfer> Store::get(std::int64_t id, bool with_payload) {
  const auto rows = db_->query(
      "SELECT " + std::string(kTransferColumns) + ", payload FROM kh_transfers WHERE id = ?", {id});
  if (rows.empty()) return std::nullopt;
  Transfer t = transfer_from(rows[0]);
  if (with_payload && rows[0][24]) t.payload = decode_blob(db_->dialect(), *rows[0][24]);
  return t;
}

std::vector<Event> Store::events(std::int64_t transfer_id) {
  std::vector<Event> out;
  for (const auto& r : db_->query("SELECT id, transfer_id, at, kind, detail, actor FROM kh_events "
                                  "WHERE transfer_id = ? ORDER BY id",
                                  {transfer_id})) {
    out.push_back({to_i64(r[0]), to_i64(r[1]), to_i64(r[2]), to_s(r[3]), to_s(r[4]), to_s(r[5])});
  }
  return out;
}

void Store::add_event(std::int64_t transfer_id, const std::string& kind, const std::string& detail,
                      std::int64_t now) {
  transaction([&] { append_event(transfer_id, kind, detail, audit_.actor, now); });
}

std::vector<ReportRow> Store::report(std::int64_t from, std::int64_t to) {
  std::map<std::string, ReportRow> rows;
  for (const auto& r : db_->query(
           "SELECT direction, state, COUNT(*), SUM(CASE WHEN receipt_state IS NOT NULL THEN 1 "
           "ELSE 0 END) FROM kh_transfers WHERE created_at >= ? AND created_at < ? "
           "GROUP BY direction, state",
           {from, to})) {
    auto& row = rows[to_s(r[0])];
    row.direction = to_s(r[0]);
    const std::string state = to_s(r[1]);
    const std::int64_t n = to_i64(r[2]);
    row.in += n;
    if (state == kDelivered) {
      row.delivered += n;
      row.receipts += to_i64(r[3]);
    } else if (state == kRejected) {
      row.rejected += n;
    } else if (state == kParked) {
      row.parked += n;
    } else if (state == kSuperseded) {
      row.superseded += n;
    } else {
      row.in_flight += n;
    }
  }
  for (const auto& r : db_->query(
           "SELECT t.direction, COUNT(*) FROM kh_notices n JOIN kh_transfers t ON t.id = "
           "n.transfer_id WHERE n.status = 'pending' AND t.created_at >= ? AND t.created_at < ? "
           "GROUP BY t.direction",
           {from, to})) {
    auto& row = rows[to_s(r[0])];
    row.direction = to_s(r[0]);
    row.notices_pending = to_i64(r[1]);
  }
  std::vector<ReportRow> out;
  for (auto& [k, v] : rows) out.push_back(v);
  return out;
}

std::int64_t Store::purge_payloads(std::int64_t before) {
  const auto rows = db_->query(
      "UPDATE kh_transfers SET payload = NULL, outbound = NULL WHERE payload IS NOT NULL AND state "
      "<> 'accepted' "
      "AND finished_at IS NOT NULL AND finished_at < ? RETURNING id",
      {before});
  // Receipts about items this gateway never delivered (or long finished) are not kept forever.
  db_->query("DELETE FROM kh_early_receipts WHERE received_at < ?", {before});
  return static_cast<std::int64_t>(rows.size());
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
