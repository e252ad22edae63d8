#include "mapping/cms/content_converter.hpp"

#include <openssl/err.h>

#include <limits>

#include "mapping/cms/certificate_cache.hpp"
#include "mapping/cms/der_layout.hpp"
#include "mapping/cms/signed_attributes.hpp"

namespace kakehashi::mapping::cms {

namespace {

Result<CmsPtr> parse_signed(ByteView der, std::vector<Bytes>& signer_infos) {
  signer_infos = signer_info_bytes(der);
  if (signer_infos.empty()) {
    return Error{ErrorCode::kUnsupported, "input is not definite-length DER SignedData"};
  }
  CmsPtr cms = parse_cms_der_cached(der);
  if (!cms || OBJ_obj2nid(CMS_get0_type(cms.get())) != NID_pkcs7_signed) {
    return Error{ErrorCode::kMalformed, "not CMS SignedData: " + take_openssl_errors()};
  }
  return cms;
}

Result<Bytes> encode_checked(CMS_ContentInfo* cms, const std::vector<Bytes>& before) {
  Bytes der = to_der(cms);
  if (der.empty()) return Error{ErrorCode::kCryptoFailure, "encoding: " + take_openssl_errors()};
  if (signer_info_bytes(der) != before) {
    return Error{ErrorCode::kSignerInfoChanged, "re-encoding would alter a SignerInfo"};
  }
  return der;
}

}  // namespace

Result<DetachedSignature> detach_content(ByteView attached_der) {
  ERR_clear_error();
  std::vector<Bytes> before;
  auto cms = parse_signed(attached_der, before);
  if (!cms) return cms.error();
  ASN1_OCTET_STRING** pos = CMS_get0_content(cms.value().get());
  if (pos == nullptr || *pos == nullptr) {
    return Error{ErrorCode::kContentMissing, "signature is already detached"};
  }
  const auto* data = ASN1_STRING_get0_data(*pos);
  DetachedSignature out;
  out.content.assign(data, data + ASN1_STRING_length(*pos));
  // Frees eContent and leaves it absent: the SignerInfos are not touched.
  if (CMS_set_detached(cms.value().get(), 1) != 1) {
    return Error{ErrorCode::kCryptoFailure, "CMS_set_detached: " + take_openssl_errors()};
  }
  auto der = encode_checked(cms.value().get(), before);
  if (!der) return der.error();
  out.signature = std::move(der.value());
  return out;
}

Result<CmsPtr> attach_content_unencoded(ByteView detached_der, ByteView content,
                                        std::vector<Bytes>& signer_infos) {
  ERR_clear_error();
  auto parsed = parse_signed(detached_der, signer_infos);
  if (!parsed) return parsed.error();
  CMS_ContentInfo* cms = parsed.value().get();
  ASN1_OCTET_STRING** pos = CMS_get0_content(cms);
  if (pos == nullptr) return Error{ErrorCode::kMalformed, "no encapsulated content info"};
  if (*pos != nullptr) return Error{ErrorCode::kInvalidArgument, "signature is already attached"};
  STACK_OF(CMS_SignerInfo)* infos = CMS_get0_SignerInfos(cms);
  for (int i = 0; i < sk_CMS_SignerInfo_num(infos); ++i) {
    const auto ok = check_message_digest(sk_CMS_SignerInfo_value(infos, i), content);
    if (!ok) return ok.error();
  }
  if (content.size() > static_cast<std::size_t>(std::numeric_limits<int>::max())) {
    return Error{ErrorCode::kInvalidArgument, "content too large"};
  }
  *pos = ASN1_OCTET_STRING_new();
  if (*pos == nullptr ||
      ASN1_OCTET_STRING_set(*pos, content.data(), static_cast<int>(content.size())) != 1) {
    return Error{ErrorCode::kCryptoFailure, "cannot set eContent: " + take_openssl_errors()};
  }
  return parsed;
}

Result<Bytes> attach_content(ByteView detached_der, ByteView content) {
  std::vector<Bytes> before;
  auto cms = attach_content_unencoded(detached_der, content, before);
  if (!cms) return cms.error();
  return encode_checked(cms.value().get(), before);
}

}  // namespace kakehashi::mapping::cms
