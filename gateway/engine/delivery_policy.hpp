#pragma once
// The delivery policy: what the engine does with a destination network's answer to one delivery.
// Pure: the answer, the destination's breaker, the transfer's attempts so far, the settings, `now`
// and a jitter factor in; a decision out. No I/O, no clock, no store, no randomness of its own
// (delivery.cpp draws the jitter and carries the decision out).
//
// The circuit breaker, one per destination network:
//   closed     fewer than `breaker_failures` consecutive failures and not paused: deliveries flow.
//   open       `open_until` > now: nothing is claimed for the destination; a delivery still in
//              flight that fails is held until `open_until` without spending an attempt. Opened
//              for `breaker_cooldown` by the `breaker_failures`-th consecutive transient failure,
//              or by a Retry-After (maintenance, rate limit) until the time it names (a pause is
//              extended, never shortened, and spends no attempt even when the breaker is closed).
//   half-open  the pause is over but the failures were not cleared: deliveries flow again, and
//              the next transient failure reopens the breaker for another cool-down.
// Any answer from the network clears the failures: accepted also ends a pause; refused (the
// network is up, the unit is wrong) leaves a pause as it is. A retry that holds the sender office
// (SendResult::hold_office) is about that office, not the network: the breaker is left as it is.

#include <cstdint>
#include <string>

#include "gateway/adapter/adapter.hpp"

namespace kakehashi::gateway::engine {

struct DeliverySettings {
  std::int64_t max_attempts = 8;  // the attempt that reaches it parks the transfer
  std::int64_t backoff_initial_ms = 1000;
  std::int64_t backoff_max_ms = 300000;
  std::int64_t breaker_failures = 5;  // consecutive transient failures that open the breaker
  std::int64_t breaker_cooldown_ms = 30000;
  // A unit held for its sender office (SendResult::hold_office) is offered again after this
  // long even when no "active" report came (a report lost across a restart strands nothing).
  std::int64_t office_recheck_ms = 300000;
};

// A destination's breaker (times in ms since the epoch; 0 = never).
struct BreakerState {
  std::int64_t failures = 0;    // consecutive transient failures
  std::int64_t open_until = 0;  // paused until; <= now: not paused
  std::int64_t last_success = 0, last_failure = 0;
  std::int64_t failing_since = 0;  // the first failure since the last answer
};

enum class BreakerPhase { kClosed, kOpen, kHalfOpen };
BreakerPhase breaker_phase(const BreakerState& breaker, const DeliverySettings& settings,
                           std::int64_t now);

// The random factor that spreads the retries of a burst: backoff_delay takes one in [min, max).
inline constexpr double kJitterMin = 0.8;
inline constexpr double kJitterMax = 1.2;

// The wait before the attempt after `attempts` failed ones (ms): backoff_initial doubled per
// attempt (at most 30 doublings), capped at backoff_max, then times `jitter` (so the cap can be
// passed by up to kJitterMax). Also the notice sender's retry delay.
std::int64_t backoff_delay(std::int64_t attempts, const DeliverySettings& settings, double jitter);

enum class DeliveryAction {
  kDelivered,   // the destination took it: mark delivered (its receipt, the latency)
  kRefused,     // permanent refusal: rejected at the destination, the sender gets a notice
  kRetry,       // transient failure, one attempt spent: claimable again at `next_attempt`
  kHold,        // destination paused (Retry-After or breaker open): released until `next_attempt`
                // without spending an attempt
  kPark,        // transient failure on the last allowed attempt: counted, then parked
  kHoldOffice,  // the sender office cannot send on this network now (SendResult::hold_office):
                // released until `next_attempt` (its Retry-After, else the safety re-offer)
                // without spending an attempt, the breaker untouched, never parked
};

// What this answer did to the breaker.
enum class BreakerChange {
  kNone,
  kOpened,  // the failure threshold was reached (or a half-open breaker failed): cool-down
  kPaused,  // the network asked for a pause (Retry-After)
  kClosed,  // an answer from the network closed an open or half-open breaker
};

struct DeliveryDecision {
  DeliveryAction action = DeliveryAction::kRetry;
  // kRetry, kHold: when it may be claimed again. kPark: never (the maximum), so the transfer is
  // not claimable between the commit that counts the attempt and the one that parks it.
  // kDelivered, kRefused: now.
  std::int64_t next_attempt = 0;
  BreakerState breaker;  // the breaker after this answer
  BreakerChange breaker_change = BreakerChange::kNone;
  std::string error;        // the network's code and message ("" when accepted with none)
  std::string park_reason;  // kPark: what the transfer's record says
};

// `attempts`: the attempts the transfer had spent before this one. `jitter` in
// [kJitterMin, kJitterMax): used only when the answer is a retry with backoff.
DeliveryDecision decide_delivery(const SendResult& answer, const BreakerState& breaker,
                                 std::int64_t attempts, const DeliverySettings& settings,
                                 std::int64_t now, double jitter);

}  // namespace kakehashi::gateway::engine
