// Routing readiness with several networks (issue 22): a unit waits only for the directories its
// own route depends on: its source, its destination, and every network that has not answered and
// could still take the office from that destination (a better place in the preference, or an
// override); a refusal that an unanswered listing could change waits for every network.

#include <boost/test/unit_test.hpp>

#include <string>
#include <vector>

#include "gateway/engine/router.hpp"
#include "tests/registry/test_offices.hpp"

using namespace kakehashi;
using namespace kakehashi::gateway;
using kakehashi::testing::bad_office_no;
using kakehashi::testing::office_no;
namespace reg = kakehashi::mapping::registry;

namespace {

const std::vector<std::string> kNetworks = {"regional-a", "national", "regional-b"};
const std::string kOfficeA = office_no(101);         // a member of A
const std::string kOfficeNational = office_no(102);  // a national office
const std::string kOfficeB = office_no(103);         // a member of B
const std::string kOfficeBoth = office_no(104);      // national and (per B's stored listing) B

DirectoryEntry listed(const std::string& no, const std::string& type,
                      const std::string& status = "ACTIVE") {
  DirectoryEntry e;
  e.office = {no, type};
  e.name = "事業所 " + no;
  e.status = status;
  e.updated_at = "2025-04-01T00:00:00Z";
  return e;
}

// The preference A, national, B. A and the national network have answered; B has only the
// listing the store held at start (routable only once B answers).
struct BDown {
  engine::Router router{{"regional-a", "national", "regional-b"}};
  BDown() {
    router.update("regional-a", {listed(kOfficeA, "43")});
    router.update("national", {listed(kOfficeNational, "11"), listed(kOfficeBoth, "11"),
                               listed(office_no(105), "13", "CLOSED")});
    // What the store held for B: loaded into the registry, but B has not answered.
    router.with_registry([](reg::Registry& r) {
      reg::SourceEntry b;
      b.key = {kOfficeB, "11"};
      b.name = "B";
      reg::SourceEntry both = b;
      both.key = {kOfficeBoth, "11"};
      (void)r.replace("regional-b", {b, both});
    });
  }
  engine::Readiness ready(const std::string& no, const std::string& type,
                          const std::string& source) const {
    return router.ready_for({no, type}, source, kNetworks);
  }
};

}  // namespace

BOOST_AUTO_TEST_SUITE(routing_readiness)

BOOST_AUTO_TEST_CASE(every_network_answered_routes_everything) {
  BDown rig;
  rig.router.mark_loaded("regional-b");
  BOOST_TEST(rig.ready(kOfficeNational, "11", "regional-a").ready);
  BOOST_TEST(rig.ready(kOfficeB, "11", "regional-a").ready);
  BOOST_TEST(rig.ready(office_no(999), "11", "regional-a").ready);  // refused as unknown, now
  BOOST_TEST(rig.router.ready(kNetworks));
}

BOOST_AUTO_TEST_CASE(routes_that_do_not_depend_on_the_network_down_flow) {
  BDown rig;
  BOOST_TEST(!rig.router.ready(kNetworks));  // the old rule: everything waited for B
  // A → national and national → A: B ranks below both destinations.
  BOOST_TEST(rig.ready(kOfficeNational, "11", "regional-a").ready);
  BOOST_TEST(rig.ready(kOfficeA, "43", "national").ready);
  // Refusals made from the number alone do not wait either.
  BOOST_TEST(rig.ready(bad_office_no(106), "11", "national").ready);
  BOOST_TEST(rig.ready(kOfficeNational, "ZZ", "national").ready);
  // Same network refusal: the home is the source, which outranks B.
  BOOST_TEST(rig.ready(kOfficeA, "43", "regional-a").ready);
}

BOOST_AUTO_TEST_CASE(routes_to_or_from_the_network_down_wait_for_it) {
  BDown rig;
  const auto to_b = rig.ready(kOfficeB, "11", "regional-a");
  BOOST_TEST(!to_b.ready);
  BOOST_TEST(to_b.waiting_for == "regional-b");
  BOOST_TEST(!rig.ready(kOfficeA, "43", "regional-b").ready);  // the source itself
  BOOST_TEST(rig.ready(kOfficeA, "43", "regional-b").waiting_for == "regional-b");
}

BOOST_AUTO_TEST_CASE(a_recipient_that_may_be_elsewhere_waits) {
  BDown rig;
  // In no answered directory: B may list it (an "unknown" refusal now could be wrong).
  const auto unknown = rig.ready(office_no(999), "11", "regional-a");
  BOOST_TEST(!unknown.ready);
  BOOST_TEST(unknown.waiting_for == "regional-b");
  // Closed on the national side: B may list it active (the active side wins).
  BOOST_TEST(!rig.ready(office_no(105), "13", "regional-a").ready);
}

BOOST_AUTO_TEST_CASE(a_network_down_that_outranks_the_destination_is_waited_for) {
  // Preference B before national: a national office may be a member of B, delivered there.
  BDown rig;
  rig.router.set_policy({{"regional-a", "regional-b", "national"}, {}});
  BOOST_TEST(!rig.ready(kOfficeNational, "11", "regional-a").ready);
  BOOST_TEST(rig.ready(kOfficeA, "43", "national").ready);  // A still outranks B
  // An override naming B for one office makes that office wait, and only that one.
  BDown over;
  reg::Policy policy{{"regional-a", "national", "regional-b"}, {}};
  policy.overrides[{kOfficeBoth, "11"}] = {"regional-b", "test"};
  over.router.set_policy(policy);
  BOOST_TEST(!over.ready(kOfficeBoth, "11", "regional-a").ready);
  BOOST_TEST(over.ready(kOfficeNational, "11", "regional-a").ready);
  // An override naming the destination settles it whatever has not answered.
  BDown settled;
  reg::Policy national_first{{"regional-b", "national", "regional-a"}, {}};
  national_first.overrides[{kOfficeNational, "11"}] = {"national", "test"};
  settled.router.set_policy(national_first);
  BOOST_TEST(settled.ready(kOfficeNational, "11", "regional-a").ready);
  BOOST_TEST(!settled.ready(kOfficeA, "43", "national").ready);
}

BOOST_AUTO_TEST_CASE(a_destination_outside_the_preference_waits_for_every_network) {
  BDown rig;
  rig.router.set_policy({{"regional-a"}, {}});  // national and B unranked: the order is not ours
  BOOST_TEST(!rig.ready(kOfficeNational, "11", "regional-a").ready);
}

BOOST_AUTO_TEST_SUITE_END()
