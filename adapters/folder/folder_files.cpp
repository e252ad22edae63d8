#include "adapters/folder/folder_files.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>

namespace kakehashi::adapters::folder {
namespace {

std::error_code last_error() { return {errno, std::generic_category()}; }

// Owns a POSIX descriptor so every early return closes it.
class Fd {
 public:
  explicit Fd(int fd) : fd_(fd) {}
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  ~Fd() {
    if (fd_ >= 0) ::close(fd_);
  }
  int get() const { return fd_; }
  std::error_code close() {
    const int fd = fd_;
    fd_ = -1;
    return ::close(fd) == 0 ? std::error_code() : last_error();
  }

 private:
  int fd_;
};

std::error_code write_all(int fd, std::string_view bytes) {
  while (!bytes.empty()) {
    const ssize_t n = ::write(fd, bytes.data(), bytes.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return last_error();
    }
    bytes.remove_prefix(static_cast<std::size_t>(n));
  }
  return {};
}

std::error_code write_with_flags(const std::filesystem::path& path, std::string_view bytes,
                                 int flags) {
  Fd fd(::open(path.c_str(), flags | O_WRONLY | O_CLOEXEC, 0644));
  if (fd.get() < 0) return last_error();
  if (auto ec = write_all(fd.get(), bytes)) return ec;
  if (::fsync(fd.get()) != 0) return last_error();
  return fd.close();
}

}  // namespace

std::error_code read_file_prefix(const std::filesystem::path& path, std::uint64_t limit,
                                 std::string& bytes, std::uint64_t& size) {
  Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (fd.get() < 0) return last_error();
  bytes.clear();
  size = 0;
  char buffer[64 * 1024];
  for (;;) {
    const ssize_t n = ::read(fd.get(), buffer, sizeof buffer);
    if (n < 0) {
      if (errno == EINTR) continue;
      return last_error();
    }
    if (n == 0) break;
    const auto got = static_cast<std::uint64_t>(n);
    if (size < limit) {
      const auto keep = std::min<std::uint64_t>(got, limit - size);
      bytes.append(buffer, static_cast<std::size_t>(keep));
    }
    size += got;
  }
  return {};
}

std::error_code write_file_synced(const std::filesystem::path& path, std::string_view bytes) {
  return write_with_flags(path, bytes, O_CREAT | O_TRUNC);
}

std::error_code write_file_atomic(const std::filesystem::path& path, std::string_view bytes) {
  const auto tmp = path.parent_path() / ("." + path.filename().string() + ".tmp");
  if (auto ec = write_file_synced(tmp, bytes)) return ec;
  std::error_code ec;
  std::filesystem::rename(tmp, path, ec);
  if (ec) return ec;
  return fsync_directory(path.parent_path());
}

std::error_code append_line_synced(const std::filesystem::path& path, std::string_view line) {
  std::string with_newline(line);
  with_newline += '\n';
  return write_with_flags(path, with_newline, O_CREAT | O_APPEND);
}

std::error_code fsync_directory(const std::filesystem::path& dir) {
  Fd fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (fd.get() < 0) return last_error();
  if (::fsync(fd.get()) != 0) return last_error();
  return fd.close();
}

std::string unique_child_name(const std::filesystem::path& parent, const std::string& base) {
  std::error_code ec;
  if (!std::filesystem::exists(parent / base, ec)) return base;
  for (int n = 2;; ++n) {
    std::string name = base + "-" + std::to_string(n);
    if (!std::filesystem::exists(parent / name, ec)) return name;
  }
}

bool is_plain_file_name(std::string_view name) {
  if (name.empty() || name.size() > 255 || name.front() == '.') return false;
  for (char c : name) {
    if (c == '/' || c == '\\' || c == '\0' || c == '\n' || c == '\r') return false;
  }
  return true;
}

}  // namespace kakehashi::adapters::folder
