#pragma once
// Findings of the 4.1 ⇄ 5.0 translation: what is wrong, named by 4.1 file, record and field, or by
// the JSON path (RFC 6901 pointer) in the 5.0 document, never by the value itself.

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace kakehashi::mapping::standard5 {

namespace codes {
// Stable codes (README.md "Finding codes"); never rename one.
inline constexpr std::string_view kUnitName = "S5_UNIT_NAME";    // a name is not 4.1
inline constexpr std::string_view kUnitMixed = "S5_UNIT_MIXED";  // files of several units
inline constexpr std::string_view kUnitDuplicateKind = "S5_UNIT_DUPLICATE_KIND";
inline constexpr std::string_view kUnitEmpty = "S5_UNIT_EMPTY";
inline constexpr std::string_view kCsvSyntax = "S5_CSV_SYNTAX";
inline constexpr std::string_view kCsvFieldCount = "S5_CSV_FIELD_COUNT";
inline constexpr std::string_view kCsvVersionMixed = "S5_CSV_VERSION_MIXED";
inline constexpr std::string_view kCsvEncoding = "S5_CSV_ENCODING";
inline constexpr std::string_view kMandatoryMissing = "S5_MANDATORY_MISSING";
inline constexpr std::string_view kAttachmentNotCarried = "S5_ATTACHMENT_NOT_CARRIED";
inline constexpr std::string_view kJsonSyntax = "S5_JSON_SYNTAX";
inline constexpr std::string_view kJsonSchema = "S5_JSON_SCHEMA";
inline constexpr std::string_view kCharUnmappable = "S5_CHAR_UNMAPPABLE";
inline constexpr std::string_view kCharSubstituted = "S5_CHAR_SUBSTITUTED";  // warning
inline constexpr std::string_view kCharControl = "S5_CHAR_CONTROL";
inline constexpr std::string_view kAttachmentName = "S5_ATTACHMENT_NAME";
inline constexpr std::string_view kAttachmentContent = "S5_ATTACHMENT_CONTENT";
inline constexpr std::string_view kItemDropped = "S5_ITEM_NOT_IN_4_1";                // warning
inline constexpr std::string_view kOriginalCodeIgnored = "S5_ORIGINAL_CODE_IGNORED";  // warning
inline constexpr std::string_view kRendered41 = "S5_RENDERED_4_1";  // inspector finding, mapped
inline constexpr std::string_view kTooManyFindings = "S5_FINDINGS_TRUNCATED";
}  // namespace codes

enum class Severity { kError, kWarning };

struct Finding {
  std::string code;
  Severity severity = Severity::kError;
  std::string file;        // 4.1 file name ("" for the unit or the document as a whole)
  std::size_t record = 0;  // 1-based record of that file (0: none)
  std::size_t line = 0;    // 1-based physical line in the 4.1 file (0: not from a 4.1 file)
  int field_no = 0;        // 4.1 field number (0: none)
  std::string field;       // 4.1 項目名 or 5.0 item key
  std::string json_path;   // RFC 6901 pointer into the 5.0 document ("" when none)
  std::string message;     // plain text, never a value (no personal data)
};

using Findings = std::vector<Finding>;

inline bool has_errors(const Findings& findings) {
  for (const auto& f : findings) {
    if (f.severity == Severity::kError) return true;
  }
  return false;
}

// "/帳票/サービス利用票第6表予定/レコード/3/保険者番号": '~' and '/' escaped as RFC 6901 says.
void append_pointer_token(std::string& path, std::string_view token);
void append_pointer_index(std::string& path, std::size_t index);

// One line per finding for logs, cover notes and tests: code, where, message.
std::string describe(const Finding& f);

}  // namespace kakehashi::mapping::standard5
