// The small pattern matcher agrees with std::regex (ECMAScript) on every pattern of the layouts,
// over hand-picked edge cases and a deterministic random corpus.

#include <boost/test/unit_test.hpp>

#include <regex>
#include <set>

#include "mapping/careplan/layout.hpp"
#include "mapping/careplan/pattern.hpp"

using namespace kakehashi::mapping;

namespace {

std::set<std::string> layout_patterns() {
  std::set<std::string> out;
  const auto& std_ = CarePlanStandard::get();
  for (std::size_t k = 0; k < kCsvKindCount; ++k) {
    for (const auto& f : std_.layout(static_cast<FileKind>(k)).fields) {
      if (f.pattern) out.insert(f.pattern->source());
    }
  }
  return out;
}

}  // namespace

BOOST_AUTO_TEST_CASE(every_layout_pattern_matches_like_std_regex) {
  const auto patterns = layout_patterns();
  BOOST_TEST(patterns.size() >= 10u);
  std::vector<std::string> corpus{"",          "0",          "9999",       "2400",      "2459",
                                  "2500",      "0000",       "1a00",       "123-4567",  "1234567",
                                  "10.84",     "1.00",       "100.00",     "-120",      "--1",
                                  "202407",    "1370100016", "27A1500013", "27I1500013", "H123456789",
                                  "1111111111111111111111111111111", "0101", "12", "1", "AB", "a"};
  std::uint64_t x = 88172645463325252ull;
  const std::string alphabet = "0123456789AHIZa.-:";
  for (int i = 0; i < 4000; ++i) {
    x ^= x << 13, x ^= x >> 7, x ^= x << 17;
    std::string s;
    const std::size_t len = x % 12;
    for (std::size_t j = 0; j < len; ++j) {
      x ^= x << 13, x ^= x >> 7, x ^= x << 17;
      s += alphabet[x % alphabet.size()];
    }
    corpus.push_back(s);
  }
  for (const auto& source : patterns) {
    const auto p = Pattern::compile(source);
    BOOST_TEST_REQUIRE(p.has_value(), source);
    const std::regex re(source, std::regex::ECMAScript);
    for (const auto& s : corpus) {
      BOOST_TEST(p->matches(s) == std::regex_match(s, re), source << " on '" << s << "'");
    }
  }
}

BOOST_AUTO_TEST_CASE(unsupported_syntax_is_refused) {
  for (const char* bad : {"[0-9]+", "^(a)$", "^a.b$", "^[0-9$", "^a{2,1}$", "^(?:a$", "^\\d$x"})
    BOOST_TEST(!Pattern::compile(bad).has_value(), bad);
}

BOOST_AUTO_TEST_CASE(groups_alternation_and_quantifiers) {
  const auto p = Pattern::compile("^(?:ab|c)+(?:x)?[0-9]{2,3}$");
  BOOST_TEST_REQUIRE(p.has_value());
  for (const char* ok : {"ab12", "cab123", "abcx99"}) BOOST_TEST(p->matches(ok), ok);
  for (const char* no : {"12", "ab1", "ab1234", "abx", "xab12"}) BOOST_TEST(!p->matches(no), no);
}
