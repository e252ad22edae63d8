#include "adapters/folder/folder_files.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

namespace kakehashi::adapters::folder {
namespace {

std::error_code last_error() {
  return {errno, std::generic_category()};
}

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
                                 int flags, mode_t mode) {
  Fd fd(::open(path.c_str(), flags | O_WRONLY | O_CLOEXEC | O_NOFOLLOW, mode));
  if (fd.get() < 0) return last_error();
  // open() applies the umask; the mode must not depend on how the daemon was started.
  if (::fchmod(fd.get(), mode) != 0) return last_error();
  if (auto ec = write_all(fd.get(), bytes)) return ec;
  if (::fsync(fd.get()) != 0) return last_error();
  return fd.close();
}

}  // namespace

std::error_code read_file_prefix(const std::filesystem::path& path, std::uint64_t limit,
                                 std::string& bytes, std::uint64_t& size) {
  bytes.clear();
  size = 0;
  Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK));
  if (fd.get() < 0) return last_error();
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) return last_error();
  if (!S_ISREG(st.st_mode)) return std::make_error_code(std::errc::invalid_argument);
  size = static_cast<std::uint64_t>(st.st_size);
  char buffer[64 * 1024];
  // Bounded: never more than `limit` bytes, however the file changes while it is read.
  while (bytes.size() < limit) {
    const auto want = std::min<std::uint64_t>(sizeof buffer, limit - bytes.size());
    const ssize_t n = ::read(fd.get(), buffer, static_cast<std::size_t>(want));
    if (n < 0) {
      if (errno == EINTR) continue;
      return last_error();
    }
    if (n == 0) break;
    bytes.append(buffer, static_cast<std::size_t>(n));
  }
  size = std::max<std::uint64_t>(size, bytes.size());
  return {};
}

std::error_code write_file_synced(const std::filesystem::path& path, std::string_view bytes,
                                  mode_t mode) {
  return write_with_flags(path, bytes, O_CREAT | O_TRUNC, mode);
}

std::error_code write_file_atomic(const std::filesystem::path& path, std::string_view bytes,
                                  mode_t mode) {
  const auto tmp = path.parent_path() / ("." + path.filename().string() + ".tmp");
  if (auto ec = write_file_synced(tmp, bytes, mode)) return ec;
  std::error_code ec;
  std::filesystem::rename(tmp, path, ec);
  if (ec) return ec;
  return fsync_directory(path.parent_path());
}

std::error_code append_line_synced(const std::filesystem::path& path, std::string_view line,
                                   mode_t mode) {
  std::string with_newline(line);
  with_newline += '\n';
  return write_with_flags(path, with_newline, O_CREAT | O_APPEND, mode);
}

std::error_code create_directory_with_mode(const std::filesystem::path& path, mode_t mode) {
  if (::mkdir(path.c_str(), mode) != 0) return last_error();
  if (::chmod(path.c_str(), mode) != 0) return last_error();
  return {};
}

mode_t directory_mode_for(mode_t file_mode) {
  mode_t mode = file_mode & 0777;
  if ((mode & S_IRUSR) != 0) mode |= S_IXUSR;
  if ((mode & S_IRGRP) != 0) mode |= S_IXGRP;
  if ((mode & S_IROTH) != 0) mode |= S_IXOTH;
  return mode | S_IRWXU;
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
