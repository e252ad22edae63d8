#include "mapping/careplan/send_unit.hpp"

#include "mapping/careplan/layout.hpp"

namespace kakehashi::mapping {

std::string_view direction_name(Direction d) {
  return d == Direction::kCareManagerToService ? "care_manager_to_service"
                                               : "service_to_care_manager";
}

std::span<const UnitCombination> unit_combinations() {
  return CarePlanStandard::get().combinations();
}

Direction direction_of(FileKind kind) {
  return (kind == FileKind::UPJSK || kind == FileKind::DLTJSK) ? Direction::kServiceToCareManager
                                                               : Direction::kCareManagerToService;
}

bool is_care_management_type(std::string_view service_type) {
  return CarePlanStandard::get().is_care_management_type(service_type);
}

}  // namespace kakehashi::mapping
