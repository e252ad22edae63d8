#define BOOST_TEST_MODULE kakehashi_mapping
#include <boost/test/unit_test.hpp>
