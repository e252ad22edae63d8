#pragma once
// A reason the gateway refuses a unit, and the texts made from refusals: a plain-Japanese
// message for the care staff at the sending office (the standard's field names, the stable code
// beside each line) and a one-line summary for the store and the operators. Never field values.

#include <cstddef>
#include <string>
#include <vector>

#include "mapping/careplan/finding.hpp"

namespace kakehashi::gateway::engine {

// Codes the engine adds to the care-plan findings of mapping/careplan.
namespace refusal_codes {
inline constexpr const char* kSignatureInvalid = "SIGNATURE_INVALID";
inline constexpr const char* kSignerNotSender = "SIGNER_NOT_SENDER";
inline constexpr const char* kEnvelopeMismatch = "ENVELOPE_MISMATCH";
inline constexpr const char* kSenderNotAuthorized = "SENDER_NOT_AUTHORIZED";
// A sender without a facility (national) that is not an active office native to its network.
inline constexpr const char* kSenderUnknown = "SENDER_UNKNOWN";
inline constexpr const char* kSenderNotActive = "SENDER_NOT_ACTIVE";
inline constexpr const char* kRecipientUnknown = "RECIPIENT_UNKNOWN";
inline constexpr const char* kRecipientNotActive = "RECIPIENT_NOT_ACTIVE";
inline constexpr const char* kRecipientSameNetwork = "RECIPIENT_SAME_NETWORK";
inline constexpr const char* kDestinationRefused = "DESTINATION_REFUSED";
inline constexpr const char* kNoFiles = "UNIT_EMPTY";
// The adapter could not read the item (InboundUnit::unreadable).
inline constexpr const char* kItemUnreadable = "ITEM_UNREADABLE";
}  // namespace refusal_codes

struct Refusal {
  std::string code;
  std::string file;  // "" for unit-level reasons
  std::size_t line = 0;
  int field_no = 0;
  std::string field;   // the standard's field name
  std::string detail;  // English detail for operators (no values)
};

Refusal refusal_from(const mapping::Finding& finding);

// The text the sending office receives (Japanese, one line per reason with its code).
std::string refusal_text_ja(const std::vector<Refusal>& refusals);
// "CODE file:line#field; CODE ..." for the store, logs and `kakehashi relay show`.
std::string refusal_summary(const std::vector<Refusal>& refusals);

}  // namespace kakehashi::gateway::engine
