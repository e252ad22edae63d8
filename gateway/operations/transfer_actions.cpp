#include "gateway/operations/transfer_actions.hpp"

namespace kakehashi::gateway::operations {

namespace {

ActionResult refused(ActionOutcome outcome, std::string state, std::string detail) {
  return {outcome, std::move(state), std::move(detail)};
}

std::string state_now(store::Store& s, std::int64_t id) {
  const auto t = s.get(id);
  return t ? t->state : std::string();
}

std::string transfer_text(std::int64_t id) {
  return "transfer " + std::to_string(id);
}

}  // namespace

ActionResult retry_transfer(store::Store& s, std::int64_t id, const std::string& actor,
                            std::int64_t now) {
  const auto t = s.get(id);
  if (!t) return refused(ActionOutcome::kNotFound, "", "no transfer " + std::to_string(id));
  if (!s.redrive(id, actor, now))
    return refused(ActionOutcome::kWrongState, state_now(s, id),
                   transfer_text(id) + " is " + t->state + ", not parked");
  return {ActionOutcome::kDone, state_now(s, id), ""};
}

ActionResult park_transfer(store::Store& s, std::int64_t id, const std::string& reason,
                           const std::string& actor, std::int64_t now) {
  const auto t = s.get(id);
  if (!t) return refused(ActionOutcome::kNotFound, "", "no transfer " + std::to_string(id));
  if (t->state != store::kAccepted)
    return refused(ActionOutcome::kWrongState, t->state,
                   transfer_text(id) + " is " + t->state + ", not in flight");
  // Delivery may finish the transfer between the read and the write: the store then parks
  // nothing, and the operator must hear so.
  if (!s.park(id, reason, actor, now))
    return refused(ActionOutcome::kFinishedMeanwhile, state_now(s, id),
                   transfer_text(id) + " finished before it could be parked");
  return {ActionOutcome::kDone, state_now(s, id), ""};
}

}  // namespace kakehashi::gateway::operations
