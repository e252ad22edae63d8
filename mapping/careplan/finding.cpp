#include "mapping/careplan/finding.hpp"

#include <array>

#include "mapping/careplan/finding_codes.hpp"

namespace kakehashi::mapping {

std::string_view severity_name(Severity s) {
  return s == Severity::kError ? "error" : "warning";
}

namespace codes {

std::span<const CodeInfo> catalogue() {
  static constexpr std::array kCatalogue{
      CodeInfo{kNameUnrecognised,
               "file name is neither a care-plan CSV name nor an attachment name"},
      CodeInfo{kNameOfficeCheckDigit, "an office number in the file name fails its check digit"},
      CodeInfo{kNameServiceType,
               "a service type in the file name is unknown or outside link scope"},
      CodeInfo{kNameDirection,
               "the service types in the name do not fit the file kind's direction"},
      CodeInfo{kNameSameOffice, "sender and recipient in the name are the same office"},
      CodeInfo{kNameSequence, "the 14-digit sequence is not a real date and time"},
      CodeInfo{kNameMonth, "the month segment is not a real month (or 000000 outside UPHOSOKU)"},
      CodeInfo{kNameExtensionCase, "warning: .csv in lower case (the standard writes .CSV)"},
      CodeInfo{kNameV3, "warning: a v3 name without service-type segments"},
      CodeInfo{kNameDuplicate, "the same file name was given twice"},
      CodeInfo{kFileTooLarge, "a file exceeds the configured size limit"},
      CodeInfo{kFileEmpty, "a file is empty"},
      CodeInfo{kAttachmentContent, "an attachment's bytes do not match its extension"},
      CodeInfo{kUnitTooLarge, "the files of one unit together exceed the configured limit"},
      CodeInfo{kUnitIncomplete, "a file the unit's combination requires is missing"},
      CodeInfo{kUnitExtraFile, "a file does not belong in the unit's combination"},
      CodeInfo{kUnitNoCarePlanFile, "attachments without any care-plan file"},
      CodeInfo{kUnitMonthMismatch, "files of one unit name different months"},
      CodeInfo{kCsvEncoding, "bytes that are not valid MS932, or a control character"},
      CodeInfo{kCsvGaiji, "a user-defined character (外字), which the standard forbids"},
      CodeInfo{kCsvQuote, "broken quoting (unclosed quote, quote inside an unquoted field)"},
      CodeInfo{kCsvNoRecords, "the CSV file holds no records"},
      CodeInfo{kCsvFieldCount, "a record's field count differs from the layout"},
      CodeInfo{kCsvVersionUnknown, "CSVバージョン is not a version of the standard"},
      CodeInfo{kCsvVersionForMonth, "CSVバージョン is not the one in force for the service month"},
      CodeInfo{kCsvVersionMixed, "records of one file carry different CSV versions"},
      CodeInfo{kCsvNotCheckedV3, "warning: v3 files are relayed but their layouts are not checked"},
      CodeInfo{kCsvLineEndingMixed, "warning: CRLF, LF and CR mixed in one file"},
      CodeInfo{kFieldRequired, "a required field is empty"},
      CodeInfo{kFieldTooLong, "a field is longer than its maximum (in characters)"},
      CodeInfo{kFieldFormat, "a field does not have its format (digits, pattern, no line breaks)"},
      CodeInfo{kFieldDate, "not a real calendar date YYYYMMDD"},
      CodeInfo{kFieldMonth, "not a real month YYYYMM"},
      CodeInfo{kFieldTime, "not a time HHMM (or 9999 where allowed)"},
      CodeInfo{kFieldFlags31, "日割対象日 is not 31 characters of 0/1"},
      CodeInfo{kFieldCode, "a coded field holds a value outside its code table"},
      CodeInfo{kFieldOfficeCheckDigit, "an office number fails its check digit"},
      CodeInfo{kFieldInsurerCheckDigit, "an insurer number fails its check digit"},
      CodeInfo{kFieldServiceType, "a service type is not a known code"},
      CodeInfo{kFieldServiceTypeScope, "a service type is outside the scope of data linkage"},
      CodeInfo{kFieldUnused, "warning: 識別子 (not used by the standard) is filled"},
      CodeInfo{kFieldSpecialValue, "a special value (00000000, 9999999999, ...) used out of place"},
      CodeInfo{kFieldAmountWide, "warning: a 第7表 amount is wider than the annex prints"},
      CodeInfo{kRowMonth,
               "a record's month, or a date or day flag tied to it, is outside the month in the "
               "file name"},
      CodeInfo{kRowOffice, "an office column differs from the office named in the file name"},
      CodeInfo{kRowNotForRecipient, "a user in 第6表 has no service from the receiving office"},
      CodeInfo{kLinkMissing, "a record has no matching records in a file of the same unit"},
      CodeInfo{kLinkOrphan, "a record has no parent record in the unit"},
      CodeInfo{kLinkDuplicateKey, "two parent records share one key"},
      CodeInfo{kLinkImage, "UPKIHON names an image the unit lacks (or an image is not named)"},
      CodeInfo{kSikyuTotalMissing, "a user in 第7表 has no grand-total row (999999)"},
      CodeInfo{kFindingsTruncated, "warning: more findings in the file than are listed"},
  };
  return kCatalogue;
}

}  // namespace codes
}  // namespace kakehashi::mapping
