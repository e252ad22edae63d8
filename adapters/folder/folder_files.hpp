#pragma once
// Durable file operations for the drop folder: whole-file reads, atomic writes (temporary name,
// fsync, rename, fsync of the directory) and collision-free directory names. Blocking: call
// them from the adapter's worker thread only. Errors come back as std::error_code.

#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <system_error>

namespace kakehashi::adapters::folder {

// Reads at most `limit` bytes of `path` (the rest is left unread; its size is reported).
std::error_code read_file_prefix(const std::filesystem::path& path, std::uint64_t limit,
                                 std::string& bytes, std::uint64_t& size);

// Writes `bytes` to `path` and fsyncs the file (not its directory).
std::error_code write_file_synced(const std::filesystem::path& path, std::string_view bytes);

// Writes `path` atomically: `.<name>.tmp`, fsync, rename over `path`, fsync the directory.
std::error_code write_file_atomic(const std::filesystem::path& path, std::string_view bytes);

// Appends one line to `path` and fsyncs it (the ledger).
std::error_code append_line_synced(const std::filesystem::path& path, std::string_view line);

std::error_code fsync_directory(const std::filesystem::path& dir);

// `parent/base` when free, else `parent/base-2`, `-3`, ... (not created).
std::string unique_child_name(const std::filesystem::path& parent, const std::string& base);

// Safe as a plain file name written into a folder: no separators, no leading dot, not "..".
bool is_plain_file_name(std::string_view name);

}  // namespace kakehashi::adapters::folder
