#pragma once
// Durable file operations for the drop folder: whole-file reads, atomic writes (temporary name,
// fsync, rename, fsync of the directory) and collision-free directory names. Blocking: call
// them from the adapter's worker thread only. Errors come back as std::error_code.

#include <sys/types.h>

#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <system_error>

namespace kakehashi::adapters::folder {

// Mode of every file the adapter writes, whatever the process umask (folder setting file_mode).
inline constexpr mode_t kDefaultFileMode = 0640;

// Reads at most `limit` bytes of `path` (the rest is left unread; `size` is the file's size).
// Opened with O_NOFOLLOW | O_NONBLOCK and refused unless the opened descriptor is a regular file
// (a symlink gives ELOOP, a FIFO or device EINVAL): a file swapped after the directory listing
// can neither block the scanner nor feed it forever.
std::error_code read_file_prefix(const std::filesystem::path& path, std::uint64_t limit,
                                 std::string& bytes, std::uint64_t& size);

// Writes `bytes` to `path` with exactly `mode` and fsyncs the file (not its directory). Never
// through a symlink.
std::error_code write_file_synced(const std::filesystem::path& path, std::string_view bytes,
                                  mode_t mode = kDefaultFileMode);

// Writes `path` atomically: `.<name>.tmp`, fsync, rename over `path`, fsync the directory.
std::error_code write_file_atomic(const std::filesystem::path& path, std::string_view bytes,
                                  mode_t mode = kDefaultFileMode);

// Appends one line to `path` and fsyncs it (the ledger).
std::error_code append_line_synced(const std::filesystem::path& path, std::string_view line,
                                   mode_t mode = kDefaultFileMode);

// Creates the directory `path` with exactly `mode` (umask aside).
std::error_code create_directory_with_mode(const std::filesystem::path& path, mode_t mode);

// The directory mode that goes with a file mode: search permission wherever reading is allowed.
mode_t directory_mode_for(mode_t file_mode);

std::error_code fsync_directory(const std::filesystem::path& dir);

// `parent/base` when free, else `parent/base-2`, `-3`, ... (not created).
std::string unique_child_name(const std::filesystem::path& parent, const std::string& base);

// Safe as a plain file name written into a folder: no separators, no leading dot, not "..".
bool is_plain_file_name(std::string_view name);

}  // namespace kakehashi::adapters::folder
