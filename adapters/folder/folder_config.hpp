#pragma once
// Typed configuration of one drop-folder adapter (DESIGN §3.3): where the folder is, which
// offices it speaks for (with their signing keys as file paths), and how patiently it scans.

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include <sys/types.h>

#include "gateway/config/config_node.hpp"
#include "mapping/careplan/file_name.hpp"

namespace kakehashi::adapters::folder {

// One office whose care software exports into this folder.
struct FolderOffice {
  mapping::OfficeRef office;
  std::string name;                        // display name for the directory ("" allowed)
  std::filesystem::path certificate_file;  // office signing certificate (PEM)
  std::filesystem::path key_file;          // its private key (PEM, mode 0600); never logged
};

// What one scan of outbox/ saw; handed to `FolderAdapterConfig::on_scan` (metrics, tests).
struct ScanReport {
  std::size_t files = 0;             // candidate files in outbox/
  std::size_t unstable_files = 0;    // still changing (size or mtime) within the window
  std::size_t incomplete_units = 0;  // stable, but a file of the combination is missing
  std::size_t offered = 0;           // units handed to the sink by this scan
  std::size_t rejected = 0;          // units moved to rejected/ by this scan
  std::size_t errors = 0;            // local failures (I/O, signing); retried next scan
};

struct FolderAdapterConfig {
  std::filesystem::path root;  // outbox/, sent/, rejected/, inbox/ are created under it
  std::vector<FolderOffice> offices;
  std::chrono::milliseconds scan_interval{5000};
  // A file is taken only when its size and mtime have not changed for this long.
  std::chrono::milliseconds stability_window{3000};
  // A stable unit still missing a file of its combination is rejected after this long.
  std::chrono::milliseconds incomplete_timeout{10 * 60 * 1000};
  std::uint64_t max_file_bytes = 10ull * 1024 * 1024;
  std::uint64_t max_unit_bytes = 100ull * 1024 * 1024;
  // Mode of the files written to inbox/ (folders get search permission where read is allowed),
  // whatever the daemon's umask: "file_mode": "0640" (octal; no execute bits).
  mode_t file_mode = 0640;
  // Optional observer, called on the executor after every scan (not from the config file).
  std::function<void(const ScanReport&)> on_scan;
};

// Reads a section such as
//   {"root": "/srv/folder", "scan_interval": "5s", "stability_window": "3s",
//    "incomplete_timeout": "10m", "max_file_bytes": 10485760, "max_unit_bytes": 104857600,
//    "offices": [{"office_no": "3271500013", "service_type": "43", "name": "...",
//                 "certificate_file": "...", "key_file": "..."}]}
// Every problem is recorded in the node's error list with its key path.
FolderAdapterConfig parse_folder_config(const gateway::ConfigNode& section);

}  // namespace kakehashi::adapters::folder
