#pragma once
// The adapter interface the engine owns: how a network (national, regional, drop folder) hands
// inbound send units and receipts to the engine, and how the engine sends units and receipts out.
// Adapters see only this header, their context, and `mapping`; never the store or the router.

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <boost/asio/any_io_executor.hpp>

#include "gateway/adapter/adapter_events.hpp"
#include "gateway/adapter/office_sessions.hpp"
#include "mapping/careplan/file_name.hpp"

namespace kakehashi::gateway {

using mapping::OfficeRef;

// One file of a send unit as it travels: the exact bytes and the sender's CMS SignedData.
struct SignedFile {
  std::string name;        // file name of the standard (or attachment convention)
  std::string media_type;  // text/csv, application/pdf, image/jpeg, ...
  std::string content;     // exact bytes; empty when `cms` is attached and not yet opened
  std::string cms;         // DER CMS SignedData, detached over `content` or with it attached
  bool attached = false;   // true: `cms` embeds the content (national form)
};

// A unit handed to the engine by an adapter.
struct InboundUnit {
  std::string source_id;  // the item's identity on its network (transmission id, message id,
                          // folder unit key): duplicate suppression keys on (adapter, source_id)
  OfficeRef sender;
  OfficeRef recipient;
  std::string sender_facility;  // regional: the member facility that sent it ("" elsewhere)
  std::string subject;
  std::string message;  // the cover note
  std::vector<SignedFile> files;
  std::string cursor;  // opaque position to persist with the durable accept
  // Non-empty when the adapter could not read the item (a file that cannot be decrypted or
  // carries no content, a message that is not the contract's shape): what is wrong, naming the
  // file or JSON path, never payload. The engine refuses such a unit back to its sender with
  // this reason (it is never delivered); `files` may be empty and `sender`/`recipient` hold what
  // could be read. So one bad item never stops a direction: the cursor moves past it.
  std::string unreadable;
  // Networks that carry no signature (traits inbound_signed == false): where the item came from,
  // for the gateway's attestation when it signs the rendered files as the proxy (issue 17).
  std::string origin_session;  // e.g. the national office whose session fetched it
  std::string origin_item;     // the network's item id
  std::string fetched_sha256;  // hex SHA-256 of the exact answer bytes the item was read from
  // What the adapter changed on the way in and the audit must show (e.g. characters substituted
  // under the network's character policy: file, record, field, U+XXXX → U+XXXX; never values).
  // The engine appends it to the intake audit record; the recipient learns it from `message`.
  std::string audit_note;
};

// A unit the engine asks an adapter to deliver.
struct OutboundUnit {
  std::string idempotency_key;  // derived from the source identity; replays return the first answer
  OfficeRef sender;
  OfficeRef recipient;
  std::string unit_kind;  // combination id of the standard (K2, P1, ...)
  std::string subject;
  std::string message;
  std::vector<SignedFile> files;
  // How many times the engine has claimed this unit for delivery, this claim included. More than
  // 1 (a retry, a crash, another instance's lapsed lease) means it may already have been sent:
  // a network without an idempotency key checks before sending again.
  int attempt = 1;
};

enum class ReceiptState { kDelivered, kRead, kRejected };

// A receipt from a network about an item (sent there by the gateway, or received from there).
struct InboundReceipt {
  std::string remote_id;  // the id the network gave the item when the gateway sent it
  ReceiptState state = ReceiptState::kDelivered;
  std::string reason;  // for kRejected
  std::string cursor;  // opaque position to persist with the receipt
};

// A receipt the engine asks an adapter to give its network about an item received from it.
struct OutboundReceipt {
  std::string source_id;  // the item as the network named it when the gateway received it
  ReceiptState state = ReceiptState::kDelivered;
  std::string reason;  // plain text for the sender (kRejected): finding codes and fields
  std::string idempotency_key;
};

// The outcome of a call to a network.
struct SendResult {
  enum class Status {
    kAccepted,  // the network took it (a replay of the same key also lands here)
    kRejected,  // permanent refusal: the network says no and retrying will not help
    kRetry,     // transient: outage, 429/503, timeout, reset; try again later
  };
  Status status = Status::kRetry;
  std::string remote_id;   // kAccepted: the network's id for the item
  std::string error_code;  // kRejected / kRetry: the network's code or a local one
  std::string message;     // human-readable detail (never payload)
  std::optional<std::chrono::seconds> retry_after;  // honoured by the engine's breaker
  // kRetry only: the sender office cannot send on this network now (it must log in again, its
  // credentials are refused). The engine holds that (network, sender office)'s outbound units
  // without counting an attempt or touching the breaker, until the adapter reports the office
  // "active" through AdapterContext::office_state. Other offices are not affected. With
  // `retry_after` (a session another instance is renewing: seconds) the units are offered again
  // then; without, at the engine's safety re-offer (relay.office_recheck, 5 minutes).
  bool hold_office = false;
  // kAccepted: hex SHA-256 of the exact document bytes the network took, where the adapter
  // translated the unit (bound into the translation receipt, issue 17); "" otherwise.
  std::string sent_sha256;
};

// A notice the gateway gives an office on its own network about the office itself rather than
// one item: e.g. "the gateway needs a one-time password for your Kaigo WEB login; your outbound
// care plans are waiting" (AdapterContext::office_state on another network). Never a secret.
struct OfficeNotice {
  OfficeRef office;  // service_type empty: the office number as a whole
  std::string text;  // plain text for the office's people
  std::string idempotency_key;
};

struct DirectoryEntry {
  OfficeRef office;
  std::string name;
  std::string kana;
  std::string facility_id;  // regional facility holding the office ("" on the national side)
  std::string prefecture;
  std::string status;                 // ACTIVE, SUSPENDED, CLOSED
  std::string updated_at;             // as the network gives it
  bool published_by_gateway = false;  // the network marks it as the gateway's own publication
};

struct DirectoryResult {
  SendResult status;  // kAccepted when `entries` is complete
  std::vector<DirectoryEntry> entries;
  std::string next_changed_since;  // for incremental syncs, where supported
};

// Where inbound work goes. The adapter must not acknowledge its source before `done(true)`.
//
// Pipelined intake. An adapter may hand over up to AdapterContext::intake_window items of one
// kind (units, or receipts) before the first of them is answered; the engine admits them in
// parallel and makes them durable in groups, in hand-over order, each group with the cursor of
// its last item. Per kind the engine promises:
//   - `done` is called exactly once per item, on any thread (post back to your own executor);
//   - done(true) answers come in hand-over order, and an item is only answered true when every
//     item handed over before it was answered true (its cursor is then the durable position);
//   - after a done(false) (not durable: engine not ready, stopping, store failure), every item
//     still outstanding and every item handed over before the adapter has nothing outstanding
//     is answered false as well.
// So on the first false the adapter stops handing over, waits until nothing is outstanding and
// starts again after the last item answered true. Items it offers again that the engine had
// made durable are recognised as duplicates (adapter, source_id) and answered true.
// A window of 1 (hand over, wait for the answer, hand over the next) is always correct.
class AdapterSink {
 public:
  virtual ~AdapterSink() = default;
  virtual void on_unit(InboundUnit unit, std::function<void(bool accepted)> done) = 0;
  virtual void on_receipt(InboundReceipt receipt, std::function<void(bool accepted)> done) = 0;
};

struct AdapterContext {
  boost::asio::any_io_executor executor;  // the one io_context's executor
  AdapterSink* sink = nullptr;
  std::string name;         // the adapter instance's name in the config
  std::string unit_cursor;  // last persisted cursors (empty: from the start)
  std::string receipt_cursor;
  // How many items of one kind may be outstanding at the sink at once (see AdapterSink).
  std::size_t intake_window = 1;
  // Whether this instance may poll its network's inbox now (several instances share one store:
  // one polls each inbox at a time). Empty means yes. Adapters ask before each poll.
  std::function<bool()> may_poll;
  // Logger and counters for the adapter's degraded paths (gateway/adapter/adapter_events.hpp).
  AdapterEvents events;
  // Sealed records shared by the instances (gateway/adapter/office_sessions.hpp). Null where the
  // gateway gives none (tools, tests that do not need it); adapters that need it refuse to start.
  std::shared_ptr<AdapterVault> vault;
  // An office's state changed (login required, locked, active again...): the engine raises or
  // clears the alert naming it, tells the office on its own network, and holds or releases its
  // outbound units. Empty: nobody listens. Call on the executor.
  std::function<void(OfficeStateReport)> office_state;
};

class Adapter {
 public:
  virtual ~Adapter() = default;
  virtual void start() = 0;
  // Stops polling and accepting work; `drained` runs once every in-flight call has completed.
  virtual void stop(std::function<void()> drained) = 0;
  virtual void send(OutboundUnit unit, std::function<void(SendResult)> done) = 0;
  virtual void send_receipt(OutboundReceipt receipt, std::function<void(SendResult)> done) = 0;
  virtual void fetch_directory(std::string changed_since,
                               std::function<void(DirectoryResult)> done) = 0;
  // Hands the network the offices the gateway reaches through the other networks, replacing
  // what it published before (the registry's publication: the national represented offices, the
  // regional external directory). `done` is called exactly once; kAccepted when the network took
  // the whole list. A network type that takes no publication keeps this default, which answers
  // at once, on the caller's thread, kRejected with error_code kPublishNotSupported; the
  // registry only publishes to types whose traits say they take one.
  virtual void publish_directory(std::vector<DirectoryEntry> entries,
                                 std::function<void(SendResult)> done) {
    (void)entries;
    SendResult r;
    r.status = SendResult::Status::kRejected;
    r.error_code = kPublishNotSupported;
    r.message = "this network type takes no directory publication";
    done(std::move(r));
  }

  static constexpr const char* kPublishNotSupported = "publish_not_supported";

  // Tells an office of this network something about itself (OfficeNotice). `done` exactly once:
  // kAccepted once the network took it, kRetry to try again later, kRejected for good. A type
  // that cannot address an office outside an item keeps this default: kRejected with
  // kNoticeNotSupported at once, on the caller's thread (the engine logs that it could not tell).
  virtual void send_notice(OfficeNotice notice, std::function<void(SendResult)> done) {
    (void)notice;
    SendResult r;
    r.status = SendResult::Status::kRejected;
    r.error_code = kNoticeNotSupported;
    r.message = "this network type cannot address an office outside an item";
    done(std::move(r));
  }
  static constexpr const char* kNoticeNotSupported = "notice_not_supported";
  // The operator side of per-office logins, for network types whose offices log in with a
  // one-time password (Kaigo WEB); null for every other type. Owned by the adapter.
  virtual OfficeLogins* office_logins() { return nullptr; }
};

}  // namespace kakehashi::gateway
