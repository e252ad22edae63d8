#include "mapping/cms/result.hpp"

namespace kakehashi::mapping::cms {

std::string_view to_string(ErrorCode code) {
  switch (code) {
    case ErrorCode::kMalformed:
      return "malformed";
    case ErrorCode::kUnsupported:
      return "unsupported";
    case ErrorCode::kContentMismatch:
      return "content-mismatch";
    case ErrorCode::kContentMissing:
      return "content-missing";
    case ErrorCode::kSignerInfoChanged:
      return "signer-info-changed";
    case ErrorCode::kNotRecipient:
      return "not-recipient";
    case ErrorCode::kBadSignature:
      return "bad-signature";
    case ErrorCode::kCryptoFailure:
      return "crypto-failure";
    case ErrorCode::kInvalidArgument:
      return "invalid-argument";
  }
  return "unknown";
}

}  // namespace kakehashi::mapping::cms
