#pragma once
// Signed checkpoints of the audit chain: "record `seq` has hash `hash`", signed with the gateway
// key as attached CMS SignedData, so anyone holding the gateway certificate can check that the
// chain up to `seq` is the one the gateway wrote. Pure: bytes in, bytes out.

#include <cstdint>
#include <string>
#include <string_view>

#include "mapping/cms/credential.hpp"
#include "mapping/cms/result.hpp"

namespace kakehashi::gateway::audit {

struct Checkpoint {
  std::int64_t number = 0;  // 1, 2, ... with no gaps
  std::int64_t seq = 0;     // the last record it covers
  std::string hash;         // that record's hash
  std::int64_t at = 0;      // ms since the epoch
  std::string signature;    // base64 DER CMS SignedData over checkpoint_text
};

// The canonical text a checkpoint's signature covers.
std::string checkpoint_text(std::int64_t number, std::int64_t seq, std::string_view hash,
                            std::int64_t at);

// Signs checkpoint_text; returns base64 DER.
mapping::cms::Result<std::string> sign_checkpoint(const Checkpoint& checkpoint,
                                                  const mapping::cms::Credential& signer);

// Checks the signature with `gateway_certificate` alone and that the signed text is this
// checkpoint's. kBadSignature or kContentMismatch with the reason otherwise.
mapping::cms::Result<bool> verify_checkpoint(const Checkpoint& checkpoint,
                                             X509* gateway_certificate);

}  // namespace kakehashi::gateway::audit
