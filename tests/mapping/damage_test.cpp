// Damaged input never crashes the inspector and never hides the findings of other units: every
// file of every kind is cut, overwritten and stuffed with quotes and odd bytes, inspected beside an
// intact unit, and the intact unit must come out acceptable and untouched.

#include <boost/test/unit_test.hpp>

#include <algorithm>

#include "mapping/careplan/inspector.hpp"
#include "tests/careplan_gen/generator.hpp"

using namespace kakehashi;

namespace {

struct Rng {
  std::uint64_t x;
  std::uint64_t next() {
    x ^= x << 13, x ^= x >> 7, x ^= x << 17;
    return x;
  }
  std::size_t below(std::size_t n) { return n == 0 ? 0 : static_cast<std::size_t>(next() % n); }
};

std::string damage(std::string bytes, Rng& rng) {
  static const std::string kOdd[] = {"\"", ",", "\r", "\n", "\r\n", "\"\"", "\x81", "\xF0\x40",
                                     std::string(1, '\0'), "\xFF", "\x82\xA0"};
  switch (rng.below(5)) {
    case 0: return bytes.substr(0, rng.below(bytes.size() + 1));
    case 1:
      for (int i = 0; i < 8 && !bytes.empty(); ++i)
        bytes[rng.below(bytes.size())] = static_cast<char>(rng.next() & 0xFF);
      return bytes;
    case 2:
      for (int i = 0; i < 8; ++i) {
        const auto& odd = kOdd[rng.below(std::size(kOdd))];
        bytes.insert(rng.below(bytes.size() + 1), odd);
      }
      return bytes;
    case 3: {
      std::string junk(rng.below(4000), '\0');
      for (auto& c : junk) c = static_cast<char>(rng.next() & 0xFF);
      return junk;
    }
    default:
      return bytes + bytes.substr(0, rng.below(bytes.size() + 1));
  }
}

}  // namespace

BOOST_AUTO_TEST_CASE(damaged_files_do_not_disturb_other_units) {
  testing::UnitGenerator gen(99);
  const auto units = gen.one_of_each();
  const auto intact = gen.make("K2");
  std::vector<std::string> intact_names;
  for (const auto& file : intact.files) intact_names.push_back(file.name);
  std::sort(intact_names.begin(), intact_names.end());
  Rng rng{0x9E3779B97F4A7C15ull};
  std::size_t rounds = 0;
  for (const auto& unit : units) {
    for (std::size_t f = 0; f < unit.files.size(); ++f) {
      for (int round = 0; round < 10; ++round, ++rounds) {
        std::vector<std::string> contents;
        for (const auto& file : unit.files) contents.push_back(file.bytes);
        contents[f] = damage(contents[f], rng);
        std::vector<mapping::InputFile> inputs;
        for (std::size_t i = 0; i < unit.files.size(); ++i)
          inputs.push_back({unit.files[i].name, contents[i], contents[i].size()});
        for (const auto& file : intact.files) inputs.push_back({file.name, file.bytes, file.bytes.size()});

        const auto report = mapping::inspect(inputs);
        BOOST_TEST_REQUIRE(report.units.size() == 2u);
        bool found_intact = false;
        for (const auto& u : report.units) {
          if (u.files == intact_names) {
            found_intact = true;
            BOOST_TEST(u.findings.empty(), "intact unit disturbed by damage to " << unit.files[f].name);
          }
          for (const auto& finding : u.findings) {
            BOOST_TEST(!finding.code.empty());
            BOOST_TEST(!finding.message.empty());
          }
        }
        BOOST_TEST(found_intact);
      }
    }
  }
  BOOST_TEST(rounds > 300u);
}
