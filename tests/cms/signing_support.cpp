#include "tests/cms/signing_support.hpp"

#include <openssl/evp.h>

#include <stdexcept>

namespace kakehashi::test {
namespace cms = mapping::cms;

cms::Bytes sign_with_digest(cms::ByteView content, const cms::Credential& signer,
                            const char* digest, bool detached) {
  const EVP_MD* md = EVP_get_digestbyname(digest);
  if (md == nullptr) throw std::runtime_error(std::string("unknown digest ") + digest);
  auto in = cms::memory_bio(content);
  const unsigned flags = CMS_BINARY | CMS_NOSMIMECAP | CMS_PARTIAL | (detached ? CMS_DETACHED : 0u);
  cms::CmsPtr c(CMS_sign(nullptr, nullptr, nullptr, nullptr, flags));
  if (!c ||
      CMS_add1_signer(c.get(), signer.certificate.get(), signer.private_key.get(), md,
                      CMS_BINARY | CMS_NOSMIMECAP | CMS_PARTIAL) == nullptr ||
      CMS_final(c.get(), in.get(), nullptr, flags) != 1) {
    throw std::runtime_error("signing with " + std::string(digest) + ": " +
                             cms::take_openssl_errors());
  }
  return cms::to_der(c.get());
}

cms::Bytes sign_several(const std::vector<SignerSpec>& signers, const cms::Bytes* embedded) {
  const unsigned flags = CMS_BINARY | CMS_NOSMIMECAP | CMS_PARTIAL;
  cms::CmsPtr c(CMS_sign(nullptr, nullptr, nullptr, nullptr, flags | CMS_DETACHED));
  if (!c) throw std::runtime_error("CMS_sign: " + cms::take_openssl_errors());
  for (const auto& s : signers) {
    CMS_SignerInfo* si = CMS_add1_signer(c.get(), s.credential->certificate.get(),
                                         s.credential->private_key.get(), EVP_sha256(), flags);
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    if (si == nullptr ||
        EVP_Digest(s.content.data(), s.content.size(), digest, &len, EVP_sha256(), nullptr) != 1 ||
        CMS_signed_add1_attr_by_NID(si, NID_pkcs9_messageDigest, V_ASN1_OCTET_STRING, digest,
                                    static_cast<int>(len)) != 1 ||
        CMS_signed_add1_attr_by_NID(si, NID_pkcs9_contentType, V_ASN1_OBJECT,
                                    OBJ_nid2obj(NID_pkcs7_data), -1) != 1 ||
        CMS_SignerInfo_sign(si) != 1) {
      throw std::runtime_error("adding a signer: " + cms::take_openssl_errors());
    }
  }
  if (embedded != nullptr) {
    CMS_set_detached(c.get(), 0);
    ASN1_OCTET_STRING** pos = CMS_get0_content(c.get());
    if (pos == nullptr) throw std::runtime_error("no content slot");
    if (*pos == nullptr) *pos = ASN1_OCTET_STRING_new();
    ASN1_OCTET_STRING_set(*pos, embedded->data(), static_cast<int>(embedded->size()));
  }
  return cms::to_der(c.get());
}

std::vector<std::string> signer_digests(cms::ByteView der) {
  std::vector<std::string> out;
  const unsigned char* p = der.data();
  cms::CmsPtr c(d2i_CMS_ContentInfo(nullptr, &p, static_cast<long>(der.size())));
  if (!c) return out;
  STACK_OF(CMS_SignerInfo)* infos = CMS_get0_SignerInfos(c.get());
  for (int i = 0; i < sk_CMS_SignerInfo_num(infos); ++i) {
    X509_ALGOR* alg = nullptr;
    CMS_SignerInfo_get0_algs(sk_CMS_SignerInfo_value(infos, i), nullptr, nullptr, &alg, nullptr);
    const ASN1_OBJECT* oid = nullptr;
    X509_ALGOR_get0(&oid, nullptr, nullptr, alg);
    out.emplace_back(OBJ_nid2ln(OBJ_obj2nid(oid)));
  }
  return out;
}

}  // namespace kakehashi::test
