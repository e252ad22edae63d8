#pragma once
// Checks one directory entry against the care-plan standard before it may enter the registry:
// the office number's check digit (a bad one quarantines the entry), a known service type, a
// service type within the care-plan link scope, and a known status.

#include <string_view>
#include <vector>

#include "mapping/registry/office.hpp"

namespace kakehashi::mapping::registry {

enum class EntryProblem {
  kInvalidCheckDigit,   // malformed office number or wrong check digit: quarantined
  kUnknownServiceType,  // not a service type code of the standard
  kOutOfLinkScope,      // a known type the care-plan exchange does not cover
  kUnknownStatus,       // neither ACTIVE, SUSPENDED nor CLOSED
};

std::string_view to_string(EntryProblem problem);

std::vector<EntryProblem> validate(const SourceEntry& entry);

// Whether care-plan units may be exchanged with offices of this type: the standard's in-scope
// service types and the care-management types (43, 46, AF) that send the plans.
bool in_link_scope(std::string_view service_type);

// Whether a problem keeps the entry out of the registry altogether.
inline bool quarantines(EntryProblem p) { return p == EntryProblem::kInvalidCheckDigit; }

}  // namespace kakehashi::mapping::registry
