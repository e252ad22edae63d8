// Test runner for the drop-folder adapter (adapters/folder).
#define BOOST_TEST_MODULE kakehashi_folder
#include <boost/test/unit_test.hpp>
