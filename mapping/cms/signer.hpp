#pragma once
// Producing signatures: a fresh SignedData over content (an office key in the drop-folder
// adapter, tests, benchmarks), and the gateway's proxy co-signature beside an existing signer.

#include <optional>

#include "mapping/cms/credential.hpp"
#include "mapping/cms/ossl.hpp"
#include "mapping/cms/result.hpp"

namespace kakehashi::mapping::cms {

struct SignOptions {
  bool detached = true;
};

// SignedData over `content` (SHA-256; RSA PKCS#1 v1.5 or ECDSA per the key), with signed
// attributes contentType, messageDigest and signingTime.
Result<Bytes> sign(ByteView content, const Credential& signer, const SignOptions& options = {});

// Adds `cosigner`'s SignerInfo beside the existing ones without touching them (DER orders the
// SignerInfo SET by encoding, so the new one may sort before the sender's). The co-signature
// always uses SHA-256, whatever digest the sender used. The content (embedded, or
// `detached_content`) is first checked against every SignerInfo's messageDigest: the gateway
// never attests to content that does not match. Attached stays attached.
Result<Bytes> add_cosigner(ByteView signed_data_der, std::optional<ByteView> detached_content,
                           const Credential& cosigner);

// attach_content(detached_der, content) then add_cosigner on the result, in one decoding and one
// encoding: the national form of a detached signature. The same checks (the content against every
// SignerInfo's messageDigest; every original SignerInfo byte-identical), errors and output bytes.
Result<Bytes> attach_and_cosign(ByteView detached_der, ByteView content,
                                const Credential& cosigner);

}  // namespace kakehashi::mapping::cms
