#include "mapping/cms/signer.hpp"

#include <openssl/err.h>

#include <algorithm>

#include "mapping/cms/certificate_cache.hpp"
#include "mapping/cms/content_converter.hpp"
#include "mapping/cms/der_layout.hpp"
#include "mapping/cms/signed_attributes.hpp"

namespace kakehashi::mapping::cms {

namespace {

CertStackPtr chain_stack(const Credential& c) {
  CertStackPtr stack(sk_X509_new_null());
  for (const auto& x : c.chain) sk_X509_push(stack.get(), share(x.get()).release());
  return stack;
}

// The co-signature's messageDigest: SHA-256 of the content whatever the sender used (a weak
// sender digest must never be attested to). Every existing SignerInfo was checked against
// `content`, so a SHA-256 one already holds the value and no second pass over the content is made.
Result<Bytes> cosigner_digest(CMS_ContentInfo* cms, ByteView content) {
  STACK_OF(CMS_SignerInfo)* infos = CMS_get0_SignerInfos(cms);
  for (int i = 0; i < sk_CMS_SignerInfo_num(infos); ++i) {
    CMS_SignerInfo* si = sk_CMS_SignerInfo_value(infos, i);
    const EVP_MD* md = signer_digest(si);
    if (md == nullptr || EVP_MD_get_type(md) != NID_sha256) continue;
    const auto* value = static_cast<ASN1_OCTET_STRING*>(CMS_signed_get0_data_by_OBJ(
        si, OBJ_nid2obj(NID_pkcs9_messageDigest), -3, V_ASN1_OCTET_STRING));
    if (value == nullptr) continue;
    const auto* data = ASN1_STRING_get0_data(value);
    return Bytes(data, data + ASN1_STRING_length(value));
  }
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (EVP_Digest(content.data(), content.size(), digest, &len, EVP_sha256(), nullptr) != 1) {
    return Error{ErrorCode::kCryptoFailure, "digest failed: " + take_openssl_errors()};
  }
  return Bytes(digest, digest + len);
}

// Checks `content` against every SignerInfo's messageDigest: the gateway never attests to a file
// that any signer's digest disagrees with.
Result<bool> check_every_digest(CMS_ContentInfo* cms, ByteView content) {
  STACK_OF(CMS_SignerInfo)* infos = CMS_get0_SignerInfos(cms);
  for (int i = 0; i < sk_CMS_SignerInfo_num(infos); ++i) {
    const auto ok = check_message_digest(sk_CMS_SignerInfo_value(infos, i), content);
    if (!ok) return ok.error();
  }
  return true;
}

// Adds the co-signer's SHA-256 SignerInfo (signed attributes contentType, messageDigest,
// signingTime), encodes, and proves every SignerInfo of `before` survived byte for byte.
// The content must already have been checked against every existing SignerInfo.
Result<Bytes> cosign(CMS_ContentInfo* cms, ByteView content, const std::vector<Bytes>& before,
                     const Credential& cosigner) {
  const auto digest = cosigner_digest(cms, content);
  if (!digest) return digest.error();
  // CMS_PARTIAL: the attributes are set here and only the new SignerInfo is signed (CMS_final
  // would try to re-sign every SignerInfo, the sender's included).
  const unsigned flags = CMS_BINARY | CMS_NOSMIMECAP | CMS_PARTIAL;
  CMS_SignerInfo* added = CMS_add1_signer(cms, cosigner.certificate.get(),
                                          cosigner.private_key.get(), EVP_sha256(), flags);
  if (added == nullptr ||
      CMS_signed_add1_attr_by_NID(added, NID_pkcs9_messageDigest, V_ASN1_OCTET_STRING,
                                  digest.value().data(),
                                  static_cast<int>(digest.value().size())) != 1 ||
      CMS_signed_add1_attr_by_NID(added, NID_pkcs9_contentType, V_ASN1_OBJECT,
                                  CMS_get0_eContentType(cms), -1) != 1 ||
      CMS_SignerInfo_sign(added) != 1) {
    return Error{ErrorCode::kCryptoFailure, "co-signing: " + take_openssl_errors()};
  }
  for (const auto& c : cosigner.chain) CMS_add1_cert(cms, c.get());
  Bytes der = to_der(cms);
  const auto after = signer_info_bytes(der);
  // DER sorts the SignerInfo SET, so the new one may land anywhere; each old one must survive.
  const bool intact = std::all_of(before.begin(), before.end(), [&after](const Bytes& b) {
    return std::find(after.begin(), after.end(), b) != after.end();
  });
  if (after.size() != before.size() + 1 || !intact) {
    return Error{ErrorCode::kSignerInfoChanged, "re-encoding would alter an existing SignerInfo"};
  }
  return der;
}

}  // namespace

Result<Bytes> sign(ByteView content, const Credential& signer, const SignOptions& options) {
  if (!signer.certificate || !signer.private_key) {
    return Error{ErrorCode::kInvalidArgument, "signer has no certificate or key"};
  }
  ERR_clear_error();
  auto in = memory_bio(content);
  auto chain = chain_stack(signer);
  if (!in || !chain) return Error{ErrorCode::kInvalidArgument, "content too large"};
  const unsigned flags = CMS_BINARY | CMS_NOSMIMECAP | (options.detached ? CMS_DETACHED : 0u);
  CmsPtr cms(
      CMS_sign(signer.certificate.get(), signer.private_key.get(), chain.get(), in.get(), flags));
  if (!cms) return Error{ErrorCode::kCryptoFailure, "CMS_sign: " + take_openssl_errors()};
  Bytes der = to_der(cms.get());
  if (der.empty()) return Error{ErrorCode::kCryptoFailure, "encoding: " + take_openssl_errors()};
  return der;
}

Result<Bytes> add_cosigner(ByteView signed_data_der, std::optional<ByteView> detached_content,
                           const Credential& cosigner) {
  if (!cosigner.certificate || !cosigner.private_key) {
    return Error{ErrorCode::kInvalidArgument, "co-signer has no certificate or key"};
  }
  ERR_clear_error();
  const auto before = signer_info_bytes(signed_data_der);
  if (before.empty()) {
    return Error{ErrorCode::kUnsupported, "input is not definite-length DER SignedData"};
  }
  CmsPtr cms = parse_cms_der_cached(signed_data_der);
  if (!cms || OBJ_obj2nid(CMS_get0_type(cms.get())) != NID_pkcs7_signed) {
    return Error{ErrorCode::kMalformed, "not CMS SignedData"};
  }
  ByteView content;
  ASN1_OCTET_STRING** pos = CMS_get0_content(cms.get());
  if (pos != nullptr && *pos != nullptr) {
    content =
        ByteView(ASN1_STRING_get0_data(*pos), static_cast<std::size_t>(ASN1_STRING_length(*pos)));
  } else if (detached_content) {
    content = *detached_content;
  } else {
    return Error{ErrorCode::kContentMissing, "detached signature and no content given"};
  }
  const auto digests_ok = check_every_digest(cms.get(), content);
  if (!digests_ok) return digests_ok.error();
  return cosign(cms.get(), content, before, cosigner);
}

Result<Bytes> attach_and_cosign(ByteView detached_der, ByteView content,
                                const Credential& cosigner) {
  std::vector<Bytes> before;
  auto cms = attach_content_unencoded(detached_der, content, before);
  if (!cms) return cms.error();
  // add_cosigner's part: the content was checked against every SignerInfo, the sender's included.
  if (!cosigner.certificate || !cosigner.private_key) {
    return Error{ErrorCode::kInvalidArgument, "co-signer has no certificate or key"};
  }
  return cosign(cms.value().get(), content, before, cosigner);
}

}  // namespace kakehashi::mapping::cms
