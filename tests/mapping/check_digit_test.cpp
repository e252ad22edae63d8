#include <boost/test/unit_test.hpp>

#include "mapping/careplan/check_digit.hpp"

using namespace kakehashi::mapping;

// The worked examples of shared/careplan/README.md and check_digits.py's self-test.
BOOST_AUTO_TEST_CASE(office_numbers_from_the_worked_examples) {
  BOOST_TEST(*office_check_digit("137010001") == 6);
  BOOST_TEST(*office_check_digit("27A150001") == 3);
  BOOST_TEST(*office_check_digit("27J150001") == 6);
  BOOST_TEST(*office_check_digit("999999999") == 9);
  for (const char* ok : {"1370100016", "27A1500013", "27J1500016", "9999999999"})
    BOOST_TEST(is_valid_office_number(ok), ok);
  for (const char* bad : {"0300000100", "0300000005", "1370100061", "13I0100016", "1A70100016",
                          "137010001", "137010001X", "27a1500013", "27O1500013", "27Q1500013"})
    BOOST_TEST(!is_valid_office_number(bad), bad);
}

BOOST_AUTO_TEST_CASE(insurer_numbers_from_the_worked_examples) {
  BOOST_TEST(*insurer_check_digit("43507") == 3);
  BOOST_TEST(*insurer_check_digit("13101") == 1);
  BOOST_TEST(*insurer_check_digit("01600") == 6);
  for (const char* ok : {"435073", "131011", "016006"}) BOOST_TEST(is_valid_insurer_number(ok), ok);
  for (const char* bad : {"435074", "131010", "13101", "13101A", "1310111"})
    BOOST_TEST(!is_valid_insurer_number(bad), bad);
}

BOOST_AUTO_TEST_CASE(letter_values_skip_i_o_q) {
  BOOST_TEST(*office_position_value('A') == 10);
  BOOST_TEST(*office_position_value('H') == 17);
  BOOST_TEST(*office_position_value('J') == 18);
  BOOST_TEST(*office_position_value('P') == 23);
  BOOST_TEST(*office_position_value('R') == 24);
  BOOST_TEST(*office_position_value('Z') == 32);
  BOOST_TEST(!office_position_value('I'));
  BOOST_TEST(!office_position_value('O'));
  BOOST_TEST(!office_position_value('Q'));
}
