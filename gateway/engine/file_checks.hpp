#pragma once
// Per-file admission checks beside the care-plan standard (issue 14): that every destination can
// store the file's name, and that its signature is exactly one SignerInfo — the sender's — in the
// form its network promises. Whatever translation or delivery cannot handle is refused here,
// where the sender is told, rather than parked later. Pure apart from the clock.

#include <ctime>
#include <optional>
#include <string>
#include <string_view>

#include "gateway/adapter/adapter.hpp"
#include "gateway/engine/refusal.hpp"
#include "mapping/cms/trust_domain.hpp"

namespace kakehashi::gateway::engine {

// The name with control characters and backslashes as \xNN: safe in a log, a notice or a store.
std::string printable_file_name(std::string_view name);

// A refusal when some destination could not store the name as given: a control character
// (a line break), a path separator, a leading dot, or more than 255 bytes.
std::optional<Refusal> check_file_name(const std::string& name);

struct SignatureCheck {
  std::optional<Refusal> refusal;
  std::string signer;  // when accepted: subject, serial and CRL outcome, for the audit record
};

// `file` in canonical form (content + detached signature; `was_attached`: the network delivered
// it attached and admission detached it). Accepted only when the signature holds exactly one
// SignerInfo, it verifies against `trust` at `now` (0: the current time) with an accepted
// algorithm, its certificate names `sender_office`, and a network that sends detached
// signatures sent a detached one. `trust` null: no trust domain, every signed file refused.
SignatureCheck check_file_signature(const SignedFile& file, bool was_attached,
                                    const std::string& sender_office,
                                    const mapping::cms::TrustDomain* trust, std::time_t now);

}  // namespace kakehashi::gateway::engine
