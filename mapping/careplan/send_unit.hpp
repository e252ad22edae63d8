#pragma once
// Send units (送信単位): the files that share sender, recipient and 14-digit sequence travel
// together, and only in the combinations the standard allows.

#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "mapping/careplan/file_name.hpp"

namespace kakehashi::mapping {

enum class Direction : std::uint8_t { kCareManagerToService, kServiceToCareManager };
std::string_view direction_name(Direction d);

// One allowed combination of file kinds (K1..K6, P1..P9 in layouts.json).
struct UnitCombination {
  std::string id;       // "K2"
  std::string name_ja;  // "第6表・第7表・利用者補足情報"
  Direction direction;
  bool preventive;
  std::vector<FileKind> required;
  std::vector<FileKind> optional;
};

std::span<const UnitCombination> unit_combinations();

struct SendUnitKey {
  OfficeRef from;
  OfficeRef to;
  std::string sequence;
  friend auto operator<=>(const SendUnitKey&, const SendUnitKey&) = default;
};

// Direction implied by a CSV kind (UPJSK/DLTJSK go service → care manager, the rest the other way).
Direction direction_of(FileKind kind);

// Service types of care-management offices as they appear in file names (43, 46, AF).
bool is_care_management_type(std::string_view service_type);

}  // namespace kakehashi::mapping
