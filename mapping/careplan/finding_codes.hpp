#pragma once
// Stable finding codes. Offices, operators and tests rely on these strings; never rename one.
// The README's "Finding codes" table lists each with what it means.

#include <span>
#include <string_view>

namespace kakehashi::mapping::codes {

// File names
inline constexpr std::string_view kNameUnrecognised = "NAME_UNRECOGNISED";
inline constexpr std::string_view kNameOfficeCheckDigit = "NAME_OFFICE_CHECK_DIGIT";
inline constexpr std::string_view kNameServiceType = "NAME_SERVICE_TYPE";
inline constexpr std::string_view kNameDirection = "NAME_DIRECTION";
inline constexpr std::string_view kNameSameOffice = "NAME_SAME_OFFICE";
inline constexpr std::string_view kNameSequence = "NAME_SEQUENCE";
inline constexpr std::string_view kNameMonth = "NAME_MONTH";
inline constexpr std::string_view kNameExtensionCase = "NAME_EXTENSION_CASE";
inline constexpr std::string_view kNameV3 = "NAME_V3";
inline constexpr std::string_view kNameDuplicate = "NAME_DUPLICATE";

// Whole files and attachments
inline constexpr std::string_view kFileTooLarge = "FILE_TOO_LARGE";
inline constexpr std::string_view kFileEmpty = "FILE_EMPTY";
inline constexpr std::string_view kAttachmentContent = "ATTACHMENT_CONTENT";
inline constexpr std::string_view kUnitTooLarge = "UNIT_TOO_LARGE";

// Send units
inline constexpr std::string_view kUnitIncomplete = "UNIT_INCOMPLETE";
inline constexpr std::string_view kUnitExtraFile = "UNIT_EXTRA_FILE";
inline constexpr std::string_view kUnitNoCarePlanFile = "UNIT_NO_CARE_PLAN_FILE";
inline constexpr std::string_view kUnitMonthMismatch = "UNIT_MONTH_MISMATCH";

// CSV syntax and encoding
inline constexpr std::string_view kCsvEncoding = "CSV_ENCODING";
inline constexpr std::string_view kCsvGaiji = "CSV_GAIJI";
inline constexpr std::string_view kCsvQuote = "CSV_QUOTE";
inline constexpr std::string_view kCsvNoRecords = "CSV_NO_RECORDS";
inline constexpr std::string_view kCsvFieldCount = "CSV_FIELD_COUNT";
inline constexpr std::string_view kCsvVersionUnknown = "CSV_VERSION_UNKNOWN";
inline constexpr std::string_view kCsvVersionForMonth = "CSV_VERSION_FOR_MONTH";
inline constexpr std::string_view kCsvVersionMixed = "CSV_VERSION_MIXED";
inline constexpr std::string_view kCsvNotCheckedV3 = "CSV_NOT_CHECKED_V3";
inline constexpr std::string_view kCsvLineEndingMixed = "CSV_LINE_ENDING_MIXED";

// Fields
inline constexpr std::string_view kFieldRequired = "FIELD_REQUIRED";
inline constexpr std::string_view kFieldTooLong = "FIELD_TOO_LONG";
inline constexpr std::string_view kFieldFormat = "FIELD_FORMAT";
inline constexpr std::string_view kFieldDate = "FIELD_DATE";
inline constexpr std::string_view kFieldMonth = "FIELD_MONTH";
inline constexpr std::string_view kFieldTime = "FIELD_TIME";
inline constexpr std::string_view kFieldFlags31 = "FIELD_FLAGS31";
inline constexpr std::string_view kFieldCode = "FIELD_CODE";
inline constexpr std::string_view kFieldOfficeCheckDigit = "FIELD_OFFICE_CHECK_DIGIT";
inline constexpr std::string_view kFieldInsurerCheckDigit = "FIELD_INSURER_CHECK_DIGIT";
inline constexpr std::string_view kFieldServiceType = "FIELD_SERVICE_TYPE";
inline constexpr std::string_view kFieldServiceTypeScope = "FIELD_SERVICE_TYPE_SCOPE";
inline constexpr std::string_view kFieldUnused = "FIELD_UNUSED";
inline constexpr std::string_view kFieldSpecialValue = "FIELD_SPECIAL_VALUE";
inline constexpr std::string_view kFieldAmountWide = "FIELD_AMOUNT_WIDE";

// Records against the name and against each other
inline constexpr std::string_view kRowMonth = "ROW_MONTH_MISMATCH";
inline constexpr std::string_view kRowOffice = "ROW_OFFICE_MISMATCH";
inline constexpr std::string_view kRowNotForRecipient = "ROW_NOT_FOR_RECIPIENT";
inline constexpr std::string_view kLinkMissing = "LINK_MISSING";
inline constexpr std::string_view kLinkOrphan = "LINK_ORPHAN";
inline constexpr std::string_view kLinkDuplicateKey = "LINK_DUPLICATE_KEY";
inline constexpr std::string_view kLinkImage = "LINK_IMAGE";
inline constexpr std::string_view kSikyuTotalMissing = "SIKYU_TOTAL_MISSING";
inline constexpr std::string_view kFindingsTruncated = "FINDINGS_TRUNCATED";

struct CodeInfo {
  std::string_view code;
  std::string_view meaning;
};
// Every code above with a one-line meaning (for --help, the README and tests).
std::span<const CodeInfo> catalogue();

}  // namespace kakehashi::mapping::codes
