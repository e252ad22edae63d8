#pragma once
// Verification of CMS SignedData (attached or detached) against a trust domain, with a precise
// reason when it fails and the revocation policy that was applied.

#include <ctime>
#include <optional>
#include <string>
#include <string_view>

#include "mapping/cms/ossl.hpp"
#include "mapping/cms/signer_identity.hpp"
#include "mapping/cms/trust_domain.hpp"

namespace kakehashi::mapping::cms {

enum class VerifyFailure {
  kNone,
  kMalformed,          // not DER CMS SignedData, or no signed attributes
  kWeakAlgorithm,      // a digest or signature algorithm the trust domain does not accept
  kContentMissing,     // detached and no content supplied
  kSignerCertMissing,  // the SignerInfo names a certificate the message does not carry
  kBadSignature,       // signature over the signed attributes (or a certificate) does not verify
  kContentMismatch,    // content digest differs from the signed messageDigest
  kUnknownCa,          // the chain ends at no anchor of the trust domain
  kAnchorNotAccepted,  // the chain ends at an anchor outside its acceptance window (rolled over)
  kExpired,            // a certificate in the chain has expired
  kNotYetValid,        // a certificate in the chain is not yet valid
  kChainInvalid,       // any other chain defect (constraints, unsupported critical extension...)
  kWrongKeyUsage,      // the signer certificate is not for signing
  kRevoked,            // the signer certificate is on its issuer's CRL
  kCrlMissing,         // no CRL from the signer's issuer
  kCrlStale,           // the CRL is past nextUpdate and the policy does not accept it
};

// What the revocation check found.
enum class CrlOutcome {
  kNotChecked,     // verification stopped before the revocation check
  kCurrent,        // a current CRL, signer not listed
  kStaleAccepted,  // soft-fail: CRL past nextUpdate but within crl_max_age, signer not listed
  kStale,
  kMissing,
  kRevoked,
};

std::string_view to_string(VerifyFailure failure);
std::string_view to_string(CrlOutcome outcome);
std::string_view to_string(CrlPolicy policy);

struct Verification {
  VerifyFailure failure = VerifyFailure::kMalformed;
  std::string detail;  // human-readable specifics, never key material
  std::optional<SignerIdentity> signer;
  std::optional<std::time_t> signing_time;
  std::string anchor;  // subject of the trust anchor the chain ended at
  CrlPolicy crl_policy = CrlPolicy::kHardFail;
  CrlOutcome crl = CrlOutcome::kNotChecked;
  std::size_t signer_count = 0;
  std::size_t signer_index = 0;  // which SignerInfo this verdict is about
  bool attached = false;

  bool valid() const { return failure == VerifyFailure::kNone; }
};

struct VerifyOptions {
  std::optional<std::time_t> at;  // verification time; default now
  // Which SignerInfo to check. Unset: the first one that verifies against the domain (DER sorts
  // the SignerInfo SET, so a co-signer may come before the sender); when none does, the first
  // one that chains to the domain, else SignerInfo 0 — so the reason shown is the telling one.
  std::optional<std::size_t> signer_index;
};

// detached_content: the content for a detached signature; for an attached one it must be absent
// or equal to the embedded content.
Verification verify_signed_data(ByteView cms_der, std::optional<ByteView> detached_content,
                                const TrustDomain& domain, const VerifyOptions& options = {});

// The content embedded in attached SignedData (nullopt when detached or malformed).
std::optional<Bytes> embedded_content(ByteView cms_der);

}  // namespace kakehashi::mapping::cms
