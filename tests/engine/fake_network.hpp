#pragma once
// An in-memory network for engine tests: units are offered to the engine's sink on demand,
// deliveries are logged by idempotency key (a replayed key is not delivered twice, as the real
// networks promise), and answers can be scripted to fail in every way a network can.

#include <deque>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "gateway/adapter/adapter.hpp"

namespace kakehashi::testing {

class FakeNetwork {
 public:
  struct Delivery {
    gateway::OutboundUnit unit;
    std::string remote_id;
  };

  // The adapter the engine gets; it forwards to this FakeNetwork (which outlives it).
  std::unique_ptr<gateway::Adapter> make_adapter(gateway::AdapterContext context);

  // Offer a unit to the engine; true once the engine said accepted.
  void offer(gateway::InboundUnit unit);
  // Offer again every unit the engine has not accepted yet (what a real inbox poll does).
  void reoffer_pending();
  void emit_receipt(const std::string& remote_id, gateway::ReceiptState state);

  void script(gateway::SendResult result) { script_.push_back(std::move(result)); }
  // Per-office logins (kaigoweb PROTOCOL.md §7.2): sends from these sender offices are answered
  // kRetry "login_required" with hold_office, without a delivery.
  std::set<std::string> holding_offices;
  std::map<std::string, int> held_answers;  // per idempotency key
  // Reports an office's state to the engine (AdapterContext::office_state).
  void report_office(const std::string& office_no, const std::string& state,
                     const std::string& previous, const std::string& detail = "");
  std::vector<gateway::OfficeNotice> notices_received;  // Adapter::send_notice
  bool takes_notices = true;                            // false: the default answer (not supported)
  void hang_next_send() { hang_next_ = true; }
  // Answers the oldest send left hanging (hang_next_send) with `result`.
  void answer_hung(gateway::SendResult result);
  // Non-empty: accepted sends say the network translated the unit and took a document with this
  // SHA-256 (SendResult::sent_sha256, as the Kaigo WEB adapter reports it).
  std::string sent_document_sha256;
  bool hang_all_sends = false;       // every answer is lost (a stuck connection)
  FakeNetwork* delivery_log = this;  // where deliveries are recorded (shared by instances)

  std::vector<gateway::DirectoryEntry> directory;
  std::vector<Delivery> deliveries;                         // unique deliveries, in order
  std::map<std::string, int> send_calls;                    // per idempotency key
  std::vector<gateway::OutboundUnit> sent_units;            // every send, as sent
  std::vector<gateway::OutboundReceipt> receipts_received;  // notices from the engine
  std::map<std::string, int> accepted_offers;               // source_id -> times accepted
  std::vector<gateway::InboundUnit> pending;                // offered, not yet accepted
  std::size_t answered_offers = 0;
  std::size_t receipts_acked = 0;
  std::string last_unit_cursor, last_receipt_cursor;
  gateway::AdapterContext context;
  int stops = 0;

 private:
  friend class FakeAdapter;
  std::deque<gateway::SendResult> script_;
  bool hang_next_ = false;
  std::vector<std::function<void(gateway::SendResult)>> hung_;
  int cursor_counter_ = 0;
};

}  // namespace kakehashi::testing
