#pragma once
// A finding: one thing wrong (or worth a warning) about a file, a record or a send unit, named
// precisely enough that an office knows what to fix.

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace kakehashi::mapping {

enum class Severity { kError, kWarning };

struct Finding {
  std::string code;  // stable code, see finding_codes.hpp and README
  Severity severity = Severity::kError;
  std::string file;      // file name as sent ("" for unit-level findings)
  std::size_t line = 0;  // 1-based physical line where the record starts (0: whole file)
  int field_no = 0;      // 1-based field number in the layout (0: no field)
  std::string field;     // field name from the standard (name_ja), or "" when none
  std::string message;   // plain message, never the field's value (no personal data)
  // The other files a finding concerns, for programs (README "Finding codes" says which codes
  // set them): UNIT_INCOMPLETE the name the missing file should have; LINK_MISSING the file that
  // lacks the matching records, LINK_ORPHAN the file that lacks the parent record.
  std::string missing_file;        // UNIT_INCOMPLETE
  std::string related_file;        // LINK_MISSING, LINK_ORPHAN
  std::vector<std::string> files;  // UNIT_NO_CARE_PLAN_FILE: the files of the unit
};

using Findings = std::vector<Finding>;

inline bool has_errors(const Findings& findings) {
  for (const auto& f : findings) {
    if (f.severity == Severity::kError) return true;
  }
  return false;
}

std::string_view severity_name(Severity s);

}  // namespace kakehashi::mapping
