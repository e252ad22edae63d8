#include "mapping/cms/envelope.hpp"

#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/rsa.h>

namespace kakehashi::mapping::cms {

Result<Bytes> encrypt(ByteView content, std::span<const X509Ptr> recipients) {
  if (recipients.empty()) return Error{ErrorCode::kInvalidArgument, "no recipients"};
  ERR_clear_error();
  auto in = memory_bio(content);
  if (!in) return Error{ErrorCode::kInvalidArgument, "content too large"};
  const unsigned flags = CMS_BINARY | CMS_PARTIAL;
  CmsPtr cms(CMS_encrypt(nullptr, nullptr, EVP_aes_256_cbc(), flags));
  if (!cms) return Error{ErrorCode::kCryptoFailure, "CMS_encrypt: " + take_openssl_errors()};
  for (const auto& cert : recipients) {
    // CMS_KEY_PARAM leaves the key-transport context open so its parameters can be chosen.
    CMS_RecipientInfo* ri = CMS_add1_recipient_cert(cms.get(), cert.get(), flags | CMS_KEY_PARAM);
    if (ri == nullptr) {
      return Error{ErrorCode::kCryptoFailure, "recipient: " + take_openssl_errors()};
    }
    EVP_PKEY_CTX* pctx = CMS_RecipientInfo_get0_pkey_ctx(ri);
    EVP_PKEY* key = X509_get0_pubkey(cert.get());
    if (pctx == nullptr || key == nullptr) {
      return Error{ErrorCode::kCryptoFailure, "recipient key context missing"};
    }
    if (EVP_PKEY_is_a(key, "RSA")) {
      if (EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_OAEP_PADDING) <= 0 ||
          EVP_PKEY_CTX_set_rsa_oaep_md(pctx, EVP_sha256()) <= 0 ||
          EVP_PKEY_CTX_set_rsa_mgf1_md(pctx, EVP_sha256()) <= 0) {
        return Error{ErrorCode::kCryptoFailure, "RSA-OAEP setup: " + take_openssl_errors()};
      }
    } else if (EVP_PKEY_is_a(key, "EC")) {
      if (EVP_PKEY_CTX_set_ecdh_kdf_md(pctx, EVP_sha256()) <= 0) {
        return Error{ErrorCode::kCryptoFailure, "ECDH KDF setup: " + take_openssl_errors()};
      }
    } else {
      return Error{ErrorCode::kUnsupported, "recipient key type not supported"};
    }
  }
  if (CMS_final(cms.get(), in.get(), nullptr, flags) != 1) {
    return Error{ErrorCode::kCryptoFailure, "CMS_final: " + take_openssl_errors()};
  }
  Bytes der = to_der(cms.get());
  if (der.empty()) return Error{ErrorCode::kCryptoFailure, "encoding: " + take_openssl_errors()};
  return der;
}

Result<Bytes> decrypt(ByteView enveloped_der, const Credential& recipient) {
  if (!recipient.certificate || !recipient.private_key) {
    return Error{ErrorCode::kInvalidArgument, "recipient has no certificate or key"};
  }
  ERR_clear_error();
  CmsPtr cms = parse_cms_der(enveloped_der);
  if (!cms || OBJ_obj2nid(CMS_get0_type(cms.get())) != NID_pkcs7_enveloped) {
    return Error{ErrorCode::kMalformed, "not CMS EnvelopedData"};
  }
  // Find our RecipientInfo first so "not for us" is told apart from a decryption failure.
  bool addressed = false;
  STACK_OF(CMS_RecipientInfo)* ris = CMS_get0_RecipientInfos(cms.get());
  for (int i = 0; i < sk_CMS_RecipientInfo_num(ris); ++i) {
    CMS_RecipientInfo* ri = sk_CMS_RecipientInfo_value(ris, i);
    const int type = CMS_RecipientInfo_type(ri);
    if (type == CMS_RECIPINFO_TRANS &&
        CMS_RecipientInfo_ktri_cert_cmp(ri, recipient.certificate.get()) == 0) {
      addressed = true;
    } else if (type == CMS_RECIPINFO_AGREE) {
      STACK_OF(CMS_RecipientEncryptedKey)* reks = CMS_RecipientInfo_kari_get0_reks(ri);
      for (int j = 0; j < sk_CMS_RecipientEncryptedKey_num(reks); ++j) {
        if (CMS_RecipientEncryptedKey_cert_cmp(sk_CMS_RecipientEncryptedKey_value(reks, j),
                                               recipient.certificate.get()) == 0) {
          addressed = true;
        }
      }
    }
  }
  if (!addressed) {
    return Error{ErrorCode::kNotRecipient, "envelope is not addressed to this certificate"};
  }
  BioPtr out(BIO_new(BIO_s_mem()));
  if (!out || CMS_decrypt(cms.get(), recipient.private_key.get(), recipient.certificate.get(),
                          nullptr, out.get(), CMS_BINARY) != 1) {
    return Error{ErrorCode::kCryptoFailure, "decryption failed: " + take_openssl_errors()};
  }
  return bio_bytes(out.get());
}

}  // namespace kakehashi::mapping::cms
