#pragma once
// The blocking half of the drop folder's outbound side: watches outbox/ for stable, complete send
// units, checks them (mapping::inspect), signs each file with its office's key, and moves units
// to sent/ or rejected/ (with REASON.txt) once decided. Runs on the adapter's worker thread only.

#include <chrono>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <system_error>
#include <vector>

#include "adapters/folder/folder_config.hpp"
#include "gateway/adapter/adapter.hpp"
#include "mapping/careplan/finding.hpp"
#include "mapping/careplan/send_unit.hpp"
#include "mapping/cms/credential.hpp"

namespace kakehashi::adapters::folder {

// Finding codes of the folder itself (beside mapping's codes in REASON.txt).
inline constexpr std::string_view kSenderNotConfigured = "FOLDER_SENDER_NOT_CONFIGURED";
inline constexpr std::string_view kGatewayRefused = "FOLDER_GATEWAY_REFUSED";
inline constexpr std::string_view kIncompleteTimeout = "FOLDER_UNIT_INCOMPLETE_TIMEOUT";

// Name of the hidden file in each sent/ or rejected/ unit folder that records its source_id,
// and the prefix of a unit folder still being filled (moved back to outbox/ after a crash).
inline constexpr std::string_view kSourceIdFile = ".source-id";
inline constexpr std::string_view kStagingPrefix = ".moving-";

struct SigningOffice {
  mapping::OfficeRef office;
  mapping::cms::Credential credential;
};

// A unit ready for the sink, and what is needed to move it afterwards.
struct ReadyUnit {
  mapping::SendUnitKey key;
  gateway::InboundUnit unit;
};

struct ScanResult {
  ScanReport report;
  std::vector<ReadyUnit> ready;
};

class OutboxScanner {
 public:
  OutboxScanner(const FolderAdapterConfig& config, std::vector<SigningOffice> offices);

  // Creates the folders, moves half-moved units back to outbox/ and indexes sent/ and rejected/.
  std::error_code recover();

  ScanResult scan(std::chrono::steady_clock::time_point now);

  // The sink's answer for a unit `scan` offered: sent/ on true, rejected/ on false.
  std::error_code finish(const mapping::SendUnitKey& key, bool accepted);

  // Writes RECEIPT-<STATE>.txt into the unit folder named by `source_id`.
  gateway::SendResult write_receipt(const gateway::OutboundReceipt& receipt);

  static std::string source_id_of(const mapping::SendUnitKey& key,
                                  const std::vector<gateway::SignedFile>& files);

 private:
  struct Observed {
    std::uint64_t size = 0;
    std::filesystem::file_time_type mtime;
    std::chrono::steady_clock::time_point since;  // when size/mtime last changed
  };
  struct Offered {
    std::string source_id;
    std::vector<std::string> files;
  };

  std::error_code move_unit(const std::filesystem::path& area, const std::string& base,
                            const std::vector<std::string>& files, const std::string& source_id,
                            const std::optional<std::string>& reason);
  std::error_code reject(const std::optional<mapping::SendUnitKey>& key,
                         const std::vector<std::string>& files, const mapping::Findings& findings);
  const SigningOffice* signer_for(const mapping::OfficeRef& office) const;

  const FolderAdapterConfig& config_;
  std::vector<SigningOffice> offices_;
  std::filesystem::path outbox_, sent_, rejected_;
  std::map<std::string, Observed> observed_;
  std::map<mapping::SendUnitKey, std::chrono::steady_clock::time_point> incomplete_since_;
  std::map<mapping::SendUnitKey, Offered> offered_;
  std::map<std::string, std::filesystem::path> unit_dirs_;  // source_id -> sent/ or rejected/ dir
};

// REASON.txt text: one line per finding with code, file, line, field and message.
std::string reason_text(const std::optional<mapping::SendUnitKey>& key,
                        const mapping::Findings& findings);

}  // namespace kakehashi::adapters::folder
