#pragma once
// Inspection of care-plan files: group them into send units and check each unit against the
// standard (names, combinations, attachments, CSV layouts, links). Pure: bytes in, report out.

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "mapping/careplan/file_name.hpp"
#include "mapping/careplan/finding.hpp"
#include "mapping/careplan/send_unit.hpp"

namespace kakehashi::mapping {

// One file handed to the inspector. `bytes` is borrowed; the inspector never changes it.
struct InputFile {
  std::string name;        // file name without directory, as sent
  std::string_view bytes;  // content (may be cut at max_file_bytes + 1 by the reader)
  std::uint64_t size = 0;  // real size in bytes (may exceed bytes.size())
};

struct InspectOptions {
  std::uint64_t max_file_bytes = 10ull * 1024 * 1024;    // per file, CSV or attachment
  std::uint64_t max_unit_bytes = 100ull * 1024 * 1024;   // all files of one unit together
};

struct UnitReport {
  std::optional<SendUnitKey> key;            // nullopt for files whose name is not recognised
  std::optional<NameGeneration> generation;  // v4.1 or v3
  const UnitCombination* combination = nullptr;  // the standard's combination it matched
  std::vector<std::string> files;            // file names, sorted
  Findings findings;
  bool acceptable() const { return !has_errors(findings); }
};

struct InspectReport {
  std::vector<UnitReport> units;  // ordered by sender, recipient, sequence; unrecognised last
  bool all_acceptable() const;
};

InspectReport inspect(std::span<const InputFile> files, const InspectOptions& options = {});

}  // namespace kakehashi::mapping
