#include "mapping/careplan/file_checks.hpp"

#include <algorithm>
#include <array>

#include "mapping/careplan/check_digit.hpp"
#include "mapping/careplan/csv_reader.hpp"
#include "mapping/careplan/finding_codes.hpp"
#include "mapping/careplan/layout.hpp"
#include "mapping/careplan/ms932.hpp"

namespace kakehashi::mapping {
namespace {

// Columns that name an office of the file name: the sender's own number (更新業者コード and the
// like) or, in actuals, the care manager the file goes to.
enum class OfficeSide { kSender, kRecipient };
struct OfficeColumn {
  FileKind kind;
  int no;
  OfficeSide side;
};
constexpr std::array<OfficeColumn, 13> kOfficeColumns{{
    {FileKind::UPHOSOKU, 60, OfficeSide::kSender},
    {FileKind::UPHOSOKU, 61, OfficeSide::kSender},
    {FileKind::UP1KYO, 13, OfficeSide::kSender},
    {FileKind::UP1KYO, 27, OfficeSide::kSender},
    {FileKind::UP2KYO, 21, OfficeSide::kSender},
    {FileKind::UPPLAN, 6, OfficeSide::kSender},
    {FileKind::UPPLAN, 24, OfficeSide::kSender},
    {FileKind::UPSIKYU, 35, OfficeSide::kSender},
    {FileKind::UPSIKYU, 36, OfficeSide::kSender},
    {FileKind::UPJSK, 6, OfficeSide::kRecipient},
    {FileKind::UPJSK, 20, OfficeSide::kSender},
    {FileKind::UPJSK, 24, OfficeSide::kSender},
    {FileKind::DLTJSK, 5, OfficeSide::kSender},
}};

// Field numbers whose values the unit checks need, per kind.
const std::vector<int>& kept_fields(FileKind kind) {
  static const auto table = [] {
    std::array<std::vector<int>, kCsvKindCount> t;
    for (const auto& rule : CarePlanStandard::get().link_rules()) {
      for (const auto& [k, fields] : rule.keys) {
        auto& v = t[static_cast<std::size_t>(k)];
        v.insert(v.end(), fields.begin(), fields.end());
      }
    }
    t[static_cast<std::size_t>(FileKind::UPPLAN)].push_back(20);
    t[static_cast<std::size_t>(FileKind::UPSIKYU)].push_back(7);
    t[static_cast<std::size_t>(FileKind::UPSIKYU)].push_back(9);
    t[static_cast<std::size_t>(FileKind::UPKIHON)].push_back(62);
    for (auto& v : t) {
      std::sort(v.begin(), v.end());
      v.erase(std::unique(v.begin(), v.end()), v.end());
    }
    return t;
  }();
  return table[static_cast<std::size_t>(kind)];
}

bool digits_only(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

int num(std::string_view s) {
  int v = 0;
  for (char c : s) v = v * 10 + (c - '0');
  return v;
}

bool real_date8(std::string_view s) {
  if (s.size() != 8 || !digits_only(s)) return false;
  const int y = num(s.substr(0, 4)), m = num(s.substr(4, 2)), d = num(s.substr(6, 2));
  static constexpr std::array<int, 12> kDays{31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  if (y < 1800 || m < 1 || m > 12 || d < 1) return false;
  const bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
  return d <= kDays[static_cast<std::size_t>(m - 1)] + ((m == 2 && leap) ? 1 : 0);
}

bool real_month6(std::string_view s) {
  if (s.size() != 6 || !digits_only(s)) return false;
  const int m = num(s.substr(4, 2));
  return num(s.substr(0, 4)) >= 1800 && m >= 1 && m <= 12;
}

// Days in a real month YYYYMM.
int days_in_month(std::string_view month) {
  static constexpr std::array<int, 12> kDays{31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  const int y = num(month.substr(0, 4)), m = num(month.substr(4, 2));
  const bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
  return kDays[static_cast<std::size_t>(m - 1)] + ((m == 2 && leap) ? 1 : 0);
}

bool upper_alnum(std::string_view s) {
  return std::all_of(s.begin(), s.end(),
                     [](char c) { return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z'); });
}

bool integer(std::string_view s) {
  return digits_only(s);
}

class FileChecker {
 public:
  FileChecker(const CarePlanFileName& name, std::string_view file, Findings& out)
      : name_(name),
        file_(file),
        out_(out),
        std_(CarePlanStandard::get()),
        layout_(std_.layout(name.kind)),
        kept_(kept_fields(name.kind)) {
    facts_.file = std::string(file);
    facts_.kind = name.kind;
    facts_.fields = kept_;
    field_ok_.resize(layout_.field_count);
    // The service month the records are tied to: a real month in the name (000000 ties nothing).
    if (real_month6(name.month)) {
      service_month_ = name.month;
      service_month_days_ = days_in_month(name.month);
    }
  }

  FileFacts run(std::string_view bytes) {
    CsvReader reader(bytes);
    CsvRecord record;
    CsvSyntaxError error;
    std::size_t records = 0;
    while (reader.next(record, error)) {
      ++records;
      if (error.line != 0) {
        add(codes::kCsvQuote, error.line, static_cast<int>(error.field_no), error.message);
        continue;
      }
      check_record(record);
    }
    if (records == 0) add(codes::kCsvNoRecords, 0, 0, "the file holds no records");
    const unsigned endings = reader.line_endings();
    if (endings != 0 && (endings & (endings - 1)) != 0) {
      add(codes::kCsvLineEndingMixed, 0, 0,
          "records end with different line endings (CRLF, LF, CR) in one file", Severity::kWarning);
    }
    if (suppressed_ > 0) {
      Finding f;
      f.code = std::string(codes::kFindingsTruncated);
      f.severity = Severity::kWarning;
      f.file = std::string(file_);
      f.message = std::to_string(suppressed_) + " more findings in this file were not listed";
      out_.push_back(std::move(f));
    }
    return std::move(facts_);
  }

 private:
  void add(std::string_view code, std::size_t line, int field_no, std::string message,
           Severity severity = Severity::kError) {
    if (count_ >= kMaxFindingsPerFile) {
      ++suppressed_;
      return;
    }
    ++count_;
    Finding f;
    f.code = std::string(code);
    f.severity = severity;
    f.file = std::string(file_);
    f.line = line;
    f.field_no = field_no;
    if (field_no > 0 && static_cast<std::size_t>(field_no) <= layout_.field_count)
      f.field = layout_.field(field_no).name_ja;
    f.message = std::move(message);
    out_.push_back(std::move(f));
  }

  void check_record(const CsvRecord& r) {
    if (r.fields.size() != layout_.field_count) {
      add(codes::kCsvFieldCount, r.line, 0,
          "record has " + std::to_string(r.fields.size()) + " fields; " +
              std::string(file_kind_name(name_.kind)) + " records have " +
              std::to_string(layout_.field_count));
      return;
    }
    for (std::size_t i = 0; i < r.fields.size(); ++i)
      field_ok_[i] = check_field(r, layout_.fields[i], r.fields[i]);
    check_version(r);
    check_record_context(r);
    RecordFacts facts;
    facts.line = r.line;
    facts.values.reserve(kept_.size());
    for (int no : kept_)
      facts.values.emplace_back(r.fields[static_cast<std::size_t>(no - 1)].value);
    facts_.records.push_back(std::move(facts));
  }

  // Checks one field on its own; true when its value is well-formed (empty counts as well-formed
  // here: FIELD_REQUIRED is the finding for an empty required field).
  bool check_field(const CsvRecord& r, const FieldSpec& spec, const CsvField& field) {
    const std::string_view v = field.value;
    const Ms932Scan scan = scan_ms932(v);
    if (scan.problem != Ms932Problem::kNone) {
      const char* what = scan.problem == Ms932Problem::kGaiji
                             ? "value holds a user-defined character (外字, 0xF040-0xF9FC), which "
                               "the standard forbids"
                         : scan.problem == Ms932Problem::kControl
                             ? "value holds a control character"
                             : "value is not valid MS932 (Shift_JIS) text";
      add(scan.problem == Ms932Problem::kGaiji ? codes::kCsvGaiji : codes::kCsvEncoding, r.line,
          spec.no,
          std::string(what) + " (byte " + std::to_string(scan.offset + 1) + " of the field)");
      return false;
    }
    if (v.empty()) {
      if (spec.required.value_or(false)) {
        add(codes::kFieldRequired, r.line, spec.no, "required field is empty");
        return false;
      }
      return true;
    }
    if (!spec.free_text &&
        (v.find('\n') != std::string_view::npos || v.find('\r') != std::string_view::npos)) {
      add(codes::kFieldFormat, r.line, spec.no, "line break in a field that is not free text");
      return false;
    }
    const bool listed = std::find(spec.special_values.begin(), spec.special_values.end(), v) !=
                        spec.special_values.end();
    if (listed) return true;  // e.g. 00000000 / 9999999999; their rows are checked per record
    // A special value of the standard outside the fields that list it, even when it would pass
    // the field's format and check digit (9999999999 passes the office check digit).
    if (spec.refuses_special_values && std_.is_special_value(v)) {
      add(codes::kFieldSpecialValue, r.line, spec.no,
          "special value " + std::string(v) + " of the standard is not allowed in this field");
      return false;
    }
    const std::size_t before = count_ + suppressed_;
    check_value(r, spec, v, scan.characters);
    return count_ + suppressed_ == before;
  }

  // The format checks of a non-empty value that is not a listed special value.
  void check_value(const CsvRecord& r, const FieldSpec& spec, std::string_view v,
                   std::size_t characters) {
    if (spec.max_length && characters > static_cast<std::size_t>(*spec.max_length)) {
      const bool wide_amount =
          name_.kind == FileKind::UPSIKYU && spec.kind == FieldKind::kNumber && integer(v);
      add(wide_amount ? codes::kFieldAmountWide : codes::kFieldTooLong, r.line, spec.no,
          std::to_string(characters) + " characters; at most " + std::to_string(*spec.max_length) +
              " allowed",
          wide_amount ? Severity::kWarning : Severity::kError);
      if (!wide_amount) return;
    }
    switch (spec.kind) {
      case FieldKind::kVersion:
        return;  // checked per record and per file in check_version
      case FieldKind::kDate8:
        if (!real_date8(v)) add(codes::kFieldDate, r.line, spec.no, "not a real date (YYYYMMDD)");
        return;
      case FieldKind::kMonth6:
        if (!real_month6(v)) add(codes::kFieldMonth, r.line, spec.no, "not a real month (YYYYMM)");
        return;
      case FieldKind::kTime4: {
        const bool ok = spec.pattern ? spec.pattern->matches(v) : v.size() == 4 && digits_only(v);
        if (!ok || (v.substr(0, 2) == "24" && v != "2400")) {
          add(codes::kFieldTime, r.line, spec.no,
              spec.special_values.empty() ? "not a time of day (HHMM)"
                                          : "not a time of day (HHMM) or 9999");
        }
        return;
      }
      case FieldKind::kFlags31:
        if (v.size() != 31 || v.find_first_not_of("01") != std::string_view::npos)
          add(codes::kFieldFlags31, r.line, spec.no,
              "must be 31 characters of 0 and 1 (one per day), or empty");
        return;
      case FieldKind::kCode:
        if (std::find(spec.codes.begin(), spec.codes.end(), v) == spec.codes.end())
          add(codes::kFieldCode, r.line, spec.no, "value is not in the field's code table");
        return;
      case FieldKind::kNumber:
        if (spec.pattern ? !spec.pattern->matches(v) : !integer(v))
          add(codes::kFieldFormat, r.line, spec.no,
              spec.pattern ? "does not have the required number format"
                           : "must be an integer in ASCII digits");
        return;
      case FieldKind::kDigits:
      case FieldKind::kAlnum:
      case FieldKind::kText:
        break;
    }
    if (spec.pattern) {
      if (!spec.pattern->matches(v)) {
        add(codes::kFieldFormat, r.line, spec.no, format_message(spec));
        return;
      }
    } else if (spec.kind == FieldKind::kAlnum && !upper_alnum(v)) {
      add(codes::kFieldFormat, r.line, spec.no, "must be upper-case letters and digits");
      return;
    } else if (spec.kind == FieldKind::kDigits && !digits_only(v)) {
      add(codes::kFieldFormat, r.line, spec.no, "must be digits");
      return;
    }
    check_role(r, spec, v);
  }

  static std::string format_message(const FieldSpec& spec) {
    switch (spec.role) {
      case FieldRole::kOfficeNumber:
        return "not an office number (10 characters, a letter only at position 3)";
      case FieldRole::kInsurerNumber:
        return "not an insurer number (6 digits)";
      case FieldRole::kServiceType:
        return "not a service type code (2 characters)";
      case FieldRole::kServiceCode:
        return "not a service code (6 characters)";
      default:
        return "does not match the field's format " + spec.pattern->source();
    }
  }

  void check_role(const CsvRecord& r, const FieldSpec& spec, std::string_view v) {
    switch (spec.role) {
      case FieldRole::kOfficeNumber:
        if (!is_valid_office_number(v))
          add(codes::kFieldOfficeCheckDigit, r.line, spec.no,
              "office number fails its check digit");
        return;
      case FieldRole::kInsurerNumber:
        if (!is_valid_insurer_number(v))
          add(codes::kFieldInsurerCheckDigit, r.line, spec.no,
              "insurer number fails its check digit");
        return;
      case FieldRole::kServiceType:
        check_service_type(r, spec, v, "service type");
        return;
      case FieldRole::kServiceCode:
        check_service_type(r, spec, v.substr(0, 2), "service type of the service code");
        return;
      case FieldRole::kUnused:
        add(codes::kFieldUnused, r.line, spec.no,
            "field is not used by the standard; leave it empty", Severity::kWarning);
        return;
      case FieldRole::kNone:
        return;
    }
  }

  void check_service_type(const CsvRecord& r, const FieldSpec& spec, std::string_view type,
                          const char* what) {
    if (!std_.is_known_service_type(type)) {
      add(codes::kFieldServiceType, r.line, spec.no, std::string(what) + " is not a known code");
      return;
    }
    // UPHOSOKU lists limits per service type; any known type may appear there.
    if (name_.kind != FileKind::UPHOSOKU && !std_.is_in_link_scope(type)) {
      add(codes::kFieldServiceTypeScope, r.line, spec.no,
          std::string(what) + " is outside the scope of care-plan data linkage");
    }
  }

  bool holds(const SpecialCondition& c, const CsvRecord& r) const {
    switch (c.kind) {
      case SpecialCondition::Kind::kNever:
        return false;
      case SpecialCondition::Kind::kAlways:
        return true;
      case SpecialCondition::Kind::kNameMonthZero:
        return name_.month == "000000";
      case SpecialCondition::Kind::kNameServiceMonth:
        return !name_.month.empty() && name_.month != "000000";
      case SpecialCondition::Kind::kFieldEquals:
        return r.fields[static_cast<std::size_t>(c.field_no - 1)].value == c.value;
    }
    return false;
  }

  void check_month_tie(const CsvRecord& r, const FieldSpec& spec, std::string_view v) {
    switch (spec.month_tie) {
      case MonthTie::kNone:
        return;
      case MonthTie::kEquals:
        // 000000 (where listed) equals only a 000000 name; a real month only the same month.
        if (!name_.month.empty() && v != name_.month)
          add(codes::kRowMonth, r.line, spec.no,
              "month differs from the month in the file name (" + name_.month + ")");
        return;
      case MonthTie::kWithin:
        if (!service_month_.empty() && v.substr(0, 6) != service_month_)
          add(codes::kRowMonth, r.line, spec.no,
              "date is outside the service month in the file name (" + service_month_ + ")");
        return;
      case MonthTie::kDays:
        if (!service_month_.empty() &&
            v.find('1', static_cast<std::size_t>(service_month_days_)) != std::string_view::npos)
          add(codes::kRowMonth, r.line, spec.no,
              "a day after the last day of the service month " + service_month_ + " (" +
                  std::to_string(service_month_days_) + " days) is flagged");
        return;
      case MonthTie::kDayCount:
        if (!service_month_.empty() && digits_only(v) && v.size() <= 3 &&
            num(v) > service_month_days_)
          add(codes::kRowMonth, r.line, spec.no,
              "more days than the service month " + service_month_ + " has (" +
                  std::to_string(service_month_days_) + ")");
        return;
    }
  }

  void check_version(const CsvRecord& r) {
    const std::string_view v = r.fields[0].value;
    if (v.empty()) return;  // FIELD_REQUIRED already
    const int mf = layout_.month_field;
    const std::string_view month =
        mf == 0 ? std::string_view{} : r.fields[static_cast<std::size_t>(mf - 1)].value;
    // Records of one file nearly always repeat version and month: check each pair once.
    if (v == last_version_ && month == last_month_) return;
    last_version_.assign(v);
    last_month_.assign(month);
    if (!std_.is_known_version(v)) {
      if (!unknown_version_reported_) {
        add(codes::kCsvVersionUnknown, r.line, 1,
            "CSV version " + std::string(v) + " is not a version of the standard");
        unknown_version_reported_ = true;
      }
      return;
    }
    if (first_version_.empty()) {
      first_version_ = std::string(v);
    } else if (v != first_version_ && !mixed_reported_) {
      add(codes::kCsvVersionMixed, r.line, 1,
          "CSV version differs from the file's first record (" + first_version_ + ")");
      mixed_reported_ = true;
    }
    if (mf == 0 || version_month_reported_ || !real_month6(month)) return;
    const auto allowed = std_.versions_for_month(month);
    if (std::find(allowed.begin(), allowed.end(), v) == allowed.end()) {
      std::string list;
      for (auto a : allowed) list += (list.empty() ? "" : " or ") + std::string(a);
      add(codes::kCsvVersionForMonth, r.line, 1,
          "CSV version " + std::string(v) + " is not the one in force for service month " +
              std::string(month) + (list.empty() ? std::string(" (none is)") : " (" + list + ")"));
      version_month_reported_ = true;
    }
  }

  // The record against its file name and itself: the fields tied to the service month, and the
  // special values that depend on the unit or the row (layouts.json service_month and
  // special_value_rules).
  void check_record_context(const CsvRecord& r) {
    const auto field = [&](int no) { return r.fields[static_cast<std::size_t>(no - 1)].value; };
    for (int no : layout_.record_rule_fields) {
      const FieldSpec& spec = layout_.field(no);
      const std::string_view v = field(no);
      for (const auto& rule : spec.special_rules) {
        if (v == rule.value) {
          if (!holds(rule.allowed_when, r))
            add(codes::kFieldSpecialValue, r.line, no,
                rule.if_misplaced.empty() ? rule.value + " is not allowed on this record"
                                          : rule.if_misplaced);
        } else if (!v.empty() && holds(rule.required_when, r)) {
          add(codes::kFieldSpecialValue, r.line, no,
              rule.if_missing.empty() ? "must be " + rule.value : rule.if_missing);
        }
      }
      if (spec.on_total_rows != TotalRowRule::kNone &&
          layout_.is_total_row(field(layout_.total_row_field))) {
        const bool ok =
            spec.on_total_rows == TotalRowRule::kEmpty
                ? v.empty()
                : v.find_first_not_of('0') == std::string_view::npos;  // empty: required
        if (!ok)
          add(codes::kFieldSpecialValue, r.line, no,
              spec.on_total_rows == TotalRowRule::kEmpty
                  ? "must be empty on a subtotal or grand-total row (<type>AAAA/EEEE/ZZZZ, 999999)"
                  : "must be 0 on a subtotal or grand-total row (<type>AAAA/EEEE/ZZZZ, 999999)");
      }
      // A malformed value already has its own finding; comparing it with the name adds nothing.
      if (!field_ok_[static_cast<std::size_t>(no - 1)] || v.empty()) continue;
      check_month_tie(r, spec, v);
    }
    for (const auto& col : kOfficeColumns) {
      if (col.kind != name_.kind) continue;
      const std::string_view v = field(col.no);
      if (!has_office_number_shape(v)) continue;
      const std::string& expected =
          col.side == OfficeSide::kSender ? name_.from.office_no : name_.to.office_no;
      if (v != expected) {
        add(codes::kRowOffice, r.line, col.no,
            col.side == OfficeSide::kSender
                ? "must be the sending office named in the file name (" + expected + ")"
                : "must be the receiving office named in the file name (" + expected + ")");
      }
    }
  }

  const CarePlanFileName& name_;
  std::string_view file_;
  Findings& out_;
  const CarePlanStandard& std_;
  const FileLayout& layout_;
  const std::vector<int>& kept_;
  FileFacts facts_;
  std::size_t count_ = 0;
  std::size_t suppressed_ = 0;
  std::string first_version_;
  std::string last_version_;
  std::string last_month_;
  bool unknown_version_reported_ = false;
  bool mixed_reported_ = false;
  bool version_month_reported_ = false;
  std::vector<char> field_ok_;  // per field of the current record: well-formed
  std::string service_month_;   // the name's month when it is a real month
  int service_month_days_ = 0;
};

}  // namespace

std::string_view FileFacts::value(const RecordFacts& record, int no) const {
  const auto it = std::lower_bound(fields.begin(), fields.end(), no);
  if (it == fields.end() || *it != no) return {};
  return record.values[static_cast<std::size_t>(it - fields.begin())];
}

std::string FileFacts::key(const RecordFacts& record, const std::vector<int>& key_fields) const {
  std::string k;
  for (int no : key_fields) {
    k.append(value(record, no));
    k.push_back('\x1f');
  }
  return k;
}

FileFacts check_csv_file(const CarePlanFileName& name, std::string_view file_name,
                         std::string_view bytes, Findings& out) {
  FileChecker checker(name, file_name, out);
  return checker.run(bytes);
}

}  // namespace kakehashi::mapping
