#pragma once
// Private to gateway/store: what the store's files share (row decoding, the transaction
// template). Not for callers; they include store.hpp.

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <type_traits>

#include "gateway/store/store.hpp"

namespace kakehashi::gateway::store {

// The columns transfer_from() reads, in its order (index 23: has a payload; 24: claims; 25: path).
inline constexpr const char* kTransferColumns =
    "id, source_adapter, source_id, dest_adapter, direction, sender_office, sender_type, "
    "recipient_office, recipient_type, sequence, unit_kind, subject_key, state, attempts, "
    "next_attempt_at, remote_id, idempotency_key, receipt_state, reason, last_error, created_at, "
    "updated_at, finished_at, payload IS NOT NULL, claims, path";
// The index of the first column a query adds after kTransferColumns.
inline constexpr std::size_t kTransferColumnCount = 26;

// last_error of a transfer put back by hold_for_office (release_office finds them by it).
inline constexpr const char* kHeldPrefix = "held: ";

inline std::int64_t to_i64(const std::optional<std::string>& v) {
  return v ? std::stoll(*v) : 0;
}
inline std::string to_s(const std::optional<std::string>& v) {
  return v.value_or("");
}
inline bool truthy(const std::optional<std::string>& v) {
  return v && (*v == "1" || *v == "t" || *v == "true");
}

inline Transfer transfer_from(const SqlRow& r) {
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
  t.claims = to_i64(r[24]);
  t.path = to_s(r[25]);
  return t;
}

inline std::string placeholders(std::size_t n) {
  std::string s;
  for (std::size_t i = 0; i < n; ++i) s += i == 0 ? "?" : ", ?";
  return s;
}

// Inside a transaction: the adapter's position, written with what it positions.
inline void save_cursor_row(SqlConnection& db, const CursorUpdate& c, std::int64_t now) {
  db.query(
      "INSERT INTO kh_cursors (adapter, kind, value, updated_at) VALUES (?, ?, ?, ?) "
      "ON CONFLICT (adapter, kind) DO UPDATE SET value = excluded.value, "
      "updated_at = excluded.updated_at",
      {c.adapter, c.kind, c.value, now});
}

template <typename Fn>
auto Store::transaction(Fn&& fn) {
  // Inside batch(): part of the batch's transaction (its retry re-runs the whole batch).
  if (depth_ > 0) return fn();
  // The audit chain head is read (and locked) by the transaction's first record, kept in memory
  // for the others and written once, just before the commit.
  const auto finish = [&] {
    --depth_;
    log_.before_commit();
    db_->commit();
  };
  const auto abandon = [&] {
    depth_ = 0;
    log_.forget();
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

}  // namespace kakehashi::gateway::store
