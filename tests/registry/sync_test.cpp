// The registry service: syncs through adapters (full and incremental), the store's record of
// each sync and its diff, publication to each network, and the engine's Router on top of the
// registry. On SQLite, or on PostgreSQL with KAKEHASHI_TEST_BACKEND=postgres (pg_virtualenv).

#define BOOST_TEST_MODULE kakehashi_registry
#include <boost/test/unit_test.hpp>

#include <unistd.h>

#include <cstdlib>
#include <filesystem>

#include "gateway/engine/router.hpp"
#include "gateway/registry/registry_store.hpp"
#include "gateway/registry/registry_sync.hpp"
#include "tests/registry/test_offices.hpp"
#include "tests/support/db.hpp"

namespace fs = std::filesystem;
using namespace kakehashi;
using namespace kakehashi::gateway;
using mapping::registry::ChangeKind;
using mapping::registry::OfficeStatus;
using testing::office_no;

namespace {

// A fresh database per test: a temp SQLite file, or a new PostgreSQL database.
struct Db : testing::Db {
  Db() : testing::Db("registry"), conn(connect(false)) {}
  std::unique_ptr<store::SqlConnection> conn;
};

DirectoryEntry dir_entry(const std::string& no, const std::string& type, const std::string& name,
                         const std::string& status = "ACTIVE", const std::string& facility = "",
                         const std::string& updated = "2025-04-01T00:00:00Z") {
  DirectoryEntry e;
  e.office = {no, type};
  e.name = name;
  e.kana = "カナ";
  e.facility_id = facility;
  e.status = status;
  e.updated_at = updated;
  return e;
}

// A network's directory as an adapter: full listings, or changes since a cursor (entries carry
// updated_at; the cursor is the newest updated_at, as the national office master does).
class FakeDirectory final : public Adapter {
 public:
  std::vector<DirectoryEntry> listing;
  bool incremental = false;
  bool fail = false;
  std::vector<std::string> asked;
  std::size_t last_answer_size = 0;

  void start() override {}
  void stop(std::function<void()> drained) override { drained(); }
  void send(OutboundUnit, std::function<void(SendResult)> done) override { done({}); }
  void send_receipt(OutboundReceipt, std::function<void(SendResult)> done) override { done({}); }
  void fetch_directory(std::string since, std::function<void(DirectoryResult)> done) override {
    asked.push_back(since);
    DirectoryResult r;
    if (fail) {
      r.status = {SendResult::Status::kRetry,
                  "",
                  "MAINTENANCE",
                  "maintenance window",
                  std::nullopt,
                  false,
                  ""};
      return done(std::move(r));
    }
    r.status.status = SendResult::Status::kAccepted;
    std::string newest;
    for (const auto& e : listing) {
      if (!incremental || since.empty() || e.updated_at > since) r.entries.push_back(e);
      newest = std::max(newest, e.updated_at);
    }
    if (incremental) r.next_changed_since = newest;
    last_answer_size = r.entries.size();
    done(std::move(r));
  }
};

// What a network was given to publish, with a switch to refuse it.
struct FakePublication {
  std::vector<mapping::registry::SourceEntry> last;
  int calls = 0;
  bool refuse = false;
  registry::Publisher publisher() {
    return [this](std::vector<mapping::registry::SourceEntry> entries,
                  std::function<void(SendResult)> done) {
      ++calls;
      if (refuse)
        return done(
            {SendResult::Status::kRejected, "", "NOT_GATEWAY", "refused", std::nullopt, false, ""});
      last = std::move(entries);
      done({SendResult::Status::kAccepted, "", "", "", std::nullopt, false, ""});
    };
  }
};

const std::string kA = office_no(11), kB = office_no(12), kC = office_no(13), kD = office_no(14);

struct Rig {
  Db db;
  registry::RegistryStore store{*db.conn};
  mapping::registry::Registry registry{{{"regional", "national"}, {}}};
  FakeDirectory regional, national;
  FakePublication to_regional, to_national;
  std::int64_t clock = 1'700'000'000'000;

  Rig() {
    store.migrate();
    store.migrate();  // idempotent
    national.incremental = true;
    regional.listing = {dir_entry(kA, "43", "まつえケアプラン", "ACTIVE", "F-1"),
                        dir_entry(kC, "11", "株式会社いずも", "ACTIVE", "F-2")};
    national.listing = {
        dir_entry(kB, "11", "とうきょう訪問介護", "ACTIVE", "", "2025-04-01T00:00:00Z"),
        dir_entry(kC, "11", "（株）いずも", "ACTIVE", "", "2025-04-01T00:00:00Z"),
        dir_entry(kD, "13", "しながわ訪問看護", "SUSPENDED", "", "2025-04-01T00:00:00Z")};
  }

  registry::SyncReport sync(bool full = false) {
    std::vector<registry::SyncNetwork> nets(2);
    nets[0] = {"regional", &regional, false, false, to_regional.publisher()};
    nets[1] = {"national", &national, true, true, to_national.publisher()};
    registry::SyncReport out;
    bool done = false;
    registry::RegistrySync s(registry, store, [this] { return clock += 10; });
    s.run(std::move(nets), full, [&](registry::SyncReport r) {
      out = std::move(r);
      done = true;
    });
    BOOST_REQUIRE(done);  // the fakes answer at once
    return out;
  }
};

}  // namespace

BOOST_AUTO_TEST_CASE(first_sync_is_full_records_diff_and_publishes) {
  Rig rig;
  const auto r = rig.sync();
  BOOST_TEST(r.ok(), r.record.note);
  BOOST_TEST(rig.national.asked == (std::vector<std::string>{""}));
  BOOST_TEST(r.record.mode == "full");
  BOOST_TEST(r.record.added == 4);
  BOOST_TEST(r.record.conflicts == 1);  // kC on both networks (names equal after normalisation)
  // Regional gets the national offices it does not have (all statuses); national gets the
  // active regional offices it does not have.
  std::vector<std::string> to_regional, to_national;
  for (const auto& e : rig.to_regional.last) to_regional.push_back(e.key.str());
  for (const auto& e : rig.to_national.last) to_national.push_back(e.key.str());
  BOOST_TEST(to_regional == (std::vector<std::string>{kB + "/11", kD + "/13"}));
  BOOST_TEST(to_national == (std::vector<std::string>{kA + "/43"}));
  BOOST_TEST(r.published.at("regional") == 2u);

  // The store holds the same registry: a fresh load routes identically.
  mapping::registry::Registry loaded({{"regional", "national"}, {}});
  rig.store.load(loaded);
  BOOST_TEST(loaded.size() == rig.registry.size());
  BOOST_TEST(loaded.route({kA, "43"}, "national").network.value_or("") == "regional");
  BOOST_TEST(rig.store.cursor("national").value_or("") == "2025-04-01T00:00:00Z");
  BOOST_TEST(!rig.store.cursor("regional"));
  const auto stored = rig.store.diff_of(r.record.id);
  BOOST_TEST(stored.count(ChangeKind::kAdded) == 4u);
  BOOST_TEST(rig.store.last_sync()->id == r.record.id);
}

BOOST_AUTO_TEST_CASE(second_sync_is_incremental_and_echoes_are_recognised) {
  Rig rig;
  rig.sync();
  // Regional now lists what the gateway published to it, flagged as the gateway's facility.
  for (const auto& e : rig.to_regional.last) {
    auto d = engine::to_directory_entry(e);
    d.facility_id = "KAKEHASHI-GW";
    rig.regional.listing.push_back(d);
  }
  rig.national.listing[0].name = "とうきょう訪問介護センター";
  rig.national.listing[0].updated_at = "2025-05-01T00:00:00Z";
  const auto r = rig.sync();
  BOOST_TEST(r.ok(), r.record.note);
  BOOST_TEST(rig.national.asked.back() == "2025-04-01T00:00:00Z");
  BOOST_TEST(rig.national.last_answer_size == 1u);
  BOOST_TEST(r.record.mode == "incremental");
  const auto diff = rig.store.diff_of(r.record.id);
  // kB: renamed on national and now echoed on regional; kD: echoed. Nothing added or removed.
  BOOST_TEST(diff.count(ChangeKind::kAdded) == 0u);
  BOOST_TEST(diff.count(ChangeKind::kRemoved) == 0u);
  BOOST_TEST(r.record.conflicts == 1);  // the echoes are not "on both networks"
  // The echoes never route back: a national sender to kB stays on national.
  BOOST_TEST(rig.registry.route({kB, "11"}, "national").refusal ==
             mapping::registry::RouteRefusal::kSameNetwork);
  BOOST_TEST(rig.registry.route({kB, "11"}, "regional").network.value_or("") == "national");
  // Publication is stable: the same two offices, still.
  BOOST_TEST(rig.to_regional.last.size() == 2u);

  // --full ignores the cursor.
  rig.sync(true);
  BOOST_TEST(rig.national.asked.back() == "");
}

BOOST_AUTO_TEST_CASE(a_failed_fetch_keeps_the_last_listing_and_skips_publication) {
  Rig rig;
  rig.sync();
  rig.regional.fail = true;
  rig.national.listing.push_back(
      dir_entry(office_no(15), "43", "新規", "ACTIVE", "", "2025-06-01T00:00:00Z"));
  const auto r = rig.sync();
  BOOST_TEST(!r.ok());
  BOOST_TEST(r.record.note.find("regional: directory fetch failed: MAINTENANCE") !=
             std::string::npos);
  BOOST_TEST(r.record.added == 1);
  BOOST_TEST(rig.to_regional.calls == 1);  // not published again on a partial view
  BOOST_TEST(rig.registry.route({kA, "43"}, "national").network.value_or("") == "regional");
}

BOOST_AUTO_TEST_CASE(a_refused_publication_is_reported_and_not_recorded_as_published) {
  Rig rig;
  rig.to_national.refuse = true;
  const auto r = rig.sync();
  BOOST_TEST(r.record.note.find("national: publication failed: NOT_GATEWAY") != std::string::npos);
  BOOST_TEST(r.published.count("national") == 0u);
  BOOST_TEST(r.published.at("regional") == 2u);
  BOOST_TEST(rig.store.recent_syncs(10).size() == 1u);
}

BOOST_AUTO_TEST_CASE(removed_offices_leave_the_stored_listing) {
  Rig rig;
  rig.sync();
  rig.regional.listing.erase(rig.regional.listing.begin());  // kA leaves the regional network
  const auto r = rig.sync();
  BOOST_TEST(r.record.removed == 1);
  BOOST_TEST(rig.to_national.last.empty());
  mapping::registry::Registry loaded;
  rig.store.load(loaded);
  BOOST_TEST(!loaded.find({kA, "43"}));
}

BOOST_AUTO_TEST_CASE(router_maps_registry_decisions_to_refusals) {
  engine::Router router({"regional", "national"});
  BOOST_TEST(!router.ready({"regional", "national"}));
  router.update("regional", {dir_entry(kA, "43", "まつえ", "ACTIVE", "F-1")});
  router.update("national",
                {dir_entry(kB, "11", "とうきょう"), dir_entry(kD, "13", "しながわ", "SUSPENDED")});
  BOOST_TEST(router.ready({"regional", "national"}));
  struct Case {
    OfficeRef to;
    std::string from;
    std::string adapter;
    std::string code;
  };
  const std::vector<Case> cases = {
      {{kB, "11"}, "regional", "national", ""},
      {{kA, "43"}, "national", "regional", ""},
      {{kA, "43"}, "regional", "", "RECIPIENT_SAME_NETWORK"},
      {{kD, "13"}, "regional", "", "RECIPIENT_NOT_ACTIVE"},
      {{office_no(77), "11"}, "regional", "", "RECIPIENT_UNKNOWN"},
      {{testing::bad_office_no(77), "11"}, "regional", "", "RECIPIENT_INVALID_OFFICE_NO"},
      {{kB, "33"}, "regional", "", "RECIPIENT_OUT_OF_SCOPE"},
  };
  for (const auto& c : cases) {
    const auto d = router.resolve(c.to, c.from);
    BOOST_TEST(d.adapter.value_or("") == c.adapter, c.to.office_no << "/" << c.to.service_type);
    BOOST_TEST((d.refusal ? d.refusal->code : "") == c.code,
               c.to.office_no << "/" << c.to.service_type);
  }
  BOOST_TEST(router.facility_holds("regional", "F-1", {kA, "43"}));
  BOOST_TEST(!router.facility_holds("regional", "F-2", {kA, "43"}));
  BOOST_TEST(router.facility_holds("national", "ANY", {kB, "11"}));  // lists no facilities
  BOOST_TEST(router.authorize_sender("national", "", {kB, "11"}).allowed);
  BOOST_TEST(!router.authorize_sender("national", "", {kD, "13"}).allowed);
  BOOST_TEST(router.lookup("national", {kB, "11"})->name == "とうきょう");
  BOOST_TEST(router.size("national") == 2u);

  // A published-back entry on regional is never a route; an override moves a two-network office.
  auto echo = dir_entry(kB, "11", "とうきょう", "ACTIVE", "KAKEHASHI-GW");
  echo.published_by_gateway = true;
  router.update("regional", {dir_entry(kA, "43", "まつえ", "ACTIVE", "F-1"), echo,
                             dir_entry(kC, "11", "いずも", "ACTIVE", "F-2")});
  router.update("national", {dir_entry(kB, "11", "とうきょう"), dir_entry(kC, "11", "いずも")});
  BOOST_TEST(router.resolve({kB, "11"}, "national").refusal->code == "RECIPIENT_SAME_NETWORK");
  BOOST_TEST(router.resolve({kC, "11"}, "folder").adapter.value_or("") == "regional");
  mapping::registry::Policy p{{"regional", "national"}, {}};
  p.overrides[{kC, "11"}] = {"national", ""};
  router.set_policy(p);
  BOOST_TEST(router.resolve({kC, "11"}, "folder").adapter.value_or("") == "national");
  // National does not flag; the published set marks its echoes.
  router.update("national", {dir_entry(kB, "11", "とうきょう"), dir_entry(kA, "43", "まつえ")});
  router.set_published("national", {{kA, "43"}});
  BOOST_TEST(router.resolve({kA, "43"}, "regional").refusal->code == "RECIPIENT_SAME_NETWORK");
  BOOST_TEST(router.resolve({kA, "43"}, "national").adapter.value_or("") == "regional");
}

// Issue 22: an office the gateway publishes to the regional network (flagged, its external
// directory) that then joins that network as a member is native there from the next sync, the
// publication drops it, and the stored registry agrees with the live one (the listing names the
// office twice: the member's entry first, then the gateway's, as the stand-in lists them).
BOOST_AUTO_TEST_CASE(an_office_that_joins_the_flagging_network_becomes_native_there) {
  Rig rig;
  const auto sync = [&rig] {
    std::vector<registry::SyncNetwork> nets(2);
    nets[0] = {"regional", &rig.regional, false, false, rig.to_regional.publisher(), true};
    nets[1] = {"national", &rig.national, true, false, rig.to_national.publisher(), false};
    registry::SyncReport out;
    registry::RegistrySync s(rig.registry, rig.store, [&rig] { return rig.clock += 10; });
    s.run(std::move(nets), false, [&](registry::SyncReport r) { out = std::move(r); });
    return out;
  };
  const auto publish_back = [&rig] {  // the regional network lists what it was given, flagged
    std::erase_if(rig.regional.listing,
                  [](const DirectoryEntry& e) { return e.published_by_gateway; });
    for (const auto& e : rig.to_regional.last) {
      auto d = engine::to_directory_entry(e);
      d.facility_id = "KAKEHASHI-GW";
      rig.regional.listing.push_back(d);
    }
  };
  sync();
  publish_back();
  BOOST_TEST(sync().ok());
  BOOST_TEST(rig.registry.find({kB, "11"})->home == "national");
  BOOST_TEST(rig.registry.route({kB, "11"}, "regional").network.value_or("") == "national");

  // kB joins the regional network (its own facility) while the gateway still publishes it.
  rig.regional.listing.insert(rig.regional.listing.begin(),
                              dir_entry(kB, "11", "とうきょう訪問介護", "ACTIVE", "F-9"));
  auto r = sync();
  BOOST_TEST(r.ok(), r.record.note);
  auto office = rig.registry.find({kB, "11"});
  BOOST_TEST(office->home == "regional");  // the preference: regional first
  BOOST_TEST(office->home_reason == "preference");
  BOOST_TEST(rig.registry.route({kB, "11"}, "national").network.value_or("") == "regional");
  BOOST_TEST(rig.registry.route({kB, "11"}, "regional").refusal ==
             mapping::registry::RouteRefusal::kSameNetwork);
  BOOST_TEST(rig.registry.authorize_sender("regional", "F-9", {kB, "11"}).allowed);
  for (const auto& e : rig.to_regional.last) BOOST_TEST(e.key.str() != kB + "/11");

  // The stored registry says the same, before and after the network drops the publication.
  const auto same_as_stored = [&rig] {
    mapping::registry::Registry loaded({{"regional", "national"}, {}});
    rig.store.load(loaded);
    const auto a = loaded.find({kB, "11"});
    const auto b = rig.registry.find({kB, "11"});
    BOOST_REQUIRE(a && b);
    BOOST_TEST((mapping::registry::office_fields(*a) == mapping::registry::office_fields(*b)));
  };
  same_as_stored();
  publish_back();
  r = sync();
  BOOST_TEST(r.ok(), r.record.note);
  BOOST_TEST(rig.registry.find({kB, "11"})->home == "regional");
  same_as_stored();

  // kB then closes on the national side: it has moved, and stays delivered on regional.
  rig.national.listing[0].status = "CLOSED";
  rig.national.listing[0].updated_at = "2025-06-01T00:00:00Z";
  BOOST_TEST(sync().ok());
  BOOST_TEST(rig.registry.find({kB, "11"})->home == "regional");
  BOOST_TEST(rig.registry.route({kB, "11"}, "national").network.value_or("") == "regional");
  same_as_stored();
}
