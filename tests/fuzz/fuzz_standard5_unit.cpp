// Fuzz target: a 4.1 send unit (files as in fuzz_input.hpp) through the 5.0 translation. What
// to_v5 accepts must come back: from_v5 renders it, and translating the rendered files again
// gives the very same document (the lossless property on arbitrary input, not only valid units).

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>
#include <vector>

#include "mapping/standard5/translate.hpp"
#include "tests/fuzz/fuzz_input.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  namespace s5 = kakehashi::mapping::standard5;
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  std::vector<s5::UnitFile> files;
  for (const auto& f : kakehashi::fuzz::as_files(input)) files.push_back({f.name, f.bytes});
  const auto v5 = s5::to_v5(files);
  if (!v5.ok()) {
    if (!v5.document.json.empty()) std::abort();  // a refused unit has no document
    return 0;
  }
  s5::FromV5Options options;
  options.inspect_output = false;  // the unit need not be valid 4.1, only translatable
  const auto back = s5::from_v5(v5.document.json, options);
  if (!back.ok() || !back.substitutions.empty()) std::abort();
  std::vector<s5::UnitFile> again;
  for (const auto& f : back.files) again.push_back({f.name, f.bytes});
  const auto v5_again = s5::to_v5(again);
  if (!v5_again.ok() || v5_again.document.json != v5.document.json) std::abort();
  return 0;
}
