// Fuzz target: one care-plan file (its name, a line feed, its bytes) through the CSV reader and
// the inspector, which checks the name, the encoding, the layout of its kind and the unit rules.

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "mapping/careplan/csv_reader.hpp"
#include "mapping/careplan/inspector.hpp"
#include "tests/fuzz/fuzz_input.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  namespace m = kakehashi::mapping;
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  const m::InputFile file = kakehashi::fuzz::as_file(input);

  // The reader alone: every record advances, fields stay inside the record's bytes.
  m::CsvReader reader(file.bytes);
  m::CsvRecord record;
  m::CsvSyntaxError error;
  std::size_t records = 0;
  std::size_t bytes_seen = 0;
  while (reader.next(record, error)) {
    if (++records > file.bytes.size() + 1) std::abort();  // a record that consumed nothing
    for (const auto& f : record.fields) {
      for (char c : f.value) bytes_seen += static_cast<unsigned char>(c) & 1u;
    }
  }
  (void)reader.line_endings();
  (void)bytes_seen;

  const m::InspectReport report = m::inspect({&file, 1});
  if (report.units.size() != 1) std::abort();
  for (const auto& f : report.units.front().findings) {
    if (f.code.empty()) std::abort();
  }
  return 0;
}
