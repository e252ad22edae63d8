// Receipts from destination networks (kh_early_receipts when one comes before its delivery is
// recorded) and the notices owed to source networks (kh_notices): claim, sent, retry.

#include "gateway/store/store_internal.hpp"

namespace kakehashi::gateway::store {

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
      save_cursor_row(*db_, *cursor, now);
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
  log_.append(id, "receipt-" + state, reason, log_.options().actor, now);
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

std::optional<std::string> Store::add_office_notice(const std::string& about_network,
                                                    const std::string& office_no,
                                                    const std::string& text, const std::string& key,
                                                    std::int64_t now) {
  return transaction([&]() -> std::optional<std::string> {
    auto home = db_->query(
        "SELECT source_adapter FROM kh_transfers WHERE sender_office = ? AND dest_adapter = ? "
        "ORDER BY id DESC LIMIT 1",
        {office_no, about_network});
    if (home.empty())
      home = db_->query(
          "SELECT dest_adapter FROM kh_transfers WHERE recipient_office = ? AND source_adapter = ? "
          "AND dest_adapter <> '' ORDER BY id DESC LIMIT 1",
          {office_no, about_network});
    if (home.empty()) return std::nullopt;
    const std::string adapter = to_s(home[0][0]);
    db_->query(
        "INSERT INTO kh_notices (transfer_id, adapter, source_id, state, reason, "
        "idempotency_key, status, next_attempt_at, created_at, updated_at) "
        "VALUES (0, ?, ?, ?, ?, ?, 'pending', ?, ?, ?) ON CONFLICT (idempotency_key) DO NOTHING",
        {adapter, office_no, std::string(kOfficeNotice), text, key, now, now, now});
    return adapter;
  });
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
      log_.append(to_i64(rows[0][0]), "notice-sent-" + to_s(rows[0][1]),
                  std::string("the source network was told"), log_.options().actor, now);
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

}  // namespace kakehashi::gateway::store
