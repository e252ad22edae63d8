#pragma once
// When watched certificates and CRLs run out: the files a gateway names (its trust domains, its
// signing and TLS certificates) read into not-after and next-update times. Reads files; never
// throws: a file that cannot be read becomes an Expiry with `error` set.

#include <cstdint>
#include <string>
#include <vector>

namespace kakehashi::gateway::pki {

// A certificate or CRL file whose expiry is watched.
struct ExpirySource {
  std::string kind;  // "certificate" or "crl"
  std::string name;  // e.g. "trust_domain national anchors/national-ca.pem", "receipt_signer"
  std::string file;
};

// One certificate or CRL found in a source file (a PEM file may hold several).
struct Expiry {
  std::string kind, name;
  std::string subject;     // RFC 2253: the certificate's subject, the CRL's issuer
  std::int64_t until = 0;  // not after (certificate) or next update (CRL), ms since the epoch
  std::string error;       // set when the file is unreadable or holds no PEM of its kind
};

std::vector<Expiry> read_expiry(const ExpirySource& source);

// Certificates and CRLs of a trust domain directory (anchors/, intermediates/, crls/), sorted.
std::vector<ExpirySource> trust_domain_expiry_sources(const std::string& network,
                                                      const std::string& directory);

// Whole days from now until `until_ms`, rounded down: 12 hours left is 0, expired is negative.
std::int64_t days_left(std::int64_t until_ms, std::int64_t now_ms);

}  // namespace kakehashi::gateway::pki
