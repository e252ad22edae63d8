// The CSV reader against hand-written byte strings: quoting, line breaks, errors, line numbers.

#include <boost/test/unit_test.hpp>

#include "mapping/careplan/csv_reader.hpp"

using namespace kakehashi::mapping;

namespace {

struct Read {
  std::vector<CsvRecord> records;
  std::vector<CsvSyntaxError> errors;
  unsigned endings = 0;
};

Read read_all(std::string_view bytes) {
  CsvReader reader(bytes);
  Read out;
  CsvRecord r;
  CsvSyntaxError e;
  while (reader.next(r, e)) {
    if (e.line != 0) {
      out.errors.push_back(e);
    } else {
      // Copy values: they may point into the reader's scratch space.
      CsvRecord copy = r;
      out.records.push_back(copy);
    }
  }
  out.endings = reader.line_endings();
  return out;
}

}  // namespace

BOOST_AUTO_TEST_CASE(quoted_text_keeps_commas_breaks_and_quotes) {
  const std::string bytes = "1,\"a,b\",\"x\r\ny\",\"say \"\"hi\"\"\"\r\n2,,\"\",z\r\n";
  CsvReader reader(bytes);
  CsvRecord r;
  CsvSyntaxError e;
  BOOST_TEST_REQUIRE(reader.next(r, e));
  BOOST_TEST(e.line == 0u);
  BOOST_TEST(r.line == 1u);
  BOOST_TEST_REQUIRE(r.fields.size() == 4u);
  BOOST_TEST(r.fields[1].value == "a,b");
  BOOST_TEST(r.fields[2].value == "x\r\ny");
  BOOST_TEST(r.fields[3].value == "say \"hi\"");
  BOOST_TEST(r.fields[3].quoted);
  BOOST_TEST_REQUIRE(reader.next(r, e));
  BOOST_TEST(r.line == 3u);  // the quoted line break moved the next record down one line
  BOOST_TEST_REQUIRE(r.fields.size() == 4u);
  BOOST_TEST(r.fields[1].value.empty());
  BOOST_TEST(!r.fields[1].quoted);
  BOOST_TEST(r.fields[2].quoted);
  BOOST_TEST(!reader.next(r, e));
}

BOOST_AUTO_TEST_CASE(line_endings) {
  BOOST_TEST(read_all("a\r\nb\r\n").endings == static_cast<unsigned>(LineEnding::kCrLf));
  BOOST_TEST(read_all("a\nb\n").endings == static_cast<unsigned>(LineEnding::kLf));
  BOOST_TEST(read_all("a\nb\r\nc").records.size() == 3u);
  const auto no_final = read_all("a,b");
  BOOST_TEST(no_final.records.size() == 1u);
  BOOST_TEST(no_final.records[0].fields.size() == 2u);
}

BOOST_AUTO_TEST_CASE(errors_name_line_and_field_and_reading_goes_on) {
  const auto r = read_all("1,2\r\n3,x\"y,4\r\n5,6\r\n");
  BOOST_TEST_REQUIRE(r.errors.size() == 1u);
  BOOST_TEST(r.errors[0].line == 2u);
  BOOST_TEST(r.errors[0].field_no == 2u);
  BOOST_TEST(r.records.size() == 2u);  // records 1 and 3 survive
  BOOST_TEST(r.records.back().line == 3u);

  const auto after = read_all("\"ab\"c,d\r\nok\r\n");
  BOOST_TEST_REQUIRE(after.errors.size() == 1u);
  BOOST_TEST(after.errors[0].field_no == 1u);
  BOOST_TEST(after.records.size() == 1u);

  const auto open = read_all("1,2\r\n3,\"never closed\r\n4,5\r\n");
  BOOST_TEST_REQUIRE(open.errors.size() == 1u);
  BOOST_TEST(open.errors[0].line == 2u);
  BOOST_TEST(open.records.size() == 1u);
}

BOOST_AUTO_TEST_CASE(ms932_trail_bytes_are_not_structure) {
  // 0x5C (backslash) and 0x7C are valid trail bytes; neither is special to CSV.
  const std::string bytes = "\x95\x5C,\x83\x7C\r\n";
  const auto r = read_all(bytes);
  BOOST_TEST_REQUIRE(r.records.size() == 1u);
  BOOST_TEST(r.records[0].fields[0].value == "\x95\x5C");
}
