#pragma once
// Insured numbers (被保険者番号) in the audit log: only ever as a keyed hash, so an auditor who is
// given a number can find its records, and nobody can read numbers out of the log.

#include <set>
#include <string>
#include <string_view>

namespace kakehashi::gateway::audit {

// HMAC-SHA256(key, number), lower-case hex, first 32 digits (128 bits is plenty to search by).
std::string insured_hash(std::string_view key, std::string_view insured_number);

// Adds the insured numbers of a care-plan CSV (field 3 of each record, after the insurer number)
// to `out`; attachments and unreadable records add nothing. The numbers stay in memory only.
void collect_insured_numbers(std::string_view file_name, std::string_view content,
                             std::set<std::string>& out);

}  // namespace kakehashi::gateway::audit
