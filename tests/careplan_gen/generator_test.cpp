// Self-test of the send-unit generator: determinism, and that its output follows layouts.json
// (read here independently of the generator's own tables).

#define BOOST_TEST_MODULE kakehashi_careplan_gen_test
#define BOOST_TEST_DYN_LINK
#include <boost/test/unit_test.hpp>

#include <Poco/JSON/Array.h>
#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>
#include <Poco/TextConverter.h>
#include <Poco/UTF8Encoding.h>
#include <Poco/Windows932Encoding.h>

#include <fstream>
#include <map>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "tests/careplan_gen/generator.hpp"

namespace {

using kakehashi::testing::GeneratedUnit;
using kakehashi::testing::UnitGenerator;

struct FieldSpec {
  int no = 0;
  std::string kind;
  int max_length = -1;  // -1 = unlimited
  bool required = false;
  bool free_text = false;
  std::string pattern;
  std::set<std::string> codes;
};

struct Standard {
  std::map<std::string, std::vector<FieldSpec>> kinds;
  std::map<std::string, std::vector<std::string>> unit_files;  // combination id -> prefixes
  std::regex name_without_month;
  std::regex name_with_month;
  std::regex name_image;
};

const Standard& standard() {
  static const Standard kStandard = [] {
    std::ifstream in(KAKEHASHI_LAYOUTS_JSON);
    BOOST_REQUIRE(in);
    Poco::JSON::Parser parser;
    const auto root = parser.parse(in).extract<Poco::JSON::Object::Ptr>();
    Standard s;
    const auto kinds = root->getObject("file_kinds");
    for (const auto& name : kinds->getNames()) {
      const auto fields = kinds->getObject(name)->getArray("fields");
      auto& specs = s.kinds[name];
      for (std::size_t i = 0; i < fields->size(); ++i) {
        const auto f = fields->getObject(static_cast<unsigned>(i));
        FieldSpec spec;
        spec.no = f->getValue<int>("no");
        spec.kind = f->getValue<std::string>("kind");
        if (!f->isNull("max_length")) spec.max_length = f->getValue<int>("max_length");
        spec.required = !f->isNull("required") && f->getValue<bool>("required");
        spec.free_text = f->getValue<bool>("free_text");
        if (f->has("pattern")) spec.pattern = f->getValue<std::string>("pattern");
        if (f->has("codes")) {
          for (const auto& code : f->getObject("codes")->getNames()) spec.codes.insert(code);
        }
        specs.push_back(spec);
      }
    }
    const auto units = root->getObject("send_units");
    for (const auto& group : units->getNames()) {
      if (!units->isArray(group)) continue;
      const auto list = units->getArray(group);
      for (std::size_t i = 0; i < list->size(); ++i) {
        const auto unit = list->getObject(static_cast<unsigned>(i));
        const auto files = unit->getArray("files");
        auto& prefixes = s.unit_files[unit->getValue<std::string>("id")];
        for (std::size_t j = 0; j < files->size(); ++j) {
          prefixes.push_back(files->getElement<std::string>(static_cast<unsigned>(j)));
        }
      }
    }
    const auto v41 = root->getObject("file_name")->getObject("v4_1");
    s.name_without_month = std::regex(v41->getValue<std::string>("regex_without_month"));
    s.name_with_month = std::regex(v41->getValue<std::string>("regex_with_month"));
    s.name_image = std::regex(v41->getValue<std::string>("regex_image"));
    return s;
  }();
  return kStandard;
}

struct Field {
  std::string value;
  bool quoted = false;
};
using Row = std::vector<Field>;

// RFC 4180 with CRLF record ends; fails the test on a bare CR or LF outside quotes.
std::vector<Row> parse_csv(const std::string& text) {
  std::vector<Row> rows;
  Row row;
  Field field;
  bool in_quotes = false;
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (in_quotes) {
      if (c == '"') {
        if (i + 1 < text.size() && text[i + 1] == '"') {
          field.value += '"';
          ++i;
        } else {
          in_quotes = false;
        }
      } else {
        field.value += c;
      }
    } else if (c == '"') {
      BOOST_REQUIRE_MESSAGE(field.value.empty(), "quote inside an unquoted field");
      in_quotes = field.quoted = true;
    } else if (c == ',') {
      row.push_back(field);
      field = {};
    } else if (c == '\r') {
      BOOST_REQUIRE_MESSAGE(i + 1 < text.size() && text[i + 1] == '\n', "bare CR");
      ++i;
      row.push_back(field);
      rows.push_back(row);
      row.clear();
      field = {};
    } else {
      BOOST_REQUIRE_MESSAGE(c != '\n', "bare LF outside quotes");
      field.value += c;
    }
  }
  BOOST_REQUIRE_MESSAGE(!in_quotes && row.empty() && field.value.empty(), "file must end in CRLF");
  return rows;
}

std::string from_ms932(const std::string& bytes) {
  Poco::Windows932Encoding from;
  Poco::UTF8Encoding to;
  Poco::TextConverter converter(from, to);
  std::string out;
  BOOST_REQUIRE_EQUAL(converter.convert(bytes, out), 0);
  return out;
}

int utf8_chars(const std::string& s) {
  int n = 0;
  for (unsigned char c : s) n += (c & 0xC0) != 0x80 ? 1 : 0;
  return n;
}

bool valid_office(const std::string& v) {
  return v.size() == 10 && kakehashi::testing::office_check_digit(v.substr(0, 9)) == v[9];
}

bool real_date(const std::string& v) {
  if (v.size() != 8) return false;
  const int y = std::stoi(v.substr(0, 4));
  const int m = std::stoi(v.substr(4, 2));
  const int d = std::stoi(v.substr(6, 2));
  static constexpr int kDays[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  if (y < 1900 || m < 1 || m > 12 || d < 1 || d > kDays[m - 1]) return false;
  return m != 2 || d < 29 || (y % 4 == 0 && (y % 100 != 0 || y % 400 == 0));
}

struct NameParts {
  std::string prefix, month, from, from_type, to, to_type, sequence;
};

NameParts split_name(const std::string& name) {
  const Standard& s = standard();
  std::smatch m;
  NameParts p;
  if (std::regex_match(name, m, s.name_with_month)) {
    p = {m[1], m[2], m[3], m[4], m[5], m[6], m[7]};
  } else if (std::regex_match(name, m, s.name_without_month)) {
    p = {m[1], "", m[2], m[3], m[4], m[5], m[6]};
  } else if (std::regex_match(name, m, s.name_image)) {
    p = {"UPKIHON_IMAGE", "", m[1], m[2], m[3], m[4], m[5]};
  } else {
    // Attachment: <label>_<from>_<ft>_<to>_<tt>_<seq>.<ext>
    static const std::regex kAttachment(
        "^[A-Za-z0-9]+_([0-9A-Z]{10})_([0-9A-Z]{2})_([0-9A-Z]{10})_([0-9A-Z]{2})_([0-9]{14})\\."
        "(pdf|png|txt)$");
    BOOST_REQUIRE_MESSAGE(std::regex_match(name, m, kAttachment), "unmatched name " << name);
    p = {"attachment." + std::string(m[6]), "", m[1], m[2], m[3], m[4], m[5]};
  }
  return p;
}

const std::regex& cached_regex(const std::string& pattern) {
  static std::map<std::string, std::regex> cache;
  auto it = cache.find(pattern);
  if (it == cache.end()) it = cache.emplace(pattern, std::regex(pattern)).first;
  return it->second;
}

// Columns tied to the file name: the month, and the sender's office number.
void check_against_name(const NameParts& parts, const std::vector<Row>& rows) {
  static const std::map<std::string, std::vector<int>> kMonthField{
      {"UPPLAN", {5}},    {"UPJSK", {5}},   {"UPSIKYU", {5}},
      {"UPHOSOKU", {63}}, {"DLTPLAN", {4}}, {"DLTJSK", {4}}};
  static const std::map<std::string, std::vector<int>> kFromField{
      {"UPHOSOKU", {60, 61}}, {"UP1KYO", {13, 27}}, {"UP2KYO", {21}}, {"UPPLAN", {6, 24}},
      {"UPSIKYU", {35, 36}},  {"UPJSK", {20, 24}},  {"DLTJSK", {5}}};
  auto field = [](const Row& row, int no) { return row[static_cast<std::size_t>(no - 1)].value; };
  std::set<std::string> users;
  std::set<std::string> users_with_recipient;
  for (const Row& row : rows) {
    if (auto it = kMonthField.find(parts.prefix); it != kMonthField.end()) {
      for (int no : it->second) BOOST_CHECK_EQUAL(field(row, no), parts.month);
    }
    if (auto it = kFromField.find(parts.prefix); it != kFromField.end()) {
      for (int no : it->second) {
        if (!field(row, no).empty()) BOOST_CHECK_EQUAL(field(row, no), parts.from);
      }
    }
    if (parts.prefix == "UPJSK") BOOST_CHECK_EQUAL(field(row, 6), parts.to);
    if (parts.prefix == "DLTJSK") BOOST_CHECK_EQUAL(field(row, 6), parts.from_type);
    if (parts.prefix == "UPHOSOKU") {
      BOOST_CHECK_EQUAL(field(row, 4) == "00000000", parts.month != "000000");
    }
    if (parts.prefix == "UPPLAN") {
      users.insert(field(row, 2) + field(row, 3));
      if (field(row, 20) == parts.to) users_with_recipient.insert(field(row, 2) + field(row, 3));
    }
    if (parts.prefix == "UPSIKYU" && field(row, 9) == "999999") {
      BOOST_CHECK_EQUAL(field(row, 7), "9999999999");
    }
  }
  BOOST_CHECK_MESSAGE(users == users_with_recipient, "every UPPLAN user concerns the recipient");
}

// Every check a receiver's validator makes on one CSV file, field by field.
void check_csv(const std::string& name, const std::string& bytes) {
  const NameParts parts = split_name(name);
  const auto& specs = standard().kinds.at(parts.prefix);
  const auto rows = parse_csv(from_ms932(bytes));
  BOOST_REQUIRE_MESSAGE(!rows.empty(), name << " has no records");
  check_against_name(parts, rows);
  for (std::size_t r = 0; r < rows.size(); ++r) {
    const Row& row = rows[r];
    BOOST_REQUIRE_MESSAGE(row.size() == specs.size(),
                          name << " record " << r + 1 << " has " << row.size() << " fields");
    BOOST_CHECK_EQUAL(row[0].value, "202407");
    for (const FieldSpec& spec : specs) {
      const Field& f = row[static_cast<std::size_t>(spec.no - 1)];
      const std::string where = name + " record " + std::to_string(r + 1) + " no." +
                                std::to_string(spec.no) + " '" + f.value + "'";
      BOOST_CHECK_MESSAGE(f.quoted == spec.free_text, where << ": quoting");
      if (spec.required) BOOST_CHECK_MESSAGE(!f.value.empty(), where << ": required");
      if (f.value.empty()) continue;
      if (spec.max_length >= 0) {
        BOOST_CHECK_MESSAGE(utf8_chars(f.value) <= spec.max_length, where << ": too long");
      }
      if (!spec.pattern.empty()) {
        BOOST_CHECK_MESSAGE(std::regex_match(f.value, cached_regex(spec.pattern)),
                            where << ": pattern");
      }
      if (!spec.codes.empty())
        BOOST_CHECK_MESSAGE(spec.codes.count(f.value) == 1, where << ": code");
      if (spec.kind == "date8" && f.value != "00000000") {
        BOOST_CHECK_MESSAGE(real_date(f.value), where << ": date");
      }
      if (spec.pattern == "^[0-9]{2}[0-9A-HJ-NPR-Z][0-9]{7}$") {
        BOOST_CHECK_MESSAGE(valid_office(f.value), where << ": office check digit");
      }
    }
  }
}

std::vector<GeneratedUnit> sample_units(std::uint64_t seed, int mixed) {
  UnitGenerator generator(seed);
  auto units = generator.one_of_each();
  for (int i = 0; i < mixed; ++i) units.push_back(generator.make_mixed());
  return units;
}

}  // namespace

BOOST_AUTO_TEST_CASE(same_seed_same_bytes) {
  const auto a = sample_units(42, 40);
  const auto b = sample_units(42, 40);
  BOOST_REQUIRE_EQUAL(a.size(), b.size());
  for (std::size_t i = 0; i < a.size(); ++i) {
    BOOST_REQUIRE_EQUAL(a[i].combination_id, b[i].combination_id);
    BOOST_REQUIRE_EQUAL(a[i].files.size(), b[i].files.size());
    for (std::size_t j = 0; j < a[i].files.size(); ++j) {
      BOOST_CHECK_EQUAL(a[i].files[j].name, b[i].files[j].name);
      BOOST_CHECK(a[i].files[j].bytes == b[i].files[j].bytes);
    }
  }
}

BOOST_AUTO_TEST_CASE(different_seeds_differ) {
  const auto a = sample_units(1, 0);
  const auto b = sample_units(2, 0);
  BOOST_REQUIRE_EQUAL(a.size(), b.size());
  for (std::size_t i = 0; i < a.size(); ++i) {
    BOOST_CHECK(a[i].files.front().bytes != b[i].files.front().bytes);
    BOOST_CHECK(a[i].files.front().name != b[i].files.front().name);
  }
}

BOOST_AUTO_TEST_CASE(check_digits_match_the_reference_examples) {
  using kakehashi::testing::insurer_check_digit;
  using kakehashi::testing::office_check_digit;
  BOOST_CHECK_EQUAL(office_check_digit("137010001"), '6');
  BOOST_CHECK_EQUAL(office_check_digit("27A150001"), '3');
  BOOST_CHECK_EQUAL(office_check_digit("27J150001"), '6');
  BOOST_CHECK_EQUAL(office_check_digit("999999999"), '9');
  BOOST_CHECK_EQUAL(insurer_check_digit("43507"), '3');
  BOOST_CHECK_EQUAL(insurer_check_digit("13101"), '1');
  BOOST_CHECK_EQUAL(insurer_check_digit("01600"), '6');
}

BOOST_AUTO_TEST_CASE(every_record_follows_its_layout) {
  for (std::uint64_t seed : {1ULL, 7ULL, 20250601ULL}) {
    for (const auto& unit : sample_units(seed, 60)) {
      for (const auto& file : unit.files) {
        if (file.name.ends_with(".CSV")) check_csv(file.name, file.bytes);
      }
    }
  }
}

BOOST_AUTO_TEST_CASE(every_combination_has_its_files) {
  const auto& expected = standard().unit_files;
  const auto units = sample_units(3, 0);
  BOOST_REQUIRE_EQUAL(units.size(), expected.size());
  std::string last_sequence;
  for (const auto& unit : units) {
    std::set<std::string> prefixes;
    std::set<std::string> segments;
    for (const auto& file : unit.files) {
      const NameParts p = split_name(file.name);
      if (p.prefix.rfind("attachment.", 0) != 0) prefixes.insert(p.prefix);
      segments.insert(p.from + p.from_type + p.to + p.to_type + p.sequence);
      BOOST_CHECK_MESSAGE(valid_office(p.from) && valid_office(p.to), file.name);
      if (p.prefix == "attachment.pdf") {
        BOOST_CHECK(file.bytes.starts_with("%PDF-1.") && file.bytes.ends_with("%%EOF"));
      }
      if (p.prefix == "UPKIHON_IMAGE") {
        BOOST_CHECK(file.bytes.starts_with("\xFF\xD8\xFF") && file.bytes.ends_with("\xFF\xD9"));
      }
      if (p.prefix == "attachment.png") BOOST_CHECK(file.bytes.starts_with("\x89PNG\r\n\x1A\n"));
      if (!last_sequence.empty()) BOOST_CHECK(p.sequence > last_sequence);
    }
    last_sequence = split_name(unit.files.front().name).sequence;
    const auto& want = expected.at(unit.combination_id);
    BOOST_CHECK_MESSAGE(prefixes == std::set<std::string>(want.begin(), want.end()),
                        unit.combination_id);
    BOOST_CHECK_MESSAGE(segments.size() == 1, unit.combination_id << ": one from/to/sequence");
  }
}

// Link keys: every key of a unit's files is present in each linked file.
BOOST_AUTO_TEST_CASE(link_keys_match_inside_units) {
  struct Link {
    std::string prefix;
    std::vector<int> keys;
  };
  const std::map<std::string, std::vector<Link>> kLinks{
      {"K1",
       {{"UP1KYO", {2, 3, 14}},
        {"UP2KYO", {2, 3, 5}},
        {"UP3KYO", {2, 3, 5}},
        {"UPHOSOKU", {2, 3, 4}}}},
      {"K2", {{"UPPLAN", {2, 3, 5}}, {"UPSIKYU", {2, 3, 5}}, {"UPHOSOKU", {2, 3, 63}}}},
      {"P4", {{"UPPLAN", {2, 3, 5}}, {"UPSIKYU", {2, 3, 5}}, {"UPHOSOKU", {2, 3, 63}}}},
      {"P1", {{"UPKIHON", {2, 3, 4}}, {"UPKIHON_SUB1", {2, 3, 4}}, {"UPKIHON_SUB2", {2, 3, 4}}}},
      {"P2", {{"UPYOBO", {2, 3, 4}}, {"UPYOBO_SUB", {2, 3, 4}}}},
      {"P3", {{"UPYOBO", {2, 3, 4}}, {"UPYOBO_SUB", {2, 3, 4}}}},
  };
  for (const auto& unit : sample_units(11, 0)) {
    const auto it = kLinks.find(unit.combination_id);
    if (it == kLinks.end()) continue;
    std::set<std::string> first;
    for (const Link& link : it->second) {
      std::set<std::string> keys;
      for (const auto& file : unit.files) {
        if (split_name(file.name).prefix != link.prefix) continue;
        for (const Row& row : parse_csv(from_ms932(file.bytes))) {
          std::string key;
          for (int no : link.keys) key += row[static_cast<std::size_t>(no - 1)].value + "|";
          keys.insert(key);
        }
      }
      BOOST_CHECK_MESSAGE(!keys.empty(), unit.combination_id << " " << link.prefix);
      if (first.empty()) {
        first = keys;
      } else {
        BOOST_CHECK_MESSAGE(keys == first, unit.combination_id << " " << link.prefix);
      }
    }
  }
}
