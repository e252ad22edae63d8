// Runs LLVMFuzzerTestOneInput once over every file under the paths given (files or folders,
// searched recursively, in name order): the regression run of a target's corpus when it is not
// built with libFuzzer. Exit 1 when there was nothing to run.

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <iterator>
#include <string>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size);

namespace {

std::vector<std::filesystem::path> inputs_under(const std::filesystem::path& path) {
  std::vector<std::filesystem::path> out;
  if (std::filesystem::is_directory(path)) {
    for (const auto& e : std::filesystem::recursive_directory_iterator(path)) {
      if (e.is_regular_file()) out.push_back(e.path());
    }
    std::sort(out.begin(), out.end());
  } else if (std::filesystem::is_regular_file(path)) {
    out.push_back(path);
  }
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  std::size_t runs = 0;
  for (int i = 1; i < argc; ++i) {
    for (const auto& file : inputs_under(argv[i])) {
      std::ifstream in(file, std::ios::binary);
      const std::vector<char> bytes{std::istreambuf_iterator<char>(in),
                                    std::istreambuf_iterator<char>()};
      // A copy of exactly the file's size, so ASan sees any read past the end.
      std::vector<std::uint8_t> data(bytes.begin(), bytes.end());
      std::cout << "run " << file.filename().string() << " (" << data.size() << " bytes)\n";
      LLVMFuzzerTestOneInput(data.data(), data.size());
      ++runs;
    }
  }
  std::cout << "replayed " << runs << " inputs\n";
  return runs == 0 ? 1 : 0;
}
