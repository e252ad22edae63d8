#pragma once
// The care-plan standard as data: record layouts of the 17 CSV kinds, CSV versions, service-type
// scope and code tables, loaded once from the layouts.json compiled into the library.

#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "mapping/careplan/file_name.hpp"
#include "mapping/careplan/pattern.hpp"
#include "mapping/careplan/send_unit.hpp"

namespace kakehashi::mapping {

enum class FieldKind : std::uint8_t {
  kVersion,
  kCode,
  kDigits,
  kDate8,
  kMonth6,
  kTime4,
  kText,
  kNumber,
  kFlags31,
  kAlnum
};

// What a field means beyond its format, for the checks that need it.
enum class FieldRole : std::uint8_t {
  kNone,
  kOfficeNumber,   // an office-number pattern: check digit applies
  kInsurerNumber,  // 保険者番号: check digit applies
  kServiceType,    // a 2-character サービス種類コード
  kServiceCode,    // a 6-character サービスコード whose first two characters are the type
  kUnused,         // 識別子 (※使用しない)
};

// When a special value may (allowed_when) or must (required_when) stand in a field: a condition
// on the file name or on another field of the same record (layouts.json special_value_rules).
struct SpecialCondition {
  enum class Kind : std::uint8_t {
    kNever,
    kAlways,
    kNameMonthZero,
    kNameServiceMonth,
    kFieldEquals
  };
  Kind kind = Kind::kNever;
  int field_no = 0;   // kFieldEquals
  std::string value;  // kFieldEquals
};

struct SpecialRule {
  std::string value;  // e.g. 9999999999
  SpecialCondition allowed_when{SpecialCondition::Kind::kAlways, 0, {}};
  SpecialCondition required_when;
  std::string if_misplaced;  // message when the value stands where allowed_when does not hold
  std::string if_missing;    // message when required_when holds and another value stands
};

// How a field is tied to the service month in the file name (layouts.json service_month).
enum class MonthTie : std::uint8_t {
  kNone,
  kEquals,    // a YYYYMM field equals the name's month
  kWithin,    // a YYYYMMDD date falls in the name's month
  kDays,      // 31 day flags: none after the month's last day
  kDayCount,  // a count of days in the month: at most the month's days
};

// What a subtotal or total row (FileLayout::total_row_*) carries in a field.
enum class TotalRowRule : std::uint8_t { kNone, kZero, kEmpty };

struct FieldSpec {
  int no = 0;
  std::string name_ja;
  FieldKind kind = FieldKind::kText;
  std::optional<int> max_length;  // characters
  std::optional<bool> required;   // true: ○, false: no mark, nullopt: unreadable in the annex
  bool free_text = false;
  std::optional<Pattern> pattern;
  std::vector<std::string> codes;           // allowed values (kCode)
  std::vector<std::string> special_values;  // values that bypass the format (e.g. 00000000)
  std::vector<SpecialRule> special_rules;   // where in the record they may or must stand
  // Whether the standard's special values are refused here unless listed (the checked kinds).
  bool refuses_special_values = false;
  MonthTie month_tie = MonthTie::kNone;
  TotalRowRule on_total_rows = TotalRowRule::kNone;
  FieldRole role = FieldRole::kNone;
};

struct FileLayout {
  FileKind kind = FileKind::UPPLAN;
  std::string description_ja;
  std::size_t field_count = 0;
  std::vector<FieldSpec> fields;  // fields[i].no == i + 1
  int month_field = 0;            // the YYYYMM field that equals the name's month (0: none)
  std::vector<int>
      record_rule_fields;  // fields with special_rules, a month tie or a total-row rule
  // Subtotal and total rows (第7表): field total_row_field equals one of total_row_values or ends
  // with one of total_row_suffixes.
  int total_row_field = 0;
  std::vector<std::string> total_row_values;
  std::vector<std::string> total_row_suffixes;
  bool is_total_row(std::string_view value) const;
  const FieldSpec& field(int no) const { return fields[static_cast<std::size_t>(no - 1)]; }
};

struct CsvVersion {
  std::string value;       // e.g. 202407
  std::string valid_from;  // first service month it applies to
};

// One link rule: the records of `parent` and of each child kind agree on these key fields.
struct LinkRule {
  std::string unit;  // e.g. "plan (K1)"
  FileKind parent;
  std::vector<std::pair<FileKind, std::vector<int>>> keys;  // parent first
};

class CarePlanStandard {
 public:
  // The standard compiled into this binary (parsed on first use, immutable afterwards).
  static const CarePlanStandard& get();

  const FileLayout& layout(FileKind kind) const;
  std::span<const CsvVersion> csv_versions() const { return versions_; }
  bool is_known_version(std::string_view value) const;
  // The standard's special values (9999999999, 00000000, ...): refused outside the fields that
  // list them, in the kinds layouts.json names.
  bool is_special_value(std::string_view value) const;
  // Versions in force for a service month (YYYYMM): those with the latest valid_from <= month.
  std::vector<std::string_view> versions_for_month(std::string_view month) const;

  bool is_known_service_type(std::string_view type) const;
  bool is_in_link_scope(std::string_view type) const;  // 居宅, 予防 or 総合事業 in scope
  bool is_care_management_type(std::string_view type) const;  // 43, 46, AF
  // 予防 / 総合事業 types (and 46, AF): a hint for telling P units from K units.
  bool is_preventive_type(std::string_view type) const;
  std::span<const UnitCombination> combinations() const { return combinations_; }
  std::span<const LinkRule> link_rules() const { return link_rules_; }

 private:
  CarePlanStandard();
  std::vector<FileLayout> layouts_;  // indexed by FileKind
  std::vector<CsvVersion> versions_;
  std::vector<std::string> special_values_;
  std::array<bool, 256> special_first_{};  // first characters of the special values
  std::vector<std::string> in_scope_, out_of_scope_, care_management_, preventive_;
  std::vector<UnitCombination> combinations_;
  std::vector<LinkRule> link_rules_;
};

}  // namespace kakehashi::mapping
