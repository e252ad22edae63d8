// Fuzz target: CMS EnvelopedData as the national network delivers files (PROTOCOL §7): decrypt
// with the gateway's RSA (OAEP) and P-256 (ECDH) document credentials, then read and verify the
// SignedData inside, as the national adapter and the engine do.

#include <cstddef>
#include <cstdint>
#include <optional>

#include "mapping/cms/envelope.hpp"
#include "mapping/cms/verify.hpp"
#include "tests/fuzz/pki_fixture.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  namespace cms = kakehashi::mapping::cms;
  const auto& pki = kakehashi::fuzz::fuzz_pki();
  const cms::ByteView input(data, size);
  cms::VerifyOptions at;
  at.at = kakehashi::fuzz::kVerifyAt;

  for (const cms::Credential* who : {&pki.recipient, &pki.recipient_ec}) {
    auto inner = cms::decrypt(input, *who);
    if (!inner.ok()) {
      (void)cms::to_string(inner.error().code);
      continue;
    }
    if (auto content = cms::embedded_content(inner.value())) {
      (void)cms::verify_signed_data(inner.value(), std::nullopt, pki.domain, at);
    }
  }
  return 0;
}
