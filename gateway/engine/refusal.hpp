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
// The destination network refused for a reason the sending office cannot fix: it does not trust
// the signer's CA (or cannot check it), or its own policy (the gateway's standing there, limits).
inline constexpr const char* kDestinationTrust = "DESTINATION_TRUST";
inline constexpr const char* kDestinationPolicy = "DESTINATION_POLICY";
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

// A destination network's refusal of a relayed unit, from its adapter's error code and message
// (e.g. "SIGNATURE_INVALID", "... (documents[0].signature): unknown-ca"): DESTINATION_REFUSED
// when the sending office can fix its unit (its file names or contents, its own certificate
// expired or revoked), DESTINATION_TRUST or DESTINATION_POLICY when it cannot (trust between the
// networks, the destination's own policy, the gateway's standing there); the recipient's
// unknown or not active there: RECIPIENT_UNKNOWN, RECIPIENT_NOT_ACTIVE.
Refusal destination_refusal(const std::string& error_code, const std::string& message);
// Whether the sending office can act on the refusal by fixing and resending its unit.
bool sender_can_fix(const Refusal& refusal);
// Whether the refusal needs the gateway operator (an alert): trust between networks or the
// destination's policy.
bool needs_operator(const Refusal& refusal);

// The first line of every notice that tells an office its unit was sent back: the delivery status
// word of README "Delivery status" (差し戻し), so the office reads the same word as the console
// and the evidence report.
inline constexpr const char* kRejectedStatusLine = "【差し戻し】\n";

// The text the sending office receives (Japanese, one line per reason with its code). It asks
// to fix and resend only when every reason is one the office can fix.
std::string refusal_text_ja(const std::vector<Refusal>& refusals);
// "CODE file:line#field; CODE ..." for the store, logs and `kakehashi relay show`.
std::string refusal_summary(const std::vector<Refusal>& refusals);

}  // namespace kakehashi::gateway::engine
