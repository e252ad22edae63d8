#include "mapping/registry/office.hpp"

namespace kakehashi::mapping::registry {

std::optional<OfficeKey> parse_office_key(std::string_view text) {
  const auto sep = text.find_first_of("/ _");
  if (sep == std::string_view::npos || sep == 0 || sep + 1 >= text.size()) return std::nullopt;
  return OfficeKey{std::string(text.substr(0, sep)), std::string(text.substr(sep + 1))};
}

OfficeStatus parse_status(std::string_view text) {
  if (text == "ACTIVE") return OfficeStatus::kActive;
  if (text == "SUSPENDED") return OfficeStatus::kSuspended;
  if (text == "CLOSED") return OfficeStatus::kClosed;
  return OfficeStatus::kUnknown;
}

std::string_view to_string(OfficeStatus status) {
  switch (status) {
    case OfficeStatus::kActive: return "ACTIVE";
    case OfficeStatus::kSuspended: return "SUSPENDED";
    case OfficeStatus::kClosed: return "CLOSED";
    case OfficeStatus::kUnknown: break;
  }
  return "UNKNOWN";
}

}  // namespace kakehashi::mapping::registry
