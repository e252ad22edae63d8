#pragma once
// Admission: everything checked before a unit is accepted — names, combination and CSV layouts
// (mapping::inspect), signatures and the signer's office, the envelope against the file names,
// the sending facility's right to speak for the office, and the route to the recipient.
// Pure apart from the clock: bytes and snapshots in, a decision out.

#include <ctime>
#include <string>
#include <vector>

#include "gateway/adapter/adapter.hpp"
#include "gateway/engine/refusal.hpp"
#include "gateway/engine/router.hpp"
#include "mapping/careplan/inspector.hpp"
#include "mapping/cms/trust_domain.hpp"

namespace kakehashi::gateway::engine {

struct AdmissionResult {
  bool accepted = false;
  InboundUnit unit;          // canonical: every file with content and a detached signature
  std::string dest_adapter;  // when accepted
  // Every check but the route passed, and the route was left for later
  // (AdmissionContext::defer_route): not accepted, not refused; taken in awaiting its route.
  bool awaiting_route = false;
  std::string route;        // where the recipient resolved to, also when refused ("" if nowhere)
  std::string unit_kind;    // combination id (K2, P1, ...) or "" when unknown
  std::string sequence;     // from the file names ("" when unreadable)
  std::string subject_key;  // kind, month and users: what a newer unit replaces
  std::vector<Refusal> refusals;
  std::string detail;  // for the intake event: signers, kind, route (no payload)
};

struct AdmissionContext {
  std::string source_adapter;
  const mapping::cms::TrustDomain* trust = nullptr;  // the source network's trust domain
  const Router* router = nullptr;
  // A sender without a facility must be an active office native to the source network
  // (the national network: NetworkBinding::senders_must_be_members).
  bool sender_must_be_member = false;
  // false: the source network carries no signatures (AdapterTraits::inbound_signed, Kaigo WEB):
  // no sender signature is demanded (any `cms` is dropped); every other check runs as usual. The
  // engine signs the admitted files as the proxy afterwards (gateway_attestation below).
  bool inbound_signed = true;
  mapping::InspectOptions inspect;
  std::time_t now = 0;
  // The route cannot be decided yet (a directory it depends on has not answered): every other
  // check runs, the route step is skipped, and `waiting_for` (the network whose directory it
  // waits for; "" when it waits behind an earlier unit of its pair) goes into the intake record.
  bool defer_route = false;
  std::string waiting_for;
};

AdmissionResult admit(InboundUnit unit, const AdmissionContext& context);

// The gateway's attestation for a unit from a network that signs nothing (README.md, "Units from
// networks that carry no signature"): its origin (the network, the office session that fetched
// it, the item id, the SHA-256 of the bytes fetched) and the signer that stands for it. Recorded
// in the intake audit record, so `audit export` and evidence bundles show it. Never payload.
std::string gateway_attestation(const std::string& network, const InboundUnit& unit,
                                const std::string& signer_subject);

}  // namespace kakehashi::gateway::engine
