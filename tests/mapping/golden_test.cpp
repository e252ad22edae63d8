// Golden tests: the bundled sample units are exactly what the deterministic generator writes,
// and every valid unit the generator makes, of every kind and in a large mix, is acceptable.

#include <boost/test/unit_test.hpp>

#include <filesystem>
#include <fstream>
#include <iterator>

#include "mapping/careplan/inspector.hpp"
#include "tests/careplan_gen/generator.hpp"

using namespace kakehashi;
namespace fs = std::filesystem;

namespace {

// The seed the bundled samples were written with: kakehashi_gen DIR --all --seed 2026.
constexpr std::uint64_t kSampleSeed = 2026;

std::string read_file(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

void expect_acceptable(const std::vector<testing::GeneratedUnit>& units, const std::string& what) {
  std::vector<mapping::InputFile> inputs;
  for (const auto& u : units) {
    for (const auto& f : u.files) inputs.push_back({f.name, f.bytes, f.bytes.size()});
  }
  const auto report = mapping::inspect(inputs);
  BOOST_TEST(report.units.size() == units.size(), what);
  for (const auto& u : report.units) {
    for (const auto& f : u.findings) {
      BOOST_TEST((f.severity != mapping::Severity::kError),
                 what << ": " << f.code << " " << f.file << ":" << f.line << " #" << f.field_no
                      << " " << f.message);
    }
    BOOST_TEST(u.combination != nullptr, what);
  }
}

}  // namespace

BOOST_AUTO_TEST_CASE(bundled_samples_are_the_generator_output) {
  const fs::path dir = fs::path(KAKEHASHI_SOURCE_DIR) / "tests/golden/samples/valid";
  testing::UnitGenerator gen(kSampleSeed);
  std::size_t expected_files = 0;
  for (const auto& unit : gen.one_of_each()) {
    for (const auto& f : unit.files) {
      ++expected_files;
      BOOST_TEST(read_file(dir / f.name) == f.bytes, f.name);
    }
  }
  std::size_t on_disk = 0;
  for (const auto& e : fs::directory_iterator(dir)) on_disk += e.is_regular_file() ? 1 : 0;
  BOOST_TEST(on_disk == expected_files);
}

BOOST_AUTO_TEST_CASE(every_combination_is_acceptable) {
  testing::UnitGenerator gen(kSampleSeed);
  expect_acceptable(gen.one_of_each(), "one of each");
}

BOOST_AUTO_TEST_CASE(combinations_with_every_option) {
  testing::UnitGenerator gen(7);
  std::vector<testing::GeneratedUnit> units;
  for (const auto& id : testing::combination_ids()) {
    for (int users : {1, 5}) {
      testing::UnitParams p;
      p.users = users;
      p.providers = users == 1 ? 1 : 5;
      p.with_attachment = true;
      p.attachment_kind = users == 1 ? testing::AttachmentKind::kTxt : testing::AttachmentKind::kPng;
      p.with_image = true;
      units.push_back(gen.make(id, p));
    }
  }
  expect_acceptable(units, "options");
}

BOOST_AUTO_TEST_CASE(a_month_end_mix_is_acceptable) {
  for (std::uint64_t seed : {1u, 2u, 3u}) {
    testing::UnitGenerator gen(seed);
    std::vector<testing::GeneratedUnit> units;
    for (int i = 0; i < 150; ++i) units.push_back(gen.make_mixed());
    expect_acceptable(units, "mix seed " + std::to_string(seed));
  }
}
