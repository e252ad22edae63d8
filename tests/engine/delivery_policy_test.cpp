// The delivery policy on its own (gateway/engine/delivery_policy.hpp): every branch from a table,
// then properties over many generated states (backoff growth and cap, refusals never retried,
// the breaker's open / half-open / closed cycle).

#define BOOST_TEST_MODULE kakehashi_delivery_policy
#include <boost/test/unit_test.hpp>

#include <chrono>
#include <cstdint>
#include <limits>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "gateway/engine/delivery_policy.hpp"

using namespace kakehashi::gateway;
using namespace kakehashi::gateway::engine;

namespace {

constexpr std::int64_t kNow = 1'000'000'000;
constexpr std::int64_t kNever = std::numeric_limits<std::int64_t>::max();

DeliverySettings settings() {
  DeliverySettings s;
  s.max_attempts = 4;
  s.backoff_initial_ms = 1000;
  s.backoff_max_ms = 8000;
  s.breaker_failures = 3;
  s.breaker_cooldown_ms = 30000;
  return s;
}

SendResult accepted() {
  SendResult r;
  r.status = SendResult::Status::kAccepted;
  r.remote_id = "R-1";
  return r;
}

SendResult refused(std::string code = "FORMAT", std::string message = "bad csv") {
  SendResult r;
  r.status = SendResult::Status::kRejected;
  r.error_code = std::move(code);
  r.message = std::move(message);
  return r;
}

SendResult office_held(std::optional<std::chrono::seconds> retry_after = std::nullopt) {
  SendResult r;
  r.status = SendResult::Status::kRetry;
  r.error_code = "login_required";
  r.message = "office 3271500013 must log in";
  r.retry_after = retry_after;
  r.hold_office = true;
  return r;
}

SendResult transient(std::optional<std::chrono::seconds> retry_after = std::nullopt,
                     std::string message = "unavailable") {
  SendResult r;
  r.status = SendResult::Status::kRetry;
  r.error_code = "HTTP_503";
  r.message = std::move(message);
  r.retry_after = retry_after;
  return r;
}

BreakerState breaker(std::int64_t failures, std::int64_t open_until = 0,
                     std::int64_t failing_since = 0) {
  BreakerState b;
  b.failures = failures;
  b.open_until = open_until;
  b.failing_since = failing_since;
  b.last_success = 5;
  b.last_failure = 7;
  return b;
}

const char* name(DeliveryAction a) {
  switch (a) {
    case DeliveryAction::kDelivered:
      return "delivered";
    case DeliveryAction::kRefused:
      return "refused";
    case DeliveryAction::kRetry:
      return "retry";
    case DeliveryAction::kHold:
      return "hold";
    case DeliveryAction::kPark:
      return "park";
    case DeliveryAction::kHoldOffice:
      return "hold office";
  }
  return "?";
}

const char* name(BreakerChange c) {
  switch (c) {
    case BreakerChange::kNone:
      return "none";
    case BreakerChange::kOpened:
      return "opened";
    case BreakerChange::kPaused:
      return "paused";
    case BreakerChange::kClosed:
      return "closed";
  }
  return "?";
}

}  // namespace

BOOST_AUTO_TEST_CASE(every_branch_from_a_table) {
  struct Case {
    const char* what;
    SendResult answer;
    BreakerState before;
    std::int64_t attempts;
    double jitter;
    // expected
    DeliveryAction action;
    std::int64_t next_attempt;
    std::int64_t failures, open_until, failing_since, last_success, last_failure;
    BreakerChange change;
    std::string error, park_reason;
  };
  const std::vector<Case> cases = {
      {"accepted after two failures: closed, failures cleared", accepted(),
       breaker(2, 0, kNow - 9000), 2, 1.0, DeliveryAction::kDelivered, kNow, 0, 0, 0, kNow, 7,
       BreakerChange::kNone, "", ""},
      {"accepted while paused: the pause ends", accepted(), breaker(1, kNow + 5000, kNow - 1), 0,
       1.0, DeliveryAction::kDelivered, kNow, 0, 0, 0, kNow, 7, BreakerChange::kClosed, "", ""},
      {"accepted while half-open: closed", accepted(), breaker(3, kNow - 1, kNow - 40000), 1, 1.0,
       DeliveryAction::kDelivered, kNow, 0, 0, 0, kNow, 7, BreakerChange::kClosed, "", ""},
      {"refused: the network is up, failures cleared", refused(), breaker(2, 0, kNow - 9000), 1,
       1.0, DeliveryAction::kRefused, kNow, 0, 0, kNow - 9000, kNow, 7, BreakerChange::kNone,
       "FORMAT: bad csv", ""},
      {"refused on the last attempt: still refused, never parked", refused(), breaker(0), 3, 1.0,
       DeliveryAction::kRefused, kNow, 0, 0, 0, kNow, 7, BreakerChange::kNone, "FORMAT: bad csv",
       ""},
      {"refused while paused: the pause stays", refused("POLICY", ""), breaker(1, kNow + 5000, 1),
       0, 1.0, DeliveryAction::kRefused, kNow, 0, kNow + 5000, 1, kNow, 7, BreakerChange::kNone,
       "POLICY", ""},
      {"refused while half-open: closed", refused(), breaker(4, kNow - 1, 1), 0, 1.0,
       DeliveryAction::kRefused, kNow, 0, kNow - 1, 1, kNow, 7, BreakerChange::kClosed,
       "FORMAT: bad csv", ""},
      {"Retry-After: the network pauses, no attempt spent", transient(std::chrono::seconds(60)),
       breaker(0), 0, 1.0, DeliveryAction::kHold, kNow + 60000, 1, kNow + 60000, kNow, 5, kNow,
       BreakerChange::kPaused, "HTTP_503: unavailable", ""},
      {"Retry-After on the last attempt: held, not parked", transient(std::chrono::seconds(10)),
       breaker(2, 0, kNow - 100), 3, 1.0, DeliveryAction::kHold, kNow + 10000, 3, kNow + 10000,
       kNow - 100, 5, kNow, BreakerChange::kPaused, "HTTP_503: unavailable", ""},
      {"a shorter Retry-After never shortens a pause", transient(std::chrono::seconds(1)),
       breaker(1, kNow + 50000, kNow - 5), 0, 1.0, DeliveryAction::kHold, kNow + 50000, 2,
       kNow + 50000, kNow - 5, 5, kNow, BreakerChange::kPaused, "HTTP_503: unavailable", ""},
      {"Retry-After of zero: held until now", transient(std::chrono::seconds(0)), breaker(0), 0,
       1.0, DeliveryAction::kHold, kNow, 1, kNow, kNow, 5, kNow, BreakerChange::kPaused,
       "HTTP_503: unavailable", ""},
      {"failure while the breaker is open: held to its end", transient(),
       breaker(5, kNow + 7000, 1), 3, 1.0, DeliveryAction::kHold, kNow + 7000, 6, kNow + 7000, 1, 5,
       kNow, BreakerChange::kNone, "HTTP_503: unavailable", ""},
      {"first failure: retry after the initial backoff", transient(), breaker(0), 0, 1.0,
       DeliveryAction::kRetry, kNow + 1000, 1, 0, kNow, 5, kNow, BreakerChange::kNone,
       "HTTP_503: unavailable", ""},
      {"second failure: backoff doubles, failing_since kept", transient(),
       breaker(1, 0, kNow - 1000), 1, 1.0, DeliveryAction::kRetry, kNow + 2000, 2, 0, kNow - 1000,
       5, kNow, BreakerChange::kNone, "HTTP_503: unavailable", ""},
      {"jitter scales the backoff", transient(), breaker(0), 1, 0.8, DeliveryAction::kRetry,
       kNow + 1600, 1, 0, kNow, 5, kNow, BreakerChange::kNone, "HTTP_503: unavailable", ""},
      {"a jitter above one lengthens the backoff", transient(), breaker(0), 2, 1.2,
       DeliveryAction::kRetry, kNow + 4800, 1, 0, kNow, 5, kNow, BreakerChange::kNone,
       "HTTP_503: unavailable", ""},
      {"the threshold failure opens the breaker; the transfer still retries", transient(),
       breaker(2, 0, kNow - 3000), 1, 1.0, DeliveryAction::kRetry, kNow + 2000, 3, kNow + 30000,
       kNow - 3000, 5, kNow, BreakerChange::kOpened, "HTTP_503: unavailable", ""},
      {"a failure when half-open reopens for a cool-down", transient(),
       breaker(3, kNow - 1, kNow - 40000), 0, 1.0, DeliveryAction::kRetry, kNow + 1000, 4,
       kNow + 30000, kNow - 40000, 5, kNow, BreakerChange::kOpened, "HTTP_503: unavailable", ""},
      {"a pause that ended exactly now is not open", transient(), breaker(0, kNow, 0), 0, 1.0,
       DeliveryAction::kRetry, kNow + 1000, 1, kNow, kNow, 5, kNow, BreakerChange::kNone,
       "HTTP_503: unavailable", ""},
      {"the last attempt fails: parked, never claimable in between", transient(), breaker(0), 3,
       1.0, DeliveryAction::kPark, kNever, 1, 0, kNow, 5, kNow, BreakerChange::kNone,
       "HTTP_503: unavailable", "failed 4 times; last: HTTP_503: unavailable"},
      {"attempts beyond the maximum (a lowered setting): parked", transient(std::nullopt, ""),
       breaker(0), 9, 1.0, DeliveryAction::kPark, kNever, 1, 0, kNow, 5, kNow, BreakerChange::kNone,
       "HTTP_503", "failed 10 times; last: HTTP_503"},
      {"parked by the threshold failure: the breaker opens too", transient(),
       breaker(2, 0, kNow - 3000), 3, 1.0, DeliveryAction::kPark, kNever, 3, kNow + 30000,
       kNow - 3000, 5, kNow, BreakerChange::kOpened, "HTTP_503: unavailable",
       "failed 4 times; last: HTTP_503: unavailable"},
  };
  // A held sender office: about the office, not the network.
  const std::string held = "login_required: office 3271500013 must log in";
  const std::vector<Case> office_cases = {
      {"held office: no attempt, breaker untouched, re-offered after the recheck", office_held(),
       breaker(0), 0, 1.0, DeliveryAction::kHoldOffice, kNow + 300000, 0, 0, 0, 5, 7,
       BreakerChange::kNone, held, ""},
      {"held office on the last attempt: never parked", office_held(), breaker(2, 0, kNow - 100), 3,
       1.0, DeliveryAction::kHoldOffice, kNow + 300000, 2, 0, kNow - 100, 5, 7,
       BreakerChange::kNone, held, ""},
      {"held office while the network is paused: the pause stays as it is", office_held(),
       breaker(1, kNow + 5000, 1), 0, 1.0, DeliveryAction::kHoldOffice, kNow + 300000, 1,
       kNow + 5000, 1, 5, 7, BreakerChange::kNone, held, ""},
      {"held office with a Retry-After: offered again then; the network is not paused",
       office_held(std::chrono::seconds(5)), breaker(0), 0, 1.0, DeliveryAction::kHoldOffice,
       kNow + 5000, 0, 0, 0, 5, 7, BreakerChange::kNone, held, ""},
      {"held office when half-open: neither closed nor reopened", office_held(),
       breaker(4, kNow - 1, 1), 0, 1.0, DeliveryAction::kHoldOffice, kNow + 300000, 4, kNow - 1, 1,
       5, 7, BreakerChange::kNone, held, ""},
      {"hold_office on an acceptance means nothing",
       [] {
         auto r = accepted();
         r.hold_office = true;
         return r;
       }(),
       breaker(0), 0, 1.0, DeliveryAction::kDelivered, kNow, 0, 0, 0, kNow, 7, BreakerChange::kNone,
       "", ""},
  };
  std::vector<Case> all = cases;
  all.insert(all.end(), office_cases.begin(), office_cases.end());
  for (const auto& c : all) {
    BOOST_TEST_CONTEXT(c.what) {
      const auto d = decide_delivery(c.answer, c.before, c.attempts, settings(), kNow, c.jitter);
      BOOST_TEST(name(d.action) == name(c.action));
      BOOST_TEST(d.next_attempt == c.next_attempt);
      BOOST_TEST(d.breaker.failures == c.failures);
      BOOST_TEST(d.breaker.open_until == c.open_until);
      BOOST_TEST(d.breaker.failing_since == c.failing_since);
      BOOST_TEST(d.breaker.last_success == c.last_success);
      BOOST_TEST(d.breaker.last_failure == c.last_failure);
      BOOST_TEST(name(d.breaker_change) == name(c.change));
      BOOST_TEST(d.error == c.error);
      BOOST_TEST(d.park_reason == c.park_reason);
    }
  }
}

BOOST_AUTO_TEST_CASE(breaker_phases) {
  const auto s = settings();
  BOOST_TEST((breaker_phase(breaker(0), s, kNow) == BreakerPhase::kClosed));
  BOOST_TEST((breaker_phase(breaker(2), s, kNow) == BreakerPhase::kClosed));
  BOOST_TEST((breaker_phase(breaker(3), s, kNow) == BreakerPhase::kHalfOpen));
  BOOST_TEST((breaker_phase(breaker(3, kNow + 1), s, kNow) == BreakerPhase::kOpen));
  BOOST_TEST((breaker_phase(breaker(0, kNow + 1), s, kNow) == BreakerPhase::kOpen));  // paused
  BOOST_TEST((breaker_phase(breaker(0, kNow), s, kNow) == BreakerPhase::kClosed));
}

BOOST_AUTO_TEST_CASE(backoff_values) {
  const auto s = settings();
  const std::vector<std::int64_t> expected = {1000, 2000, 4000, 8000, 8000, 8000};
  for (std::size_t a = 0; a < expected.size(); ++a)
    BOOST_TEST(backoff_delay(static_cast<std::int64_t>(a), s, 1.0) == expected[a]);
  BOOST_TEST(backoff_delay(0, s, kJitterMin) == 800);
  BOOST_TEST(backoff_delay(10, s, 1.19) == 9520);  // the jitter applies after the cap
  // At most 30 doublings, however many attempts.
  DeliverySettings wide = s;
  wide.backoff_initial_ms = 1;
  wide.backoff_max_ms = kNever / 4;
  BOOST_TEST(backoff_delay(30, wide, 1.0) == (std::int64_t{1} << 30));
  BOOST_TEST(backoff_delay(31, wide, 1.0) == (std::int64_t{1} << 30));
  BOOST_TEST(backoff_delay(1000, wide, 1.0) == (std::int64_t{1} << 30));
}

// Properties over generated settings and jitters: for a fixed jitter the backoff never decreases
// as attempts grow, it reaches the cap and stays there, and it never passes cap × jitter (the
// un-jittered delay never passes the cap).
BOOST_AUTO_TEST_CASE(backoff_grows_to_the_cap_and_stays) {
  std::mt19937_64 rng(20261205);
  std::uniform_int_distribution<std::int64_t> initial(1, 60000);
  std::uniform_int_distribution<std::int64_t> cap_factor(1, 100000);
  std::uniform_real_distribution<double> jitter(kJitterMin, kJitterMax);
  for (int round = 0; round < 500; ++round) {
    DeliverySettings s = settings();
    s.backoff_initial_ms = initial(rng);
    s.backoff_max_ms = s.backoff_initial_ms * cap_factor(rng);
    const double j = jitter(rng);
    const auto cap = static_cast<std::int64_t>(static_cast<double>(s.backoff_max_ms) * j);
    std::int64_t previous = 0;
    bool reached_cap = false;
    for (std::int64_t a = 0; a < 70; ++a) {
      const std::int64_t d = backoff_delay(a, s, j);
      const std::int64_t plain = backoff_delay(a, s, 1.0);
      BOOST_TEST_REQUIRE(d >= previous, "attempt " << a << " round " << round);
      BOOST_TEST_REQUIRE(d <= cap, "attempt " << a << " round " << round);
      BOOST_TEST_REQUIRE(plain <= s.backoff_max_ms);
      BOOST_TEST_REQUIRE(plain >= s.backoff_initial_ms);
      if (reached_cap) BOOST_TEST_REQUIRE(d == cap, "attempt " << a << " round " << round);
      reached_cap |= d == cap;
      previous = d;
    }
    BOOST_TEST_REQUIRE(reached_cap, "round " << round);  // 2^30 covers every cap factor here
  }
}

// Properties over generated breakers, attempts and answers.
BOOST_AUTO_TEST_CASE(answers_over_generated_states) {
  std::mt19937_64 rng(4242);
  std::uniform_int_distribution<std::int64_t> failures(0, 10);
  std::uniform_int_distribution<std::int64_t> offset(-60000, 60000);
  std::uniform_int_distribution<std::int64_t> attempts(0, 9);
  std::uniform_int_distribution<int> kind(0, 3);
  std::uniform_real_distribution<double> jitter(kJitterMin, kJitterMax);
  const auto s = settings();
  for (int round = 0; round < 5000; ++round) {
    const BreakerState before = breaker(failures(rng), kNow + offset(rng), kNow - 100);
    const std::int64_t a = attempts(rng);
    const int k = kind(rng);
    const SendResult answer = k == 0   ? accepted()
                              : k == 1 ? refused()
                              : k == 2 ? transient(std::chrono::seconds(offset(rng) / 1000 + 60))
                                       : transient();
    const auto d = decide_delivery(answer, before, a, s, kNow, jitter(rng));
    BOOST_TEST_CONTEXT("round " << round) {
      const bool was_open = before.open_until > kNow;
      switch (k) {
        case 0:  // the network took it: delivered, and the breaker is closed
          BOOST_TEST(name(d.action) == "delivered");
          BOOST_TEST((breaker_phase(d.breaker, s, kNow) == BreakerPhase::kClosed));
          break;
        case 1:  // a permanent refusal is never retried nor parked, whatever came before
          BOOST_TEST(name(d.action) == "refused");
          BOOST_TEST(d.breaker.failures == 0);
          BOOST_TEST(d.breaker.open_until == before.open_until);
          BOOST_TEST(d.park_reason.empty());
          break;
        case 2:  // a pause asked for spends no attempt and only lengthens the breaker's pause
          BOOST_TEST(name(d.action) == "hold");
          BOOST_TEST(d.breaker.open_until >= before.open_until);
          BOOST_TEST(d.next_attempt == d.breaker.open_until);
          BOOST_TEST(d.breaker.failures == before.failures + 1);
          break;
        default:  // a plain transient failure
          BOOST_TEST(d.breaker.failures == before.failures + 1);
          BOOST_TEST(d.breaker.last_failure == kNow);
          if (was_open) {
            BOOST_TEST(name(d.action) == "hold");  // no attempt spent while open
            BOOST_TEST(d.next_attempt == before.open_until);
          } else if (a + 1 >= s.max_attempts) {
            BOOST_TEST(name(d.action) == "park");
            BOOST_TEST(d.next_attempt == kNever);
          } else {
            BOOST_TEST(name(d.action) == "retry");
            BOOST_TEST(d.next_attempt > kNow);
          }
          // Opened exactly when the threshold is reached outside a pause.
          BOOST_TEST((d.breaker_change == BreakerChange::kOpened) ==
                     (!was_open && before.failures + 1 >= s.breaker_failures));
          break;
      }
    }
  }
}

// The breaker through its cycle, as consecutive answers from one network over time: opens at
// the N-th failure, holds deliveries during the cool-down, half-opens after it, reopens on one
// more failure, and a success closes it.
BOOST_AUTO_TEST_CASE(breaker_cycle) {
  for (std::int64_t threshold = 1; threshold <= 6; ++threshold) {
    BOOST_TEST_CONTEXT("breaker_failures " << threshold) {
      DeliverySettings s = settings();
      s.breaker_failures = threshold;
      s.max_attempts = 1000;
      BreakerState b;
      std::int64_t now = kNow;
      for (std::int64_t i = 1; i < threshold; ++i) {
        const auto d = decide_delivery(transient(), b, 0, s, now, 1.0);
        BOOST_TEST(name(d.breaker_change) == "none");
        BOOST_TEST(name(d.action) == "retry");
        b = d.breaker;
        BOOST_TEST((breaker_phase(b, s, now) == BreakerPhase::kClosed));
        now += 100;
      }
      auto d = decide_delivery(transient(), b, 0, s, now, 1.0);
      BOOST_TEST(name(d.breaker_change) == "opened");
      b = d.breaker;
      BOOST_TEST(b.open_until == now + s.breaker_cooldown_ms);
      BOOST_TEST(b.failing_since == (threshold == 1 ? now : kNow));
      // During the cool-down a delivery still in flight is held to its end.
      const std::int64_t opened_at = now;
      now += s.breaker_cooldown_ms - 1;
      BOOST_TEST((breaker_phase(b, s, now) == BreakerPhase::kOpen));
      d = decide_delivery(transient(), b, 0, s, now, 1.0);
      BOOST_TEST(name(d.action) == "hold");
      BOOST_TEST(d.next_attempt == opened_at + s.breaker_cooldown_ms);
      b = d.breaker;
      // After it: half-open; one failure reopens for a full cool-down.
      now = opened_at + s.breaker_cooldown_ms;
      BOOST_TEST((breaker_phase(b, s, now) == BreakerPhase::kHalfOpen));
      d = decide_delivery(transient(), b, 0, s, now, 1.0);
      BOOST_TEST(name(d.breaker_change) == "opened");
      BOOST_TEST(d.breaker.open_until == now + s.breaker_cooldown_ms);
      b = d.breaker;
      // Half-open again, and a success closes it.
      now += s.breaker_cooldown_ms;
      BOOST_TEST((breaker_phase(b, s, now) == BreakerPhase::kHalfOpen));
      d = decide_delivery(accepted(), b, 0, s, now, 1.0);
      BOOST_TEST(name(d.breaker_change) == "closed");
      BOOST_TEST((breaker_phase(d.breaker, s, now) == BreakerPhase::kClosed));
      BOOST_TEST(d.breaker.failures == 0);
      BOOST_TEST(d.breaker.last_success == now);
    }
  }
}
