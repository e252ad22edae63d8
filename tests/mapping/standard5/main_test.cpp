#define BOOST_TEST_MODULE kakehashi_standard5
#include <boost/test/unit_test.hpp>
