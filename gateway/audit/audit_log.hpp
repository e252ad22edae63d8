#pragma once
// The audit log as stored: kh_events is append-only, one hash chain serialised on the head row in
// kh_meta, sealed by signed checkpoints in kh_audit_checkpoints. This class appends records and
// checkpoints inside the caller's transaction and reads what `audit verify` and `audit export`
// need; the pure parts (record hashing, checkpoint signing and checking) are chain.hpp and
// checkpoint.hpp.
//
// Dependencies: it writes through the store's connection layer (store::SqlConnection, target
// kakehashi::store_sql), not through store::Store. The Store owns an AuditLog and opens the
// transactions; so the graph is store_sql <- audit_log <- store, with no cycle (target
// kakehashi::audit_log, gateway/audit/CMakeLists.txt). Blocking, like the store.

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "gateway/audit/chain.hpp"
#include "gateway/audit/checkpoint.hpp"
#include "gateway/audit/exporter.hpp"
#include "gateway/audit/verifier.hpp"
#include "gateway/store/sql_connection.hpp"

namespace kakehashi::gateway::audit {

// How the store keeps its audit log.
struct AuditOptions {
  bool chained = true;  // hash-chain every record (off only to measure what chaining costs)
  std::string actor = "gateway";  // who the gateway's own records name
  std::string insured_key;  // HMAC key for insured numbers; empty: only their count is recorded
  // Signs a checkpoint (base64 DER CMS); nullopt when signing failed. Unset: no checkpoints.
  std::function<std::optional<std::string>(const Checkpoint&)> sign_checkpoint;
  std::int64_t checkpoint_every_records = 1000;
  std::int64_t checkpoint_every_ms = 3600 * 1000;
};

// Which records an audit export holds. Time bounds are on the record's `at`.
struct AuditQuery {
  std::int64_t from = 0;
  std::int64_t to = INT64_MAX;
  std::optional<std::string> office;  // sender or recipient of the record's transfer
  std::optional<std::int64_t> transfer_id;
};

class AuditLog {
 public:
  // `db` outlives the log (the Store owns both).
  AuditLog(store::SqlConnection& db, AuditOptions options);
  ~AuditLog();
  AuditLog(const AuditLog&) = delete;
  AuditLog& operator=(const AuditLog&) = delete;

  const AuditOptions& options() const { return options_; }

  // Inside a write transaction. Appends one record to the chain, and a checkpoint when one is
  // due (by count or by time; needs a signer). The transaction's first record reads and locks
  // the head; the others use it from memory.
  void append(std::int64_t transfer_id, const std::string& kind, const std::string& detail,
              const std::string& actor, std::int64_t now);
  // Inside a write transaction: signs a checkpoint now when records were added since the last
  // one. False when there is nothing to seal, no signer, an unchained log or signing failed.
  bool checkpoint(std::int64_t now);
  // Inside migrate()'s transaction, after the audit columns exist: a store without a chain head
  // gets one, its existing records (made before schema 2) chained in id order so the whole
  // history verifies from record 1. Nothing to do when the head exists.
  void start_chain();

  // The transaction's end, called by the transaction's owner: before the commit, writes the head
  // back when this transaction moved it; on rollback, forgets it (the next transaction reads it
  // again). Either way the next transaction starts from the stored head.
  void before_commit();
  void forget();

  // Read-only: what `audit verify` and `audit export` read. Never migrate a store to verify it.
  std::vector<AuditRecord> records();  // every record, in row id order
  std::vector<Checkpoint> checkpoints();
  std::optional<ChainHead> head();
  std::vector<ExportRow> export_rows(const AuditQuery& query);
  std::optional<std::int64_t> last_checkpoint_at();  // the newest signed checkpoint's time

 private:
  struct Head;
  Head lock_head();
  Head& transaction_head();
  void save_head(const Head& head);
  void write_checkpoint(Head& head, std::int64_t now);

  store::SqlConnection& db_;
  AuditOptions options_;
  std::unique_ptr<Head> head_;  // the chain head within the current transaction
  bool head_dirty_ = false;     // written back before the commit
};

}  // namespace kakehashi::gateway::audit
