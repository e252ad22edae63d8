// Fuzz target: CMS SignedData as the gateway receives it. The input is one DER ContentInfo,
// optionally followed by the detached content it signs (regional form); without a tail it is
// the attached form (national). Exercised: PEM/DER intake, the DER layout reader, embedded
// content, verification against a trust domain (both office rules), detach/attach without
// re-signing, and the translation-receipt reader.

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <optional>

#include "mapping/cms/content_converter.hpp"
#include "mapping/cms/der_layout.hpp"
#include "mapping/cms/parse.hpp"
#include "mapping/cms/translation_receipt.hpp"
#include "mapping/cms/verify.hpp"
#include "tests/fuzz/pki_fixture.hpp"

namespace {

namespace cms = kakehashi::mapping::cms;

// Size of the leading DER element (tag + length + value), or 0 when it is not one.
std::size_t leading_element_size(cms::ByteView in) {
  if (in.size() < 2) return 0;
  std::size_t len = in[1];
  std::size_t header = 2;
  if (len & 0x80u) {
    const std::size_t n = len & 0x7fu;
    if (n == 0 || n > 4 || in.size() < 2 + n) return 0;
    len = 0;
    for (std::size_t i = 0; i < n; ++i) len = (len << 8) | in[2 + i];
    header += n;
  }
  return header + len <= in.size() ? header + len : 0;
}

void check_verification(const cms::Verification& v) {
  if (v.valid() && !v.signer) std::abort();  // a valid verdict always names its signer
  (void)cms::to_string(v.failure);
  (void)cms::to_string(v.crl);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const auto& pki = kakehashi::fuzz::fuzz_pki();
  const cms::ByteView input(data, size);
  cms::VerifyOptions at;
  at.at = kakehashi::fuzz::kVerifyAt;

  // PEM or DER intake of a whole file (kakehashi verify, the folder adapter).
  if (auto der = cms::cms_der_from_pem_or_der(input); der.ok()) {
    check_verification(cms::verify_signed_data(der.value(), std::nullopt, pki.domain, at));
  }

  std::size_t cms_size = leading_element_size(input);
  if (cms_size == 0) cms_size = size;
  const cms::ByteView der = input.first(cms_size);
  std::optional<cms::ByteView> detached;
  if (cms_size < size) detached = input.subspan(cms_size);

  if (auto layout = cms::locate_signed_data(der)) {
    for (const auto& si : layout->signer_infos) {
      if (si.whole.offset + si.whole.size > der.size()) std::abort();
    }
  }
  (void)cms::signer_info_bytes(der);
  const auto embedded = cms::embedded_content(der);

  check_verification(cms::verify_signed_data(der, detached, pki.domain, at));
  const cms::Verification v = cms::verify_signed_data(der, detached, pki.regex_domain, at);
  check_verification(v);
  if (v.signer_count > 1) {
    cms::VerifyOptions second = at;
    second.signer_index = v.signer_count - 1;
    check_verification(cms::verify_signed_data(der, detached, pki.domain, second));
  }

  if (detached) {
    // Regional → national: wrap the content; the result must still verify the same way.
    auto attached = cms::attach_content(der, *detached);
    if (attached.ok()) {
      check_verification(cms::verify_signed_data(attached.value(), std::nullopt, pki.domain, at));
    }
  } else {
    // National → regional: take the content out; it must be the embedded content.
    auto split = cms::detach_content(der);
    if (split.ok()) {
      if (!embedded || *embedded != split.value().content) std::abort();
      auto back = cms::attach_content(split.value().signature, split.value().content);
      (void)back;
    }
  }
  (void)cms::verify_receipt(der, pki.office.certificate.get());
  return 0;
}
