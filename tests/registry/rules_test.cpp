// The registry's reconciliation rules, table by table: normalisation, validation, conflicts,
// routing (with loop prevention), sender authorization, publication, diffs and the policy file.

#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <string>
#include <vector>

#include "mapping/registry/normalize.hpp"
#include "mapping/registry/registry.hpp"
#include "tests/registry/test_offices.hpp"

using namespace kakehashi::mapping::registry;
using kakehashi::testing::bad_office_no;
using kakehashi::testing::entry;
using kakehashi::testing::office_no;

namespace {

const std::string kA = office_no(1);  // regional only
const std::string kB = office_no(2);  // national only
const std::string kC = office_no(3);  // on both networks
const std::string kD = office_no(4);  // closed on regional, active on national
const std::string kE = office_no(5);  // suspended (national)
const std::string kF = office_no(6);  // closed (national)
const std::string kBad = bad_office_no(7);

bool has_conflict(const Registry& r, const OfficeKey& k, ConflictKind kind) {
  const auto o = r.find(k);
  return o && std::any_of(o->conflicts.begin(), o->conflicts.end(),
                          [&](const Conflict& c) { return c.kind == kind; });
}

// Regional (facilities) and national listings with one case of each kind.
Registry sample(Policy policy = {{"regional", "national"}, {}}) {
  Registry r(std::move(policy));
  r.replace("regional", {
                            entry(kA, "43", "まつえケアプラン", OfficeStatus::kActive, "F-1"),
                            entry(kC, "11", "株式会社いずも訪問介護", OfficeStatus::kActive, "F-2"),
                            entry(kD, "15", "ひかわデイ", OfficeStatus::kClosed, "F-3"),
                            entry(kA, "ZZ", "まつえケアプラン", OfficeStatus::kActive, "F-1"),
                        });
  r.replace("national", {
                            entry(kB, "11", "とうきょう訪問介護"),
                            entry(kC, "11", "（株）いずも訪問介護"),
                            entry(kD, "15", "ひかわデイサービス"),
                            entry(kE, "13", "しながわ訪問看護", OfficeStatus::kSuspended),
                            entry(kF, "13", "めぐろ訪問看護", OfficeStatus::kClosed),
                            entry(kBad, "43", "けんさ違い"),
                            entry(kB, "33", "とうきょう特定施設"),
                        });
  return r;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(normalisation)

BOOST_AUTO_TEST_CASE(names_that_must_compare_equal_or_not) {
  struct Case {
    const char* a;
    const char* b;
    bool equal;
  };
  const Case cases[] = {
      {"株式会社まつえ", "（株）まつえ", true},
      {"株式会社まつえ", "(株)まつえ", true},
      {"株式会社まつえ", "㈱まつえ", true},
      {"有限会社いずも", "㈲いずも", true},
      {"社会福祉法人やくも会", "（福）やくも会", true},
      {"ﾏﾂｴｹｱｾﾝﾀｰ", "マツエケアセンター", true},
      {"ｶﾞｲﾄﾞﾍﾙﾊﾟｰ", "ガイドヘルパー", true},
      {"ｳﾞｨﾗ", "ヴィラ", true},
      {"ＡＢＣケア　１号", "abcケア1号", true},
      {"まつえ ケア", "まつえケア", true},
      {"まつえ　ケア", "まつえケア", true},
      {"まつえケア", "いずもケア", false},
      {"株式会社まつえ", "まつえ", false},
      {"ハ", "バ", false},
  };
  for (const auto& c : cases) {
    BOOST_TEST((normalize_name(c.a) == normalize_name(c.b)) == c.equal, c.a << " vs " << c.b);
  }
}

BOOST_AUTO_TEST_CASE(kana_folds_hiragana_and_width) {
  BOOST_TEST(normalize_kana("まつえ") == normalize_kana("ﾏﾂｴ"));
  BOOST_TEST(normalize_kana("まつえ") == normalize_kana("マツエ"));
  BOOST_TEST(normalize_kana("まつえ") != normalize_kana("イズモ"));
  BOOST_TEST(normalize_name("まつえ") != normalize_name("マツエ"));  // names keep the script
}

BOOST_AUTO_TEST_CASE(invalid_utf8_survives) {
  const std::string bad = "ab\xff\xfe";
  BOOST_TEST(normalize_name(bad) == bad);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_CASE(validation_table) {
  struct Case {
    std::string no, type;
    OfficeStatus status;
    std::vector<EntryProblem> problems;
  };
  const std::vector<Case> cases = {
      {kA, "43", OfficeStatus::kActive, {}},
      {kA, "11", OfficeStatus::kSuspended, {}},
      {kA, "A2", OfficeStatus::kActive, {}},
      {kBad, "43", OfficeStatus::kActive, {EntryProblem::kInvalidCheckDigit}},
      {"32ABC", "43", OfficeStatus::kActive, {EntryProblem::kInvalidCheckDigit}},
      {kA, "ZZ", OfficeStatus::kActive, {EntryProblem::kUnknownServiceType}},
      {kA, "33", OfficeStatus::kActive, {EntryProblem::kOutOfLinkScope}},
      {kA, "43", OfficeStatus::kUnknown, {EntryProblem::kUnknownStatus}},
  };
  for (const auto& c : cases) {
    auto e = entry(c.no, c.type, "x", c.status);
    BOOST_TEST(validate(e) == c.problems, c.no << "/" << c.type);
  }
}

BOOST_AUTO_TEST_CASE(merge_keys_home_and_fields) {
  const auto r = sample();
  BOOST_TEST(r.size() == 9u);
  const auto a = r.find({kA, "43"});
  BOOST_REQUIRE(a);
  BOOST_TEST(a->home == "regional");
  BOOST_TEST(a->home_reason == "only network");
  BOOST_TEST(a->facility_id == "F-1");
  BOOST_TEST(a->name == "まつえケアプラン");
  const auto c = r.find({kC, "11"});
  BOOST_REQUIRE(c);
  BOOST_TEST(c->home == "regional");  // preference
  BOOST_TEST(c->home_reason == "preference");
  BOOST_TEST(c->facility_id == "F-2");  // the regional facility, whichever is home
  BOOST_TEST(c->presences.size() == 2u);
  const auto d = r.find({kD, "15"});
  BOOST_REQUIRE(d);
  BOOST_TEST(d->home == "national");  // closed on regional, active on national: the active side
  BOOST_TEST(d->home_reason == "active side");
}

BOOST_AUTO_TEST_CASE(conflict_table) {
  const auto r = sample();
  struct Case {
    OfficeKey key;
    ConflictKind kind;
    bool expected;
  };
  const Case cases[] = {
      {{kC, "11"}, ConflictKind::kOnBothNetworks, true},
      {{kC, "11"}, ConflictKind::kNameMismatch, false},  // 株式会社 = （株）
      {{kC, "11"}, ConflictKind::kStatusMismatch, false},
      {{kD, "15"}, ConflictKind::kOnBothNetworks, true},
      {{kD, "15"}, ConflictKind::kNameMismatch, true},  // ひかわデイ ≠ ひかわデイサービス
      {{kD, "15"}, ConflictKind::kStatusMismatch, true},
      {{kA, "ZZ"}, ConflictKind::kUnknownServiceType, true},
      {{kBad, "43"}, ConflictKind::kInvalidCheckDigit, true},
      {{kA, "43"}, ConflictKind::kOnBothNetworks, false},
      {{kB, "11"}, ConflictKind::kOnBothNetworks, false},
      {{kE, "13"}, ConflictKind::kStatusMismatch, false},
  };
  for (const auto& c : cases) {
    BOOST_TEST(has_conflict(r, c.key, c.kind) == c.expected, c.key.str()
                                                                 << " " << to_string(c.kind));
  }
  // The list is ordered and holds exactly these.
  const auto all = r.conflicts();
  BOOST_TEST(all.size() == 6u);
  BOOST_TEST(std::is_sorted(all.begin(), all.end(),
                            [](const Conflict& x, const Conflict& y) { return x.key < y.key; }));
  const auto status = std::find_if(all.begin(), all.end(), [](const Conflict& c) {
    return c.kind == ConflictKind::kStatusMismatch;
  });
  BOOST_REQUIRE(status != all.end());
  BOOST_TEST(status->detail == "ACTIVE on national, CLOSED on regional");
  // The same detail as values, for the console to word in Japanese or English.
  using Params = std::vector<std::pair<std::string, std::string>>;
  BOOST_TEST(
      (status->params == Params{{"status.national", "ACTIVE"}, {"status.regional", "CLOSED"}}));
  const auto both = std::find_if(all.begin(), all.end(), [](const Conflict& c) {
    return c.kind == ConflictKind::kOnBothNetworks;
  });
  BOOST_REQUIRE(both != all.end());
  BOOST_TEST((both->params == Params{{"networks", "national,regional"},
                                     {"home", "regional"},
                                     {"home_reason", "preference"}}));
  BOOST_TEST(r.echoes() == 0u);
}

BOOST_AUTO_TEST_CASE(unknown_status_is_reported_and_not_routed) {
  Registry r;
  r.replace("national", {entry(kB, "11", "x", OfficeStatus::kUnknown)});
  BOOST_TEST(has_conflict(r, {kB, "11"}, ConflictKind::kUnknownStatus));
  BOOST_TEST(!r.route({kB, "11"}, "regional").network);
}

BOOST_AUTO_TEST_CASE(routing_table) {
  const auto r = sample();
  struct Case {
    OfficeKey to;
    std::string from;
    std::string network;  // "" when refused
    RouteRefusal refusal;
  };
  const std::vector<Case> cases = {
      {{kA, "43"}, "national", "regional", RouteRefusal::kNone},
      {{kB, "11"}, "regional", "national", RouteRefusal::kNone},
      {{kA, "43"}, "regional", "", RouteRefusal::kSameNetwork},
      {{kB, "11"}, "national", "", RouteRefusal::kSameNetwork},
      {{kC, "11"}, "national", "regional", RouteRefusal::kNone},  // both: home by preference
      {{kC, "11"}, "folder", "regional", RouteRefusal::kNone},    // delivered once, to the home
      {{kC, "11"}, "regional", "", RouteRefusal::kSameNetwork},
      {{kD, "15"}, "regional", "national", RouteRefusal::kNone},  // the active side
      {{kE, "13"}, "regional", "", RouteRefusal::kSuspended},
      {{kF, "13"}, "regional", "", RouteRefusal::kClosed},
      {{office_no(99), "43"}, "regional", "", RouteRefusal::kUnknown},
      {{kBad, "43"}, "regional", "", RouteRefusal::kInvalidCheckDigit},
      {{kA, "ZZ"}, "national", "", RouteRefusal::kOutOfLinkScope},  // unknown type
      {{kB, "33"}, "regional", "", RouteRefusal::kOutOfLinkScope},  // known, out of scope
  };
  for (const auto& c : cases) {
    const auto route = r.route(c.to, c.from);
    BOOST_TEST(route.network.value_or("") == c.network, c.to.str() << " from " << c.from);
    BOOST_TEST(route.refusal == c.refusal, c.to.str()
                                               << " from " << c.from << ": " << route.detail);
    BOOST_TEST(!route.detail.empty());
  }
}

BOOST_AUTO_TEST_CASE(overrides_choose_the_network_per_office) {
  Policy policy{{"regional", "national"}, {}};
  policy.overrides[{kC, "11"}] = {"national", "moved to the national client"};
  policy.overrides[{kA, "43"}] = {"national", "not there: ignored"};
  const auto r = sample(policy);
  BOOST_TEST(r.route({kC, "11"}, "folder").network.value_or("") == "national");
  BOOST_TEST(r.find({kC, "11"})->home_reason == "override: moved to the national client");
  BOOST_TEST(r.route({kA, "43"}, "national").network.value_or("") == "regional");
  // The other preference order, without overrides.
  const auto n = sample({{"national", "regional"}, {}});
  BOOST_TEST(n.route({kC, "11"}, "folder").network.value_or("") == "national");
  BOOST_TEST(n.route({kC, "11"}, "national").refusal == RouteRefusal::kSameNetwork);
}

BOOST_AUTO_TEST_CASE(set_policy_rehomes_and_reports_the_change) {
  auto r = sample();
  Policy p{{"regional", "national"}, {}};
  p.overrides[{kC, "11"}] = {"national", ""};
  const auto diff = r.set_policy(p);
  BOOST_REQUIRE(diff.changes.size() == 1u);
  BOOST_TEST(diff.changes[0].key.str() == kC + "/11");
  BOOST_TEST(diff.changes[0].fields[0].field == "home");
  BOOST_TEST(diff.changes[0].fields[0].before == "regional");
  BOOST_TEST(diff.changes[0].fields[0].after == "national");
}

BOOST_AUTO_TEST_CASE(loop_prevention_table) {
  // The gateway publishes national kB to regional, and regional kA to national. Each network
  // then lists what it was given: regional flags it (external facility), national does not.
  Registry r({{"regional", "national"}, {}});
  auto own_on_regional =
      entry(kB, "11", "とうきょう訪問介護", OfficeStatus::kActive, "KAKEHASHI-GW");
  own_on_regional.published_by_gateway = true;
  r.replace("regional", {entry(kA, "43", "まつえ", OfficeStatus::kActive, "F-1"), own_on_regional});
  r.replace("national", {entry(kB, "11", "とうきょう訪問介護")});
  r.set_published("national", {{kA, "43"}});
  r.set_published("regional", {{kB, "11"}});

  struct Case {
    OfficeKey to;
    std::string from;
    std::string network;
    RouteRefusal refusal;
  };
  const std::vector<Case> cases = {
      // A regional sender reaches kB through the bridge (its regional entry is ours, not native).
      {{kB, "11"}, "regional", "national", RouteRefusal::kNone},
      // A national sender to kB: it lives on national; the regional echo must not route it back.
      {{kB, "11"}, "national", "", RouteRefusal::kSameNetwork},
      // kA is regional; national lists it only because we represent it there.
      {{kA, "43"}, "national", "regional", RouteRefusal::kNone},
      {{kA, "43"}, "regional", "", RouteRefusal::kSameNetwork},
  };
  for (const auto& c : cases) {
    const auto route = r.route(c.to, c.from);
    BOOST_TEST(route.network.value_or("") == c.network, c.to.str() << " from " << c.from);
    BOOST_TEST(route.refusal == c.refusal, c.to.str()
                                               << " from " << c.from << ": " << route.detail);
  }
  // Our own publications are not conflicts ("on both networks") either.
  BOOST_TEST(r.conflicts().empty());
  BOOST_TEST(r.find({kB, "11"})->presences.size() == 2u);

  // The office leaves its home network: only our echoes remain, and nothing routes to them.
  r.replace("national", {});
  BOOST_TEST(r.route({kB, "11"}, "regional").refusal == RouteRefusal::kUnknown);
  BOOST_TEST(r.route({kB, "11"}, "national").refusal == RouteRefusal::kUnknown);
  // National lists (unflagged) the office we represent there, which has left regional.
  r.replace("national", {entry(kA, "43", "まつえ")});
  r.replace("regional", {own_on_regional});
  BOOST_TEST(r.route({kA, "43"}, "regional").refusal == RouteRefusal::kLoop);
  BOOST_TEST(r.route({kA, "43"}, "national").refusal == RouteRefusal::kLoop);
  // And the next publication takes them back.
  BOOST_TEST(r.publication_for("national", false).empty());
  BOOST_TEST(r.publication_for("regional", false).empty());
}

BOOST_AUTO_TEST_CASE(unflagged_echo_is_not_native) {
  // A network that does not flag the gateway's entries: the published set alone recognises them.
  Registry r({{"regional", "national"}, {}});
  r.replace("regional", {entry(kB, "11", "echo")});
  r.replace("national", {entry(kB, "11", "とうきょう")});
  r.set_published("regional", {{kB, "11"}});
  const auto o = r.find({kB, "11"});
  BOOST_TEST(o->home == "national");
  BOOST_TEST(r.route({kB, "11"}, "regional").network.value_or("") == "national");
  BOOST_TEST(r.route({kB, "11"}, "national").refusal == RouteRefusal::kSameNetwork);
  // It stays published (so that it does not turn native at the next sync). Issue 20: it is the
  // gateway's own entry coming back, not a conflict (was reported "on both networks"); it is
  // counted as an echo instead.
  BOOST_TEST(!has_conflict(r, {kB, "11"}, ConflictKind::kOnBothNetworks));
  BOOST_TEST(r.conflicts().empty());
  BOOST_TEST(r.echoes() == 1u);
  BOOST_TEST(r.publication_for("regional", false).size() == 1u);
}

BOOST_AUTO_TEST_CASE(echoes_are_not_conflicts_but_real_ones_stay) {
  // National does not flag the gateway's entries: dozens of echoes must not flood the conflicts.
  Registry r({{"regional", "national"}, {}});
  r.replace("national",
            {entry(kB, "11", "とうきょう"), entry(kE, "13", "いずも", OfficeStatus::kActive),
             entry(kD, "15", "ひかわデイ")});
  r.replace("regional", {entry(kA, "43", "まつえ"), entry(kD, "15", "ひかわデイサービス")});
  r.set_published("national", {{kA, "43"}});
  // National echoes kA (published to it); regional echoes kB and kE.
  r.replace("national",
            {entry(kB, "11", "とうきょう"), entry(kE, "13", "いずも", OfficeStatus::kActive),
             entry(kD, "15", "ひかわデイ"), entry(kA, "43", "まつえ（代理）")});
  r.set_published("regional", {{kB, "11"}, {kE, "13"}});
  r.replace("regional",
            {entry(kA, "43", "まつえ"), entry(kD, "15", "ひかわデイサービス"),
             entry(kB, "11", "とうきょう"), entry(kE, "13", "いずも", OfficeStatus::kSuspended)});
  BOOST_TEST(r.echoes() == 3u);
  for (const auto& c : r.conflicts()) {
    BOOST_TEST(c.key.office_no == kD,
               "an echo reported as a conflict: " << c.key.str() << " " << to_string(c.kind));
  }
  // kD is native on both networks with different names: a real conflict, still listed.
  BOOST_TEST(has_conflict(r, {kD, "15"}, ConflictKind::kOnBothNetworks));
  BOOST_TEST(has_conflict(r, {kD, "15"}, ConflictKind::kNameMismatch));
  // The echo's other name or status is the other network's copy of ours: no mismatch either.
  BOOST_TEST(!has_conflict(r, {kA, "43"}, ConflictKind::kNameMismatch));
  BOOST_TEST(!has_conflict(r, {kE, "13"}, ConflictKind::kStatusMismatch));
}

// Issue 22: on a network that flags the gateway's publication (the regional external
// directory), the network's own unflagged listing of an office makes it native there, even while
// the gateway also publishes it: an office that joins a second network is recognised there.
BOOST_AUTO_TEST_CASE(own_listing_on_a_flagging_network_is_native_even_if_published) {
  Registry r({{"regional", "national"}, {}});
  auto ours = entry(kB, "11", "とうきょう訪問介護", OfficeStatus::kActive, "KAKEHASHI-GW");
  ours.published_by_gateway = true;
  r.replace("national", {entry(kB, "11", "とうきょう訪問介護")});
  r.replace("regional", {ours});
  r.set_published("regional", {{kB, "11"}}, true);
  BOOST_TEST(r.flags_publication("regional"));
  BOOST_TEST(r.find({kB, "11"})->home == "national");

  // kB becomes a member of regional: the network lists it twice, its own entry first.
  const auto member = entry(kB, "11", "とうきょう訪問介護", OfficeStatus::kActive, "F-9");
  const auto diff = r.replace("regional", {member, ours});
  const auto o = r.find({kB, "11"});
  BOOST_REQUIRE(o);
  BOOST_TEST(o->home == "regional");
  BOOST_TEST(o->home_reason == "preference");
  BOOST_TEST(diff.changes.size() == 1u);
  BOOST_TEST(r.route({kB, "11"}, "national").network.value_or("") == "regional");
  BOOST_TEST(r.route({kB, "11"}, "regional").refusal == RouteRefusal::kSameNetwork);
  BOOST_TEST(r.authorize_sender("regional", "F-9", {kB, "11"}).allowed);
  BOOST_TEST(has_conflict(r, {kB, "11"}, ConflictKind::kOnBothNetworks));
  // The gateway stops publishing it there (its members reach it directly).
  BOOST_TEST(r.publication_for("regional", false).empty());
  // Either order of the two entries: the network's own one wins.
  r.replace("regional", {ours, member});
  BOOST_TEST(r.find({kB, "11"})->home == "regional");

  // It moves: closed on national, active on regional.
  r.replace("national", {entry(kB, "11", "とうきょう訪問介護", OfficeStatus::kClosed)});
  BOOST_TEST(r.find({kB, "11"})->home == "regional");
  BOOST_TEST(r.route({kB, "11"}, "national").network.value_or("") == "regional");

  // On a network that does not flag (the national office master) the old rule holds: an
  // unflagged entry of an office the gateway publishes there is its own echo.
  Registry n({{"regional", "national"}, {}});
  n.replace("regional", {entry(kA, "43", "まつえ", OfficeStatus::kActive, "F-1")});
  n.replace("national", {entry(kA, "43", "まつえ")});
  n.set_published("national", {{kA, "43"}}, false);
  BOOST_TEST(n.find({kA, "43"})->home == "regional");
  BOOST_TEST(n.route({kA, "43"}, "regional").refusal == RouteRefusal::kSameNetwork);
  // Switching the network to flagging re-derives its unflagged entries (echo → native).
  const auto switched = n.set_published("national", {{kA, "43"}}, true);
  BOOST_TEST(switched.changes.size() == 1u);
  BOOST_TEST(n.find({kA, "43"})->presences.size() == 2u);
  BOOST_TEST((n.find({kA, "43"})->presences[0].role == Presence::Role::kNative));
}

BOOST_AUTO_TEST_CASE(one_entry_per_office_prefers_the_networks_own) {
  auto ours = entry(kB, "11", "gw", OfficeStatus::kActive, "KAKEHASHI-GW");
  ours.published_by_gateway = true;
  const auto member = entry(kB, "11", "member", OfficeStatus::kActive, "F-9");
  const auto later = entry(kB, "11", "member-2", OfficeStatus::kActive, "F-9");
  BOOST_TEST(one_entry_per_office({member, ours}).at(0).name == "member");
  BOOST_TEST(one_entry_per_office({ours, member}).at(0).name == "member");
  BOOST_TEST(one_entry_per_office({member, later}).at(0).name == "member-2");  // the last
  BOOST_TEST(one_entry_per_office({ours, entry(kA, "43", "a")}).size() == 2u);
}

BOOST_AUTO_TEST_CASE(sender_authorization_table) {
  const auto r = sample();
  struct Case {
    std::string network, facility;
    OfficeKey office;
    bool allowed;
  };
  const std::vector<Case> cases = {
      {"regional", "F-1", {kA, "43"}, true},
      {"regional", "F-2", {kA, "43"}, false},  // another facility's office
      {"regional", "F-1", {kB, "11"}, false},  // not listed on regional
      {"regional", "F-3", {kD, "15"}, false},  // closed
      {"national", "", {kB, "11"}, true},      // active national office
      {"national", "", {kE, "13"}, false},     // suspended
      {"national", "", {kF, "13"}, false},     // closed
      {"national", "", {kA, "43"}, false},     // not a national office
      {"national", "", {kBad, "43"}, false},   // quarantined
  };
  for (const auto& c : cases) {
    const auto check = r.authorize_sender(c.network, c.facility, c.office);
    BOOST_TEST(check.allowed == c.allowed,
               c.network << " " << c.facility << " " << c.office.str() << ": " << check.detail);
  }
  // The gateway's own publications on regional may not be claimed by a facility.
  Registry g;
  auto own = entry(kB, "11", "x", OfficeStatus::kActive, "KAKEHASHI-GW");
  own.published_by_gateway = true;
  g.replace("regional", {own});
  BOOST_TEST(!g.authorize_sender("regional", "KAKEHASHI-GW", {kB, "11"}).allowed);
}

BOOST_AUTO_TEST_CASE(publication_sets) {
  const auto r = sample();
  std::vector<std::string> to_regional, to_national, active_to_national;
  for (const auto& e : r.publication_for("regional", false)) to_regional.push_back(e.key.str());
  for (const auto& e : r.publication_for("national", false)) to_national.push_back(e.key.str());
  for (const auto& e : r.publication_for("national", true))
    active_to_national.push_back(e.key.str());
  // National offices regional does not have (kC, kD are native there already; 33 out of scope).
  BOOST_TEST(to_regional == (std::vector<std::string>{kB + "/11", kE + "/13", kF + "/13"}));
  // Regional's own: kA/43 (kA/ZZ is not a service type; kC is native on national too).
  BOOST_TEST(to_national == (std::vector<std::string>{kA + "/43"}));
  BOOST_TEST(active_to_national == to_national);
  for (const auto& e : r.publication_for("regional", false)) BOOST_TEST(e.published_by_gateway);
}

BOOST_AUTO_TEST_CASE(diffs_between_listings) {
  Registry r({{"regional", "national"}, {}});
  auto first = r.replace("national", {entry(kB, "11", "とうきょう"), entry(kE, "13", "しながわ")});
  BOOST_TEST(first.count(ChangeKind::kAdded) == 2u);
  BOOST_TEST(r.replace("national", {entry(kB, "11", "とうきょう"), entry(kE, "13", "しながわ")})
                 .changes.empty());

  auto renamed = entry(kB, "11", "とうきょう訪問");
  renamed.updated_at = "2025-05-01T00:00:00Z";
  const auto d = r.replace("national", {renamed, entry(kF, "13", "めぐろ")});
  BOOST_TEST(d.count(ChangeKind::kAdded) == 1u);
  BOOST_TEST(d.count(ChangeKind::kRemoved) == 1u);
  BOOST_TEST(d.count(ChangeKind::kChanged) == 1u);
  const auto changed = std::find_if(d.changes.begin(), d.changes.end(),
                                    [](const Change& c) { return c.kind == ChangeKind::kChanged; });
  std::vector<std::string> fields;
  for (const auto& f : changed->fields) fields.push_back(f.field);
  BOOST_TEST(fields == (std::vector<std::string>{"name", "versions"}));
  BOOST_TEST(changed->fields[0].before == "とうきょう");
  BOOST_TEST(changed->fields[0].after == "とうきょう訪問");

  // Incremental: only the changed entries are given; the rest stay.
  auto closed = entry(kF, "13", "めぐろ", OfficeStatus::kClosed);
  const auto inc = r.upsert("national", {closed});
  BOOST_REQUIRE(inc.changes.size() == 1u);
  BOOST_TEST(inc.changes[0].fields[0].field == "status");
  BOOST_TEST(inc.changes[0].fields[0].after == "CLOSED");
  BOOST_TEST(r.size("national") == 2u);

  // Joining the other network changes the networks and adds a conflict.
  const auto both =
      r.replace("regional", {entry(kB, "11", "とうきょう訪問", OfficeStatus::kActive, "F-9")});
  BOOST_REQUIRE(both.changes.size() == 1u);
  std::vector<std::string> both_fields;
  for (const auto& f : both.changes[0].fields) both_fields.push_back(f.field);
  BOOST_TEST(both_fields == (std::vector<std::string>{"home", "home_reason", "facility", "networks",
                                                      "versions", "conflicts"}));
}

BOOST_AUTO_TEST_CASE(policy_file_table) {
  const std::vector<std::string> nets = {"national", "regional"};
  struct Case {
    std::string json;
    std::size_t errors;
  };
  const std::vector<Case> cases = {
      {R"({"preference":["regional","national"],"overrides":[{"office_no":"3200000013","service_type":"43","network":"national","reason":"x"}]})",
       0},
      {R"({"preference":["folder"]})", 1},
      {R"({"overrides":[{"office_no":"3200000013","service_type":"43"}]})", 1},
      {R"({"overrides":[{"office_no":"1","service_type":"43","network":"national"},{"office_no":"1","service_type":"43","network":"regional"}]})",
       1},
      {R"({"overides":[]})", 1},
      {R"({"preference":"national"})", 1},
      {R"(not json)", 1},
  };
  for (const auto& c : cases) {
    const auto p = parse_policy(c.json, nets);
    BOOST_TEST(p.errors.size() == c.errors, c.json);
  }
  const auto ok = parse_policy(cases[0].json, nets);
  BOOST_TEST(ok.policy.preference == (std::vector<std::string>{"regional", "national"}));
  BOOST_TEST(ok.policy.overrides.at({"3200000013", "43"}).network == "national");
}

BOOST_AUTO_TEST_CASE(one_sync_reports_one_change_per_office) {
  // Two listings applied in one sync: an office added by the first and changed by the second is
  // one "added" with its final values; changed twice back to the start is no change.
  Registry r({{"regional", "national"}, {}});
  Diff d = r.replace("regional", {entry(kA, "43", "まつえ", OfficeStatus::kActive, "F-1")});
  d.append(r.replace("national", {entry(kA, "43", "まつえ")}));
  BOOST_REQUIRE(d.changes.size() == 1u);
  BOOST_TEST(d.changes[0].kind == ChangeKind::kAdded);
  const auto networks = std::find_if(d.changes[0].fields.begin(), d.changes[0].fields.end(),
                                     [](const FieldChange& f) { return f.field == "networks"; });
  BOOST_TEST(networks->after == "national:native regional:native");

  Diff back = r.upsert("national", {entry(kA, "43", "まつえ", OfficeStatus::kClosed)});
  back.append(r.upsert("national", {entry(kA, "43", "まつえ")}));
  BOOST_TEST(back.changes.empty());

  Diff gone = r.replace("regional", {});
  gone.append(r.replace("national", {}));
  BOOST_REQUIRE(gone.changes.size() == 1u);
  BOOST_TEST(gone.changes[0].kind == ChangeKind::kRemoved);
}
