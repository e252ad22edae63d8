// Fuzz target: the care-plan file-name codec (mapping/careplan/file_name). Any bytes are a name;
// a name that parses must build back to a name that parses to the same parts.

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "mapping/careplan/file_name.hpp"
#include "mapping/careplan/send_unit.hpp"

namespace {

using kakehashi::mapping::CarePlanFileName;

bool same_parts(const CarePlanFileName& a, const CarePlanFileName& b) {
  return a.kind == b.kind && a.generation == b.generation && a.month == b.month &&
         a.from == b.from && a.to == b.to && a.sequence == b.sequence && a.branch == b.branch &&
         a.label == b.label && a.attachment == b.attachment;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  namespace m = kakehashi::mapping;
  const std::string_view name(reinterpret_cast<const char*>(data), size);
  const m::ParsedName parsed = m::parse_file_name(name);
  if (!parsed.name) return 0;
  const CarePlanFileName& n = *parsed.name;
  (void)m::file_kind_name(n.kind);
  (void)m::kind_has_month(n.kind);
  if (m::is_csv_kind(n.kind)) (void)m::direction_of(n.kind);
  (void)m::is_care_management_type(n.from.service_type);

  const std::string rebuilt = n.build();
  const m::ParsedName again = m::parse_file_name(rebuilt);
  if (!again.name || !same_parts(n, *again.name)) std::abort();
  return 0;
}
