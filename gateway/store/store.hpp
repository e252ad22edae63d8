#pragma once
// The relay's durable state: transfers (one per accepted send unit), notices (receipts and
// rejections owed to a source network), adapter cursors, history events and work leases.
// Blocking: call it from worker threads, never from the network thread. One implementation over
// SqlConnection serves SQLite and PostgreSQL with the same statements. Every state change writes
// its kh_events record in the same transaction through the audit log (gateway/audit/audit_log.hpp:
// append-only, one hash chain, sealed by signed checkpoints). The files behind it: README.md.

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "gateway/audit/audit_log.hpp"
#include "gateway/audit/checkpoint.hpp"
#include "gateway/audit/exporter.hpp"
#include "gateway/audit/verifier.hpp"
#include "gateway/store/sql_connection.hpp"

namespace kakehashi::gateway::store {

// Transfer states. kAccepted and kAwaitingRoute are the non-terminal ones ("in flight").
inline constexpr const char* kAccepted = "accepted";
// Taken in and durable, but its route is not decided yet: a directory it depends on has not
// answered in this process. No destination (dest_adapter ""); routed later (route_awaiting) or
// refused (refuse_awaiting). Delivery never claims it. It waits as long as that takes.
inline constexpr const char* kAwaitingRoute = "awaiting_route";
inline constexpr const char* kDelivered = "delivered";
inline constexpr const char* kRejected = "rejected";
inline constexpr const char* kParked = "parked";
inline constexpr const char* kSuperseded = "superseded";
// Notice::state of a notice to an office about itself (add_office_notice), not about a transfer.
inline constexpr const char* kOfficeNotice = "office";

// Which path a unit took (kh_transfers.path; the audit export's `path` column).
inline constexpr const char* kPathSigned = "signed";  // relayed with the sender's signature
inline constexpr const char* kPathTranslatedToNational = "translated-to-national";
inline constexpr const char* kPathAttestedFromNational = "attested-from-national";

// One item of evidence about a transfer (kh_evidence).
struct EvidenceItem {
  std::string kind;       // kEvidenceSignedFile or kEvidenceReceipt
  std::string name;       // the file name ("" for the receipt)
  std::string content;    // the signed original's bytes, sealed with the payload key ("" else)
  std::string signature;  // DER: the sender's SignedData, or the receipt
  std::int64_t created_at = 0;
  std::int64_t keep_until = 0;
};
inline constexpr const char* kEvidenceSignedFile = "signed-file";
inline constexpr const char* kEvidenceReceipt = "receipt";

struct NewTransfer {
  std::string source_adapter;
  std::string source_id;
  std::string dest_adapter;  // "" when refused at admission
  std::string direction;     // "<source network>-><dest network>"
  std::string sender_office, sender_type, recipient_office, recipient_type;
  std::string sequence;   // the unit's 14-digit sequence
  std::string unit_kind;  // K2, P1, ... ("" when unknown)
  // What a newer unit of the same pair replaces (kind, month, users; engine/unit_identity.hpp):
  // "" = never superseded.
  std::string subject_key;
  // The unit's identity beside its source id: the digest of its files (unit_identity.hpp) under
  // its (sender, recipient, sequence). "" = no identity taken (refused units).
  std::string unit_digest;
  // kAccepted, kAwaitingRoute (admitted, route not decidable yet) or kRejected when refused at
  // admission.
  std::string state = kAccepted;
  std::string reason;       // refusal reason (finding codes and fields; never payload)
  std::string notice_text;  // what the sender is told when refused ("" = reason)
  std::string idempotency_key;
  std::string payload;       // encrypted unit
  std::string event_detail;  // the intake event's detail (checks, signers; no payload)
  std::string path;          // kPath*: which path the unit takes ("" = not recorded)
  // Kept with the unit when it is taken in (not for duplicates or refusals).
  std::vector<EvidenceItem> evidence;
  // The unit's insured numbers, in clear in memory only: the intake record gets their keyed
  // hashes (AuditOptions::insured_key), never the numbers.
  std::set<std::string> insured_numbers;
};

// How the store keeps its audit log, and which records an audit export holds (audit_log.hpp).
using AuditOptions = audit::AuditOptions;
using AuditQuery = audit::AuditQuery;

struct CursorUpdate {
  std::string adapter;
  std::string kind;  // "units" or "receipts"
  std::string value;
};

struct AcceptOutcome {
  std::int64_t id = 0;
  // The unit was taken before (the same source item, or the same unit under another source id):
  // `id` and `state` are the first transfer's, and its outcome stands.
  bool duplicate = false;
  bool same_unit = false;  // the duplicate was found by (sender, recipient, sequence) and files
  std::string state;
  std::string reason;  // when the store refused it (a sequence reused with other files)
};

struct Transfer {
  std::int64_t id = 0;
  std::string source_adapter, source_id, dest_adapter, direction;
  std::string sender_office, sender_type, recipient_office, recipient_type;
  std::string sequence, unit_kind, subject_key, state;
  std::int64_t attempts = 0;  // failed attempts counted (delivered/refused count one more)
  // How many times delivery claimed it, the current claim included (OutboundUnit::attempt): a
  // retry, a lapsed lease (crash, dead instance) and a release all lead to one more claim.
  std::int64_t claims = 0;
  std::string path;  // kPath*, "" when not recorded (transfers from before schema 6)
  std::int64_t next_attempt_at = 0;
  std::string remote_id, idempotency_key, receipt_state, reason, last_error;
  std::int64_t created_at = 0, updated_at = 0, finished_at = 0;
  bool has_payload = false;
  std::string payload;   // filled by claim and get(id, with_payload)
  std::string outbound;  // filled by claim: the translation as first sent (sealed), if any
};

struct Notice {
  std::int64_t id = 0;
  std::int64_t transfer_id = 0;
  std::string adapter;    // the source network to tell
  std::string source_id;  // the item as that network named it
  std::string state;      // delivered, read, rejected
  std::string reason;
  std::string idempotency_key;
  std::int64_t attempts = 0;
};

struct Event {
  std::int64_t id = 0;
  std::int64_t transfer_id = 0;
  std::int64_t at = 0;
  std::string kind;
  std::string detail;
  std::string actor;
};

struct TransferFilter {
  std::optional<std::string> state;
  std::optional<std::string> office;  // sender or recipient
  std::optional<std::string> direction;
  std::int64_t from = 0;  // created_at range, ms since epoch
  std::int64_t to = INT64_MAX;
  std::size_t limit = 100;
  std::optional<std::string> kind;  // unit kind (K2, P1, ...)
  std::size_t offset = 0;
  bool newest_first = false;  // ORDER BY id DESC
};

// Read-only aggregates for the admin listener (metrics, dashboard).
struct StateCount {
  std::string direction, state;
  bool refused_at_intake = false;  // rejected before routing (no destination)
  std::int64_t count = 0;
};
struct HourCount {
  std::string direction;
  std::int64_t hour_start = 0;  // ms since the epoch
  std::int64_t in = 0;          // created in that hour
  std::int64_t out = 0;         // finished delivered or rejected in that hour
};

struct ReportRow {
  std::string direction;
  std::int64_t in = 0, delivered = 0, rejected = 0, parked = 0, superseded = 0, in_flight = 0;
  std::int64_t receipts = 0;  // delivered transfers whose destination confirmed (receipt)
  std::int64_t notices_pending = 0;
};

class Store {
 public:
  explicit Store(std::unique_ptr<SqlConnection> connection, AuditOptions audit = {});
  ~Store();
  Store(const Store&) = delete;
  Store& operator=(const Store&) = delete;

  // Runs `operations` (calls of this store's methods) in one transaction: one commit, one fsync.
  // A transient conflict re-runs all of them; any other error rolls all of them back and is
  // thrown. Group commit: the engine batches what its workers made ready.
  void batch(const std::function<void()>& operations);

  // Creates or upgrades the schema (idempotent, safe with several instances).
  void migrate();
  Dialect dialect() const;

  // Durable accept of one inbound unit, with the source cursor, in one transaction. A refused
  // unit (state kRejected) also gets its rejection notice to the source in the same transaction.
  // A unit is known by (source adapter, source id) and, when it carries a unit_digest, by
  // (sender, recipient, sequence) too (service types included): the same files again under
  // another source id are a duplicate (first outcome stands, nothing stored); other files under
  // a sequence already taken are refused (SEQUENCE_REUSED) with a notice to the sender.
  AcceptOutcome accept(const NewTransfer& transfer, const std::optional<CursorUpdate>& cursor,
                       std::int64_t now);
  void save_cursor(const CursorUpdate& cursor, std::int64_t now);
  std::optional<std::string> load_cursor(const std::string& adapter, const std::string& kind);

  // Leases up to `limit` due transfers (with payload) for delivery. Only the oldest accepted
  // transfer of each (sender office, recipient office, destination) is eligible, and only while
  // no other unit of that pair is leased, so units go out in sequence order, one at a time per
  // pair. An accepted transfer older than a delivered one with the same sender and recipient
  // (service types included), destination and non-empty subject (kind, month, users) is marked
  // superseded instead, and its sender gets a rejection notice naming the newer unit.
  // `paused_destinations` are skipped, and so are the units of `held_senders`, each a
  // (destination, sender office) pair whose sender must wait there (hold_for_office).
  std::vector<Transfer> claim_transfers(
      const std::string& owner, std::int64_t now, std::int64_t lease_ms, std::size_t limit,
      const std::vector<std::string>& paused_destinations,
      const std::vector<std::pair<std::string, std::string>>& held_senders = {});
  // Delivered, with the translation receipt's record (`receipt_detail`, "" for none) and any
  // receipt that came early. False when this owner no longer holds the lease: nothing written.
  bool mark_delivered(std::int64_t id, const std::string& owner, const std::string& remote_id,
                      const std::string& detail, std::int64_t now,
                      const std::string& receipt_detail = {});
  // Keeps the translated unit as first sent (sealed), so every retry resends the same bytes:
  // networks compare a replayed idempotency key's body with the first one.
  void save_outbound(std::int64_t id, const std::string& sealed);
  // A failed attempt: counted, rescheduled.
  // False (nothing written) when this owner no longer holds the lease.
  bool retry_later(std::int64_t id, const std::string& owner, std::int64_t next_attempt_at,
                   const std::string& error, std::int64_t now);
  // Put back without counting an attempt (circuit open, shutdown, maintenance).
  void release(std::int64_t id, const std::string& owner, std::int64_t next_attempt_at,
               const std::string& why, std::int64_t now);
  // Put back without counting an attempt because its sender office cannot send on the
  // destination now (SendResult::hold_office: a login is due there): marked held (last_error
  // "held: <why>"), due again at `next_attempt_at` (the engine's safety re-offer). Never parked.
  void hold_for_office(std::int64_t id, const std::string& owner, std::int64_t next_attempt_at,
                       const std::string& why, std::int64_t now);
  // The office may send on `dest_adapter` again: its held transfers there are due now (any
  // instance claims them). Returns how many.
  std::int64_t release_office(const std::string& dest_adapter, const std::string& sender_office,
                              std::int64_t now);
  // False (nothing written) when the transfer is not in flight any more.
  bool park(std::int64_t id, const std::string& reason, const std::string& actor, std::int64_t now);
  // The destination refused the unit for good: rejected, with a notice to the source.
  void reject_at_destination(std::int64_t id, const std::string& reason,
                             const std::string& notice_text, std::int64_t now);
  // Operator re-drive of a parked transfer. Returns false when it is not parked.
  bool redrive(std::int64_t id, const std::string& actor, std::int64_t now);

  // Units awaiting their route (awaiting_route.cpp), oldest first from `offset`, without payload.
  std::vector<Transfer> awaiting_route(std::size_t offset, std::size_t limit);
  // Routes an awaiting unit: its destination and direction set, state accepted, due now, with a
  // "routed" record (`detail`: the route and registry version). Compare-and-set: false (nothing
  // written) when the unit is not awaiting its route any more (another instance routed it).
  bool route_awaiting(std::int64_t id, const std::string& dest_adapter,
                      const std::string& direction, const std::string& detail, std::int64_t now);
  // Refuses an awaiting unit whose route turned out to be a refusal (recipient unknown, not
  // active, ...): rejected, its identity dropped (the sender may resend the same sequence), a
  // "route-refused" record and the rejection notice to its sender, as an admission refusal.
  // Compare-and-set like route_awaiting.
  bool refuse_awaiting(std::int64_t id, const std::string& direction, const std::string& reason,
                       const std::string& notice_text, std::int64_t now);

  // A receipt from the destination network about a delivered transfer, with the cursor.
  // Returns the transfer id, or nullopt when no transfer has that remote id yet (the receipt is
  // then kept and applied when a delivery with that remote id is recorded).
  std::optional<std::int64_t> record_receipt(const std::string& dest_adapter,
                                             const std::string& remote_id, const std::string& state,
                                             const std::string& reason,
                                             const std::optional<CursorUpdate>& cursor,
                                             std::int64_t now);

  // A notice to an office about itself (Notice::state kOfficeNotice, transfer 0, source_id the
  // office number): told on its own network, the one its units to `about_network` came from
  // (or the one its units from there went to). `key` names the change it tells of (unique).
  // Returns the network to be told, or nullopt when no transfer shows one (nothing written).
  std::optional<std::string> add_office_notice(const std::string& about_network,
                                               const std::string& office_no,
                                               const std::string& text, const std::string& key,
                                               std::int64_t now);
  std::vector<Notice> claim_notices(const std::string& owner, std::int64_t now,
                                    std::int64_t lease_ms, std::size_t limit);
  void notice_sent(std::int64_t id, std::int64_t now);
  void notice_retry(std::int64_t id, std::int64_t next_attempt_at, const std::string& error,
                    std::int64_t now);

  // Adapter vault (kh_adapter_vault, vault.cpp): records an adapter keeps across restarts and
  // shares with the other instances (sessions...). Values arrive sealed (the engine seals them);
  // the store never sees them in clear. Written with compare-and-set on the generation.
  struct VaultRow {
    std::string sealed;
    std::int64_t generation = 0;
  };
  std::optional<VaultRow> vault_get(const std::string& adapter, const std::string& key);
  // Writes when the stored generation is `expected_generation` (0: the key must be absent);
  // the new generation is expected_generation + 1. False on a conflict (nothing written).
  bool vault_put(const std::string& adapter, const std::string& key, const std::string& sealed,
                 std::int64_t expected_generation, std::int64_t now);
  void vault_erase(const std::string& adapter, const std::string& key);
  // The adapter's keys that start with `prefix`, in byte order.
  std::vector<std::string> vault_keys(const std::string& adapter, const std::string& prefix);

  // A named lease (e.g. "poll:national"), so one instance at a time polls each inbox.
  bool try_lease(const std::string& name, const std::string& owner, std::int64_t now,
                 std::int64_t ttl_ms);

  std::vector<Transfer> list(const TransferFilter& filter);
  std::optional<Transfer> get(std::int64_t id, bool with_payload = false);
  std::vector<Event> events(std::int64_t transfer_id);
  void add_event(std::int64_t transfer_id, const std::string& kind, const std::string& detail,
                 std::int64_t now);
  std::vector<ReportRow> report(std::int64_t from, std::int64_t to);
  // Transfers created at or after `since`, counted by direction and state.
  std::vector<StateCount> state_counts(std::int64_t since = 0);
  // Per direction and hour (aligned on `since`) from `since` on.
  std::vector<HourCount> hourly_counts(std::int64_t since);
  std::optional<std::int64_t> last_checkpoint_at();  // the newest signed checkpoint's time
  // Drops payloads of finished transfers older than `before`; metadata stays. Returns how many.
  // Evidence (kh_evidence) is not touched: it has its own retention (purge_evidence).
  std::int64_t purge_payloads(std::int64_t before);

  // Evidence kept apart from payloads (issue 17): the signed originals of a unit translated for
  // the national side and its translation receipt, each until its keep_until.
  void keep_evidence(std::int64_t transfer_id, const std::vector<EvidenceItem>& items);
  std::vector<EvidenceItem> evidence_of(std::int64_t transfer_id);
  // Removes evidence whose keep_until is before `now`. Returns how many items.
  std::int64_t purge_evidence(std::int64_t now);

  // Audit log. An operator command (who, what) about no single transfer, e.g. `relay list`.
  void record_operator_command(const std::string& actor, const std::string& command,
                               std::int64_t now);
  // Signs a checkpoint now when records were added since the last one (needs a signer).
  // Returns whether one was written.
  bool checkpoint(std::int64_t now);
  // Read-only: what `audit verify` and `audit export` read. Never migrate a store to verify it.
  std::vector<audit::AuditRecord> audit_records();  // every record, in row id order
  std::vector<audit::Checkpoint> audit_checkpoints();
  std::optional<audit::ChainHead> audit_head();
  std::vector<audit::ExportRow> audit_export(const AuditQuery& query);

 private:
  template <typename Fn>
  auto transaction(Fn&& fn);
  std::size_t claim_round(const std::string& owner, std::int64_t now, std::int64_t lease_ms,
                          std::size_t limit, const std::vector<std::string>& paused,
                          const std::vector<std::pair<std::string, std::string>>& held,
                          std::vector<Transfer>& out);
  // Inside a transaction: a receipt's state change, its audit record and the notice to the sender.
  void apply_receipt(std::int64_t id, const std::string& state, const std::string& reason,
                     std::int64_t now);
  void apply_early_receipts(std::int64_t id, std::int64_t now);
  void migrate_audit();
  void migrate_unit_identity();
  void migrate_office_sessions();
  void migrate_evidence();
  std::unique_ptr<SqlConnection> db_;
  audit::AuditLog log_;  // over *db_: declared after it
  int depth_ = 0;        // >0 inside transaction(): nested calls join it
};

}  // namespace kakehashi::gateway::store
