#pragma once
// Reading a SignerInfo's signed attributes: signing time and the messageDigest over the content.

#include <ctime>
#include <optional>

#include "mapping/cms/ossl.hpp"
#include "mapping/cms/result.hpp"

namespace kakehashi::mapping::cms {

std::optional<std::time_t> signing_time(CMS_SignerInfo* si);

// The digest algorithm the SignerInfo uses (nullptr if unknown to OpenSSL).
const EVP_MD* signer_digest(CMS_SignerInfo* si);

// ok(true) when the SignerInfo's messageDigest equals the digest of `content`;
// kContentMismatch when it differs; kMalformed when the attribute or algorithm is unusable.
Result<bool> check_message_digest(CMS_SignerInfo* si, ByteView content);

}  // namespace kakehashi::mapping::cms
