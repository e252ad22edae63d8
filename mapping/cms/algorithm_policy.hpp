#pragma once
// Which digest and signature algorithms a trust domain accepts in a SignerInfo. The default is
// SHA-256 or stronger with RSA or ECDSA; MD5 and SHA-1 are refused unless a domain lists them.
// Checking a SignerInfo reads two OIDs: no cryptography, so it runs before the signature check.

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "mapping/cms/ossl.hpp"

namespace kakehashi::mapping::cms {

struct AlgorithmPolicy {
  // OpenSSL NIDs of the accepted digest algorithms (SignerInfo digestAlgorithm, and the hash
  // named by a combined signatureAlgorithm such as sha1WithRSAEncryption).
  std::vector<int> digests;
  // OpenSSL NIDs of the accepted public-key algorithms of the signatureAlgorithm
  // (rsaEncryption, rsassaPss, id-ecPublicKey, ED25519).
  std::vector<int> signature_keys;

  static AlgorithmPolicy strong_default();  // sha256 sha384 sha512; rsa ecdsa
};

// "sha256" -> its NID (any digest OpenSSL knows by that name); nullopt when unknown.
std::optional<int> digest_nid_by_name(std::string_view name);
// "rsa", "rsa-pss", "ecdsa", "ed25519" -> the key algorithm NID; nullopt otherwise.
std::optional<int> signature_key_nid_by_name(std::string_view name);
// The configuration names of a policy's lists ("sha256 sha384", "rsa ecdsa").
std::string digest_names(const AlgorithmPolicy& policy);
std::string signature_key_names(const AlgorithmPolicy& policy);

// nullopt when the SignerInfo's algorithms are accepted; otherwise why not, naming the algorithm
// (e.g. "digest algorithm md5 is not accepted (accepted: sha256 sha384 sha512)").
std::optional<std::string> refused_algorithm(CMS_SignerInfo* si, const AlgorithmPolicy& policy);

// True when `nid` is a digest the gateway itself signs with (SHA-256, SHA-384, SHA-512).
bool is_strong_digest(int nid);

}  // namespace kakehashi::mapping::cms
