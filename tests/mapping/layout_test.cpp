// The standard compiled into the binary: every kind, field and rule of layouts.json is there.

#include <boost/test/unit_test.hpp>

#include "mapping/careplan/layout.hpp"

using namespace kakehashi::mapping;

BOOST_AUTO_TEST_CASE(field_counts_of_every_kind) {
  const std::vector<std::pair<FileKind, std::size_t>> counts{
      {FileKind::UPHOSOKU, 63}, {FileKind::UP1KYO, 28},      {FileKind::DLT1KYO, 4},
      {FileKind::UP2KYO, 22},   {FileKind::UP3KYO, 13},      {FileKind::UPPLAN, 25},
      {FileKind::UPJSK, 25},    {FileKind::DLTPLAN, 4},      {FileKind::DLTJSK, 6},
      {FileKind::UPSIKYU, 37},  {FileKind::UPKIHON, 71},     {FileKind::UPKIHON_SUB1, 7},
      {FileKind::UPKIHON_SUB2, 11}, {FileKind::DLTKIHON, 4}, {FileKind::UPYOBO, 57},
      {FileKind::UPYOBO_SUB, 17}, {FileKind::DLTYOBO, 4}};
  const auto& s = CarePlanStandard::get();
  for (const auto& [kind, n] : counts) {
    BOOST_TEST(s.layout(kind).field_count == n, file_kind_name(kind));
    BOOST_TEST(s.layout(kind).fields.size() == n);
    BOOST_TEST(s.layout(kind).field(1).name_ja == "CSVバージョン");
  }
}

BOOST_AUTO_TEST_CASE(roles_are_derived) {
  const auto& plan = CarePlanStandard::get().layout(FileKind::UPPLAN);
  BOOST_TEST(static_cast<int>(plan.field(2).role) == static_cast<int>(FieldRole::kInsurerNumber));
  BOOST_TEST(static_cast<int>(plan.field(20).role) == static_cast<int>(FieldRole::kOfficeNumber));
  BOOST_TEST(static_cast<int>(plan.field(15).role) == static_cast<int>(FieldRole::kServiceCode));
  BOOST_TEST(static_cast<int>(plan.field(25).role) == static_cast<int>(FieldRole::kUnused));
  const auto& del = CarePlanStandard::get().layout(FileKind::DLTJSK);
  BOOST_TEST(static_cast<int>(del.field(6).role) == static_cast<int>(FieldRole::kServiceType));
}

BOOST_AUTO_TEST_CASE(versions_in_force) {
  const auto& s = CarePlanStandard::get();
  const auto v = s.versions_for_month("202506");
  BOOST_TEST(v.size() == 2u);  // 202504 (v4.0) and 202407 (v4.1) share valid_from 202504
  BOOST_TEST((std::find(v.begin(), v.end(), "202407") != v.end()));
  const auto old = s.versions_for_month("202305");
  BOOST_TEST_REQUIRE(old.size() == 1u);
  BOOST_TEST(old[0] == "202208");
  BOOST_TEST(s.versions_for_month("201901").empty());
  BOOST_TEST(!s.is_known_version("202404"));  // the annex's preventive examples carry this
}

BOOST_AUTO_TEST_CASE(combinations_and_links) {
  const auto& s = CarePlanStandard::get();
  BOOST_TEST(s.combinations().size() == 15u);
  BOOST_TEST(s.link_rules().size() == 10u);
  BOOST_TEST(s.is_in_link_scope("11"));
  BOOST_TEST(s.is_in_link_scope("A6"));
  BOOST_TEST(!s.is_in_link_scope("33"));
  BOOST_TEST(s.is_known_service_type("33"));
  BOOST_TEST(!s.is_known_service_type("99"));
  BOOST_TEST(s.is_care_management_type("43"));
  BOOST_TEST(s.is_preventive_type("46"));
  BOOST_TEST(!s.is_preventive_type("11"));
}
