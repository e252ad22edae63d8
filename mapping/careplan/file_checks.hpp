#pragma once
// Checks of one care-plan CSV file against its layout and its own name, and the facts (key
// values per record) that the unit-level link checks need afterwards.

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "mapping/careplan/file_name.hpp"
#include "mapping/careplan/finding.hpp"

namespace kakehashi::mapping {

struct RecordFacts {
  std::size_t line = 0;
  std::vector<std::string> values;  // in the order of FileFacts::fields
};

// What the unit checks need from a file: a few field values per well-formed record. These hold
// personal identifiers in memory only; nothing here is ever printed.
struct FileFacts {
  std::string file;
  FileKind kind = FileKind::UPPLAN;
  std::vector<int> fields;  // field numbers kept, ascending
  std::vector<RecordFacts> records;

  // Value of field `no` in `record` ("" when the field was not kept).
  std::string_view value(const RecordFacts& record, int no) const;
  // Key made of several fields joined by '\x1f'.
  std::string key(const RecordFacts& record, const std::vector<int>& fields) const;
};

// At most this many findings are reported per file; the rest are counted in one last finding.
inline constexpr std::size_t kMaxFindingsPerFile = 200;

FileFacts check_csv_file(const CarePlanFileName& name, std::string_view file_name,
                         std::string_view bytes, Findings& out);

}  // namespace kakehashi::mapping
