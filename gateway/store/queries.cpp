// Read-only queries: transfer lists and lookups, a transfer's events, the conservation report and
// the admin listener's aggregates. No transaction, no audit record.

#include <map>
#include "gateway/store/store_internal.hpp"

namespace kakehashi::gateway::store {

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

std::optional<Transfer> Store::get(std::int64_t id, bool with_payload) {
  const auto rows = db_->query(
      "SELECT " + std::string(kTransferColumns) + ", payload FROM kh_transfers WHERE id = ?", {id});
  if (rows.empty()) return std::nullopt;
  Transfer t = transfer_from(rows[0]);
  if (with_payload && rows[0][kTransferColumnCount])
    t.payload = decode_blob(db_->dialect(), *rows[0][kTransferColumnCount]);
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
  return log_.last_checkpoint_at();
}

}  // namespace kakehashi::gateway::store
