#pragma once
// The blocking half of the drop folder's inbound side: writes a unit addressed to one of the
// folder's offices into inbox/<sequence>_<from office>/ atomically (hidden temporary folder,
// fsync, rename), and remembers idempotency keys in a ledger so a replay is a no-op.
// Runs on the adapter's worker thread only.

#include <cstdint>
#include <filesystem>
#include <map>
#include <string>
#include <system_error>
#include <vector>

#include <sys/types.h>

#include "gateway/adapter/adapter.hpp"

namespace kakehashi::adapters::folder {

// Inside each inbox unit folder: the idempotency key it was written for (hidden from offices).
inline constexpr std::string_view kIdempotencyKeyFile = ".idempotency-key";
// Prefix of inbox folders still being written; never seen complete, removed on restart.
inline constexpr std::string_view kInboxTempPrefix = ".tmp-";
// The ledger of idempotency keys already written, in the folder root.
inline constexpr std::string_view kLedgerFile = ".kakehashi-ledger";

class InboxWriter {
 public:
  // Files are written with exactly `file_mode` (folders: the same plus search permission),
  // whatever the process umask.
  InboxWriter(std::filesystem::path root, std::vector<mapping::OfficeRef> offices,
              std::uint64_t max_file_bytes, std::uint64_t max_unit_bytes, mode_t file_mode = 0640);

  // Removes leftovers of interrupted writes and loads the keys already written.
  std::error_code recover();

  gateway::SendResult write(const gateway::OutboundUnit& unit);

 private:
  gateway::SendResult write_new(const gateway::OutboundUnit& unit);

  std::filesystem::path root_, inbox_;
  std::vector<mapping::OfficeRef> offices_;
  std::uint64_t max_file_bytes_, max_unit_bytes_;
  mode_t file_mode_;
  std::map<std::string, std::string> keys_;  // idempotency key -> inbox folder it was written to
  std::uint64_t temp_counter_ = 0;
};

}  // namespace kakehashi::adapters::folder
