// Fuzz target: a small send unit (up to 16 files, each "name\nbytes", separated by 0x1E)
// through the inspector: grouping, combinations, months, sizes, contents and the links between
// tables.

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "mapping/careplan/inspector.hpp"
#include "tests/fuzz/fuzz_input.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  namespace m = kakehashi::mapping;
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  const auto files = kakehashi::fuzz::as_files(input);
  // Small limits too, so the size findings are reached.
  const m::InspectOptions options{size % 2 == 0 ? 10ull * 1024 * 1024 : 4096,
                                  size % 3 == 0 ? 100ull * 1024 * 1024 : 16384};
  const m::InspectReport report = m::inspect(files, options);
  std::size_t named = 0;
  for (const auto& unit : report.units) {
    named += unit.files.size();
    (void)unit.acceptable();
  }
  if (named != files.size()) std::abort();  // every file is reported exactly once
  (void)report.all_acceptable();
  return 0;
}
