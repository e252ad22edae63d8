#include "gateway/cli/file_reader.hpp"

#include <algorithm>
#include <filesystem>
#include <fstream>

namespace kakehashi::gateway::cli {
namespace fs = std::filesystem;

namespace {

void load_one(const fs::path& p, std::uint64_t limit, std::vector<LoadedFile>& out,
              std::vector<LoadError>& errors) {
  std::error_code ec;
  const auto size = fs::file_size(p, ec);
  if (ec) {
    errors.push_back({p.string(), ec});
    return;
  }
  std::ifstream in(p, std::ios::binary);
  if (!in) {
    errors.push_back({p.string(), std::make_error_code(std::errc::permission_denied)});
    return;
  }
  LoadedFile f;
  f.path = p.string();
  f.name = p.filename().string();
  f.size = size;
  const std::uint64_t want = std::min<std::uint64_t>(size, limit + 1);
  f.bytes.resize(static_cast<std::size_t>(want));
  in.read(f.bytes.data(), static_cast<std::streamsize>(want));
  if (static_cast<std::uint64_t>(in.gcount()) != want) {
    errors.push_back({p.string(), std::make_error_code(std::errc::io_error)});
    return;
  }
  out.push_back(std::move(f));
}

}  // namespace

std::vector<LoadedFile> load_files(const std::vector<std::string>& paths, std::uint64_t limit,
                                   std::vector<LoadError>& errors) {
  std::vector<LoadedFile> out;
  for (const auto& arg : paths) {
    const fs::path p(arg);
    std::error_code ec;
    const auto status = fs::status(p, ec);
    if (ec) {
      errors.push_back({arg, ec});
      continue;
    }
    if (fs::is_directory(status)) {
      std::vector<fs::path> found;
      fs::recursive_directory_iterator it(p, fs::directory_options::none, ec), end;
      for (; !ec && it != end; it.increment(ec)) {
        const auto name = it->path().filename().string();
        if (!name.empty() && name[0] == '.') {
          if (it->is_directory()) it.disable_recursion_pending();
          continue;
        }
        if (it->is_regular_file()) found.push_back(it->path());
      }
      if (ec) errors.push_back({arg, ec});
      std::sort(found.begin(), found.end());
      for (const auto& f : found) load_one(f, limit, out, errors);
    } else if (fs::is_regular_file(status)) {
      load_one(p, limit, out, errors);
    } else {
      errors.push_back({arg, std::make_error_code(std::errc::invalid_argument)});
    }
  }
  return out;
}

}  // namespace kakehashi::gateway::cli
