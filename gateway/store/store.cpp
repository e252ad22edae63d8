// The store's frame: the connection, transactions and batches, adapter cursors and named leases,
// and the audit log's entry points (the chain itself is gateway/audit/audit_log.cpp).

#include "gateway/store/store.hpp"

#include "gateway/store/store_internal.hpp"

namespace kakehashi::gateway::store {

Store::Store(std::unique_ptr<SqlConnection> connection, AuditOptions audit)
    : db_(std::move(connection)), log_(*db_, std::move(audit)) {}
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

// ---- the audit log (gateway/audit/audit_log.hpp), in the store's transactions
// ---------------------

void Store::add_event(std::int64_t transfer_id, const std::string& kind, const std::string& detail,
                      std::int64_t now) {
  transaction([&] { log_.append(transfer_id, kind, detail, log_.options().actor, now); });
}

void Store::record_operator_command(const std::string& actor, const std::string& command,
                                    std::int64_t now) {
  transaction([&] { log_.append(0, "operator-command", command, actor, now); });
}

bool Store::checkpoint(std::int64_t now) {
  // No signer or no chain: nothing to seal, and no transaction opened for it.
  if (!log_.options().sign_checkpoint || !log_.options().chained) return false;
  return transaction([&] { return log_.checkpoint(now); });
}

std::vector<audit::AuditRecord> Store::audit_records() {
  return log_.records();
}

std::vector<audit::Checkpoint> Store::audit_checkpoints() {
  return log_.checkpoints();
}

std::optional<audit::ChainHead> Store::audit_head() {
  return log_.head();
}

std::vector<audit::ExportRow> Store::audit_export(const AuditQuery& query) {
  return log_.export_rows(query);
}

}  // namespace kakehashi::gateway::store
