#pragma once
// What a send unit is, for the two rules that compare units of one (sender, recipient) pair:
// superseding (a newer unit replaces an older one that carries the same subject: kind, target
// month and users) and duplicate detection (a copy of a unit already taken carries the same
// files, byte for byte). Pure: a unit in, strings out; no numbers of users are kept.

#include <string>

#include "gateway/adapter/adapter.hpp"

namespace kakehashi::gateway::engine {

// "<kind>:<target month>:<users digest>", where the users are the (保険者番号, 被保険者番号)
// pairs of every record of the unit's care-plan CSV files (recognised by their names, in
// either case of the extension), hashed. "" when the kind is unknown or no user can be read: such
// a unit supersedes nothing and is never superseded.
std::string subject_key(const InboundUnit& unit, const std::string& unit_kind);

// SHA-256 (hex) over the files' names and exact bytes, in name order (signatures and the cover
// message are not part of it): two offers with the same digest carry identical files. The
// files must hold their content (detached form, as admission leaves them).
std::string content_digest(const InboundUnit& unit);

}  // namespace kakehashi::gateway::engine
