#pragma once
// A trust domain: one network's CA anchors (with acceptance windows for rollover), CRLs and the
// revocation and office-number policies applied when verifying signatures from that network.

#include <chrono>
#include <ctime>
#include <optional>
#include <string>
#include <vector>

#include "mapping/cms/algorithm_policy.hpp"
#include "mapping/cms/ossl.hpp"

namespace kakehashi::mapping::cms {

enum class CrlPolicy {
  kHardFail,  // a current CRL from the issuer is required
  kSoftFail,  // an expired CRL is still accepted while its thisUpdate is within crl_max_age
};

// How the office number is read from a signer certificate.
struct OfficeRule {
  enum class Kind { kSubjectAttribute, kRegex };
  Kind kind = Kind::kSubjectAttribute;
  // kSubjectAttribute: the subject attribute's short or long name (e.g. "serialNumber").
  // kRegex: the subject attribute the pattern is matched against (e.g. "CN" or "OU").
  std::string attribute = "serialNumber";
  std::string pattern;  // kRegex: ECMAScript regex; capture group 1 is the office number
};

struct TrustAnchor {
  X509Ptr certificate;
  // Verification times at which this anchor is accepted; unset means unbounded. Overlapping
  // windows of an old and a new anchor let both verify during a rollover.
  std::optional<std::time_t> accept_from;
  std::optional<std::time_t> accept_until;

  bool accepts(std::time_t at) const {
    return (!accept_from || at >= *accept_from) && (!accept_until || at < *accept_until);
  }
};

struct TrustDomain {
  std::string name;
  std::vector<TrustAnchor> anchors;
  std::vector<X509Ptr> intermediates;
  std::vector<X509CrlPtr> crls;
  CrlPolicy crl_policy = CrlPolicy::kHardFail;
  std::chrono::seconds crl_max_age{7 * 24 * 3600};
  OfficeRule office_rule;
  // Digest and signature algorithms a SignerInfo may use (domain.conf `digest_algorithms`,
  // `signature_algorithms`).
  AlgorithmPolicy algorithms = AlgorithmPolicy::strong_default();
};

}  // namespace kakehashi::mapping::cms
