#pragma once
// The delivery status an office understands (README "Delivery status"): 受付 → 配信 → 受領/既読,
// or 差し戻し (with its reason), or 保留. One table for the console, the evidence report and the
// notices to offices. Pure.

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "gateway/audit/chain.hpp"

namespace kakehashi::gateway::audit {

enum class DeliveryStatus {
  kAccepted,   // 受付: the gateway holds the unit and is delivering it
  kDelivered,  // 配信: handed to the recipient's network
  kReceived,   // 受領: the recipient downloaded it (national receipt)
  kRead,       // 既読: the recipient opened it (regional read receipt)
  kRejected,   // 差し戻し: refused at intake or by the recipient, with the reason
  kHeld,       // 保留: parked for an operator (keeps failing); re-drivable
};

std::string_view status_code(DeliveryStatus s);  // accepted, delivered, received, read, ...
std::string_view status_ja(DeliveryStatus s);  // 受付, 配信, 受領, 既読, 差し戻し, 保留

// From a transfer's state and receipt state (kh_transfers.state, receipt_state).
DeliveryStatus status_of(std::string_view state, std::string_view receipt_state);

// What a unit's audit records say happened, in chain order: the status and its times. The
// evidence bundle's unit facts are exactly this, so an inspector re-derives them from the records.
struct UnitHistory {
  DeliveryStatus status = DeliveryStatus::kAccepted;
  std::int64_t accepted_at = 0;   // 受付 (intake record)
  std::int64_t delivered_at = 0;  // 配信 (last delivery)
  std::int64_t receipt_at = 0;    // 受領/既読 (the receipt that set the status)
  std::int64_t rejected_at = 0;   // 差し戻し
  std::string reason;             // why rejected or held ("" otherwise)
};
UnitHistory history_of(const std::vector<AuditRecord>& records);

}  // namespace kakehashi::gateway::audit
