// retry and park as the CLI and the admin API run them (gateway/operations), on a SQLite store.
#define BOOST_TEST_MODULE operations
#include <unistd.h>

#include <boost/test/unit_test.hpp>

#include <filesystem>
#include <memory>
#include <string>

#include "gateway/operations/transfer_actions.hpp"
#include "gateway/store/sql_connection.hpp"
#include "gateway/store/store.hpp"

namespace fs = std::filesystem;
namespace ops = kakehashi::gateway::operations;
namespace store = kakehashi::gateway::store;

namespace {

constexpr std::int64_t kNow = 1748736000000;  // 2025-06-01T00:00:00Z

store::NewTransfer unit(const std::string& source_id) {
  store::NewTransfer t;
  t.source_adapter = "regional";
  t.source_id = source_id;
  t.dest_adapter = "national";
  t.direction = "regional->national";
  t.sender_office = "3271500013";
  t.sender_type = "43";
  t.recipient_office = "1371100452";
  t.recipient_type = "11";
  t.sequence = "20250601090000";
  t.unit_kind = "K2";
  t.subject_key = "K2:202506:" + source_id;
  t.idempotency_key = "kh-" + source_id;
  t.payload = "sealed " + source_id;
  t.event_detail = "checks passed";
  return t;
}

struct Fixture {
  fs::path dir;
  std::string db;
  std::unique_ptr<store::Store> s;
  std::int64_t in_flight = 0;

  Fixture() {
    static int counter = 0;
    dir = fs::temp_directory_path() /
          ("kh-operations-" + std::to_string(::getpid()) + "-" + std::to_string(++counter));
    fs::create_directories(dir);
    db = (dir / "store.db").string();
    s = std::make_unique<store::Store>(store::open_sqlite(db));
    s->migrate();
    in_flight = s->accept(unit("a"), std::nullopt, kNow).id;
  }
  ~Fixture() {
    s.reset();
    std::error_code ec;
    fs::remove_all(dir, ec);
  }
};

}  // namespace

BOOST_FIXTURE_TEST_CASE(park_then_retry, Fixture) {
  const auto parked = ops::park_transfer(*s, in_flight, "held for a check", "ops:alice", kNow + 1);
  BOOST_TEST(parked.ok());
  BOOST_TEST(parked.state == store::kParked);
  BOOST_TEST(s->get(in_flight)->reason == "held for a check");

  const auto again = ops::park_transfer(*s, in_flight, "twice", "ops:alice", kNow + 2);
  BOOST_TEST(static_cast<int>(again.outcome) == static_cast<int>(ops::ActionOutcome::kWrongState));
  BOOST_TEST(again.detail == "transfer " + std::to_string(in_flight) + " is parked, not in flight");

  const auto retried = ops::retry_transfer(*s, in_flight, "ops:alice", kNow + 3);
  BOOST_TEST(retried.ok());
  BOOST_TEST(retried.state == store::kAccepted);
  BOOST_TEST(s->get(in_flight)->attempts == 0);

  const auto retried_again = ops::retry_transfer(*s, in_flight, "ops:alice", kNow + 4);
  BOOST_TEST(static_cast<int>(retried_again.outcome) ==
             static_cast<int>(ops::ActionOutcome::kWrongState));
  BOOST_TEST(retried_again.detail ==
             "transfer " + std::to_string(in_flight) + " is accepted, not parked");
}

BOOST_FIXTURE_TEST_CASE(unknown_transfer, Fixture) {
  for (const auto& r : {ops::retry_transfer(*s, 999, "ops:alice", kNow),
                        ops::park_transfer(*s, 999, "x", "ops:alice", kNow)}) {
    BOOST_TEST(static_cast<int>(r.outcome) == static_cast<int>(ops::ActionOutcome::kNotFound));
    BOOST_TEST(r.detail == "no transfer 999");
    BOOST_TEST(r.state.empty());
  }
}

// The store writes no park (Store::park returns false) although the transfer was in flight when
// read: delivery finished it in between. A trigger stands in for that delivery: it discards the
// park's UPDATE, as the store's "WHERE state = 'accepted'" does after a delivery.
BOOST_FIXTURE_TEST_CASE(park_that_the_store_did_not_write_is_reported, Fixture) {
  store::open_sqlite(db)->execute_script(
      "CREATE TRIGGER kh_test_no_park BEFORE UPDATE OF state ON kh_transfers "
      "WHEN NEW.state = 'parked' BEGIN SELECT RAISE(IGNORE); END;");
  const auto r = ops::park_transfer(*s, in_flight, "held", "ops:alice", kNow + 1);
  BOOST_TEST(!r.ok());
  BOOST_TEST(static_cast<int>(r.outcome) ==
             static_cast<int>(ops::ActionOutcome::kFinishedMeanwhile));
  BOOST_TEST(r.detail ==
             "transfer " + std::to_string(in_flight) + " finished before it could be parked");
  BOOST_TEST(s->get(in_flight)->state == store::kAccepted);
}
