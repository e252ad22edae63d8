// Fuzz target: a 5.0 document from the national side through from_v5 (refusing by default, or
// substituting, chosen by the input's size). What it renders is a valid 4.1 unit (the inspector
// ran over it), so translating that unit to 5.0 and back must give the same files again.

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>
#include <vector>

#include "mapping/standard5/translate.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  namespace s5 = kakehashi::mapping::standard5;
  const std::string_view json(reinterpret_cast<const char*>(data), size);
  (void)s5::validate_v5(json);
  s5::FromV5Options options;
  options.characters.substitute = size % 2 == 1;
  const auto rendered = s5::from_v5(json, options);
  if (!rendered.ok()) {
    if (!rendered.files.empty()) std::abort();  // a refused document renders nothing
    return 0;
  }
  std::vector<s5::UnitFile> files;
  for (const auto& f : rendered.files) files.push_back({f.name, f.bytes});
  const auto v5 = s5::to_v5(files);
  if (!v5.ok()) std::abort();
  const auto back = s5::from_v5(v5.document.json);
  if (!back.ok() || back.files.size() != rendered.files.size()) std::abort();
  for (std::size_t i = 0; i < back.files.size(); ++i) {
    if (back.files[i].name != rendered.files[i].name ||
        back.files[i].bytes != rendered.files[i].bytes)
      std::abort();
  }
  return 0;
}
