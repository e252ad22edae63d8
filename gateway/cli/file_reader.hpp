#pragma once
// Reads the files named on a command line (files or folders, folders recursively) for inspection.
// Reads at most `limit + 1` bytes of each file, so an oversized file is detected, not loaded.

#include <cstdint>
#include <string>
#include <system_error>
#include <vector>

namespace kakehashi::gateway::cli {

struct LoadedFile {
  std::string path;   // as found on disk
  std::string name;   // file name without directory
  std::string bytes;  // content, cut at limit + 1 bytes
  std::uint64_t size = 0;
};

struct LoadError {
  std::string path;
  std::error_code ec;
};

// Hidden files (starting with '.') inside folders are skipped; named files are always read.
std::vector<LoadedFile> load_files(const std::vector<std::string>& paths, std::uint64_t limit,
                                   std::vector<LoadError>& errors);

}  // namespace kakehashi::gateway::cli
