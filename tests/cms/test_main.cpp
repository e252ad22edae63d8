// Test runner for the CMS library, the PKI loader, deploy/pki.sh and `kakehashi verify`.
#define BOOST_TEST_DYN_LINK
#define BOOST_TEST_MODULE kakehashi_cms
#include <boost/test/unit_test.hpp>
