#pragma once
// What an operator does to one transfer, written once for `kakehashi relay retry|park` and the
// admin API's POST /api/transfers/{id}/retry|park. Each action checks the transfer's state,
// acts through the store, and says what happened in words both callers show as they are.
// Recording the operator's command in the audit log stays with the caller (each words it as
// its own command line). Blocks on the store.

#include <cstdint>
#include <string>

#include "gateway/store/store.hpp"

namespace kakehashi::gateway::operations {

enum class ActionOutcome {
  kDone,               // re-driven or parked
  kNotFound,           // no transfer with that id
  kWrongState,         // retry: not parked; park: not in flight
  kFinishedMeanwhile,  // park: in flight when read, finished before the park was written
};

struct ActionResult {
  ActionOutcome outcome = ActionOutcome::kDone;
  std::string state;   // the transfer's state afterwards ("" when not found)
  std::string detail;  // e.g. "transfer 7 is delivered, not parked"; "" when done
  bool ok() const { return outcome == ActionOutcome::kDone; }
};

// The reason recorded when an operator parks without giving one.
inline constexpr const char* kDefaultParkReason = "parked by an operator";

// Re-drives a parked transfer: due now, attempts counted from zero.
ActionResult retry_transfer(store::Store& store, std::int64_t id, const std::string& actor,
                            std::int64_t now);

// Parks a transfer that is still in flight, with `reason` as given. Never reports done unless
// the store wrote the park.
ActionResult park_transfer(store::Store& store, std::int64_t id, const std::string& reason,
                           const std::string& actor, std::int64_t now);

}  // namespace kakehashi::gateway::operations
