#include "mapping/registry/validation.hpp"

#include "mapping/careplan/check_digit.hpp"
#include "mapping/careplan/layout.hpp"

namespace kakehashi::mapping::registry {

std::string_view to_string(EntryProblem problem) {
  switch (problem) {
    case EntryProblem::kInvalidCheckDigit: return "invalid_check_digit";
    case EntryProblem::kUnknownServiceType: return "unknown_service_type";
    case EntryProblem::kOutOfLinkScope: return "out_of_link_scope";
    case EntryProblem::kUnknownStatus: return "unknown_status";
  }
  return "?";
}

bool in_link_scope(std::string_view service_type) {
  const auto& standard = CarePlanStandard::get();
  return standard.is_in_link_scope(service_type) || standard.is_care_management_type(service_type);
}

std::vector<EntryProblem> validate(const SourceEntry& entry) {
  std::vector<EntryProblem> problems;
  if (!is_valid_office_number(entry.key.office_no)) problems.push_back(EntryProblem::kInvalidCheckDigit);
  const auto& standard = CarePlanStandard::get();
  if (!standard.is_known_service_type(entry.key.service_type)) {
    problems.push_back(EntryProblem::kUnknownServiceType);
  } else if (!in_link_scope(entry.key.service_type)) {
    problems.push_back(EntryProblem::kOutOfLinkScope);
  }
  if (entry.status == OfficeStatus::kUnknown) problems.push_back(EntryProblem::kUnknownStatus);
  return problems;
}

}  // namespace kakehashi::mapping::registry
