#include "gateway/engine/translator.hpp"

#include <variant>

#include "gateway/engine/unit_codec.hpp"
#include "mapping/cms/signer.hpp"
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

}  // namespace

std::string idempotency_key_for(const std::string& source_adapter, const std::string& source_id) {
  return "kh-" + cms::sha256_hex(view(source_adapter + "\n" + source_id)).substr(0, 40);
}

std::variant<Translation, TranslationError> translate(
    const InboundUnit& in, EnvelopeForm form, const std::string& transfer_id,
    const std::string& idempotency_key, const std::string& unit_kind,
    const cms::Credential* cosigner, const cms::Credential& receipt_signer, std::time_t now) {
  Translation t;
  t.unit.idempotency_key = idempotency_key;
  t.unit.sender = in.sender;
  t.unit.recipient = in.recipient;
  t.unit.unit_kind = unit_kind;
  t.unit.subject = in.subject;
  t.unit.message = in.message;
  cms::TranslationReceipt receipt;
  receipt.transfer_id = transfer_id;
  receipt.created = now;
  receipt.inbound_sha256 = cms::sha256_hex(view(serialize_unit(in)));
  std::string outbound_digest_input;
  for (const auto& f : in.files) {
    SignedFile out;
    out.name = f.name;
    out.media_type = f.media_type;
    receipt.files.push_back({f.name, cms::sha256_hex(view(f.content))});
    if (form == EnvelopeForm::kAttachedCosigned) {
      if (cosigner == nullptr) return TranslationError{"no proxy credential for co-signing"};
      // Attach and co-sign in one decoding and encoding (the same checks and bytes as
      // attach_content then add_cosigner).
      auto cosigned = cms::attach_and_cosign(view(f.cms), view(f.content), *cosigner);
      if (!cosigned) return TranslationError{f.name + ": " + cosigned.error().detail};
      out.cms = str(cosigned.value());
      out.attached = true;
      out.content = f.content;  // the same bytes, for adapters that also want them
    } else {
      out.content = f.content;
      out.cms = f.cms;
      out.attached = false;
    }
    outbound_digest_input += out.name + "\n" + out.cms + "\n";
    t.unit.files.push_back(std::move(out));
  }
  receipt.outbound_sha256 = cms::sha256_hex(view(outbound_digest_input));
  auto signed_receipt = cms::sign_receipt(receipt, receipt_signer);
  if (!signed_receipt)
    return TranslationError{"translation receipt: " + signed_receipt.error().detail};
  t.receipt_der = str(signed_receipt.value());
  t.inbound_sha256 = receipt.inbound_sha256;
  t.outbound_sha256 = receipt.outbound_sha256;
  return t;
}

std::variant<std::string, TranslationError> bind_sent_document(
    const Translation& translation, const std::string& sent_sha256,
    const std::string& national_item, const cms::Credential& receipt_signer) {
  const auto body = cms::embedded_content(view(translation.receipt_der));
  if (!body) return TranslationError{"translation receipt: not attached SignedData"};
  auto receipt = cms::parse_receipt_text(std::string(body->begin(), body->end()));
  if (!receipt) return TranslationError{"translation receipt: " + receipt.error().detail};
  auto r = std::move(receipt.value());
  r.version = 2;
  r.signers.clear();
  for (const auto& f : translation.unit.files) {
    if (f.cms.empty()) continue;
    auto digests = cms::signer_digests(f.name, view(f.cms));
    if (!digests) return TranslationError{"translation receipt: " + digests.error().detail};
    for (auto& d : digests.value()) r.signers.push_back(std::move(d));
  }
  r.sent_sha256 = sent_sha256;
  r.national_item = national_item;
  auto signed_receipt = cms::sign_receipt(r, receipt_signer);
  if (!signed_receipt)
    return TranslationError{"translation receipt: " + signed_receipt.error().detail};
  return str(signed_receipt.value());
}

}  // namespace kakehashi::gateway::engine
