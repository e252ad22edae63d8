// Transfers (kh_transfers): accept at intake, lease for delivery, and every outcome after it
// (delivered, retried, released, parked, refused by the destination, superseded, redriven).

#include "gateway/audit/insured.hpp"
#include "gateway/store/sender_notices.hpp"
#include "gateway/store/store_internal.hpp"

namespace kakehashi::gateway::store {

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
      log_.append(out.id, std::string("duplicate"),
                  std::string("the source offered the same item again; first outcome stands"),
                  log_.options().actor, now);
    } else if (!same_unit.empty()) {
      out.id = to_i64(same_unit[0][0]);
      out.state = to_s(same_unit[0][1]);
      out.duplicate = true;
      out.same_unit = true;
      log_.append(out.id, std::string("duplicate"),
                  "the same unit (sender, recipient, sequence and files) was offered again by " +
                      t.source_adapter + " as " + t.source_id + "; first outcome stands",
                  log_.options().actor, now);
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
      if (!u.path.empty())
        db_->query("UPDATE kh_transfers SET path = ? WHERE id = ?", {u.path, out.id});
      if (!finished) keep_evidence(out.id, u.evidence);
      std::string detail = u.event_detail;
      if (!u.insured_numbers.empty()) {
        // Keyed hashes only: an auditor given a number finds it with `audit hash-insured`.
        if (log_.options().insured_key.empty()) {
          detail += "; insured numbers " + std::to_string(u.insured_numbers.size()) +
                    " (not recorded: no audit key)";
        } else {
          detail += "; insured";
          for (const auto& n : u.insured_numbers)
            detail += " " + audit::insured_hash(log_.options().insured_key, n);
        }
      }
      log_.append(out.id, std::string(finished ? "refused" : "accepted"), detail,
                  log_.options().actor, now);
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
      save_cursor_row(*db_, *cursor, now);
    }
    return out;
  });
}

std::vector<Transfer> Store::claim_transfers(
    const std::string& owner, std::int64_t now, std::int64_t lease_ms, std::size_t limit,
    const std::vector<std::string>& paused,
    const std::vector<std::pair<std::string, std::string>>& held) {
  return transaction([&]() -> std::vector<Transfer> {
    std::vector<Transfer> out;
    // Superseding a pair's head makes the next unit of that pair the head: claim again then.
    for (int round = 0; round < 8 && out.size() < limit; ++round) {
      const std::size_t superseded =
          claim_round(owner, now, lease_ms, limit - out.size(), paused, held, out);
      if (superseded == 0) break;
    }
    return out;
  });
}

std::size_t Store::claim_round(const std::string& owner, std::int64_t now, std::int64_t lease_ms,
                               std::size_t limit, const std::vector<std::string>& paused,
                               const std::vector<std::pair<std::string, std::string>>& held,
                               std::vector<Transfer>& out) {
  std::string sql =
      "UPDATE kh_transfers SET lease_owner = ?, lease_until = ?, claims = claims + 1 WHERE id IN ("
      "SELECT t.id FROM kh_transfers t WHERE t.state = 'accepted' AND t.next_attempt_at <= ? "
      "AND t.lease_until <= ? ";
  std::vector<SqlValue> params{owner, now + lease_ms, now, now};
  if (!paused.empty()) {
    sql += "AND t.dest_adapter NOT IN (" + placeholders(paused.size()) + ") ";
    for (const auto& p : paused) params.emplace_back(p);
  }
  for (const auto& [dest, sender] : held) {
    sql += "AND NOT (t.dest_adapter = ? AND t.sender_office = ?) ";
    params.emplace_back(dest);
    params.emplace_back(sender);
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
    if (const auto& p = r[kTransferColumnCount]) t.payload = decode_blob(db_->dialect(), *p);
    if (const auto& o = r[kTransferColumnCount + 1]) t.outbound = decode_blob(db_->dialect(), *o);
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
        log_.append(t.id, std::string("superseded"), notice.reason, log_.options().actor, now);
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
    log_.append(id, std::string("delivered"), detail, log_.options().actor, now);
    if (!receipt_detail.empty())
      log_.append(id, std::string("translation-receipt"), receipt_detail, log_.options().actor,
                  now);
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
    log_.append(id, std::string("attempt-failed"), error, log_.options().actor, now);
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

void Store::hold_for_office(std::int64_t id, const std::string& owner, std::int64_t next_attempt_at,
                            const std::string& why, std::int64_t now) {
  db_->query(
      "UPDATE kh_transfers SET next_attempt_at = ?, lease_owner = NULL, lease_until = 0, "
      "last_error = ?, updated_at = ? WHERE id = ? AND lease_owner = ?",
      {next_attempt_at, std::string(kHeldPrefix) + why, now, id, owner});
}

std::int64_t Store::release_office(const std::string& dest_adapter,
                                   const std::string& sender_office, std::int64_t now) {
  const auto rows = db_->query(
      "UPDATE kh_transfers SET next_attempt_at = ?, updated_at = ? WHERE state = 'accepted' "
      "AND dest_adapter = ? AND sender_office = ? AND next_attempt_at > ? AND last_error LIKE ? "
      "RETURNING id",
      {now, now, dest_adapter, sender_office, now, std::string(kHeldPrefix) + "%"});
  return static_cast<std::int64_t>(rows.size());
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
    log_.append(id, std::string("parked"), actor + ": " + reason, actor, now);
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
    log_.append(id, std::string("rejected-by-destination"), reason, log_.options().actor, now);
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
    log_.append(id, std::string("redriven"), actor, actor, now);
    return true;
  });
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

void Store::keep_evidence(std::int64_t transfer_id, const std::vector<EvidenceItem>& items) {
  for (const auto& e : items) {
    // A unit's evidence is written once; offered again (a retry of the same transaction), the
    // first copy stands.
    db_->query(
        "INSERT INTO kh_evidence (transfer_id, kind, name, content, signature, created_at, "
        "keep_until) VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (transfer_id, kind, name) DO "
        "NOTHING",
        {transfer_id, e.kind, e.name, e.content.empty() ? SqlValue{} : SqlValue{Blob{e.content}},
         Blob{e.signature}, e.created_at, e.keep_until});
  }
}

std::vector<EvidenceItem> Store::evidence_of(std::int64_t transfer_id) {
  std::vector<EvidenceItem> out;
  for (const auto& r :
       db_->query("SELECT kind, name, content, signature, created_at, keep_until FROM kh_evidence "
                  "WHERE transfer_id = ? ORDER BY kind DESC, name",
                  {transfer_id})) {
    out.push_back({to_s(r[0]), to_s(r[1]), r[2] ? decode_blob(db_->dialect(), *r[2]) : "",
                   r[3] ? decode_blob(db_->dialect(), *r[3]) : "", to_i64(r[4]), to_i64(r[5])});
  }
  return out;
}

std::int64_t Store::purge_evidence(std::int64_t now) {
  const auto rows =
      db_->query("DELETE FROM kh_evidence WHERE keep_until < ? RETURNING transfer_id", {now});
  return static_cast<std::int64_t>(rows.size());
}

}  // namespace kakehashi::gateway::store
