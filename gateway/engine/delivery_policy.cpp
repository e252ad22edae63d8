#include "gateway/engine/delivery_policy.hpp"

#include <algorithm>
#include <cmath>
#include <limits>

namespace kakehashi::gateway::engine {

BreakerPhase breaker_phase(const BreakerState& breaker, const DeliverySettings& settings,
                           std::int64_t now) {
  if (breaker.open_until > now) return BreakerPhase::kOpen;
  if (breaker.failures >= settings.breaker_failures) return BreakerPhase::kHalfOpen;
  return BreakerPhase::kClosed;
}

std::int64_t backoff_delay(std::int64_t attempts, const DeliverySettings& settings, double jitter) {
  const double base = static_cast<double>(settings.backoff_initial_ms);
  const double cap = static_cast<double>(settings.backoff_max_ms);
  const double exp = std::min(
      cap, base * std::pow(2.0, static_cast<double>(std::min<std::int64_t>(attempts, 30))));
  return static_cast<std::int64_t>(exp * jitter);
}

DeliveryDecision decide_delivery(const SendResult& answer, const BreakerState& breaker,
                                 std::int64_t attempts, const DeliverySettings& settings,
                                 std::int64_t now, double jitter) {
  DeliveryDecision d;
  d.breaker = breaker;
  d.next_attempt = now;
  d.error = answer.error_code + (answer.message.empty() ? "" : ": " + answer.message);
  auto& b = d.breaker;
  if (answer.status == SendResult::Status::kRetry && answer.hold_office) {
    d.action = DeliveryAction::kHoldOffice;
    // The adapter may say when to look again (a session another instance is renewing: seconds);
    // else the safety re-offer.
    d.next_attempt = now + (answer.retry_after ? answer.retry_after->count() * 1000
                                               : settings.office_recheck_ms);
    return d;
  }
  switch (answer.status) {
    case SendResult::Status::kAccepted:
      b.failures = 0;  // closed again (what the network refused before stays counted)
      b.open_until = 0;
      b.failing_since = 0;
      b.last_success = now;
      d.action = DeliveryAction::kDelivered;
      break;
    case SendResult::Status::kRejected:
      b.failures = 0;
      b.last_success = now;
      d.action = DeliveryAction::kRefused;
      break;
    case SendResult::Status::kRetry:
      if (b.failures == 0) b.failing_since = now;
      b.last_failure = now;
      ++b.failures;
      if (answer.retry_after) {
        // Maintenance or rate limit: pause the whole network, do not burn an attempt.
        b.open_until = std::max(b.open_until, now + answer.retry_after->count() * 1000);
        d.action = DeliveryAction::kHold;
        d.next_attempt = b.open_until;
        d.breaker_change = BreakerChange::kPaused;
      } else if (b.open_until > now) {
        d.action = DeliveryAction::kHold;
        d.next_attempt = b.open_until;
      } else {
        if (b.failures >= settings.breaker_failures) {
          b.open_until = now + settings.breaker_cooldown_ms;
          d.breaker_change = BreakerChange::kOpened;
        }
        if (attempts + 1 >= settings.max_attempts) {
          d.action = DeliveryAction::kPark;
          d.next_attempt = std::numeric_limits<std::int64_t>::max();
          d.park_reason = "failed " + std::to_string(attempts + 1) + " times; last: " + d.error;
        } else {
          d.action = DeliveryAction::kRetry;
          d.next_attempt = now + backoff_delay(attempts, settings, jitter);
        }
      }
      break;
  }
  if (d.breaker_change == BreakerChange::kNone &&
      breaker_phase(breaker, settings, now) != BreakerPhase::kClosed &&
      breaker_phase(b, settings, now) == BreakerPhase::kClosed)
    d.breaker_change = BreakerChange::kClosed;
  return d;
}

}  // namespace kakehashi::gateway::engine
