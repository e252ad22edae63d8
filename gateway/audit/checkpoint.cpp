#include "gateway/audit/checkpoint.hpp"

#include <openssl/cms.h>
#include <openssl/err.h>
#include <openssl/evp.h>

#include "mapping/cms/ossl.hpp"
#include "mapping/cms/signer.hpp"
#include "mapping/common/base64.hpp"

namespace kakehashi::gateway::audit {
namespace cms = mapping::cms;

std::string checkpoint_text(std::int64_t number, std::int64_t seq, std::string_view hash,
                            std::int64_t at) {
  return "kakehashi-audit-checkpoint v1\nnumber " + std::to_string(number) + "\nseq " +
         std::to_string(seq) + "\nhash " + std::string(hash) + "\nat " + std::to_string(at) + "\n";
}

cms::Result<std::string> sign_checkpoint(const Checkpoint& c, const cms::Credential& signer) {
  const std::string text = checkpoint_text(c.number, c.seq, c.hash, c.at);
  const cms::ByteView content(reinterpret_cast<const std::uint8_t*>(text.data()), text.size());
  auto signed_data = cms::sign(content, signer, cms::SignOptions{.detached = false});
  if (!signed_data) return signed_data.error();
  const auto& der = signed_data.value();
  return mapping::common::base64_encode(
      std::string_view(reinterpret_cast<const char*>(der.data()), der.size()));
}

cms::Result<bool> verify_checkpoint(const Checkpoint& c, X509* gateway_certificate) {
  ERR_clear_error();
  const std::string der = mapping::common::base64_decode(c.signature).value_or(std::string());
  const cms::ByteView view(reinterpret_cast<const std::uint8_t*>(der.data()), der.size());
  cms::CmsPtr parsed = der.empty() ? nullptr : cms::parse_cms_der(view);
  if (!parsed || OBJ_obj2nid(CMS_get0_type(parsed.get())) != NID_pkcs7_signed ||
      sk_CMS_SignerInfo_num(CMS_get0_SignerInfos(parsed.get())) != 1) {
    return cms::Error{cms::ErrorCode::kMalformed,
                      "signature is not CMS SignedData with one signer"};
  }
  cms::CertStackPtr certs(sk_X509_new_null());
  sk_X509_push(certs.get(), cms::share(gateway_certificate).release());
  cms::BioPtr out(BIO_new(BIO_s_mem()));
  // NOINTERN: the signer must be the given certificate, not one the message carries.
  const unsigned flags = CMS_BINARY | CMS_NO_SIGNER_CERT_VERIFY | CMS_NOINTERN;
  if (!out || CMS_verify(parsed.get(), certs.get(), nullptr, nullptr, out.get(), flags) != 1) {
    return cms::Error{
        cms::ErrorCode::kBadSignature,
        "does not verify with the gateway certificate: " + cms::take_openssl_errors()};
  }
  const cms::Bytes body = cms::bio_bytes(out.get());
  if (std::string(body.begin(), body.end()) != checkpoint_text(c.number, c.seq, c.hash, c.at)) {
    return cms::Error{cms::ErrorCode::kContentMismatch,
                      "the signed text names another position, hash or time"};
  }
  return true;
}

}  // namespace kakehashi::gateway::audit
