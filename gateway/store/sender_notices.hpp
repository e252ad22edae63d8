#pragma once
// What the store itself decides about a unit and owes its sender a word on: a unit superseded by a
// newer one of the same subject, and a unit refused because its (sender, recipient, sequence) is
// already taken by other files. Each comes as an operator summary (stable code first, for the
// transfer's reason) and the text the sending office receives, in the form of admission's
// refusals: plain Japanese, the code in brackets. Never file contents or users.

#include <cstdint>
#include <string>

namespace kakehashi::gateway::store {

namespace notice_codes {
inline constexpr const char* kSuperseded = "SUPERSEDED";
inline constexpr const char* kSequenceReused = "SEQUENCE_REUSED";
}  // namespace notice_codes

struct SenderNotice {
  std::string reason;  // "CODE (detail)" for the store, logs and operators
  std::string text;    // what the sending office is told
};

// `newer_*`: the unit that replaced this one (delivered first): its transfer id, its sequence
// (ファイル連番) and its id on the sender's network.
SenderNotice superseded_notice(std::int64_t newer_id, const std::string& newer_sequence,
                               const std::string& newer_source_id);
// `first_*`: the unit that holds the sequence.
SenderNotice sequence_reused_notice(const std::string& sequence, std::int64_t first_id,
                                    const std::string& first_source_id);

}  // namespace kakehashi::gateway::store
