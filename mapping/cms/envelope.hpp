#pragma once
// CMS EnvelopedData: encrypt to recipient certificates, decrypt with the gateway's key.
// Content: AES-256-CBC. Key transport: RSA-OAEP (SHA-256, MGF1-SHA-256) for RSA recipients;
// ECDH ephemeral-static key agreement (X9.63 KDF with SHA-256, AES-256 key wrap) for P-256.
// Readable by `openssl cms -decrypt`.

#include <span>

#include "mapping/cms/credential.hpp"
#include "mapping/cms/ossl.hpp"
#include "mapping/cms/result.hpp"

namespace kakehashi::mapping::cms {

Result<Bytes> encrypt(ByteView content, std::span<const X509Ptr> recipients);

// kNotRecipient when no RecipientInfo is for `recipient`'s certificate.
Result<Bytes> decrypt(ByteView enveloped_der, const Credential& recipient);

}  // namespace kakehashi::mapping::cms
