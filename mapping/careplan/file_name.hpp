#pragma once
// File names of the care-plan standard (v4.1, and v3 without service-type segments) and of the
// attachments that travel with a send unit (Kakehashi's convention, DESIGN §1).

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "mapping/careplan/finding.hpp"

namespace kakehashi::mapping {

// The 17 CSV kinds of the standard, the family-structure image, and free attachments.
enum class FileKind : std::uint8_t {
  UPHOSOKU,
  UP1KYO,
  DLT1KYO,
  UP2KYO,
  UP3KYO,
  UPPLAN,
  UPJSK,
  DLTPLAN,
  DLTJSK,
  UPSIKYU,
  UPKIHON,
  UPKIHON_SUB1,
  UPKIHON_SUB2,
  DLTKIHON,
  UPYOBO,
  UPYOBO_SUB,
  DLTYOBO,
  UPKIHON_IMAGE,
  Attachment,
};
inline constexpr std::size_t kCsvKindCount = 17;

std::string_view file_kind_name(FileKind kind);
std::optional<FileKind> file_kind_from_prefix(std::string_view prefix);
bool is_csv_kind(FileKind kind);
bool kind_has_month(FileKind kind);  // month segment in the name

enum class NameGeneration : std::uint8_t { kV4_1, kV3 };
std::string_view generation_name(NameGeneration g);

enum class AttachmentType : std::uint8_t { kNone, kPdf, kJpeg, kPng, kGif, kTxt };
std::string_view attachment_type_name(AttachmentType t);

// An office as the standard names it: 事業所番号 + サービス種類コード.
struct OfficeRef {
  std::string office_no;     // 10 characters
  std::string service_type;  // 2 characters; empty in v3 names
  friend auto operator<=>(const OfficeRef&, const OfficeRef&) = default;
};

struct CarePlanFileName {
  FileKind kind = FileKind::Attachment;
  NameGeneration generation = NameGeneration::kV4_1;
  std::string month;          // YYYYMM (or 000000) for kinds with a month segment, else ""
  OfficeRef from;
  OfficeRef to;
  std::string sequence;       // 14-digit ファイル連番 YYYYMMDDHHMMSS
  std::string branch;         // UPKIHON_IMAGE: 4-digit branch number
  std::string label;          // attachments: the free label before the offices
  std::string extension;      // as written, without the dot
  AttachmentType attachment = AttachmentType::kNone;  // by extension, for attachments and image

  // The canonical name for these parts (CSV extension upper case).
  std::string build() const;
};

// Parse a file name (no directory part). On failure the finding says which segment is wrong.
// Shape-level problems (bad check digit, unreal timestamp) are reported as findings beside a
// parsed name, so the file can still be grouped into its unit.
struct ParsedName {
  std::optional<CarePlanFileName> name;
  Findings findings;
};
ParsedName parse_file_name(std::string_view file_name);

}  // namespace kakehashi::mapping
