#pragma once
// How an accepted unit rests in the store: serialized (length-prefixed fields) and sealed with
// AES-256-GCM under a key read from a file, so payloads at rest are unreadable without it.

#include <optional>
#include <string>

#include "gateway/adapter/adapter.hpp"

namespace kakehashi::gateway::engine {

std::string serialize_unit(const InboundUnit& unit);
std::optional<InboundUnit> deserialize_unit(std::string_view bytes);

// The translated unit as first sent, with its translation receipt, kept so that a retry resends
// exactly the same bytes.
struct SentTranslation {
  OutboundUnit unit;
  std::string receipt_der;
  std::string inbound_sha256, outbound_sha256;
};
std::string serialize_translation(const SentTranslation& t);
std::optional<SentTranslation> deserialize_translation(std::string_view bytes);

class PayloadCipher {
 public:
  // The key file holds 32 random bytes, raw or as 64 hex characters; it must not be readable by
  // group or others. Throws std::runtime_error naming the file (startup only).
  static PayloadCipher from_key_file(const std::string& path);
  // Creates a fresh key file (mode 0600) when none exists; used by `kakehashi run` on first start.
  static void create_key_file(const std::string& path);
  explicit PayloadCipher(std::string key);

  std::string seal(std::string_view plain) const;                    // nonce | ciphertext | tag
  std::optional<std::string> open(std::string_view sealed) const;    // nullopt if tampered

 private:
  std::string key_;
};

}  // namespace kakehashi::gateway::engine
