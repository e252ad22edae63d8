// Invalid send units, one fault each, built from the generator's valid units. Every case asserts
// the exact set of error findings (code, file, line, field number) and nothing more, so a check
// that fires too often fails here as surely as one that does not fire.

#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <functional>
#include <set>
#include <sstream>
#include <tuple>

#include "mapping/careplan/finding_codes.hpp"
#include "mapping/careplan/inspector.hpp"
#include "tests/careplan_gen/generator.hpp"
#include "tests/mapping/unit_edit.hpp"

using namespace kakehashi;
using namespace kakehashi::testing;
namespace codes = kakehashi::mapping::codes;

namespace {

struct Expected {
  std::string code;
  std::string file;  // exact file name, or "" for unit-level findings
  std::size_t line = 0;
  int field_no = 0;
  auto tie() const { return std::tie(code, file, line, field_no); }
  bool operator<(const Expected& o) const { return tie() < o.tie(); }
  bool operator==(const Expected& o) const { return tie() == o.tie(); }
};

std::ostream& operator<<(std::ostream& os, const Expected& e) {
  return os << e.code << " " << (e.file.empty() ? "<unit>" : e.file) << ":" << e.line << " #"
            << e.field_no;
}

struct Scenario {
  std::vector<GeneratedFile> files;  // what the sender hands over
  std::set<Expected> errors;         // exactly these error findings
  std::set<Expected> warnings;       // at least these warnings
  mapping::InspectOptions options;
};

// Runs the inspector and compares.
void check(const std::string& name, const Scenario& s) {
  std::vector<mapping::InputFile> inputs;
  for (const auto& f : s.files) inputs.push_back({f.name, f.bytes, f.bytes.size()});
  const auto report = mapping::inspect(inputs, s.options);
  std::set<Expected> errors, warnings;
  for (const auto& u : report.units) {
    for (const auto& f : u.findings) {
      Expected e{f.code, f.file, f.line, f.field_no};
      (f.severity == mapping::Severity::kError ? errors : warnings).insert(e);
    }
  }
  std::ostringstream got, want;
  for (const auto& e : errors) got << "  " << e << "\n";
  for (const auto& e : s.errors) want << "  " << e << "\n";
  BOOST_TEST_CONTEXT(name) {
    BOOST_TEST(errors == s.errors, "errors differ\nwant:\n" << want.str() << "got:\n" << got.str());
    for (const auto& w : s.warnings) {
      BOOST_TEST(warnings.count(w) == 1, "missing warning " << w);
    }
  }
}

// Distinct users (被保険者番号, field 3) of a file in order of appearance, and their records.
std::vector<std::vector<std::size_t>> users_of(const std::vector<EditRecord>& records) {
  std::vector<std::string> order;
  std::vector<std::vector<std::size_t>> rows;
  for (std::size_t i = 0; i < records.size(); ++i) {
    const auto& key = records[i].fields.at(2).value;
    auto it = std::find(order.begin(), order.end(), key);
    if (it == order.end()) {
      order.push_back(key);
      rows.emplace_back();
      it = order.end() - 1;
    }
    rows[static_cast<std::size_t>(it - order.begin())].push_back(i);
  }
  return rows;
}

class Builder {
 public:
  explicit Builder(std::string combo, UnitParams params = {}) {
    UnitGenerator gen(4242);
    unit_ = gen.make(combo, params);
  }
  GeneratedUnit& unit() { return unit_; }
  GeneratedFile& file(std::string_view kind) { return file_of(unit_, kind); }

  // Sets field `no` of record `index` of `kind` and returns where the finding is expected.
  Expected set(std::string_view kind, std::size_t index, int no, std::string value,
               std::string_view code) {
    auto& f = file(kind);
    auto records = parse_records(f.bytes);
    auto& field = records.at(index).fields.at(static_cast<std::size_t>(no - 1));
    field.value = std::move(value);
    const std::size_t line = records.at(index).line;
    f.bytes = serialize_records(records);
    return {std::string(code), f.name, line, no};
  }
  std::size_t line_of(std::string_view kind, std::size_t index) {
    return parse_records(file(kind).bytes).at(index).line;
  }
  Scenario scenario(std::set<Expected> errors, std::set<Expected> warnings = {}) {
    return {unit_.files, std::move(errors), std::move(warnings), {}};
  }
  void remove(std::string_view kind) {
    auto& files = unit_.files;
    files.erase(std::find_if(files.begin(), files.end(),
                             [&](const GeneratedFile& f) { return name_has_kind(f.name, kind); }));
  }
  void rename_all(const std::function<std::string(std::string)>& fn) {
    for (auto& f : unit_.files) f.name = fn(f.name);
  }

 private:
  GeneratedUnit unit_;
};

std::string replace_once(std::string s, const std::string& from, const std::string& to) {
  const auto pos = s.find(from);
  if (pos == std::string::npos) throw std::logic_error("'" + from + "' not in '" + s + "'");
  return s.replace(pos, from.size(), to);
}

// Name segments of a unit's first file: prefix..., from, ftype, to, ttype, seq.ext
struct NameParts {
  std::string from, from_type, to, to_type, seq;
};
NameParts parts_of(const std::string& name) {
  std::vector<std::string> segs;
  std::stringstream ss(name.substr(0, name.rfind('.')));
  for (std::string s; std::getline(ss, s, '_');) segs.push_back(s);
  const auto n = segs.size();
  return {segs[n - 5], segs[n - 4], segs[n - 3], segs[n - 2], segs[n - 1]};
}

constexpr const char* kOtherOffice = "1370100016";  // valid check digit, not in any generated unit

using CaseFn = std::function<Scenario()>;

// --- Field-level faults, in an actuals unit (K5: one UPJSK file, no links) ---------------------

Scenario field_fault(int no, std::string value, std::string_view code, std::size_t index = 0) {
  Builder b("K5");
  auto e = b.set("UPJSK", index, no, std::move(value), code);
  return b.scenario({e});
}

std::vector<std::pair<std::string, CaseFn>> field_cases() {
  return {
      {"version unknown", [] { return field_fault(1, "202408", codes::kCsvVersionUnknown); }},
      {"version empty", [] { return field_fault(1, "", codes::kFieldRequired); }},
      {"insurer check digit",
       [] { return field_fault(2, "131012", codes::kFieldInsurerCheckDigit); }},
      {"insurer too short", [] { return field_fault(2, "13101", codes::kFieldFormat); }},
      {"insurer letters", [] { return field_fault(2, "13101A", codes::kFieldFormat); }},
      {"insured too short", [] { return field_fault(3, "12345", codes::kFieldFormat); }},
      {"insured lower case", [] { return field_fault(3, "h123456789", codes::kFieldFormat); }},
      {"insured too long", [] { return field_fault(3, "12345678901", codes::kFieldTooLong); }},
      {"insured empty", [] { return field_fault(3, "", codes::kFieldRequired); }},
      {"document date 30 Feb", [] { return field_fault(4, "20250230", codes::kFieldDate); }},
      {"document date 7 digits", [] { return field_fault(4, "2025010", codes::kFieldDate); }},
      {"document date empty", [] { return field_fault(4, "", codes::kFieldRequired); }},
      {"service date 31 June", [] { return field_fault(10, "20250631", codes::kFieldDate); }},
      {"service date slashes", [] { return field_fault(10, "2025/6/1", codes::kFieldDate); }},
      {"flags too short", [] { return field_fault(11, "0101", codes::kFieldFlags31); }},
      {"flags with a 2",
       [] { return field_fault(11, std::string(30, '0') + "2", codes::kFieldFlags31); }},
      {"start time minute 60", [] { return field_fault(12, "2560", codes::kFieldTime); }},
      {"start time 24:30", [] { return field_fault(12, "2430", codes::kFieldTime); }},
      {"end time letter", [] { return field_fault(13, "1a00", codes::kFieldTime); }},
      {"end time empty", [] { return field_fault(13, "", codes::kFieldRequired); }},
      {"count empty", [] { return field_fault(14, "", codes::kFieldRequired); }},
      {"count not a number", [] { return field_fault(14, "1x", codes::kFieldFormat); }},
      {"count too long", [] { return field_fault(14, "123", codes::kFieldTooLong); }},
      {"service code unknown type",
       [] { return field_fault(15, "991111", codes::kFieldServiceType); }},
      {"service code out of scope",
       [] { return field_fault(15, "331111", codes::kFieldServiceTypeScope); }},
      {"service code lower case", [] { return field_fault(15, "11a111", codes::kFieldFormat); }},
      {"service code short", [] { return field_fault(15, "1111", codes::kFieldFormat); }},
      {"units decimal", [] { return field_fault(8, "12.5", codes::kFieldFormat); }},
      {"units too long", [] { return field_fault(8, "1234567", codes::kFieldTooLong); }},
      {"short-stay days letters", [] { return field_fault(9, "1O", codes::kFieldFormat); }},
      {"line discriminator letters", [] { return field_fault(19, "1a", codes::kFieldFormat); }},
      {"TAIS code too long", [] { return field_fault(16, "00001-0000100", codes::kFieldTooLong); }},
      {"satellite too long", [] { return field_fault(22, "ABC", codes::kFieldTooLong); }},
      {"satellite lower case", [] { return field_fault(22, "a", codes::kFieldFormat); }},
      {"over-30 code", [] { return field_fault(23, "2", codes::kFieldCode); }},
      {"over-30 empty", [] { return field_fault(23, "", codes::kFieldRequired); }},
      {"plan office not the recipient",
       [] { return field_fault(6, kOtherOffice, codes::kRowOffice); }},
      {"updating office not the sender",
       [] { return field_fault(24, kOtherOffice, codes::kRowOffice); }},
      {"provider office letter I",
       [] {
         Builder b("K5");
         auto e = b.set("UPJSK", 0, 24, "13I0100016", codes::kFieldFormat);
         return b.scenario({e});
       }},
      {"provider office check digit",
       [] {
         Builder b("K5");
         auto e = b.set("UPJSK", 0, 20, "1370100061", codes::kFieldOfficeCheckDigit);
         Expected row = e;
         row.code = codes::kRowOffice;
         return b.scenario({e, row});
       }},
      {"name with gaiji", [] { return field_fault(7, "\x8E\x52\xF0\x40", codes::kCsvGaiji); }},
      {"name with invalid trail byte",
       [] { return field_fault(7, "\x8E\x52\x81\x20", codes::kCsvEncoding); }},
      {"name with lone 0x80", [] { return field_fault(7, "\x80", codes::kCsvEncoding); }},
      {"name with NUL", [] { return field_fault(7, std::string("a\0b", 3), codes::kCsvEncoding); }},
      {"name with truncated double byte",
       [] { return field_fault(7, "\x8E", codes::kCsvEncoding); }},
      {"month differs from name", [] { return field_fault(5, "202604", codes::kRowMonth); }},
      {"month not real", [] { return field_fault(5, "202513", codes::kFieldMonth); }},
      {"line break in a coded field",
       [] {
         Builder b("K5");
         auto& f = b.file("UPJSK");
         auto records = parse_records(f.bytes);
         records[1].fields[11] = {"09\r\n00", true};
         const std::size_t line = records[1].line;
         f.bytes = serialize_records(records);
         return b.scenario({{std::string(codes::kFieldFormat), f.name, line, 12}});
       }},
      {"unused identifier filled (warning only)",
       [] {
         Builder b("K5");
         auto e = b.set("UPJSK", 0, 25, "X", codes::kFieldUnused);
         return b.scenario({}, {e});
       }},
      {"negative units tolerated",
       [] {
         Builder b("K5");
         b.set("UPJSK", 0, 8, "-120", "");
         return b.scenario({});
       }},
      {"9999 time allowed in 第6表",
       [] {
         Builder b("K5");
         b.set("UPJSK", 0, 12, "9999", "");
         b.set("UPJSK", 0, 13, "9999", "");
         return b.scenario({});
       }},
  };
}

// --- CSV syntax ---------------------------------------------------------------------------------

std::vector<std::pair<std::string, CaseFn>> syntax_cases() {
  return {
      {"extra field",
       [] {
         Builder b("K5");
         auto& f = b.file("UPJSK");
         auto records = parse_records(f.bytes);
         records[1].fields.push_back({"", false});
         const auto line = records[1].line;
         f.bytes = serialize_records(records);
         return b.scenario({{std::string(codes::kCsvFieldCount), f.name, line, 0}});
       }},
      {"missing field",
       [] {
         Builder b("K5");
         auto& f = b.file("UPJSK");
         auto records = parse_records(f.bytes);
         records[0].fields.pop_back();
         f.bytes = serialize_records(records);
         return b.scenario({{std::string(codes::kCsvFieldCount), f.name, 1, 0}});
       }},
      {"unclosed quote",
       [] {
         Builder b("K5");
         auto& f = b.file("UPJSK");
         auto records = parse_records(f.bytes);
         const auto line = records.back().line;
         f.bytes = serialize_records(records);
         // Open a quote in the last record's first field and never close it.
         const auto start = f.bytes.rfind("\r\n", f.bytes.size() - 3);
         f.bytes.insert(start + 2, "\"");
         return b.scenario({{std::string(codes::kCsvQuote), f.name, line, 1}});
       }},
      {"quote inside unquoted field",
       [] {
         Builder b("K5");
         auto& f = b.file("UPJSK");
         auto records = parse_records(f.bytes);
         const auto line = records[1].line;
         f.bytes = serialize_records(records);
         auto pos = f.bytes.find("\r\n") + 2;  // start of record 2
         pos = f.bytes.find(',', pos) + 1;     // field 2
         f.bytes.insert(pos + 1, "\"");
         return b.scenario({{std::string(codes::kCsvQuote), f.name, line, 2}});
       }},
      {"text after closing quote",
       [] {
         Builder b("K5");
         auto& f = b.file("UPJSK");
         auto records = parse_records(f.bytes);
         records[0].fields[6] = {"abc", true};
         f.bytes = serialize_records(records);
         const auto pos = f.bytes.find("\"abc\"");
         f.bytes.insert(pos + 5, "x");
         return b.scenario({{std::string(codes::kCsvQuote), f.name, 1, 7}});
       }},
      {"empty file",
       [] {
         Builder b("K5");
         auto& f = b.file("UPJSK");
         f.bytes.clear();
         return b.scenario({{std::string(codes::kFileEmpty), f.name, 0, 0}});
       }},
      {"file of one blank line",
       [] {
         Builder b("K5");
         auto& f = b.file("UPJSK");
         f.bytes = "\r\n";
         return b.scenario({{std::string(codes::kCsvFieldCount), f.name, 1, 0}});
       }},
      {"LF line endings accepted",
       [] {
         Builder b("K5");
         auto& f = b.file("UPJSK");
         std::string lf;
         for (std::size_t i = 0; i < f.bytes.size(); ++i) {
           if (f.bytes[i] == '\r' && i + 1 < f.bytes.size() && f.bytes[i + 1] == '\n') continue;
           lf += f.bytes[i];
         }
         f.bytes = lf;
         return b.scenario({});
       }},
      {"mixed line endings (warning)",
       [] {
         Builder b("K5");
         auto& f = b.file("UPJSK");
         f.bytes.erase(f.bytes.find("\r\n"), 1);
         return b.scenario({}, {{std::string(codes::kCsvLineEndingMixed), f.name, 0, 0}});
       }},
      {"mixed versions",
       [] {
         Builder b("K5");
         auto e = b.set("UPJSK", 1, 1, "202208", codes::kCsvVersionMixed);
         Expected month = e;
         month.code = codes::kCsvVersionForMonth;
         return b.scenario({e, month});
       }},
      {"old version for the month",
       [] {
         Builder b("K5");
         auto& f = b.file("UPJSK");
         edit_records(f, [](auto& records) {
           for (auto& r : records) r.fields[0].value = "202208";
         });
         return b.scenario({{std::string(codes::kCsvVersionForMonth), f.name, 1, 1}});
       }},
  };
}

// --- Names and units -----------------------------------------------------------------------------

std::vector<std::pair<std::string, CaseFn>> name_cases() {
  return {
      {"recipient office check digit",
       [] {
         Builder b("K6");
         const auto p = parts_of(b.unit().files[0].name);
         std::string bad = p.to;
         bad[9] = static_cast<char>('0' + (bad[9] - '0' + 1) % 10);
         b.rename_all(
             [&](std::string n) { return replace_once(n, "_" + p.to + "_", "_" + bad + "_"); });
         return b.scenario(
             {{std::string(codes::kNameOfficeCheckDigit), b.unit().files[0].name, 0, 0}});
       }},
      {"recipient is not a care manager",
       [] {
         Builder b("K6");
         const auto p = parts_of(b.unit().files[0].name);
         b.rename_all(
             [&](std::string n) { return replace_once(n, p.to + "_" + p.to_type, p.to + "_13"); });
         return b.scenario({{std::string(codes::kNameDirection), b.unit().files[0].name, 0, 0}});
       }},
      {"service office sends as a care manager",
       [] {
         Builder b("K6");
         const auto p = parts_of(b.unit().files[0].name);
         b.rename_all([&](std::string n) {
           return replace_once(n, p.from + "_" + p.from_type, p.from + "_43");
         });
         return b.scenario({{std::string(codes::kNameDirection), b.unit().files[0].name, 0, 0}});
       }},
      {"recipient type out of scope",
       [] {
         Builder b("K4");
         const auto p = parts_of(b.unit().files[0].name);
         b.rename_all(
             [&](std::string n) { return replace_once(n, p.to + "_" + p.to_type, p.to + "_33"); });
         return b.scenario({{std::string(codes::kNameServiceType), b.unit().files[0].name, 0, 0}});
       }},
      {"recipient type unknown",
       [] {
         Builder b("K4");
         const auto p = parts_of(b.unit().files[0].name);
         b.rename_all(
             [&](std::string n) { return replace_once(n, p.to + "_" + p.to_type, p.to + "_99"); });
         return b.scenario({{std::string(codes::kNameServiceType), b.unit().files[0].name, 0, 0}});
       }},
      {"sequence not a real time",
       [] {
         Builder b("K4");
         const auto p = parts_of(b.unit().files[0].name);
         b.rename_all([&](std::string n) { return replace_once(n, p.seq, "20250231101010"); });
         return b.scenario({{std::string(codes::kNameSequence), b.unit().files[0].name, 0, 0}});
       }},
      {"month segment not real",
       [] {
         Builder b("K4");
         const auto& name = b.unit().files[0].name;  // DLTPLAN_YYYYMM_...
         const std::string month = name.substr(8, 6);
         b.rename_all(
             [&](std::string n) { return replace_once(n, "_" + month + "_", "_202513_"); });
         auto& f = b.file("DLTPLAN");
         Scenario s = b.scenario({{std::string(codes::kNameMonth), f.name, 0, 0}});
         for (const auto& r : parse_records(f.bytes))
           s.errors.insert({std::string(codes::kRowMonth), f.name, r.line, 4});
         return s;
       }},
      {"sender is the recipient",
       [] {
         Builder b("K6");
         const auto p = parts_of(b.unit().files[0].name);
         b.rename_all([&](std::string n) {
           return replace_once(n, p.to + "_" + p.to_type, p.from + "_" + p.from_type);
         });
         const auto& name = b.unit().files[0].name;
         return b.scenario({{std::string(codes::kNameSameOffice), name, 0, 0},
                            {std::string(codes::kNameDirection), name, 0, 0}});
       }},
      {"lower-case extension (warning)",
       [] {
         Builder b("K3");
         b.rename_all([](std::string n) { return replace_once(n, ".CSV", ".csv"); });
         return b.scenario(
             {}, {{std::string(codes::kNameExtensionCase), b.unit().files[0].name, 0, 0}});
       }},
      {"unknown prefix",
       [] {
         Builder b("K3");
         b.rename_all([](std::string n) { return replace_once(n, "DLT1KYO", "DLT9KYO"); });
         return b.scenario({{std::string(codes::kNameUnrecognised), b.unit().files[0].name, 0, 0}});
       }},
      {"nine-digit office (the spec's own typo)",
       [] {
         Builder b("K3");
         const auto p = parts_of(b.unit().files[0].name);
         b.rename_all([&](std::string n) { return replace_once(n, p.from, p.from.substr(1)); });
         return b.scenario({{std::string(codes::kNameUnrecognised), b.unit().files[0].name, 0, 0}});
       }},
      {"v3 name accepted with warnings",
       [] {
         Builder b("K5");
         const auto p = parts_of(b.unit().files[0].name);
         b.rename_all([&](std::string n) {
           n = replace_once(n, p.from + "_" + p.from_type, p.from);
           return replace_once(n, p.to + "_" + p.to_type, p.to);
         });
         const auto& name = b.unit().files[0].name;
         return b.scenario({}, {{std::string(codes::kNameV3), name, 0, 0},
                                {std::string(codes::kCsvNotCheckedV3), name, 0, 0}});
       }},
      {"same file twice",
       [] {
         Builder b("K3");
         Scenario s = b.scenario({});
         s.files.push_back(s.files[0]);
         s.errors.insert({std::string(codes::kNameDuplicate), s.files[0].name, 0, 0});
         return s;
       }},
      {"executable attachment",
       [] {
         Builder b("K3");
         Scenario s = b.scenario({});
         const auto p = parts_of(s.files[0].name);
         const std::string name = "virus_" + p.from + "_" + p.from_type + "_" + p.to + "_" +
                                  p.to_type + "_" + p.seq + ".exe";
         s.files.push_back({name, "MZ\x90"});
         s.errors.insert({std::string(codes::kNameUnrecognised), name, 0, 0});
         return s;
       }},
  };
}

GeneratedFile attachment_for(const GeneratedUnit& unit, const std::string& label,
                             const std::string& ext, std::string bytes) {
  const auto p = parts_of(unit.files[0].name);
  return {label + "_" + p.from + "_" + p.from_type + "_" + p.to + "_" + p.to_type + "_" + p.seq +
              "." + ext,
          std::move(bytes)};
}

const std::string kPdf = "%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n";
const std::string kPng = std::string("\x89PNG\r\n\x1A\n", 8) + "\0\0\0\rIHDR";

std::vector<std::pair<std::string, CaseFn>> unit_cases() {
  return {
      {"pdf that is a png",
       [] {
         Builder b("K3");
         Scenario s = b.scenario({});
         s.files.push_back(attachment_for(b.unit(), "hokensho", "pdf", kPng));
         s.errors.insert({std::string(codes::kAttachmentContent), s.files.back().name, 0, 0});
         return s;
       }},
      {"truncated pdf",
       [] {
         Builder b("K3");
         Scenario s = b.scenario({});
         s.files.push_back(attachment_for(b.unit(), "hokensho", "pdf", kPdf.substr(0, 20)));
         s.errors.insert({std::string(codes::kAttachmentContent), s.files.back().name, 0, 0});
         return s;
       }},
      {"png that is a pdf",
       [] {
         Builder b("K5");
         Scenario s = b.scenario({});
         s.files.push_back(attachment_for(b.unit(), "photo", "png", kPdf));
         s.errors.insert({std::string(codes::kAttachmentContent), s.files.back().name, 0, 0});
         return s;
       }},
      {"gif with a jpeg inside",
       [] {
         Builder b("K5");
         Scenario s = b.scenario({});
         s.files.push_back(attachment_for(b.unit(), "map", "gif", "\xFF\xD8\xFF\xE0\xFF\xD9"));
         s.errors.insert({std::string(codes::kAttachmentContent), s.files.back().name, 0, 0});
         return s;
       }},
      {"binary txt",
       [] {
         Builder b("K5");
         Scenario s = b.scenario({});
         s.files.push_back(attachment_for(b.unit(), "memo", "txt", std::string("ab\0cd", 5)));
         s.errors.insert({std::string(codes::kAttachmentContent), s.files.back().name, 0, 0});
         return s;
       }},
      {"UTF-8 txt accepted",
       [] {
         Builder b("K5");
         Scenario s = b.scenario({});
         s.files.push_back(attachment_for(b.unit(), "memo", "txt", "連絡事項です。\n"));
         return s;
       }},
      {"attachment larger than the limit",
       [] {
         Builder b("K3");
         Scenario s = b.scenario({});
         s.files.push_back(attachment_for(b.unit(), "scan", "pdf", kPdf + std::string(300, ' ')));
         s.options.max_file_bytes = 256;
         s.errors.insert({std::string(codes::kFileTooLarge), s.files.back().name, 0, 0});
         return s;
       }},
      {"unit larger than the limit",
       [] {
         Builder b("K2");
         Scenario s = b.scenario({});
         s.options.max_unit_bytes = 1000;
         s.errors.insert({std::string(codes::kUnitTooLarge), "", 0, 0});
         return s;
       }},
      {"attachments alone",
       [] {
         Builder b("K3");
         Scenario s = b.scenario({});
         s.files = {attachment_for(b.unit(), "scan", "pdf", kPdf)};
         s.errors.insert({std::string(codes::kUnitNoCarePlanFile), "", 0, 0});
         return s;
       }},
      {"K2 without 第7表",
       [] {
         Builder b("K2");
         b.remove("UPSIKYU");
         return b.scenario({{std::string(codes::kUnitIncomplete), "", 0, 0}});
       }},
      {"K2 without 補足",
       [] {
         Builder b("K2");
         b.remove("UPHOSOKU");
         return b.scenario({{std::string(codes::kUnitIncomplete), "", 0, 0}});
       }},
      {"K1 without 第3表",
       [] {
         Builder b("K1");
         b.remove("UP3KYO");
         return b.scenario({{std::string(codes::kUnitIncomplete), "", 0, 0}});
       }},
      {"P3 without its SUB",
       [] {
         Builder b("P3");
         b.remove("UPYOBO_SUB");
         return b.scenario({{std::string(codes::kUnitIncomplete), "", 0, 0}});
       }},
      {"K2 with a delete file in it",
       [] {
         UnitParams params;
         params.service_month = "202506";
         Builder b("K2", params);
         UnitGenerator gen(777);
         auto del = gen.make("K4", params);
         const auto p = parts_of(b.unit().files[0].name);
         const auto q = parts_of(del.files[0].name);
         auto f = del.files[0];
         f.name = replace_once(
             f.name, q.from + "_" + q.from_type + "_" + q.to + "_" + q.to_type + "_" + q.seq,
             p.from + "_" + p.from_type + "_" + p.to + "_" + p.to_type + "_" + p.seq);
         Scenario s = b.scenario({});
         s.files.push_back(f);
         s.errors.insert({std::string(codes::kUnitExtraFile), f.name, 0, 0});
         return s;
       }},
      {"第7表 for another month",
       [] {
         UnitParams params;
         params.service_month = "202506";
         Builder b("K2", params);
         auto& f = b.file("UPSIKYU");
         f.name = replace_once(f.name, "_202506_", "_202507_");
         Scenario s = b.scenario({{std::string(codes::kUnitMonthMismatch), f.name, 0, 0}});
         for (const auto& r : parse_records(f.bytes))
           s.errors.insert({std::string(codes::kRowMonth), f.name, r.line, 5});
         return s;
       }},
      {"K1 補足 with a month",
       [] {
         Builder b("K1");
         auto& f = b.file("UPHOSOKU");
         f.name = replace_once(f.name, "_000000_", "_202506_");
         Scenario s = b.scenario({{std::string(codes::kUnitMonthMismatch), f.name, 0, 0}});
         for (const auto& r : parse_records(f.bytes)) {
           s.errors.insert({std::string(codes::kRowMonth), f.name, r.line, 63});
           s.errors.insert({std::string(codes::kFieldSpecialValue), f.name, r.line, 4});
         }
         return s;
       }},
  };
}

// --- Links between the files of a unit ----------------------------------------------------------

std::vector<std::pair<std::string, CaseFn>> link_cases() {
  return {
      {"user without 第7表 rows",
       [] {
         Builder b("K2");
         auto& sikyu = b.file("UPSIKYU");
         edit_records(sikyu, [](auto& records) {
           const auto users = users_of(records);
           for (auto it = users[0].rbegin(); it != users[0].rend(); ++it)
             records.erase(records.begin() + static_cast<std::ptrdiff_t>(*it));
         });
         auto& plan = b.file("UPPLAN");
         const auto first = users_of(parse_records(plan.bytes))[0][0];
         return b.scenario(
             {{std::string(codes::kLinkMissing), plan.name, b.line_of("UPPLAN", first), 5}});
       }},
      {"user without 補足",
       [] {
         Builder b("K2");
         std::string insured;
         edit_records(b.file("UPHOSOKU"), [&](auto& records) {
           insured = records[2].fields[2].value;
           records.erase(records.begin() + 2);
         });
         auto& plan = b.file("UPPLAN");
         const auto records = parse_records(plan.bytes);
         std::size_t first = 0;
         while (records[first].fields[2].value != insured) ++first;
         return b.scenario({{std::string(codes::kLinkMissing), plan.name, records[first].line, 5}});
       }},
      {"第7表 and 補足 for a user not in 第6表",
       [] {
         Builder b("K2");
         std::string insured;
         edit_records(b.file("UPPLAN"), [&](auto& records) {
           const auto users = users_of(records);
           insured = records[users[1][0]].fields[2].value;
           for (auto it = users[1].rbegin(); it != users[1].rend(); ++it)
             records.erase(records.begin() + static_cast<std::ptrdiff_t>(*it));
         });
         const auto first_line = [&](std::string_view kind) {
           for (const auto& r : parse_records(b.file(kind).bytes)) {
             if (r.fields[2].value == insured) return r.line;
           }
           throw std::logic_error("user not found");
         };
         return b.scenario(
             {{std::string(codes::kLinkOrphan), b.file("UPSIKYU").name, first_line("UPSIKYU"), 5},
              {std::string(codes::kLinkOrphan), b.file("UPHOSOKU").name, first_line("UPHOSOKU"),
               63}});
       }},
      {"補足 twice for a user",
       [] {
         Builder b("K2");
         auto& f = b.file("UPHOSOKU");
         std::size_t line = 0;
         edit_records(f, [&](auto& records) {
           records.push_back(records[0]);
           line = parse_records(serialize_records(records)).back().line;
         });
         return b.scenario({{std::string(codes::kLinkDuplicateKey), f.name, line, 63}});
       }},
      {"補足 month 000000 beside 第6表",
       [] {
         Builder b("K2");
         auto e = b.set("UPHOSOKU", 0, 63, "000000", codes::kRowMonth);
         auto& plan = b.file("UPPLAN");
         const auto first = users_of(parse_records(plan.bytes))[0][0];
         return b.scenario(
             {e,
              {std::string(codes::kLinkOrphan), e.file, e.line, 63},
              {std::string(codes::kLinkMissing), plan.name, b.line_of("UPPLAN", first), 5}});
       }},
      {"補足 plan date beside 第6表",
       [] {
         Builder b("K2");
         auto e = b.set("UPHOSOKU", 1, 4, "20250501", codes::kFieldSpecialValue);
         return b.scenario({e});
       }},
      {"no grand total in 第7表",
       [] {
         Builder b("K2");
         auto& f = b.file("UPSIKYU");
         std::size_t line = 0;
         edit_records(f, [&](auto& records) {
           const auto users = users_of(records);
           line = records[users[0][0]].line;
           for (auto i : users[0]) {
             if (records[i].fields[8].value == "999999") {
               records.erase(records.begin() + static_cast<std::ptrdiff_t>(i));
               break;
             }
           }
         });
         return b.scenario({{std::string(codes::kSikyuTotalMissing), f.name, line, 9}});
       }},
      {"grand total with a real office",
       [] {
         Builder b("K2");
         auto& f = b.file("UPSIKYU");
         const auto records = parse_records(f.bytes);
         std::size_t index = 0;
         while (records[index].fields[8].value != "999999") ++index;
         auto e = b.set("UPSIKYU", index, 7, kOtherOffice, codes::kFieldSpecialValue);
         return b.scenario({e});
       }},
      {"第7表 事業所コード not all nines",
       [] {
         Builder b("K2");
         auto e = b.set("UPSIKYU", 0, 34, kOtherOffice, codes::kFieldSpecialValue);
         return b.scenario({e});
       }},
      {"第7表 unit price format",
       [] {
         Builder b("K2");
         return b.scenario({b.set("UPSIKYU", 0, 23, "10.8", codes::kFieldFormat)});
       }},
      {"第7表 entered by another office",
       [] {
         Builder b("K2");
         return b.scenario({b.set("UPSIKYU", 0, 36, kOtherOffice, codes::kRowOffice)});
       }},
      {"第7表 wide amount (warning)",
       [] {
         Builder b("K2");
         auto e = b.set("UPSIKYU", 0, 24, "1234567", codes::kFieldAmountWide);
         return b.scenario({}, {e});
       }},
      {"user with no service by the recipient",
       [] {
         Builder b("K2");
         auto& f = b.file("UPPLAN");
         const auto p = parts_of(f.name);
         std::size_t line = 0;
         edit_records(f, [&](auto& records) {
           const auto users = users_of(records);
           line = records[users[0][0]].line;
           for (auto i : users[0]) {
             if (records[i].fields[19].value == p.to) records[i].fields[19].value = kOtherOffice;
           }
         });
         return b.scenario({{std::string(codes::kRowNotForRecipient), f.name, line, 20}});
       }},
      {"plan office not the sender",
       [] {
         Builder b("K2");
         return b.scenario({b.set("UPPLAN", 0, 6, kOtherOffice, codes::kRowOffice)});
       }},
      {"第1表 twice for a user",
       [] {
         Builder b("K1");
         auto& f = b.file("UP1KYO");
         std::size_t line = 0;
         edit_records(f, [&](auto& records) {
           records.push_back(records[0]);
           line = parse_records(serialize_records(records)).back().line;
         });
         return b.scenario({{std::string(codes::kLinkDuplicateKey), f.name, line, 14}});
       }},
      {"第1表 user without 第2表",
       [] {
         Builder b("K1");
         auto& f = b.file("UP2KYO");
         edit_records(f, [](auto& records) {
           const auto users = users_of(records);
           for (auto it = users[0].rbegin(); it != users[0].rend(); ++it)
             records.erase(records.begin() + static_cast<std::ptrdiff_t>(*it));
         });
         return b.scenario({{std::string(codes::kLinkMissing), b.file("UP1KYO").name,
                             b.line_of("UP1KYO", 0), 14}});
       }},
      {"第1表 care manager office not the sender",
       [] {
         Builder b("K1");
         return b.scenario({b.set("UP1KYO", 0, 13, kOtherOffice, codes::kRowOffice)});
       }},
      {"第1表 plan kind code",
       [] {
         Builder b("K1");
         return b.scenario({b.set("UP1KYO", 0, 16, "99", codes::kFieldCode)});
       }},
      {"第1表 planner name empty",
       [] {
         Builder b("K1");
         return b.scenario({b.set("UP1KYO", 0, 8, "", codes::kFieldRequired)});
       }},
      {"第3表 weekday 8",
       [] {
         Builder b("K1");
         return b.scenario({b.set("UP3KYO", 0, 7, "8", codes::kFieldCode)});
       }},
      // Issue 20: 9999 is the standard's "no time" value, allowed only in 第6表 nos.12-13;
      // elsewhere it is a special value out of place (was FIELD_TIME).
      {"第3表 no 9999 time",
       [] {
         Builder b("K1");
         return b.scenario({b.set("UP3KYO", 0, 8, "9999", codes::kFieldSpecialValue)});
       }},
      {"第2表 insurance flag",
       [] {
         Builder b("K1");
         return b.scenario({b.set("UP2KYO", 0, 15, "X", codes::kFieldCode)});
       }},
      {"補足 postal code",
       [] {
         Builder b("K1");
         return b.scenario({b.set("UPHOSOKU", 0, 9, "1234567", codes::kFieldFormat)});
       }},
      {"補足 service type unknown",
       [] {
         Builder b("K1");
         return b.scenario({b.set("UPHOSOKU", 0, 20, "99", codes::kFieldServiceType)});
       }},
      {"補足 00000000 beside 第1表",
       [] {
         Builder b("K1");
         auto e = b.set("UPHOSOKU", 0, 4, "00000000", codes::kFieldSpecialValue);
         return b.scenario({e,
                            {std::string(codes::kLinkOrphan), e.file, e.line, 4},
                            {std::string(codes::kLinkMissing), b.file("UP1KYO").name,
                             b.line_of("UP1KYO", 0), 14}});
       }},
      {"image named but missing",
       [] {
         UnitParams params;
         params.with_image = true;
         Builder b("P1", params);
         auto& f = b.file("UPKIHON");
         const auto p = parts_of(f.name);
         auto e = b.set("UPKIHON", 0, 62,
                        "UPKIHON_IMAGE_" + p.from + "_" + p.from_type + "_" + p.to + "_" +
                            p.to_type + "_" + p.seq + "_0099.jpg",
                        codes::kLinkImage);
         // The image the record used to name is now named by nobody (a warning).
         return b.scenario({e});
       }},
      {"image that is a png",
       [] {
         UnitParams params;
         params.with_image = true;
         Builder b("P1", params);
         for (auto& f : b.unit().files) {
           if (f.name.find("_IMAGE_") != std::string::npos) {
             f.bytes = kPng;
             return b.scenario({{std::string(codes::kAttachmentContent), f.name, 0, 0}});
           }
         }
         throw std::logic_error("no image");
       }},
      {"SUB1 row without its UPKIHON",
       [] {
         Builder b("P1");
         return b.scenario({b.set("UPKIHON_SUB1", 0, 4, "20240101", codes::kLinkOrphan)});
       }},
      {"UPYOBO user without SUB rows",
       [] {
         Builder b("P3");
         auto& f = b.file("UPYOBO_SUB");
         edit_records(f, [](auto& records) {
           const auto users = users_of(records);
           for (auto it = users[0].rbegin(); it != users[0].rend(); ++it)
             records.erase(records.begin() + static_cast<std::ptrdiff_t>(*it));
         });
         return b.scenario({{std::string(codes::kLinkMissing), b.file("UPYOBO").name,
                             b.line_of("UPYOBO", 0), 4}});
       }},
      {"UPYOBO support level code",
       [] {
         Builder b("P3");
         return b.scenario({b.set("UPYOBO", 0, 14, "4", codes::kFieldCode)});
       }},
      {"UPKIHON care level 06 not in its table",
       [] {
         Builder b("P1");
         return b.scenario({b.set("UPKIHON", 0, 23, "06", codes::kFieldCode)});
       }},
      {"UPKIHON sex empty",
       [] {
         Builder b("P1");
         return b.scenario({b.set("UPKIHON", 0, 16, "", codes::kFieldRequired)});
       }},
      {"DLTJSK office not the sender",
       [] {
         Builder b("K6");
         return b.scenario({b.set("DLTJSK", 0, 5, kOtherOffice, codes::kRowOffice)});
       }},
      {"DLTJSK service type out of scope",
       [] {
         Builder b("K6");
         return b.scenario({b.set("DLTJSK", 0, 6, "33", codes::kFieldServiceTypeScope)});
       }},
      {"DLTPLAN month differs",
       [] {
         Builder b("K4");
         return b.scenario({b.set("DLTPLAN", 0, 4, "202604", codes::kRowMonth)});
       }},
  };
}

// --- Issue 20: special values out of place, dates outside the service month -------------------

// The month segment of a month-bearing file name (PREFIX_YYYYMM_...).
std::string name_month(const std::string& name) {
  return name.substr(name.find('_') + 1, 6);
}

std::vector<std::pair<std::string, CaseFn>> special_and_month_cases() {
  return {
      // An all-nines office number passes the mod-10 check digit; only the 第7表 rows may use it.
      {"all-nines office in 第2表",
       [] {
         Builder b("K1");
         return b.scenario({b.set("UP2KYO", 0, 17, "9999999999", codes::kFieldSpecialValue)});
       }},
      // An office column that names the sender: the value is also not the sender (as with a bad
      // check digit, both findings).
      {"all-nines office as 第1表 updating office",
       [] {
         Builder b("K1");
         auto e = b.set("UP1KYO", 0, 27, "9999999999", codes::kFieldSpecialValue);
         Expected row = e;
         row.code = codes::kRowOffice;
         return b.scenario({e, row});
       }},
      // 000000 passes the insurer check digit (all weights times zero).
      {"insurer 000000", [] { return field_fault(2, "000000", codes::kFieldSpecialValue); }},
      {"insured 9999999999",
       [] { return field_fault(3, "9999999999", codes::kFieldSpecialValue); }},
      {"grand-total service code in 第6表",
       [] { return field_fault(15, "999999", codes::kFieldSpecialValue); }},
      {"service date 99999999",
       [] { return field_fault(10, "99999999", codes::kFieldSpecialValue); }},
      {"document date 00000000",
       [] { return field_fault(4, "00000000", codes::kFieldSpecialValue); }},
      // Only UPHOSOKU no.63 may carry 000000: one finding, not also a month mismatch.
      {"month 000000 in 第6表", [] { return field_fault(5, "000000", codes::kFieldSpecialValue); }},
      {"00000000 in 第7表 document date",
       [] {
         Builder b("K2");
         return b.scenario({b.set("UPSIKYU", 0, 4, "00000000", codes::kFieldSpecialValue)});
       }},
      {"all-nines office on a 第7表 row that is not the grand total",
       [] {
         Builder b("K2");
         const auto records = parse_records(b.file("UPSIKYU").bytes);
         std::size_t index = 0;
         while (records[index].fields[8].value == "999999" ||
                records[index].fields[8].value.ends_with("AAAA"))
           ++index;
         return b.scenario({b.set("UPSIKYU", index, 7, "9999999999", codes::kFieldSpecialValue)});
       }},
      {"service date in the next month",
       [] {
         Builder b("K5");
         const std::string month = name_month(b.file("UPJSK").name);
         const std::string next = month.substr(4) == "12"
                                      ? std::to_string(std::stoi(month.substr(0, 4)) + 1) + "01"
                                      : std::to_string(std::stoi(month) + 1);
         return b.scenario({b.set("UPJSK", 1, 10, next + "01", codes::kRowMonth)});
       }},
      {"service date in the previous year",
       [] {
         Builder b("K5");
         const std::string month = name_month(b.file("UPJSK").name);
         const std::string last_year = std::to_string(std::stoi(month.substr(0, 4)) - 1);
         return b.scenario(
             {b.set("UPJSK", 0, 10, last_year + month.substr(4) + "15", codes::kRowMonth)});
       }},
      {"planned service date outside the month (第6表 with 第7表)",
       [] {
         UnitParams params;
         params.service_month = "202506";
         Builder b("K2", params);
         return b.scenario({b.set("UPPLAN", 0, 10, "20250531", codes::kRowMonth)});
       }},
      {"pro-rata flag on day 31 of a 30-day month",
       [] {
         UnitParams params;
         params.service_month = "202506";
         Builder b("K5", params);
         return b.scenario({b.set("UPJSK", 0, 11, std::string(30, '0') + "1", codes::kRowMonth)});
       }},
      {"pro-rata flag on day 29 of February 2026",
       [] {
         UnitParams params;
         params.service_month = "202602";
         Builder b("K5", params);
         return b.scenario({b.set("UPJSK", 0, 11, std::string(28, '0') + "100", codes::kRowMonth)});
       }},
      {"pro-rata flags up to day 30 of a 30-day month accepted",
       [] {
         UnitParams params;
         params.service_month = "202506";
         Builder b("K5", params);
         b.set("UPJSK", 0, 11, std::string(30, '1') + "0", "");
         return b.scenario({});
       }},
      {"day 29 of February 2028 (leap year) accepted",
       [] {
         UnitParams params;
         params.service_month = "202802";
         Builder b("K5", params);
         b.set("UPJSK", 0, 10, "20280229", "");
         b.set("UPJSK", 0, 11, std::string(28, '0') + "100", "");
         return b.scenario({});
       }},
      // 第7表 subtotal (<type>AAAA/EEEE/ZZZZ) and grand-total (999999) rows: 単位数 0, 割引後率 and
      // 割引後単位数 empty (layouts.json total_rows / on_total_rows).
      {"第7表 grand total with units",
       [] {
         Builder b("K2");
         const auto records = parse_records(b.file("UPSIKYU").bytes);
         std::size_t index = 0;
         while (records[index].fields[8].value != "999999") ++index;
         return b.scenario({b.set("UPSIKYU", index, 13, "120", codes::kFieldSpecialValue)});
       }},
      {"第7表 grand total with a discount",
       [] {
         Builder b("K2");
         const auto records = parse_records(b.file("UPSIKYU").bytes);
         std::size_t index = 0;
         while (records[index].fields[8].value != "999999") ++index;
         return b.scenario({b.set("UPSIKYU", index, 14, "90", codes::kFieldSpecialValue),
                            b.set("UPSIKYU", index, 15, "100", codes::kFieldSpecialValue)});
       }},
      {"第7表 subtotal row with discounted units",
       [] {
         UnitParams params;
         params.providers = 5;
         Builder b("K2", params);
         const auto records = parse_records(b.file("UPSIKYU").bytes);
         std::size_t index = 0;
         while (index < records.size() && !records[index].fields[8].value.ends_with("AAAA"))
           ++index;
         BOOST_TEST_REQUIRE(index < records.size(), "no subtotal row in the generated 第7表");
         return b.scenario({b.set("UPSIKYU", index, 15, "100", codes::kFieldSpecialValue)});
       }},
      {"第7表 planned days beyond a 30-day month",
       [] {
         UnitParams params;
         params.service_month = "202506";
         Builder b("K2", params);
         return b.scenario({b.set("UPSIKYU", 0, 31, "31", codes::kRowMonth)});
       }},
      {"第7表 planned days of a whole 31-day month accepted",
       [] {
         UnitParams params;
         params.service_month = "202507";
         Builder b("K2", params);
         b.set("UPSIKYU", 0, 31, "31", "");
         return b.scenario({});
       }},
      {"delete month differs from the name",
       [] {
         Builder b("K6");
         const std::string month = name_month(b.file("DLTJSK").name);
         const std::string other =
             std::to_string(std::stoi(month.substr(0, 4)) + 1) + month.substr(4);
         return b.scenario({b.set("DLTJSK", 0, 4, other, codes::kRowMonth)});
       }},
  };
}

// --- Issue 20: a name problem shared by the files of a unit is reported on each of them --------

std::vector<std::pair<std::string, CaseFn>> shared_name_cases() {
  const auto rename_recipient_type = [](Builder& b, const std::string& type) {
    const auto p = parts_of(b.unit().files[0].name);
    b.rename_all(
        [&](std::string n) { return replace_once(n, p.to + "_" + p.to_type, p.to + "_" + type); });
  };
  const auto on_every_file = [](Builder& b, std::string_view code) {
    Scenario s = b.scenario({});
    for (const auto& f : s.files) s.errors.insert({std::string(code), f.name, 0, 0});
    return s;
  };
  return {
      {"unknown recipient type on every file of a K2 unit",
       [=] {
         Builder b("K2");
         rename_recipient_type(b, "99");
         return on_every_file(b, codes::kNameServiceType);
       }},
      {"out-of-scope recipient type on every file, the attachment too",
       [=] {
         UnitParams params;
         params.with_attachment = true;
         Builder b("K1", params);
         rename_recipient_type(b, "33");
         return on_every_file(b, codes::kNameServiceType);
       }},
      {"care-manager recipient of a K2 unit on every file",
       [=] {
         Builder b("K2");
         rename_recipient_type(b, "43");
         return on_every_file(b, codes::kNameDirection);
       }},
  };
}

void run_all(const std::vector<std::pair<std::string, CaseFn>>& cases) {
  for (const auto& [name, fn] : cases) check(name, fn());
}

}  // namespace

BOOST_AUTO_TEST_SUITE(invalid_units)

BOOST_AUTO_TEST_CASE(the_generator_units_are_valid) {
  // The base of every case below: each combination as generated passes with no error.
  UnitGenerator gen(4242);
  for (const auto& id : combination_ids())
    check("valid " + id, Scenario{gen.make(id).files, {}, {}, {}});
}

BOOST_AUTO_TEST_CASE(field_faults) {
  run_all(field_cases());
}
BOOST_AUTO_TEST_CASE(syntax_faults) {
  run_all(syntax_cases());
}
BOOST_AUTO_TEST_CASE(name_faults) {
  run_all(name_cases());
}
BOOST_AUTO_TEST_CASE(unit_faults) {
  run_all(unit_cases());
}
BOOST_AUTO_TEST_CASE(link_faults) {
  run_all(link_cases());
}
BOOST_AUTO_TEST_CASE(special_value_and_month_faults) {
  run_all(special_and_month_cases());
}
BOOST_AUTO_TEST_CASE(shared_name_faults) {
  run_all(shared_name_cases());
}

// Unit-level and link findings name the files they concern in structured fields.
BOOST_AUTO_TEST_CASE(findings_name_their_files) {
  const auto only = [](const mapping::InspectReport& report, std::string_view code) {
    std::vector<mapping::Finding> out;
    for (const auto& u : report.units) {
      for (const auto& f : u.findings) {
        if (f.code == code) out.push_back(f);
      }
    }
    BOOST_TEST_REQUIRE(out.size() == 1u, code);
    return out.front();
  };
  const auto run = [](const std::vector<GeneratedFile>& files) {
    std::vector<mapping::InputFile> inputs;
    for (const auto& f : files) inputs.push_back({f.name, f.bytes, f.bytes.size()});
    return mapping::inspect(inputs);
  };
  {  // UNIT_INCOMPLETE: the name the missing file should have.
    Builder b("K2");
    const std::string sikyu = b.file("UPSIKYU").name;
    b.remove("UPSIKYU");
    const auto f = only(run(b.unit().files), codes::kUnitIncomplete);
    BOOST_TEST(f.missing_file == sikyu);
    BOOST_TEST(f.file.empty());
  }
  {  // UNIT_NO_CARE_PLAN_FILE: the files it saw.
    Builder b("K3");
    const std::vector<GeneratedFile> files{attachment_for(b.unit(), "scan", "pdf", kPdf),
                                           attachment_for(b.unit(), "memo", "txt", "連絡事項\n")};
    const auto f = only(run(files), codes::kUnitNoCarePlanFile);
    std::vector<std::string> want{files[0].name, files[1].name};
    std::sort(want.begin(), want.end());
    BOOST_TEST(f.files == want, boost::test_tools::per_element());
  }
  {  // LINK_MISSING: the record's file and the file where the match is missing; LINK_ORPHAN the
     // file without the parent record.
    Builder b("K1");
    auto& up2 = b.file("UP2KYO");
    edit_records(up2, [](auto& records) {
      const auto users = users_of(records);
      for (auto it = users[0].rbegin(); it != users[0].rend(); ++it)
        records.erase(records.begin() + static_cast<std::ptrdiff_t>(*it));
    });
    const auto missing = only(run(b.unit().files), codes::kLinkMissing);
    BOOST_TEST(missing.file == b.file("UP1KYO").name);
    BOOST_TEST(missing.related_file == b.file("UP2KYO").name);
    Builder o("K1");
    const auto e = o.set("UPHOSOKU", 0, 4, "20000101", "");
    const auto orphan = only(run(o.unit().files), codes::kLinkOrphan);
    BOOST_TEST(orphan.file == e.file);
    BOOST_TEST(orphan.related_file == o.file("UP1KYO").name);
  }
}

BOOST_AUTO_TEST_CASE(there_are_at_least_80_cases) {
  const std::size_t n = field_cases().size() + syntax_cases().size() + name_cases().size() +
                        unit_cases().size() + link_cases().size() +
                        special_and_month_cases().size() + shared_name_cases().size();
  BOOST_TEST(n >= 80u);
}

BOOST_AUTO_TEST_SUITE_END()
