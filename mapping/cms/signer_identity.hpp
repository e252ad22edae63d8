#pragma once
// Who signed: the fields of a signer certificate that the gateway logs, audits and authorizes on.

#include <ctime>
#include <optional>
#include <string>
#include <string_view>

#include "mapping/cms/ossl.hpp"
#include "mapping/cms/trust_domain.hpp"

namespace kakehashi::mapping::cms {

struct SignerIdentity {
  std::string subject;                       // RFC 2253
  std::string issuer;                        // RFC 2253
  std::string serial;                        // upper-case hex
  std::optional<std::string> office_number;  // per the trust domain's OfficeRule
  std::time_t not_before = 0;
  std::time_t not_after = 0;
  std::string key_type;  // "RSA-2048", "EC-P-256", ...
};

SignerIdentity describe_signer(X509* cert, const OfficeRule& rule);

// The certificate's subject, RFC 2253 (SignerIdentity::subject without the rest).
std::string subject_text(X509* cert);

// The office number the certificate names under `rule`, if any.
std::optional<std::string> office_number_of(X509* cert, const OfficeRule& rule);

// True when the signer's certificate names exactly the claimed sender office.
bool signer_holds_office(const SignerIdentity& signer, std::string_view claimed_office);

// Seconds since the epoch for an ASN.1 time (UTC).
std::optional<std::time_t> to_time_t(const ASN1_TIME* t);

}  // namespace kakehashi::mapping::cms
