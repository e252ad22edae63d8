#include "gateway/audit/checkpoint.hpp"

#include <openssl/cms.h>
#include <openssl/err.h>
#include <openssl/evp.h>

#include "mapping/cms/ossl.hpp"
#include "mapping/cms/signer.hpp"

namespace kakehashi::gateway::audit {
namespace cms = mapping::cms;

std::string checkpoint_text(std::int64_t number, std::int64_t seq, std::string_view hash,
                            std::int64_t at) {
  return "kakehashi-audit-checkpoint v1\nnumber " + std::to_string(number) + "\nseq " +
         std::to_string(seq) + "\nhash " + std::string(hash) + "\nat " + std::to_string(at) + "\n";
}

std::string base64_encode(std::string_view bytes) {
  std::string out(4 * ((bytes.size() + 2) / 3) + 1, '\0');
  const int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                reinterpret_cast<const unsigned char*>(bytes.data()),
                                static_cast<int>(bytes.size()));
  out.resize(static_cast<std::size_t>(n));
  return out;
}

std::string base64_decode(std::string_view text) {
  if (text.empty() || text.size() % 4 != 0) return {};
  std::string out(3 * (text.size() / 4) + 1, '\0');
  const int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                reinterpret_cast<const unsigned char*>(text.data()),
                                static_cast<int>(text.size()));
  if (n < 0) return {};
  std::size_t len = static_cast<std::size_t>(n);
  // EVP_DecodeBlock counts the padding as zero bytes.
  if (text.back() == '=') --len;
  if (text.size() >= 2 && text[text.size() - 2] == '=') --len;
  out.resize(len);
  return out;
}

cms::Result<std::string> sign_checkpoint(const Checkpoint& c, const cms::Credential& signer) {
  const std::string text = checkpoint_text(c.number, c.seq, c.hash, c.at);
  const cms::ByteView content(reinterpret_cast<const std::uint8_t*>(text.data()), text.size());
  auto signed_data = cms::sign(content, signer, cms::SignOptions{.detached = false});
  if (!signed_data) return signed_data.error();
  const auto& der = signed_data.value();
  return base64_encode(std::string_view(reinterpret_cast<const char*>(der.data()), der.size()));
}

cms::Result<bool> verify_checkpoint(const Checkpoint& c, X509* gateway_certificate) {
  ERR_clear_error();
  const std::string der = base64_decode(c.signature);
  const cms::ByteView view(reinterpret_cast<const std::uint8_t*>(der.data()), der.size());
  cms::CmsPtr parsed = der.empty() ? nullptr : cms::parse_cms_der(view);
  if (!parsed || OBJ_obj2nid(CMS_get0_type(parsed.get())) != NID_pkcs7_signed ||
      sk_CMS_SignerInfo_num(CMS_get0_SignerInfos(parsed.get())) != 1) {
    return cms::Error{cms::ErrorCode::kMalformed, "signature is not CMS SignedData with one signer"};
  }
  cms::CertStackPtr certs(sk_X509_new_null());
  sk_X509_push(certs.get(), cms::share(gateway_certificate).release());
  cms::BioPtr out(BIO_new(BIO_s_mem()));
  // NOINTERN: the signer must be the given certificate, not one the message carries.
  const unsigned flags = CMS_BINARY | CMS_NO_SIGNER_CERT_VERIFY | CMS_NOINTERN;
  if (!out || CMS_verify(parsed.get(), certs.get(), nullptr, nullptr, out.get(), flags) != 1) {
    return cms::Error{cms::ErrorCode::kBadSignature,
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
