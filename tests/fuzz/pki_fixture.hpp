#pragma once
// The test PKI of the CMS targets (tests/fuzz/pki/, made once by deploy/pki.sh: the national
// CA, its CRL, office 1370100016's RSA and P-256 signing certificates, the gateway's RSA and
// P-256 document certificates), loaded once. The seed files are signed and encrypted with it,
// and every verification uses a fixed time inside its validity, so runs are reproducible.

#include <cstdlib>
#include <ctime>
#include <fstream>
#include <iterator>
#include <string>

#include "mapping/cms/credential.hpp"
#include "mapping/cms/parse.hpp"
#include "mapping/cms/trust_domain.hpp"

namespace kakehashi::fuzz {

// 2026-11-23T00:00:00Z: the certificates are valid and the CRL is current.
inline constexpr std::time_t kVerifyAt = 1795392000;

struct FuzzPki {
  mapping::cms::TrustDomain domain;        // office number from serialNumber
  mapping::cms::TrustDomain regex_domain;  // office number from the CN by a pattern
  mapping::cms::Credential office;         // RSA-2048 signer
  mapping::cms::Credential recipient;      // RSA-2048 document certificate (OAEP)
  mapping::cms::Credential recipient_ec;   // P-256 document certificate (ECDH)
};

inline mapping::cms::Bytes read_pki_file(const char* name) {
  std::ifstream in(std::string(KAKEHASHI_FUZZ_PKI_DIR) + "/" + name, std::ios::binary);
  mapping::cms::Bytes bytes{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
  if (bytes.empty()) std::abort();  // the fixture is part of the source tree
  return bytes;
}

inline mapping::cms::X509Ptr pki_certificate(const char* name) {
  auto cert = mapping::cms::parse_certificate(read_pki_file(name));
  if (!cert.ok()) std::abort();
  return std::move(cert).value();
}

inline mapping::cms::Credential pki_credential(const char* cert, const char* key) {
  auto k = mapping::cms::parse_private_key(read_pki_file(key));
  if (!k.ok()) std::abort();
  return {pki_certificate(cert), std::move(k).value(), {}};
}

inline const FuzzPki& fuzz_pki() {
  static const FuzzPki pki = [] {
    namespace cms = mapping::cms;
    FuzzPki p;
    p.domain.name = "national";
    p.domain.anchors.push_back({pki_certificate("ca.pem"), std::nullopt, std::nullopt});
    auto crls = cms::parse_crls(read_pki_file("ca.crl.pem"));
    if (!crls.ok() || crls.value().empty()) std::abort();
    p.domain.crls = std::move(crls).value();
    p.regex_domain.name = "national-regex";
    p.regex_domain.anchors.push_back({pki_certificate("ca.pem"), std::nullopt, std::nullopt});
    p.regex_domain.crl_policy = cms::CrlPolicy::kSoftFail;  // and no CRL at all: kCrlMissing
    p.regex_domain.office_rule = {cms::OfficeRule::Kind::kRegex, "CN", "^Office ([0-9]{10})$"};
    p.office = pki_credential("office.cert.pem", "office.key.pem");
    p.recipient = pki_credential("recipient.cert.pem", "recipient.key.pem");
    p.recipient_ec = pki_credential("recipient-ec.cert.pem", "recipient-ec.key.pem");
    return p;
  }();
  return pki;
}

}  // namespace kakehashi::fuzz
