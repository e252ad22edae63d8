#pragma once
// Test support for the 4.1 ⇄ 5.0 translation: units from the generator as translator input, and
// a record-by-record comparison of 4.1 files that does not use the code under test.

#include <string>
#include <vector>

#include <boost/test/unit_test.hpp>

#include "mapping/standard5/translate.hpp"
#include "tests/careplan_gen/generator.hpp"
#include "tests/mapping/unit_edit.hpp"

namespace kakehashi::testing::standard5 {

namespace s5 = kakehashi::mapping::standard5;

inline std::vector<s5::UnitFile> as_unit_files(const GeneratedUnit& unit) {
  std::vector<s5::UnitFile> files;
  for (const auto& f : unit.files) files.push_back({f.name, f.bytes});
  return files;
}

inline std::string findings_text(const s5::Findings& findings) {
  std::string s;
  for (const auto& f : findings) s += s5::describe(f) + "\n";
  return s;
}

inline const s5::Finding* find_code(const s5::Findings& findings, std::string_view code) {
  for (const auto& f : findings) {
    if (f.code == code) return &f;
  }
  return nullptr;
}

// The rendered file with this name, or nullptr.
inline const s5::RenderedFile* rendered(const s5::FromV5Result& r, const std::string& name) {
  for (const auto& f : r.files) {
    if (f.name == name) return &f;
  }
  return nullptr;
}

// Records and fields equal (values, not quoting or line endings).
inline bool same_records(const std::string& a, const std::string& b) {
  const auto ra = parse_records(a);
  const auto rb = parse_records(b);
  if (ra.size() != rb.size()) return false;
  for (std::size_t i = 0; i < ra.size(); ++i) {
    if (ra[i].fields.size() != rb[i].fields.size()) return false;
    for (std::size_t k = 0; k < ra[i].fields.size(); ++k) {
      if (ra[i].fields[k].value != rb[i].fields[k].value) return false;
    }
  }
  return true;
}

// to_v5 then from_v5; every file comes back byte-identical (the generator writes canonical
// form). Returns false (with test failures) otherwise.
inline bool round_trips(const GeneratedUnit& unit, const std::string& what,
                        bool inspect_output = true) {
  const auto files = as_unit_files(unit);
  const auto v5 = s5::to_v5(files);
  BOOST_TEST_REQUIRE(v5.ok(), what << ": " << findings_text(v5.findings));
  const auto schema = s5::validate_v5(v5.document.json);
  BOOST_TEST_REQUIRE(schema.empty(), what << ": " << findings_text(schema));
  s5::FromV5Options options;
  options.inspect_output = inspect_output;
  const auto back = s5::from_v5(v5.document.json, options);
  BOOST_TEST_REQUIRE(back.ok(), what << ": " << findings_text(back.findings));
  bool ok = back.files.size() == unit.files.size();
  BOOST_TEST(back.files.size() == unit.files.size(), what);
  for (const auto& f : unit.files) {
    const auto* r = rendered(back, f.name);
    if (r == nullptr) {
      BOOST_ERROR(what << ": " << f.name << " did not come back");
      ok = false;
      continue;
    }
    if (r->bytes != f.bytes) {
      BOOST_ERROR(what << ": " << f.name << " came back with other bytes"
                       << (same_records(r->bytes, f.bytes) ? " (records equal)" : ""));
      ok = false;
    }
  }
  BOOST_TEST(back.substitutions.empty(), what);
  return ok;
}

}  // namespace kakehashi::testing::standard5
