#include "gateway/engine/admission.hpp"

#include <algorithm>
#include <set>

#include "gateway/engine/file_checks.hpp"
#include "gateway/engine/unit_identity.hpp"
#include "mapping/careplan/csv_reader.hpp"
#include "mapping/cms/content_converter.hpp"
#include "mapping/cms/signer_identity.hpp"
#include "mapping/cms/translation_receipt.hpp"
#include "mapping/cms/verify.hpp"

namespace kakehashi::gateway::engine {
namespace {

namespace cms = mapping::cms;

cms::ByteView view(const std::string& s) {
  return {reinterpret_cast<const std::uint8_t*>(s.data()), s.size()};
}
std::string str(const cms::Bytes& b) {
  return {b.begin(), b.end()};
}

Refusal unit_refusal(const char* code, std::string detail, std::string file = {}) {
  Refusal r;
  r.code = code;
  r.file = std::move(file);
  r.detail = std::move(detail);
  return r;
}

}  // namespace

AdmissionResult admit(InboundUnit unit, const AdmissionContext& ctx) {
  AdmissionResult result;
  auto& refusals = result.refusals;
  // Each admission check and its outcome, for the audit record.
  std::string checks;
  std::size_t refused_before = 0;
  const auto check = [&](const char* name) {
    checks += std::string(checks.empty() ? "" : ", ") + name +
              (refusals.size() == refused_before ? " ok" : " refused");
    refused_before = refusals.size();
  };
  // An item its adapter could not read (issue 14): refused back to the sender with the reason.
  if (!unit.unreadable.empty()) {
    refusals.push_back(unit_refusal(refusal_codes::kItemUnreadable, unit.unreadable));
    result.unit = std::move(unit);
    return result;
  }
  if (unit.files.empty()) {
    refusals.push_back(unit_refusal(refusal_codes::kNoFiles, "the message carries no files"));
    result.unit = std::move(unit);
    return result;
  }

  // 1. Names every destination can store; every file as content + detached signature (the
  // national form embeds the content).
  std::vector<bool> was_attached;
  for (auto& f : unit.files) {
    was_attached.push_back(f.attached);
    if (auto refusal = check_file_name(f.name)) refusals.push_back(std::move(*refusal));
    if (f.attached) {
      auto detached = cms::detach_content(view(f.cms));
      if (!detached) {
        refusals.push_back(unit_refusal(refusal_codes::kSignatureInvalid,
                                        "signed data cannot be opened: " + detached.error().detail,
                                        f.name));
        continue;
      }
      f.content = str(detached.value().content);
      f.cms = str(detached.value().signature);
      f.attached = false;
    }
  }

  check("envelope");
  // 2. The care-plan standard.
  std::vector<mapping::InputFile> inputs;
  for (const auto& f : unit.files) inputs.push_back({f.name, f.content, f.content.size()});
  const auto report = mapping::inspect(inputs, ctx.inspect);
  if (report.units.size() != 1 || !report.units[0].key) {
    refusals.push_back(unit_refusal(refusal_codes::kEnvelopeMismatch,
                                    "the files belong to " + std::to_string(report.units.size()) +
                                        " send units; one message carries one unit"));
  }
  for (const auto& u : report.units) {
    for (const auto& finding : u.findings) {
      if (finding.severity == mapping::Severity::kError) refusals.push_back(refusal_from(finding));
    }
  }
  if (report.units.size() == 1 && report.units[0].key) {
    const auto& key = *report.units[0].key;
    result.sequence = key.sequence;
    if (report.units[0].combination != nullptr) result.unit_kind = report.units[0].combination->id;
    const bool v3 = key.from.service_type.empty();
    if (key.from.office_no != unit.sender.office_no ||
        key.to.office_no != unit.recipient.office_no ||
        (!v3 && (key.from.service_type != unit.sender.service_type ||
                 key.to.service_type != unit.recipient.service_type))) {
      refusals.push_back(
          unit_refusal(refusal_codes::kEnvelopeMismatch,
                       "the message's sender or recipient differs from the file names"));
    }
  }

  check("standard");
  // 3. Signatures: each file signed by a certificate of the source network naming the sender;
  // none on a network that carries none (the engine signs those as the proxy once admitted).
  std::set<std::string> signers;
  for (std::size_t i = 0; !ctx.inbound_signed && i < unit.files.size(); ++i) {
    unit.files[i].cms.clear();
    unit.files[i].attached = false;
  }
  for (std::size_t i = 0; ctx.inbound_signed && i < unit.files.size(); ++i) {
    auto signature = check_file_signature(unit.files[i], was_attached[i], unit.sender.office_no,
                                          ctx.trust, ctx.now);
    if (signature.refusal) {
      refusals.push_back(std::move(*signature.refusal));
    } else {
      signers.insert(std::move(signature.signer));
    }
  }

  check(ctx.inbound_signed ? "signatures" : "signatures-not-carried");
  // 4. The sender may speak for the office: a regional facility only as the offices listed
  // under it; a sender without a facility (national) only as an active office native to its
  // network (its signing certificate naming it is step 3).
  if (!unit.sender_facility.empty()) {
    if (!ctx.router->facility_holds(ctx.source_adapter, unit.sender_facility, unit.sender)) {
      refusals.push_back(unit_refusal(
          refusal_codes::kSenderNotAuthorized,
          "facility " + unit.sender_facility + " does not hold office " + unit.sender.office_no));
    }
  } else if (ctx.sender_must_be_member) {
    if (auto refusal = ctx.router->check_sender(ctx.source_adapter, unit.sender))
      refusals.push_back(std::move(*refusal));
  }

  check("sender-authorized");
  // 5. The route, unless it waits for a directory (decided later: route_decision()).
  RouteDecision route;
  if (!ctx.defer_route) {
    route = ctx.router->resolve(unit.recipient, ctx.source_adapter);
    if (route.refusal) refusals.push_back(*route.refusal);
    if (route.adapter) result.route = *route.adapter;
    check("route");
  }

  result.subject_key = subject_key(unit, result.unit_kind);
  result.detail = "kind " + (result.unit_kind.empty() ? std::string("?") : result.unit_kind) +
                  ", " + std::to_string(unit.files.size()) + " files";
  for (const auto& s : signers) result.detail += "; signer " + s;
  result.detail += "; checks " + checks;
  // What the adapter changed on the way in (e.g. characters substituted), for the audit record.
  if (!unit.audit_note.empty()) result.detail += "; " + unit.audit_note;
  // The routing decision and the registry version it used (the sync id: `kakehashi registry
  // diff --sync N` shows what that sync changed).
  if (ctx.defer_route) {
    result.detail += "; route waits for " + (ctx.waiting_for.empty()
                                                 ? std::string("an earlier unit of this sender "
                                                               "and recipient")
                                                 : ctx.waiting_for + "'s directory");
  } else {
    result.detail += "; route " + (route.adapter ? *route.adapter : std::string("refused")) +
                     " (registry " + std::to_string(route.registry_version) + ")";
  }
  if (refusals.empty() && ctx.defer_route) {
    result.awaiting_route = true;
  } else if (refusals.empty()) {
    result.accepted = true;
    result.dest_adapter = *route.adapter;
  } else {
    result.detail += "; refused: " + refusal_summary(refusals);
  }
  result.unit = std::move(unit);
  return result;
}

std::string gateway_attestation(const std::string& network, const InboundUnit& unit,
                                const std::string& signer_subject) {
  const auto or_none = [](const std::string& s) { return s.empty() ? std::string("-") : s; };
  return "gateway attestation v1: from " + network + " office " + or_none(unit.origin_session) +
         " item " + or_none(unit.origin_item) + ", fetched sha256 " + or_none(unit.fetched_sha256) +
         "; files signed by the gateway (" + signer_subject + "), not by the sender";
}

}  // namespace kakehashi::gateway::engine
