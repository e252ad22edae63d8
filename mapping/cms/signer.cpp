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

// Adds the co-signer's SignerInfo beside `sender`'s (whose digest it reuses), encodes, and proves
// every SignerInfo of `before` survived byte for byte.
Result<Bytes> cosign(CMS_ContentInfo* cms, CMS_SignerInfo* sender, const std::vector<Bytes>& before,
                     const Credential& cosigner) {
  // CMS_REUSE_DIGEST copies the sender's messageDigest and signs at once; CMS_final would
  // otherwise try to re-sign every SignerInfo, the sender's included.
  const unsigned flags = CMS_BINARY | CMS_NOSMIMECAP | CMS_REUSE_DIGEST;
  CMS_SignerInfo* added = CMS_add1_signer(cms, cosigner.certificate.get(),
                                          cosigner.private_key.get(), signer_digest(sender), flags);
  if (added == nullptr) {
    return Error{ErrorCode::kCryptoFailure, "CMS_add1_signer: " + take_openssl_errors()};
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
  CMS_SignerInfo* sender = sk_CMS_SignerInfo_value(CMS_get0_SignerInfos(cms.get()), 0);
  const auto digest_ok = check_message_digest(sender, content);
  if (!digest_ok) return digest_ok.error();

  return cosign(cms.get(), sender, before, cosigner);
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
  CMS_SignerInfo* sender = sk_CMS_SignerInfo_value(CMS_get0_SignerInfos(cms.value().get()), 0);
  return cosign(cms.value().get(), sender, before, cosigner);
}

}  // namespace kakehashi::mapping::cms
