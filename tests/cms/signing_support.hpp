#pragma once
// Signed files the gateway's own signer never makes, built with OpenSSL directly for the tests:
// weak digests (what a careless or old sender produces) and several SignerInfos over different
// content. Used by the CMS tests and the admission tests; no PKI of its own.

#include <string>
#include <vector>

#include "mapping/cms/credential.hpp"
#include "mapping/cms/ossl.hpp"

namespace kakehashi::test {

// SignedData over `content` by `signer` with the named digest ("md5", "sha1", "sha384"...).
mapping::cms::Bytes sign_with_digest(mapping::cms::ByteView content,
                                     const mapping::cms::Credential& signer, const char* digest,
                                     bool detached = true);

// One SignerInfo per entry, each signing (SHA-256) its own `content` with its own credential; the
// message is detached, or embeds `embedded` when given.
struct SignerSpec {
  const mapping::cms::Credential* credential;
  mapping::cms::ByteView content;
};
mapping::cms::Bytes sign_several(const std::vector<SignerSpec>& signers,
                                 const mapping::cms::Bytes* embedded = nullptr);

// The digest algorithm (long name, e.g. "sha256") of every SignerInfo of `der`, in SET order.
std::vector<std::string> signer_digests(mapping::cms::ByteView der);

}  // namespace kakehashi::test
