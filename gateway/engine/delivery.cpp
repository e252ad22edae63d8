#include "gateway/engine/delivery.hpp"

#include <algorithm>
#include <cmath>
#include <ctime>
#include <limits>
#include <optional>
#include <random>
#include <utility>

#include "gateway/engine/engine_core.hpp"
#include "gateway/engine/group_committer.hpp"
#include "gateway/engine/log.hpp"
#include "gateway/engine/refusal.hpp"
#include "gateway/engine/translator.hpp"
#include "gateway/engine/unit_codec.hpp"

namespace kakehashi::gateway::engine {
namespace {

std::string base64(const std::string& in) {
  static constexpr char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  std::size_t i = 0;
  for (; i + 2 < in.size(); i += 3) {
    const unsigned v = (static_cast<unsigned char>(in[i]) << 16) |
                       (static_cast<unsigned char>(in[i + 1]) << 8) |
                       static_cast<unsigned char>(in[i + 2]);
    out += kAlphabet[(v >> 18) & 63];
    out += kAlphabet[(v >> 12) & 63];
    out += kAlphabet[(v >> 6) & 63];
    out += kAlphabet[v & 63];
  }
  if (i < in.size()) {
    unsigned v = static_cast<unsigned char>(in[i]) << 16;
    if (i + 1 < in.size()) v |= static_cast<unsigned char>(in[i + 1]) << 8;
    out += kAlphabet[(v >> 18) & 63];
    out += kAlphabet[(v >> 12) & 63];
    out += i + 1 < in.size() ? kAlphabet[(v >> 6) & 63] : '=';
    out += '=';
  }
  return out;
}

}  // namespace

struct Delivery::Prepared {
  store::Transfer transfer;
  std::optional<Translation> translation;
  std::string sealed;   // a first translation, sealed, to keep before sending ("" on a retry)
  std::string failure;  // why it cannot be delivered at all (parked)
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
    if (const auto b = breakers_.find(name); b != breakers_.end()) {
      s.failures = b->second.failures;
      s.open_until = b->second.open_until > core_.now() ? b->second.open_until : 0;
      s.last_success = b->second.last_success;
      s.last_failure = b->second.last_failure;
      s.failing_since = b->second.failures > 0 ? b->second.failing_since : 0;
      s.operator_refusals = b->second.operator_refusals;
      s.last_operator_refusal = b->second.last_operator_refusal;
      s.last_operator_refusal_reason = b->second.last_operator_refusal_reason;
    }
    s.directory_loaded = core_.router.ready({name});
    out.push_back(std::move(s));
  }
  return out;
}

std::vector<std::string> Delivery::paused_destinations() const {
  std::vector<std::string> paused;
  const auto t = core_.now();
  for (const auto& [name, b] : breakers_) {
    if (b.open_until > t) paused.push_back(name);
  }
  return paused;
}

std::int64_t backoff_delay(const EngineOptions& options, std::int64_t attempts) {
  const double base = static_cast<double>(options.backoff_initial.count());
  const double cap = static_cast<double>(options.backoff_max.count());
  const double exp = std::min(
      cap, base * std::pow(2.0, static_cast<double>(std::min<std::int64_t>(attempts, 30))));
  thread_local std::mt19937_64 rng{std::random_device{}()};
  std::uniform_real_distribution<double> jitter(0.8, 1.2);  // spreads retries of a burst
  return static_cast<std::int64_t>(exp * jitter(rng));
}

void Delivery::pump() {
  if (claiming_ || core_.stopping || in_flight_ >= core_.options.max_in_flight) return;
  claiming_ = true;
  const std::size_t room = core_.options.max_in_flight - in_flight_;
  auto paused = paused_destinations();
  core_.on_worker(
      [this, room, paused](store::Store& s) {
        return s.claim_transfers(core_.options.instance_id, core_.now(),
                                 core_.options.lease.count(), room, paused);
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
  OutboundUnit out = p.translation->unit;
  auto shared = std::make_shared<Prepared>(std::move(p));
  net.adapter->send(std::move(out), [this, alive = core_.alive, shared](SendResult r) {
    if (!*alive) return;
    finish_delivery(*shared, std::move(r));
  });
}

void Delivery::finish_delivery(const Prepared& p, SendResult r) {
  const auto& t = p.transfer;
  auto& breaker = breakers_[t.dest_adapter];
  const std::int64_t at = core_.now();
  enum class Action { kDelivered, kRefused, kRetry, kRelease, kPark };
  Action action = Action::kRetry;
  std::int64_t next = at;
  std::string error = r.error_code + (r.message.empty() ? "" : ": " + r.message);
  switch (r.status) {
    case SendResult::Status::kAccepted:
      breaker.failures = 0;  // closed again (what the network refused before stays counted)
      breaker.open_until = 0;
      breaker.failing_since = 0;
      breaker.last_success = at;
      action = Action::kDelivered;
      latency_[t.direction].observe(static_cast<double>(at - t.created_at) / 1000.0);
      break;
    case SendResult::Status::kRejected:
      breaker.failures = 0;
      breaker.last_success = at;
      action = Action::kRefused;
      break;
    case SendResult::Status::kRetry:
      if (breaker.failures == 0) breaker.failing_since = at;
      breaker.last_failure = at;
      ++breaker.failures;
      if (r.retry_after) {
        // Maintenance or rate limit: pause the whole network, do not burn an attempt.
        breaker.open_until = std::max(breaker.open_until, at + r.retry_after->count() * 1000);
        action = Action::kRelease;
        next = breaker.open_until;
      } else if (breaker.open_until > at) {
        action = Action::kRelease;
        next = breaker.open_until;
      } else {
        if (breaker.failures >= core_.options.breaker_failures) {
          breaker.open_until = at + core_.options.breaker_cooldown.count();
          log(LogLevel::kWarning, "circuit-open",
              {{"network", t.dest_adapter}, {"until_ms", std::to_string(breaker.open_until)}});
        }
        if (t.attempts + 1 >= core_.options.max_attempts) {
          action = Action::kPark;
          // Counted and parked in two commits: never claimable in between (a re-drive sets the
          // next attempt again).
          next = std::numeric_limits<std::int64_t>::max();
        } else {
          action = Action::kRetry;
          next = at + backoff_delay(core_.options, t.attempts);
        }
      }
      break;
  }
  auto held = std::make_shared<bool>(true);  // false: the lease was lost, nothing written
  committer_.commit(
      [this, t, action, next, error, at, held, r,
       receipt = p.translation ? base64(p.translation->receipt_der) : std::string(),
       digests = p.translation
                     ? p.translation->inbound_sha256 + " -> " + p.translation->outbound_sha256
                     : std::string()](store::Store& s) {
        switch (action) {
          case Action::kDelivered:
            *held = s.mark_delivered(
                t.id, core_.options.instance_id, r.remote_id,
                "to " + t.dest_adapter + " as " + r.remote_id + "; envelope " + digests, at,
                receipt);
            break;
          case Action::kRefused: {
            const Refusal refusal = destination_refusal(r.error_code, r.message);
            s.reject_at_destination(t.id, refusal_summary({refusal}),
                                    refusal_text_ja({refusal}) + "（" + error + "）\n", at);
            break;
          }
          case Action::kRetry:
            *held = s.retry_later(t.id, core_.options.instance_id, next, error, at);
            break;
          case Action::kRelease:
            s.release(t.id, core_.options.instance_id, next, "paused: " + error, at);
            break;
          case Action::kPark:
            // Counted and parked in one transaction.
            *held =
                s.retry_later(t.id, core_.options.instance_id, next, error, at) &&
                s.park(t.id, "failed " + std::to_string(t.attempts + 1) + " times; last: " + error,
                       "engine", at);
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
            case Action::kDelivered:
              ++core_.counters.delivered;
              log(LogLevel::kInfo, "transfer-delivered",
                  {{"transfer", std::to_string(t.id)}, {"network", t.dest_adapter}});
              break;
            case Action::kRefused: {
              ++core_.counters.destination_refused;
              const Refusal refusal = destination_refusal(r.error_code, r.message);
              log(LogLevel::kWarning, "transfer-refused-by-destination",
                  {{"transfer", std::to_string(t.id)},
                   {"network", t.dest_adapter},
                   {"code", refusal.code},
                   {"error", error}});
              if (needs_operator(
                      refusal)) {  // an operator alert (admin api): the sender cannot act
                auto& b = breakers_[t.dest_adapter];
                ++b.operator_refusals;
                b.last_operator_refusal = core_.now();
                b.last_operator_refusal_reason = refusal.code + " " + error;
              }
              break;
            }
            case Action::kRetry:
              ++core_.counters.retries;
              break;
            case Action::kRelease:
              ++core_.counters.released;
              break;
            case Action::kPark:
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
