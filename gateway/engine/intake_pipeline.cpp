#include "gateway/engine/intake_pipeline.hpp"

#include <ctime>
#include <optional>
#include <stdexcept>
#include <utility>
#include <vector>

#include "gateway/audit/insured.hpp"
#include "gateway/engine/admission.hpp"
#include "gateway/engine/engine_core.hpp"
#include "gateway/engine/log.hpp"
#include "gateway/engine/refusal.hpp"
#include "gateway/engine/unit_codec.hpp"
#include "gateway/engine/unit_identity.hpp"
#include "mapping/cms/gateway_attestation.hpp"
#include "mapping/cms/signer_identity.hpp"

namespace kakehashi::gateway::engine {
namespace {

std::string receipt_state_name(ReceiptState s) {
  switch (s) {
    case ReceiptState::kDelivered:
      return "delivered";
    case ReceiptState::kRead:
      return "read";
    case ReceiptState::kRejected:
      return "rejected";
  }
  return "delivered";
}

// A unit from a network that signs nothing, admitted: each file gets a detached signature by the
// proxy credential carrying the gateway's attestation as a signed attribute (where the unit came
// from: mapping/cms/gateway_attestation.hpp), and the intake record the attestation too.
// Throws when it cannot sign (no credential, an origin the attestation cannot carry, a signing
// failure): the unit is not taken in.
void attest(const std::string& network, AdmissionResult& decision,
            const mapping::cms::Credential* attester, std::time_t now) {
  if (attester == nullptr)
    throw std::runtime_error("network " + network +
                             " carries no signatures and names no proxy credential (cosign) to "
                             "sign its units with");
  mapping::cms::GatewayAttestation a;
  a.office_number = decision.unit.sender.office_no;
  a.service_type = decision.unit.sender.service_type;
  a.session = decision.unit.origin_session;
  a.national_item = decision.unit.origin_item;
  a.fetched_at = now;
  a.fetched_sha256 = decision.unit.fetched_sha256;
  for (auto& f : decision.unit.files) {
    const auto sig = mapping::cms::sign_with_attestation(
        mapping::cms::ByteView(reinterpret_cast<const std::uint8_t*>(f.content.data()),
                               f.content.size()),
        *attester, a);
    if (!sig.ok()) throw std::runtime_error("gateway attestation failed: " + sig.error().detail);
    f.cms.assign(sig.value().begin(), sig.value().end());
    f.attached = false;
  }
  decision.detail +=
      "; " + gateway_attestation(network, decision.unit,
                                 mapping::cms::subject_text(attester->certificate.get()));
}

}  // namespace

// One item handed over by an adapter, from hand-over to its answer.
struct IntakePipeline::Slot {
  enum class State { kPending, kReady, kQueued, kDone } state = State::kPending;
  bool ok = false;
  std::function<void(store::Store&)> op;  // what to commit; empty once ready: answered false
  std::function<void(bool)> done;         // the adapter's answer
  std::function<void(bool)> after;        // the engine's own bookkeeping (counters, log)
};

IntakePipeline::IntakePipeline(EngineCore& core, GroupCommitter& committer)
    : core_(core), committer_(committer) {}

void IntakePipeline::on_unit(const std::string& network, InboundUnit unit,
                             std::function<void(bool)> done) {
  const auto it = core_.networks.find(network);
  if (it == core_.networks.end()) {
    done(false);
    return;
  }
  Lane& lane = lanes_[network].units;
  // Routing needs the directories this unit's route depends on (Router::ready_for). Until they
  // have answered once, the unit is taken in all the same, every check but the route run, and
  // held awaiting its route (awaiting_routes.hpp), so the units behind it keep flowing. Only
  // while the source's own directory has not answered (the sender checks need it) does the
  // source keep the unit.
  std::vector<std::string> names;
  for (auto& [name, n] : core_.networks) names.push_back(name);
  auto readiness = core_.router.ready_for(unit.recipient, network, names);
  // A unit of the same sender and recipient awaits its route: this one waits behind it, so the
  // pair keeps its order (it is routed right after it).
  if (readiness.ready &&
      core_.awaiting_route_holds(unit.sender.office_no, unit.recipient.office_no))
    readiness = {false, ""};
  const bool defer_route = !readiness.ready && core_.router.ready({network});
  if (core_.stopping || (!readiness.ready && !defer_route)) {
    if (lane.slots.empty()) {
      done(false);
      return;
    }
    open_slot(lane, std::move(done))->state = Slot::State::kReady;  // false at its turn
    advance(lane);
    return;
  }
  auto slot = open_slot(lane, std::move(done));
  std::shared_ptr<const mapping::cms::TrustDomain> trust;
  std::shared_ptr<const mapping::cms::Credential> attester;  // signs what carries no signature
  const bool inbound_signed = it->second->binding.inbound_signed;
  {
    std::lock_guard lock(core_.credentials_mutex);
    trust = it->second->binding.trust;
    if (!inbound_signed) attester = it->second->binding.cosigner;
  }
  const std::string cursor = unit.cursor;
  const bool sender_must_be_member = it->second->binding.senders_must_be_members;
  // Admission on a worker: signatures, the standard's checks, routing. Nothing durable yet.
  core_.on_worker(
      [this, network, trust, attester, inbound_signed, sender_must_be_member, defer_route,
       waiting_for = readiness.waiting_for, unit = std::move(unit)](store::Store&) mutable {
        AdmissionContext ctx;
        ctx.source_adapter = network;
        ctx.trust = trust.get();
        ctx.router = &core_.router;
        ctx.sender_must_be_member = sender_must_be_member;
        ctx.inbound_signed = inbound_signed;
        ctx.inspect = core_.options.inspect;
        ctx.now = static_cast<std::time_t>(core_.now() / 1000);
        ctx.defer_route = defer_route;
        ctx.waiting_for = waiting_for;
        const std::string source_id = unit.source_id;
        auto decision = admit(std::move(unit), ctx);
        if (!inbound_signed && (decision.accepted || decision.awaiting_route))
          attest(network, decision, attester.get(),
                 ctx.now);  // throws: not taken in, offered again
        auto t = std::make_shared<store::NewTransfer>();
        t->source_adapter = network;
        t->source_id = source_id;
        t->dest_adapter = decision.dest_adapter;
        // Refused units too are counted under the direction they were headed in (or
        // "<source>->unrouted" when the recipient resolved nowhere, or while the route waits);
        // the outcome is their state.
        t->direction =
            network + "->" + (decision.route.empty() ? std::string("unrouted") : decision.route);
        t->sender_office = decision.unit.sender.office_no;
        t->sender_type = decision.unit.sender.service_type;
        t->recipient_office = decision.unit.recipient.office_no;
        t->recipient_type = decision.unit.recipient.service_type;
        t->sequence = decision.sequence;
        t->unit_kind = decision.unit_kind;
        t->subject_key = decision.subject_key;
        const bool admitted = decision.accepted || decision.awaiting_route;
        if (admitted) t->unit_digest = content_digest(decision.unit);
        t->state = decision.accepted         ? store::kAccepted
                   : decision.awaiting_route ? store::kAwaitingRoute
                                             : store::kRejected;
        t->reason = admitted ? "" : refusal_summary(decision.refusals);
        t->notice_text = admitted ? "" : refusal_text_ja(decision.refusals);
        t->idempotency_key = idempotency_key_for(network, source_id);
        t->payload = core_.cipher.seal(serialize_unit(decision.unit));
        t->event_detail = decision.detail;
        // Which path it takes, and for a signed unit the national side will get translated, the
        // signed originals kept as evidence apart from the payload (issue 17). A unit awaiting
        // its route keeps them too: its destination is not known yet.
        const auto dest = core_.networks.find(decision.dest_adapter);
        const bool to_unsigned =
            dest != core_.networks.end() && !dest->second->binding.inbound_signed;
        if (!inbound_signed) {
          t->path = store::kPathAttestedFromNational;
        } else if (to_unsigned) {
          t->path = store::kPathTranslatedToNational;
        } else if (admitted && !decision.awaiting_route) {
          t->path = store::kPathSigned;
        }
        if (inbound_signed && admitted && (to_unsigned || decision.awaiting_route)) {
          const std::int64_t at = core_.now();
          for (const auto& f : decision.unit.files) {
            t->evidence.push_back({store::kEvidenceSignedFile, f.name, core_.cipher.seal(f.content),
                                   f.cms, at, at + core_.options.evidence_retention.count()});
          }
        }
        for (const auto& f : decision.unit.files)  // the store records keyed hashes only
          audit::collect_insured_numbers(f.name, f.content, t->insured_numbers);
        return t;
      },
      [this, network, cursor, slot, &lane, waiting_for = readiness.waiting_for](
          bool ok, std::shared_ptr<store::NewTransfer> t) {
        slot->state = Slot::State::kReady;
        if (ok && t) {
          auto out = std::make_shared<store::AcceptOutcome>();
          std::optional<store::CursorUpdate> c;
          if (!cursor.empty()) c = store::CursorUpdate{network, "units", cursor};
          // The durable accept, with the source cursor, in the group's transaction.
          slot->op = [this, t, c, out](store::Store& s) { *out = s.accept(*t, c, core_.now()); };
          slot->after = [this, network, t, out, waiting_for](bool committed) {
            if (!committed) return;  // not durable: the source keeps it and offers it again
            if (out->duplicate) {
              ++core_.counters.duplicates;
              log(LogLevel::kInfo, "unit-duplicate",
                  {{"network", network},
                   {"transfer", std::to_string(out->id)},
                   {"state", out->state},
                   {"found_by", out->same_unit ? "sequence-and-files" : "source-id"}});
            } else if (out->state == store::kAwaitingRoute) {
              ++core_.counters.awaiting_route;
              log(LogLevel::kInfo, "unit-awaiting-route",
                  {{"network", network},
                   {"transfer", std::to_string(out->id)},
                   {"waiting_for", waiting_for}});
              // Its directory may have answered meanwhile.
              core_.route_awaiting(t->sender_office, t->recipient_office);
            } else if (out->state != store::kAccepted) {
              ++core_.counters.refused;
              log(LogLevel::kInfo, "unit-refused",
                  {{"network", network},
                   {"transfer", std::to_string(out->id)},
                   {"reason", out->reason.empty() ? t->reason : out->reason}});
            } else {
              ++core_.counters.accepted;
              log(LogLevel::kInfo, "unit-accepted",
                  {{"network", network}, {"transfer", std::to_string(out->id)}});
            }
            core_.pump_transfers();
            core_.pump_notices();
          };
        }
        advance(lane);
      });
}

void IntakePipeline::on_receipt(const std::string& network, InboundReceipt receipt,
                                std::function<void(bool)> done) {
  const auto it = core_.networks.find(network);
  if (it == core_.networks.end()) {
    done(false);
    return;
  }
  Lane& lane = lanes_[network].receipts;
  auto slot = open_slot(lane, std::move(done));
  slot->state = Slot::State::kReady;
  if (!core_.stopping) {
    std::optional<store::CursorUpdate> c;
    if (!receipt.cursor.empty()) c = store::CursorUpdate{network, "receipts", receipt.cursor};
    auto id = std::make_shared<std::int64_t>(0);
    slot->op = [this, network, receipt = std::move(receipt), c, id](store::Store& s) {
      *id = s.record_receipt(network, receipt.remote_id, receipt_state_name(receipt.state),
                             receipt.reason, c, core_.now())
                .value_or(0);
    };
    slot->after = [this, network, id](bool committed) {
      if (!committed) return;
      ++core_.counters.receipts;
      if (*id == 0) log(LogLevel::kWarning, "receipt-unknown-item", {{"network", network}});
      core_.pump_notices();
    };
  }
  advance(lane);
}

std::shared_ptr<IntakePipeline::Slot> IntakePipeline::open_slot(Lane& lane,
                                                                std::function<void(bool)> done) {
  auto slot = std::make_shared<Slot>();
  slot->done = std::move(done);
  lane.slots.push_back(slot);
  ++in_flight_;
  return slot;
}

// Ready items go to the committer in hand-over order (never one before an earlier item that is
// still being admitted); answered items leave the lane from the front, so answers keep the order.
void IntakePipeline::advance(Lane& lane) {
  bool earlier_queued = false;
  for (const auto& slot : lane.slots) {
    if (slot->state == Slot::State::kPending) break;
    earlier_queued |= slot->state == Slot::State::kQueued;
    if (slot->state != Slot::State::kReady) continue;
    // An item the source keeps (not ready to route) fails the lane from here on, but only once
    // the items before it are committed: failing the lane now would skip their queued commits
    // (a unit whose route is ready, followed by one whose route waits, must still be accepted).
    if (!lane.failed && !slot->op && earlier_queued) break;
    if (lane.failed || !slot->op) {
      slot->state = Slot::State::kDone;
      slot->ok = false;
      lane.failed = true;
      continue;
    }
    slot->state = Slot::State::kQueued;
    earlier_queued = true;
    committer_.commit(
        slot->op,
        [this, slot, &lane](bool ok) {
          slot->state = Slot::State::kDone;
          slot->ok = ok;
          if (!ok) lane.failed = true;
          advance(lane);
        },
        &lane);
  }
  while (!lane.slots.empty() && lane.slots.front()->state == Slot::State::kDone) {
    const auto slot = std::move(lane.slots.front());
    lane.slots.pop_front();
    --in_flight_;
    if (slot->after) slot->after(slot->ok);
    slot->done(slot->ok);
  }
  if (lane.slots.empty()) lane.failed = false;
  core_.maybe_finish_stop();
}

}  // namespace kakehashi::gateway::engine
