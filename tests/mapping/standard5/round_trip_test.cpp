// Lossless: every valid 4.1 unit (golden samples, the generator over many seeds) translates to
// 5.0 and back with every file byte-identical; non-canonical units come back with every record
// and field equal.

#include <boost/test/unit_test.hpp>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>

#include "tests/mapping/standard5/support.hpp"

using namespace kakehashi;
using namespace kakehashi::testing::standard5;
namespace fs = std::filesystem;

namespace {

std::string read_file(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

// The golden sample units, grouped by their 14-digit sequence.
std::vector<testing::GeneratedUnit> golden_units() {
  std::map<std::string, testing::GeneratedUnit> units;
  const fs::path dir = fs::path(KAKEHASHI_SOURCE_DIR) / "tests/golden/samples/valid";
  for (const auto& e : fs::directory_iterator(dir)) {
    if (!e.is_regular_file()) continue;
    const std::string name = e.path().filename().string();
    const auto parsed = mapping::parse_file_name(name);
    BOOST_TEST_REQUIRE(parsed.name.has_value(), name);
    auto& unit = units[parsed.name->sequence];
    unit.combination_id = parsed.name->sequence;
    unit.files.push_back({name, read_file(e.path())});
  }
  std::vector<testing::GeneratedUnit> out;
  for (auto& [seq, unit] : units) out.push_back(std::move(unit));
  return out;
}

std::size_t env_count(const char* name, std::size_t fallback) {
  const char* v = std::getenv(name);
  if (v == nullptr || *v == '\0') return fallback;
  return static_cast<std::size_t>(std::strtoull(v, nullptr, 10));
}

}  // namespace

BOOST_AUTO_TEST_CASE(golden_samples_round_trip_byte_identical) {
  const auto units = golden_units();
  BOOST_TEST(units.size() >= 15u);
  for (const auto& unit : units) round_trips(unit, "golden unit " + unit.combination_id);
  // tests/fuzz/make_seeds.sh sets this to write the documents as seeds of fuzz_standard5_json.
  if (const char* dir = std::getenv("KAKEHASHI_STANDARD5_DUMP_DIR")) {
    for (const auto& unit : units) {
      const auto v5 = mapping::standard5::to_v5(as_unit_files(unit));
      std::ofstream(fs::path(dir) / ("seed-" + unit.combination_id + ".json"), std::ios::binary)
          << v5.document.json;
    }
  }
}

// CI size by default; KAKEHASHI_STANDARD5_SEEDS=N runs N seeds (each one unit of every
// combination with random sizes, plus mixed month-end units).
BOOST_AUTO_TEST_CASE(generated_units_round_trip_byte_identical) {
  const std::size_t seeds = env_count("KAKEHASHI_STANDARD5_SEEDS", 60);
  const auto started = std::chrono::steady_clock::now();
  std::size_t units = 0;
  std::size_t failed = 0;
  for (std::uint64_t seed = 1; seed <= seeds; ++seed) {
    testing::UnitGenerator gen(seed * 7919);
    testing::SplitMix64 rng(seed);
    for (const auto& id : testing::combination_ids()) {
      testing::UnitParams p;
      p.users = rng.between(1, 4);
      p.providers = rng.between(1, 5);
      p.with_attachment = rng.percent(30);
      p.attachment_kind = static_cast<testing::AttachmentKind>(rng.below(3));
      p.with_kihon_subs = rng.percent(70);
      p.with_image = rng.percent(40);
      const auto unit = gen.make(id, p);
      // The inspector over the rendered files is exercised by the golden test; here it runs on
      // every tenth seed to keep the CI run short.
      if (!round_trips(unit, "seed " + std::to_string(seed) + " " + id, seed % 10 == 0)) ++failed;
      ++units;
    }
    const auto mixed = gen.make_mixed();
    if (!round_trips(mixed, "seed " + std::to_string(seed) + " mixed", false)) ++failed;
    ++units;
    if (failed > 5) break;
  }
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                      std::chrono::steady_clock::now() - started)
                      .count();
  BOOST_TEST_MESSAGE("standard5 round trip: " << units << " units in " << ms << " ms");
  BOOST_TEST(failed == 0u);
}

BOOST_AUTO_TEST_CASE(non_canonical_units_come_back_with_equal_records) {
  testing::UnitGenerator gen(42);
  auto unit = gen.make("K1");
  std::vector<testing::GeneratedFile> original = unit.files;
  for (auto& f : unit.files) {
    if (f.name.rfind("UP", 0) != 0) continue;
    auto records = testing::parse_records(f.bytes);
    for (auto& r : records) {
      r.fields[1].quoted = true;  // 保険者番号 quoted: allowed, not canonical
      for (auto& field : r.fields) {
        if (field.value.empty()) field.quoted = false;  // empty free text unquoted
      }
    }
    // LF between records (CRLF inside free text stays) and no line break after the last one.
    f.bytes.clear();
    for (const auto& r : records) {
      if (!f.bytes.empty()) f.bytes += '\n';
      std::string line = testing::serialize_records({r});
      line.resize(line.size() - 2);
      f.bytes += line;
    }
  }
  const auto files = as_unit_files(unit);
  const auto v5 = mapping::standard5::to_v5(files);
  BOOST_TEST_REQUIRE(v5.ok(), findings_text(v5.findings));
  const auto back = mapping::standard5::from_v5(v5.document.json);
  BOOST_TEST_REQUIRE(back.ok(), findings_text(back.findings));
  for (const auto& f : original) {
    const auto* r = rendered(back, f.name);
    BOOST_TEST_REQUIRE(r != nullptr, f.name);
    BOOST_TEST(same_records(r->bytes, f.bytes), f.name);
    BOOST_TEST(r->bytes == f.bytes, f.name << " comes back in canonical form");
  }
  for (const auto& f : unit.files) {
    const auto* r = rendered(back, f.name);
    BOOST_TEST_REQUIRE(r != nullptr, f.name);
    if (f.name.rfind("UP", 0) == 0) BOOST_TEST(r->bytes != f.bytes, f.name << " was edited");
  }
}

BOOST_AUTO_TEST_CASE(document_is_deterministic_and_keyed_by_the_model) {
  testing::UnitGenerator gen(7);
  const auto unit = gen.make("K2");
  const auto a = mapping::standard5::to_v5(as_unit_files(unit));
  const auto b = mapping::standard5::to_v5(as_unit_files(unit));
  BOOST_TEST_REQUIRE(a.ok());
  BOOST_TEST(a.document.json == b.document.json);
  BOOST_TEST(a.document.kinds.size() == 3u);
  BOOST_TEST(a.document.json.find("\"帳票\":{\"利用者補足情報\"") != std::string::npos);
  BOOST_TEST(a.document.json.find("\"サービス利用票第6表予定\"") != std::string::npos);
  BOOST_TEST(a.document.json.find("\"プラン担当者名\"") != std::string::npos);
  BOOST_TEST(a.document.json.find("\"仕様バージョン\":\"5.0\"") != std::string::npos);
}

// Where the time goes (printed with --log_level=message; no assertion on speed): translation of
// a month-end mix, each direction on its own, with and without the inspector on the way back.
BOOST_AUTO_TEST_CASE(translation_speed_is_reported) {
  testing::UnitGenerator gen(2027);
  std::vector<testing::GeneratedUnit> units;
  std::size_t bytes = 0;
  const std::size_t count = env_count("KAKEHASHI_STANDARD5_SPEED_UNITS", 40);
  for (std::size_t i = 0; i < count; ++i) {
    units.push_back(gen.make_mixed());
    for (const auto& f : units.back().files) bytes += f.bytes.size();
  }
  using Clock = std::chrono::steady_clock;
  const auto us = [](Clock::duration d) {
    return std::chrono::duration_cast<std::chrono::microseconds>(d).count();
  };
  std::vector<std::string> docs;
  const auto t0 = Clock::now();
  for (const auto& u : units)
    docs.push_back(mapping::standard5::to_v5(as_unit_files(u)).document.json);
  const auto t1 = Clock::now();
  mapping::standard5::FromV5Options fast;
  fast.inspect_output = false;
  std::size_t ok = 0;
  for (const auto& d : docs) ok += mapping::standard5::from_v5(d, fast).ok() ? 1 : 0;
  const auto t2 = Clock::now();
  for (const auto& d : docs) ok += mapping::standard5::from_v5(d).ok() ? 1 : 0;
  const auto t3 = Clock::now();
  BOOST_TEST(ok == 2 * units.size());
  BOOST_TEST_MESSAGE("standard5 speed: " << units.size() << " units, " << bytes
                                         << " bytes of 4.1; to_v5 " << us(t1 - t0)
                                         << " us; from_v5 " << us(t2 - t1)
                                         << " us; from_v5 with inspector " << us(t3 - t2) << " us");
}
