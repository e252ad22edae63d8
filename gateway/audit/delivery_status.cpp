#include "gateway/audit/delivery_status.hpp"

namespace kakehashi::gateway::audit {

std::string_view status_code(DeliveryStatus s) {
  switch (s) {
    case DeliveryStatus::kAccepted:
      return "accepted";
    case DeliveryStatus::kDelivered:
      return "delivered";
    case DeliveryStatus::kReceived:
      return "received";
    case DeliveryStatus::kRead:
      return "read";
    case DeliveryStatus::kRejected:
      return "rejected";
    case DeliveryStatus::kHeld:
      return "held";
  }
  return "accepted";
}

std::string_view status_ja(DeliveryStatus s) {
  switch (s) {
    case DeliveryStatus::kAccepted:
      return "受付";
    case DeliveryStatus::kDelivered:
      return "配信";
    case DeliveryStatus::kReceived:
      return "受領";
    case DeliveryStatus::kRead:
      return "既読";
    case DeliveryStatus::kRejected:
      return "差し戻し";
    case DeliveryStatus::kHeld:
      return "保留";
  }
  return "受付";
}

DeliveryStatus status_of(std::string_view state, std::string_view receipt_state) {
  if (state == "rejected" || state == "superseded" || receipt_state == "rejected")
    return DeliveryStatus::kRejected;
  if (state == "parked") return DeliveryStatus::kHeld;
  if (state == "delivered") {
    if (receipt_state == "read") return DeliveryStatus::kRead;
    if (receipt_state == "delivered" || receipt_state == "downloaded")
      return DeliveryStatus::kReceived;
    return DeliveryStatus::kDelivered;
  }
  return DeliveryStatus::kAccepted;
}

namespace {

// The refusal summary of an intake record ("...; refused: <findings>").
std::string refusal_of(const std::string& detail) {
  const auto at = detail.find("refused: ");
  return at == std::string::npos ? detail : detail.substr(at + 9);
}

}  // namespace

UnitHistory history_of(const std::vector<AuditRecord>& records) {
  UnitHistory h;
  const auto reject = [&h](const AuditRecord& r, std::string reason) {
    h.status = DeliveryStatus::kRejected;
    h.rejected_at = r.at;
    h.reason = std::move(reason);
  };
  for (const auto& r : records) {
    const std::string& k = r.kind;
    if (k == "accepted") {
      h.accepted_at = r.at;
    } else if (k == "refused") {
      h.accepted_at = r.at;
      reject(r, refusal_of(r.detail));
    } else if (k == "superseded" || k == "rejected-by-destination" || k == "receipt-rejected" ||
               k == "route-refused") {
      reject(r, r.detail);
    } else if (k == "parked") {
      if (h.status != DeliveryStatus::kRejected) {
        h.status = DeliveryStatus::kHeld;
        h.reason = r.detail;
      }
    } else if (k == "redriven") {
      if (h.status == DeliveryStatus::kHeld) {
        h.status = DeliveryStatus::kAccepted;
        h.reason.clear();
      }
    } else if (k == "delivered") {
      h.delivered_at = r.at;
      if (h.status == DeliveryStatus::kAccepted || h.status == DeliveryStatus::kHeld) {
        h.status = DeliveryStatus::kDelivered;
        h.reason.clear();
      }
    } else if (k == "receipt-delivered" || k == "receipt-downloaded") {
      if (h.status == DeliveryStatus::kDelivered) {
        h.status = DeliveryStatus::kReceived;
        h.receipt_at = r.at;
      }
    } else if (k == "receipt-read") {
      if (h.status == DeliveryStatus::kDelivered || h.status == DeliveryStatus::kReceived) {
        h.status = DeliveryStatus::kRead;
        h.receipt_at = r.at;
      }
    }
  }
  return h;
}

}  // namespace kakehashi::gateway::audit
