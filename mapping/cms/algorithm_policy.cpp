#include "mapping/cms/algorithm_policy.hpp"

#include <openssl/evp.h>
#include <openssl/objects.h>

#include <algorithm>

namespace kakehashi::mapping::cms {
namespace {

struct KeyName {
  std::string_view name;
  int nid;
};
constexpr KeyName kKeyNames[] = {
    {"rsa", NID_rsaEncryption},
    {"rsa-pss", NID_rsassaPss},
    {"ecdsa", NID_X9_62_id_ecPublicKey},
    {"ed25519", NID_ED25519},
};

std::string digest_name(int nid) {
  const char* ln = OBJ_nid2ln(nid);
  return ln != nullptr ? std::string(ln) : "NID " + std::to_string(nid);
}

std::string key_name(int nid) {
  for (const auto& k : kKeyNames) {
    if (k.nid == nid) return std::string(k.name);
  }
  const char* ln = OBJ_nid2ln(nid);
  return ln != nullptr ? std::string(ln) : "NID " + std::to_string(nid);
}

bool contains(const std::vector<int>& list, int nid) {
  return std::find(list.begin(), list.end(), nid) != list.end();
}

std::string oid_text(const ASN1_OBJECT* oid) {
  char buf[128];
  const int n = OBJ_obj2txt(buf, sizeof buf, oid, 1);
  return n > 0
             ? std::string(buf, std::min<std::size_t>(static_cast<std::size_t>(n), sizeof buf - 1))
             : std::string("?");
}

}  // namespace

AlgorithmPolicy AlgorithmPolicy::strong_default() {
  return {{NID_sha256, NID_sha384, NID_sha512}, {NID_rsaEncryption, NID_X9_62_id_ecPublicKey}};
}

std::optional<int> digest_nid_by_name(std::string_view name) {
  const EVP_MD* md = EVP_get_digestbyname(std::string(name).c_str());
  if (md == nullptr) return std::nullopt;
  const int nid = EVP_MD_get_type(md);
  return nid == NID_undef ? std::nullopt : std::optional<int>(nid);
}

std::optional<int> signature_key_nid_by_name(std::string_view name) {
  for (const auto& k : kKeyNames) {
    if (k.name == name) return k.nid;
  }
  return std::nullopt;
}

std::string digest_names(const AlgorithmPolicy& policy) {
  std::string out;
  for (int nid : policy.digests) out += (out.empty() ? "" : " ") + digest_name(nid);
  return out;
}

std::string signature_key_names(const AlgorithmPolicy& policy) {
  std::string out;
  for (int nid : policy.signature_keys) out += (out.empty() ? "" : " ") + key_name(nid);
  return out;
}

std::optional<std::string> refused_algorithm(CMS_SignerInfo* si, const AlgorithmPolicy& policy) {
  X509_ALGOR* digest_alg = nullptr;
  X509_ALGOR* signature_alg = nullptr;
  CMS_SignerInfo_get0_algs(si, nullptr, nullptr, &digest_alg, &signature_alg);
  if (digest_alg == nullptr || signature_alg == nullptr) return "SignerInfo names no algorithms";
  const ASN1_OBJECT* digest_oid = nullptr;
  X509_ALGOR_get0(&digest_oid, nullptr, nullptr, digest_alg);
  const int digest = OBJ_obj2nid(digest_oid);
  if (digest == NID_undef) {
    return "digest algorithm " + oid_text(digest_oid) +
           " is unknown (accepted: " + digest_names(policy) + ")";
  }
  if (!contains(policy.digests, digest)) {
    return "digest algorithm " + digest_name(digest) +
           " is not accepted (accepted: " + digest_names(policy) + ")";
  }
  const ASN1_OBJECT* signature_oid = nullptr;
  X509_ALGOR_get0(&signature_oid, nullptr, nullptr, signature_alg);
  const int signature = OBJ_obj2nid(signature_oid);
  int hash = NID_undef;
  int key = signature;
  // A combined OID (sha1WithRSAEncryption, ecdsa-with-SHA256) names its hash and key algorithm.
  if (signature != NID_undef && OBJ_find_sigid_algs(signature, &hash, &key) != 1) {
    hash = NID_undef;
    key = signature;
  }
  if (hash != NID_undef && !contains(policy.digests, hash)) {
    const char* ln = OBJ_nid2ln(signature);
    return "signature algorithm " + std::string(ln != nullptr ? ln : "?") + " uses digest " +
           digest_name(hash) + ", which is not accepted (accepted: " + digest_names(policy) + ")";
  }
  if (key == NID_undef || !contains(policy.signature_keys, key)) {
    return "signature algorithm " + (key == NID_undef ? oid_text(signature_oid) : key_name(key)) +
           " is not accepted (accepted: " + signature_key_names(policy) + ")";
  }
  return std::nullopt;
}

bool is_strong_digest(int nid) {
  return nid == NID_sha256 || nid == NID_sha384 || nid == NID_sha512;
}

}  // namespace kakehashi::mapping::cms
