#include "mapping/cms/signed_attributes.hpp"

#include <openssl/objects.h>

#include <algorithm>

#include "mapping/cms/signer_identity.hpp"

namespace kakehashi::mapping::cms {

std::optional<std::time_t> signing_time(CMS_SignerInfo* si) {
  const int idx = CMS_signed_get_attr_by_NID(si, NID_pkcs9_signingTime, -1);
  if (idx < 0) return std::nullopt;
  X509_ATTRIBUTE* attr = CMS_signed_get_attr(si, idx);
  ASN1_TYPE* value = X509_ATTRIBUTE_get0_type(attr, 0);
  if (value == nullptr) return std::nullopt;
  if (value->type != V_ASN1_UTCTIME && value->type != V_ASN1_GENERALIZEDTIME) return std::nullopt;
  // UTCTime and GeneralizedTime share ASN1_TIME's representation.
  return to_time_t(reinterpret_cast<const ASN1_TIME*>(value->value.asn1_string));
}

const EVP_MD* signer_digest(CMS_SignerInfo* si) {
  X509_ALGOR* digest_alg = nullptr;
  CMS_SignerInfo_get0_algs(si, nullptr, nullptr, &digest_alg, nullptr);
  if (digest_alg == nullptr) return nullptr;
  const ASN1_OBJECT* oid = nullptr;
  X509_ALGOR_get0(&oid, nullptr, nullptr, digest_alg);
  return oid == nullptr ? nullptr : EVP_get_digestbyobj(oid);
}

Result<bool> check_message_digest(CMS_SignerInfo* si, ByteView content) {
  const EVP_MD* md = signer_digest(si);
  if (md == nullptr) return Error{ErrorCode::kMalformed, "unknown digest algorithm"};
  const auto* signed_md = static_cast<ASN1_OCTET_STRING*>(CMS_signed_get0_data_by_OBJ(
      si, OBJ_nid2obj(NID_pkcs9_messageDigest), -3, V_ASN1_OCTET_STRING));
  if (signed_md == nullptr) return Error{ErrorCode::kMalformed, "no messageDigest attribute"};
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (EVP_Digest(content.data(), content.size(), digest, &len, md, nullptr) != 1) {
    return Error{ErrorCode::kCryptoFailure, "digest failed: " + take_openssl_errors()};
  }
  const auto* expected = ASN1_STRING_get0_data(signed_md);
  if (static_cast<unsigned int>(ASN1_STRING_length(signed_md)) != len ||
      !std::equal(digest, digest + len, expected)) {
    return Error{ErrorCode::kContentMismatch,
                 "content digest differs from the signed messageDigest"};
  }
  return true;
}

}  // namespace kakehashi::mapping::cms
