#pragma once
// How the care-plan targets read a fuzz input as files: each file is its name, a line feed, then
// its bytes; files are separated by 0x1E (never part of MS932 text). Seeds are built this way by
// tests/fuzz/make_seeds.sh.

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "mapping/careplan/inspector.hpp"

namespace kakehashi::fuzz {

inline constexpr char kFileSeparator = '\x1e';
inline constexpr std::size_t kMaxFiles = 16;

// One file: name up to the first '\n', content after it (empty when there is no '\n').
inline mapping::InputFile as_file(std::string_view chunk) {
  mapping::InputFile f;
  const auto eol = chunk.find('\n');
  f.name = std::string(chunk.substr(0, eol));
  f.bytes = eol == std::string_view::npos ? std::string_view() : chunk.substr(eol + 1);
  f.size = f.bytes.size();
  return f;
}

inline std::vector<mapping::InputFile> as_files(std::string_view input) {
  std::vector<mapping::InputFile> files;
  while (files.size() < kMaxFiles) {
    const auto sep = input.find(kFileSeparator);
    files.push_back(as_file(input.substr(0, sep)));
    if (sep == std::string_view::npos) break;
    input.remove_prefix(sep + 1);
  }
  return files;
}

}  // namespace kakehashi::fuzz
