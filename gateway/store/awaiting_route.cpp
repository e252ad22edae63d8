// Units taken in before their route could be decided (store::kAwaitingRoute): the lookup, and
// the two ways out of that state, each a compare-and-set on the state so two instances sharing
// the store never route (or refuse) one unit twice.

#include "gateway/store/store.hpp"

namespace kakehashi::gateway::store {

std::vector<Transfer> Store::awaiting_route(std::size_t offset, std::size_t limit) {
  // Served by kh_transfers_due (state, next_attempt_at): no index of its own.
  TransferFilter f;
  f.state = kAwaitingRoute;
  f.limit = limit;
  f.offset = offset;
  return list(f);
}

bool Store::route_awaiting(std::int64_t id, const std::string& dest_adapter,
                           const std::string& direction, const std::string& detail,
                           std::int64_t now) {
  bool routed = false;
  batch([&] {
    routed = !db_->query(
                     "UPDATE kh_transfers SET dest_adapter = ?, direction = ?, state = "
                     "'accepted', next_attempt_at = ?, updated_at = ? WHERE id = ? AND "
                     "state = 'awaiting_route' RETURNING id",
                     {dest_adapter, direction, now, now, id})
                  .empty();
    if (routed) log_.append(id, std::string("routed"), detail, log_.options().actor, now);
  });
  return routed;
}

bool Store::refuse_awaiting(std::int64_t id, const std::string& direction,
                            const std::string& reason, const std::string& notice_text,
                            std::int64_t now) {
  bool refused = false;
  batch([&] {
    // The identity goes with the refusal, as for a unit refused at admission: the sender may send
    // the same sequence again once the recipient can be reached.
    const auto rows = db_->query(
        "UPDATE kh_transfers SET state = 'rejected', direction = ?, reason = ?, "
        "unit_digest = NULL, lease_owner = NULL, lease_until = 0, finished_at = ?, "
        "updated_at = ? WHERE id = ? AND state = 'awaiting_route' "
        "RETURNING source_adapter, source_id",
        {direction, reason, now, now, id});
    if (rows.empty()) return;
    refused = true;
    log_.append(id, std::string("route-refused"), reason, log_.options().actor, now);
    db_->query(
        "INSERT INTO kh_notices (transfer_id, adapter, source_id, state, reason, "
        "idempotency_key, status, next_attempt_at, created_at, updated_at) "
        "VALUES (?, ?, ?, 'rejected', ?, ?, 'pending', ?, ?, ?) "
        "ON CONFLICT (idempotency_key) DO NOTHING",
        {id, rows[0][0].value_or(""), rows[0][1].value_or(""),
         notice_text.empty() ? reason : notice_text,
         "kh-notice-" + std::to_string(id) + "-rejected", now, now, now});
  });
  return refused;
}

}  // namespace kakehashi::gateway::store
