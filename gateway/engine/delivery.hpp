#pragma once
// Delivery (internal to gateway/engine): claims transfers that are due, translates each one on a
// worker (co-signature, translation receipt), keeps the first translation before it is sent,
// sends it through the destination's adapter and carries out what the delivery policy
// (delivery_policy.hpp) decides from the answer: delivered, refused by the destination, retried
// later, held while the destination is paused, or parked. Keeps each destination's circuit
// breaker and the relay latency per direction.

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "gateway/adapter/adapter.hpp"
#include "gateway/engine/delivery_policy.hpp"
#include "gateway/engine/relay_engine.hpp"
#include "gateway/engine/translator.hpp"
#include "gateway/store/store.hpp"
#include "mapping/cms/credential.hpp"

namespace kakehashi::gateway::engine {

struct EngineCore;
class GroupCommitter;

// The policy's settings from the engine's options, and a jitter factor in
// [kJitterMin, kJitterMax) for backoff_delay (delivery_policy.hpp).
DeliverySettings delivery_settings(const EngineOptions& options);
double draw_jitter();

class Delivery {
 public:
  Delivery(EngineCore& core, GroupCommitter& committer);

  // Claims what is due (io thread), up to max_in_flight in flight; skips paused destinations.
  void pump();
  // Nothing being claimed and no transfer between claim and committed outcome.
  bool idle() const { return !claiming_ && in_flight_ == 0; }
  std::size_t in_flight() const { return in_flight_; }
  std::vector<NetworkStatus> network_status() const;
  const std::map<std::string, LatencyHistogram>& latency() const { return latency_; }

 private:
  struct Prepared;
  // A destination as delivery sees it: its breaker, and the refusals an operator must see.
  struct DestinationHealth {
    BreakerState breaker;
    std::int64_t operator_refusals = 0, last_operator_refusal = 0;  // refusal.hpp needs_operator
    std::string last_operator_refusal_reason;
  };

  void translate_claimed(store::Transfer transfer,
                         std::shared_ptr<const mapping::cms::Credential> cosigner,
                         std::shared_ptr<const mapping::cms::Credential> receipt_signer);
  void deliver(Prepared prepared);
  void finish_delivery(const Prepared& prepared, SendResult result);
  // The receipt (DER) to keep with a delivery: version 2 where the network translated the unit.
  std::string delivered_receipt(const std::optional<Translation>& translation, std::int64_t id,
                                const SendResult& result, DeliveryAction action);
  std::vector<std::string> paused_destinations() const;

  EngineCore& core_;
  GroupCommitter& committer_;
  std::map<std::string, DestinationHealth> health_;
  std::map<std::string, LatencyHistogram> latency_;
  std::size_t in_flight_ = 0;
  bool claiming_ = false;
};

}  // namespace kakehashi::gateway::engine
