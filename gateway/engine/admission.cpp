#include "gateway/engine/admission.hpp"

#include <algorithm>
#include <set>

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

// The users (保険者番号 + 被保険者番号, fields 2 and 3 of every record) of the unit's CSV files,
// hashed: enough to tell whether a newer unit replaces this one, without keeping the numbers.
std::string users_digest(const InboundUnit& unit) {
  std::set<std::string> users;
  for (const auto& f : unit.files) {
    if (f.name.size() < 4 || f.name.substr(f.name.size() - 4) != ".CSV") continue;
    mapping::CsvReader reader(f.content);
    mapping::CsvRecord record;
    mapping::CsvSyntaxError error;
    while (reader.next(record, error)) {
      if (error.line == 0 && record.fields.size() > 2)
        users.insert(std::string(record.fields[1].value) + "/" +
                     std::string(record.fields[2].value));
    }
  }
  std::string all;
  for (const auto& u : users) all += u + "\n";
  return cms::sha256_hex(view(all)).substr(0, 32);
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

  // 1. Every file as content + detached signature (the national form embeds the content).
  for (auto& f : unit.files) {
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
  // 3. Signatures: each file signed by a certificate of the source network naming the sender.
  std::set<std::string> signers;
  for (const auto& f : unit.files) {
    if (f.cms.empty()) {
      refusals.push_back(
          unit_refusal(refusal_codes::kSignatureInvalid, "file is not signed", f.name));
      continue;
    }
    cms::VerifyOptions options;
    if (ctx.now != 0) options.at = ctx.now;
    const auto v = cms::verify_signed_data(view(f.cms), view(f.content), *ctx.trust, options);
    if (!v.valid()) {
      refusals.push_back(unit_refusal(refusal_codes::kSignatureInvalid,
                                      std::string(cms::to_string(v.failure)) + ": " + v.detail,
                                      f.name));
      continue;
    }
    if (!v.signer || !cms::signer_holds_office(*v.signer, unit.sender.office_no)) {
      refusals.push_back(unit_refusal(refusal_codes::kSignerNotSender,
                                      "the signing certificate names another office", f.name));
      continue;
    }
    signers.insert(v.signer->subject + " serial " + v.signer->serial + " (" +
                   std::string(cms::to_string(v.crl)) + ", " +
                   std::string(cms::to_string(v.crl_policy)) + ")");
  }

  check("signatures");
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
  // 5. The route.
  const auto route = ctx.router->resolve(unit.recipient, ctx.source_adapter);
  if (route.refusal) refusals.push_back(*route.refusal);
  check("route");

  std::string month;
  for (const auto& f : unit.files) {
    const auto parsed = mapping::parse_file_name(f.name);
    if (parsed.name && !parsed.name->month.empty()) month = parsed.name->month;
  }
  result.subject_key = result.unit_kind + ":" + month + ":" + users_digest(unit);
  result.detail = "kind " + (result.unit_kind.empty() ? std::string("?") : result.unit_kind) +
                  ", " + std::to_string(unit.files.size()) + " files";
  for (const auto& s : signers) result.detail += "; signer " + s;
  result.detail += "; checks " + checks;
  // The routing decision and the registry version it used (the sync id: `kakehashi registry
  // diff --sync N` shows what that sync changed).
  result.detail += "; route " + (route.adapter ? *route.adapter : std::string("refused")) +
                   " (registry " + std::to_string(route.registry_version) + ")";
  if (refusals.empty()) {
    result.accepted = true;
    result.dest_adapter = *route.adapter;
  } else {
    result.detail += "; refused: " + refusal_summary(refusals);
  }
  result.unit = std::move(unit);
  return result;
}

}  // namespace kakehashi::gateway::engine
