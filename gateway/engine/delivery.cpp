#include "gateway/engine/delivery.hpp"

#include <algorithm>
#include <ctime>
#include <optional>
#include <random>
#include <utility>

#include "gateway/engine/delivery_policy.hpp"
#include "gateway/engine/engine_core.hpp"
#include "gateway/engine/group_committer.hpp"
#include "gateway/engine/log.hpp"
#include "gateway/engine/refusal.hpp"
#include "gateway/engine/translator.hpp"
#include "gateway/engine/unit_codec.hpp"
#include "mapping/common/base64.hpp"

namespace kakehashi::gateway::engine {

struct Delivery::Prepared {
  store::Transfer transfer;
  std::optional<Translation> translation;
  std::string sealed;        // a first translation, sealed, to keep before sending ("" on a retry)
  std::string failure;       // why it cannot be delivered at all (parked)
  std::int64_t sent_at = 0;  // when the adapter was called (ms)
};

Delivery::Delivery(EngineCore& core, GroupCommitter& committer)
    : core_(core), committer_(committer) {}

void LatencyHistogram::observe(double seconds) {
  for (std::size_t i = 0; i < std::size(kBounds); ++i) {
    if (seconds <= kBounds[i]) ++buckets[i];
  }
  ++count;
  sum += seconds;
}

std::vector<NetworkStatus> Delivery::network_status() const {
  std::vector<NetworkStatus> out;
  for (const auto& [name, n] : core_.networks) {
    NetworkStatus s;
    s.name = name;
    if (const auto h = health_.find(name); h != health_.end()) {
      const BreakerState& b = h->second.breaker;
      s.failures = b.failures;
      s.open_until = b.open_until > core_.now() ? b.open_until : 0;
      s.last_success = b.last_success;
      s.last_failure = b.last_failure;
      s.failing_since = b.failures > 0 ? b.failing_since : 0;
      s.operator_refusals = h->second.operator_refusals;
      s.last_operator_refusal = h->second.last_operator_refusal;
      s.last_operator_refusal_reason = h->second.last_operator_refusal_reason;
    }
    s.directory_loaded = core_.router.ready({name});
    out.push_back(std::move(s));
  }
  return out;
}

std::vector<std::string> Delivery::paused_destinations() const {
  std::vector<std::string> paused;
  const auto t = core_.now();
  for (const auto& [name, h] : health_) {
    if (h.breaker.open_until > t) paused.push_back(name);
  }
  return paused;
}

void Delivery::pump() {
  if (claiming_ || core_.stopping || in_flight_ >= core_.options.max_in_flight) return;
  claiming_ = true;
  const std::size_t room = core_.options.max_in_flight - in_flight_;
  auto paused = paused_destinations();
  auto held = core_.office_holds.held_pairs(core_.now());
  core_.on_worker(
      [this, room, paused, held](store::Store& s) {
        return s.claim_transfers(core_.options.instance_id, core_.now(),
                                 core_.options.lease.count(), room, paused, held);
      },
      [this, room](bool ok, std::vector<store::Transfer> claimed) {
        claiming_ = false;
        if (!ok) return core_.maybe_finish_stop();
        std::map<std::string, std::shared_ptr<const mapping::cms::Credential>> cosigners;
        std::shared_ptr<const mapping::cms::Credential> receipt_signer;
        {
          std::lock_guard lock(core_.credentials_mutex);
          for (auto& [name, n] : core_.networks) cosigners[name] = n->binding.cosigner;
          receipt_signer = core_.receipt_signer;
        }
        const bool full = claimed.size() >= room;
        for (auto& t : claimed) {
          ++in_flight_;  // until its outcome is committed
          const auto cosigner = cosigners.find(t.dest_adapter);
          translate_claimed(std::move(t), cosigner == cosigners.end() ? nullptr : cosigner->second,
                            receipt_signer);
        }
        if (full) pump();
        core_.maybe_finish_stop();
      });
}

// Each claimed transfer is translated by its own worker task (co-signature and receipt: the
// private-key work), then its first translation is kept before it is sent.
void Delivery::translate_claimed(store::Transfer t,
                                 std::shared_ptr<const mapping::cms::Credential> cosigner,
                                 std::shared_ptr<const mapping::cms::Credential> receipt_signer) {
  const std::int64_t id = t.id;
  const auto net = core_.networks.find(t.dest_adapter);
  const std::optional<EnvelopeForm> form = net == core_.networks.end()
                                               ? std::nullopt
                                               : std::optional(net->second->binding.outbound_form);
  core_.on_worker(
      [this, t = std::move(t), form, cosigner, receipt_signer](store::Store&) {
        Prepared p;
        p.transfer = t;
        p.transfer.payload.clear();
        p.transfer.outbound.clear();
        // A retry resends the translation made for the first attempt, byte for byte.
        if (!t.outbound.empty()) {
          const auto sealed = core_.cipher.open(t.outbound);
          const auto sent = sealed ? deserialize_translation(*sealed) : std::nullopt;
          if (sent) {
            p.translation = Translation{sent->unit, sent->receipt_der, sent->inbound_sha256,
                                        sent->outbound_sha256};
            return p;
          }
        }
        const auto plain = core_.cipher.open(t.payload);
        const auto unit = plain ? deserialize_unit(*plain) : std::nullopt;
        if (!unit) {
          p.failure = "stored payload cannot be opened (key changed or data damaged)";
        } else if (!form) {
          p.failure = "destination network " + t.dest_adapter + " is not configured";
        } else if (!receipt_signer) {
          p.failure = "no translation receipt signer is configured";
        } else {
          auto tr = translate(*unit, *form, std::to_string(t.id), t.idempotency_key, t.unit_kind,
                              cosigner.get(), *receipt_signer,
                              static_cast<std::time_t>(core_.now() / 1000));
          if (auto* ok = std::get_if<Translation>(&tr)) {
            p.translation = std::move(*ok);
            p.sealed = core_.cipher.seal(serialize_translation(
                {p.translation->unit, p.translation->receipt_der, p.translation->inbound_sha256,
                 p.translation->outbound_sha256}));
          } else {
            p.failure = "translation failed: " + std::get<TranslationError>(tr).message;
          }
        }
        return p;
      },
      [this, id](bool ok, Prepared p) {
        if (!ok) {
          // Lease kept: the transfer is claimed again when it ends.
          --in_flight_;
          log(LogLevel::kError, "translation-crashed", {{"transfer", std::to_string(id)}});
          return core_.maybe_finish_stop();
        }
        if (!p.failure.empty()) {
          const std::string failure = p.failure;
          return committer_.commit(
              [this, id, failure](store::Store& s) { s.park(id, failure, "engine", core_.now()); },
              [this, id, failure](bool committed) {
                --in_flight_;
                if (committed) {
                  ++core_.counters.parked;
                  log(LogLevel::kError, "transfer-parked",
                      {{"transfer", std::to_string(id)}, {"reason", failure}});
                }
                pump();
                core_.maybe_finish_stop();
              });
        }
        if (p.sealed.empty()) return deliver(std::move(p));
        auto shared = std::make_shared<Prepared>(std::move(p));
        committer_.commit(
            [id, shared](store::Store& s) { s.save_outbound(id, shared->sealed); },
            [this, id, shared](bool committed) {
              if (!committed) {
                // Not sent: a retry must resend exactly what was kept. Claimed again later.
                --in_flight_;
                log(LogLevel::kError, "translation-not-kept", {{"transfer", std::to_string(id)}});
                return core_.maybe_finish_stop();
              }
              shared->sealed.clear();
              deliver(std::move(*shared));
            });
      });
}

void Delivery::deliver(Prepared p) {
  auto& net = *core_.networks.at(p.transfer.dest_adapter);
  p.sent_at = core_.now();
  OutboundUnit out = p.translation->unit;
  // Claims so far, this one included: more than 1 means it may have gone out before (§6).
  out.attempt = static_cast<int>(std::max<std::int64_t>(1, p.transfer.claims));
  auto shared = std::make_shared<Prepared>(std::move(p));
  net.adapter->send(std::move(out), [this, alive = core_.alive, shared](SendResult r) {
    if (!*alive) return;
    finish_delivery(*shared, std::move(r));
  });
}

DeliverySettings delivery_settings(const EngineOptions& options) {
  DeliverySettings s;
  s.max_attempts = options.max_attempts;
  s.backoff_initial_ms = options.backoff_initial.count();
  s.backoff_max_ms = options.backoff_max.count();
  s.breaker_failures = options.breaker_failures;
  s.breaker_cooldown_ms = options.breaker_cooldown.count();
  s.office_recheck_ms = options.office_recheck.count();
  return s;
}

double draw_jitter() {
  thread_local std::mt19937_64 rng{std::random_device{}()};
  return std::uniform_real_distribution<double>(kJitterMin, kJitterMax)(rng);
}

// The policy decides (delivery_policy.hpp); this applies the decision: the breaker and latency
// at once, the transfer's new state in the group commit, counters and logs once it is durable.
// The receipt kept with a delivery (DER): where the network translated the unit and says
// what it took (SendResult::sent_sha256), version 2, binding the senders' SignerInfos to that
// document and the item id; otherwise the version 1 receipt made with the translation. Signing
// it is the private-key work of one delivery (about a millisecond), done here once per unit.
std::string Delivery::delivered_receipt(const std::optional<Translation>& translation,
                                        std::int64_t id, const SendResult& r,
                                        DeliveryAction action) {
  if (!translation) return {};
  std::string der = translation->receipt_der;
  if (action == DeliveryAction::kDelivered && !r.sent_sha256.empty()) {
    std::shared_ptr<const mapping::cms::Credential> signer;
    {
      std::lock_guard lock(core_.credentials_mutex);
      signer = core_.receipt_signer;
    }
    auto v2 = signer ? bind_sent_document(*translation, r.sent_sha256, r.remote_id, *signer)
                     : std::variant<std::string, TranslationError>(
                           TranslationError{"no translation receipt signer is configured"});
    if (auto* ok = std::get_if<std::string>(&v2)) {
      der = std::move(*ok);
    } else {
      // Degraded: the version 1 receipt is kept; the delivery event names the document digest.
      log(LogLevel::kWarning, "receipt-v2-failed",
          {{"transfer", std::to_string(id)}, {"reason", std::get<TranslationError>(v2).message}});
    }
  }
  return der;
}

void Delivery::finish_delivery(const Prepared& p, SendResult r) {
  const auto& t = p.transfer;
  auto& health = health_[t.dest_adapter];
  const std::int64_t at = core_.now();
  DeliveryDecision decision = decide_delivery(r, health.breaker, t.attempts,
                                              delivery_settings(core_.options), at, draw_jitter());
  health.breaker = decision.breaker;
  if (decision.breaker_change == BreakerChange::kOpened)
    log(LogLevel::kWarning, "circuit-open",
        {{"network", t.dest_adapter}, {"until_ms", std::to_string(health.breaker.open_until)}});
  if (decision.action == DeliveryAction::kDelivered)
    latency_[t.direction].observe(static_cast<double>(at - t.created_at) / 1000.0);
  // The sender office waits on this network: claim none of its units until the recheck or an
  // "active" report (at once, so units claimed meanwhile are not offered in vain).
  if (decision.action == DeliveryAction::kHoldOffice) {
    const auto state = core_.office_holds.state(t.dest_adapter, t.sender_office);
    if (state && !state->holds_outbound && state->reported_at >= p.sent_at) {
      // The office was reported active while this send was under way: a stale answer. Offered
      // again at once instead of waiting for the re-offer.
      decision.next_attempt = at;
    } else {
      core_.office_holds.hold(t.dest_adapter, t.sender_office, decision.next_attempt);
      if (core_.office_holds.take_owed(t.dest_adapter, t.sender_office))
        core_.tell_office(t.dest_adapter, t.sender_office);
    }
  }
  const DeliveryAction action = decision.action;
  const std::int64_t next = decision.next_attempt;
  const std::string error = decision.error;
  const std::string park_reason = decision.park_reason;
  auto held = std::make_shared<bool>(true);  // false: the lease was lost, nothing written
  committer_.commit(
      [this, t, action, next, error, park_reason, at, held, r, translation = p.translation,
       digests = p.translation
                     ? p.translation->inbound_sha256 + " -> " + p.translation->outbound_sha256
                     : std::string()](store::Store& s) {
        switch (action) {
          case DeliveryAction::kDelivered: {
            // Off the network thread: the version 2 receipt is a private-key operation.
            const std::string receipt_der = delivered_receipt(translation, t.id, r, action);
            *held = s.mark_delivered(
                t.id, core_.options.instance_id, r.remote_id,
                "to " + t.dest_adapter + " as " + r.remote_id + "; envelope " + digests +
                    (r.sent_sha256.empty() ? "" : "; document sent sha256 " + r.sent_sha256),
                at, mapping::common::base64_encode(receipt_der));
            // The receipt of a unit translated for the national side is evidence too, kept
            // with the signed originals after the payload is purged.
            if (*held && t.path == store::kPathTranslatedToNational && !receipt_der.empty())
              s.keep_evidence(t.id, {{store::kEvidenceReceipt, "", "", receipt_der, at,
                                      at + core_.options.evidence_retention.count()}});
            break;
          }
          case DeliveryAction::kRefused: {
            const Refusal refusal = destination_refusal(r.error_code, r.message);
            s.reject_at_destination(t.id, refusal_summary({refusal}),
                                    refusal_text_ja({refusal}) + "（" + error + "）\n", at);
            break;
          }
          case DeliveryAction::kRetry:
            *held = s.retry_later(t.id, core_.options.instance_id, next, error, at);
            break;
          case DeliveryAction::kHold:
            s.release(t.id, core_.options.instance_id, next, "paused: " + error, at);
            break;
          case DeliveryAction::kHoldOffice:
            s.hold_for_office(t.id, core_.options.instance_id, next, error, at);
            break;
          case DeliveryAction::kPark:
            // Counted and parked in one transaction.
            *held = s.retry_later(t.id, core_.options.instance_id, next, error, at) &&
                    s.park(t.id, park_reason, "engine", at);
            break;
        }
      },
      [this, t, action, error, held, r](bool committed) {
        --in_flight_;
        if (committed && !*held) {
          log(LogLevel::kWarning, "transfer-lease-lost",
              {{"transfer", std::to_string(t.id)}, {"network", t.dest_adapter}});
        } else if (committed) {
          switch (action) {
            case DeliveryAction::kDelivered:
              ++core_.counters.delivered;
              log(LogLevel::kInfo, "transfer-delivered",
                  {{"transfer", std::to_string(t.id)}, {"network", t.dest_adapter}});
              break;
            case DeliveryAction::kRefused: {
              ++core_.counters.destination_refused;
              const Refusal refusal = destination_refusal(r.error_code, r.message);
              log(LogLevel::kWarning, "transfer-refused-by-destination",
                  {{"transfer", std::to_string(t.id)},
                   {"network", t.dest_adapter},
                   {"code", refusal.code},
                   {"error", error}});
              if (needs_operator(
                      refusal)) {  // an operator alert (admin api): the sender cannot act
                auto& h = health_[t.dest_adapter];
                ++h.operator_refusals;
                h.last_operator_refusal = core_.now();
                h.last_operator_refusal_reason = refusal.code + " " + error;
              }
              break;
            }
            case DeliveryAction::kRetry:
              ++core_.counters.retries;
              break;
            case DeliveryAction::kHold:
              ++core_.counters.released;
              break;
            case DeliveryAction::kHoldOffice:
              ++core_.counters.held_for_office;
              log(LogLevel::kInfo, "transfer-held-for-office",
                  {{"transfer", std::to_string(t.id)},
                   {"network", t.dest_adapter},
                   {"office", t.sender_office},
                   {"error", error}});
              break;
            case DeliveryAction::kPark:
              ++core_.counters.parked;
              log(LogLevel::kError, "transfer-parked",
                  {{"transfer", std::to_string(t.id)}, {"reason", error}});
              break;
          }
        }
        pump();
        core_.pump_notices();
        core_.maybe_finish_stop();
      });
}

}  // namespace kakehashi::gateway::engine
