// The store's behaviour suite. The same cases run against SQLite (a temp file) and, when
// KAKEHASHI_TEST_BACKEND=postgres (ctest runs that under pg_virtualenv), against PostgreSQL.

#define BOOST_TEST_MODULE kakehashi_store
#include <boost/test/unit_test.hpp>

#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <set>
#include <thread>

#include <unistd.h>

#include "gateway/store/store.hpp"
#include "tests/support/db.hpp"
#include "tests/support/transfers.hpp"

using namespace kakehashi::gateway::store;
namespace fs = std::filesystem;

namespace {

bool postgres() {
  return kakehashi::testing::postgres_backend();
}

// A fresh database per test case: a new SQLite file, or a new PostgreSQL database.
struct Db : kakehashi::testing::Db {
  Db() : kakehashi::testing::Db("store") {}
};

NewTransfer unit(const std::string& source_id, const std::string& sequence,
                 const std::string& recipient = "1371100452",
                 const std::string& subject = "K2:202506") {
  NewTransfer t = kakehashi::testing::regional_k2_unit(source_id, sequence, recipient);
  t.subject_key = subject;
  t.payload = std::string("payload\0\xFF\x01 of ", 13) + source_id;
  t.event_detail = "checks passed";
  return t;
}

std::set<std::string> sources(const std::vector<Transfer>& ts) {
  std::set<std::string> s;
  for (const auto& t : ts) s.insert(t.source_id);
  return s;
}

}  // namespace

BOOST_AUTO_TEST_CASE(migrate_is_idempotent) {
  Db db;
  auto s = db.open();
  s->migrate();
  s->migrate();
  BOOST_TEST(s->list({}).empty());
}

BOOST_AUTO_TEST_CASE(accept_once_with_cursor_and_duplicates_keep_the_first_outcome) {
  Db db;
  auto s = db.open();
  const auto a =
      s->accept(unit("m1", "20250601100000"), CursorUpdate{"regional", "units", "7"}, 1000);
  BOOST_TEST(!a.duplicate);
  BOOST_TEST(a.state == kAccepted);
  BOOST_TEST(*s->load_cursor("regional", "units") == "7");
  auto refused = unit("m1", "20250601100000");
  refused.state = kRejected;
  const auto b = s->accept(refused, CursorUpdate{"regional", "units", "8"}, 2000);
  BOOST_TEST(b.duplicate);
  BOOST_TEST(b.id == a.id);
  BOOST_TEST(b.state == kAccepted);
  BOOST_TEST(*s->load_cursor("regional", "units") == "8");
  const auto t = s->get(a.id, true);
  BOOST_TEST_REQUIRE(t.has_value());
  BOOST_TEST(t->payload == unit("m1", "").payload);
  BOOST_TEST(s->list({}).size() == 1u);
  BOOST_TEST(s->events(a.id).size() == 2u);  // accepted, duplicate
}

BOOST_AUTO_TEST_CASE(refusal_owes_the_source_a_notice) {
  Db db;
  auto s = db.open();
  auto t = unit("bad", "20250601100000");
  t.state = kRejected;
  t.dest_adapter = "";
  t.reason = "FIELD_DATE UPPLAN line 2 サービス利用日";
  s->accept(t, std::nullopt, 1000);
  BOOST_TEST(s->claim_transfers("a", 2000, 60000, 10, {}).empty());
  auto notices = s->claim_notices("a", 2000, 60000, 10);
  BOOST_TEST_REQUIRE(notices.size() == 1u);
  BOOST_TEST(notices[0].state == "rejected");
  BOOST_TEST(notices[0].adapter == "regional");
  BOOST_TEST(notices[0].source_id == "bad");
  BOOST_TEST(notices[0].reason == t.reason);
  BOOST_TEST(s->claim_notices("b", 2000, 60000, 10).empty());  // leased
  s->notice_retry(notices[0].id, 5000, "peer down", 2100);
  BOOST_TEST(s->claim_notices("b", 4000, 60000, 10).empty());  // not due yet
  notices = s->claim_notices("b", 5000, 60000, 10);
  BOOST_TEST_REQUIRE(notices.size() == 1u);
  BOOST_TEST(notices[0].attempts == 1);
  s->notice_sent(notices[0].id, 5100);
  BOOST_TEST(s->claim_notices("c", 999999999, 60000, 10).empty());
}

BOOST_AUTO_TEST_CASE(units_of_a_pair_go_out_in_sequence_order) {
  Db db;
  auto s = db.open();
  s->accept(unit("c", "20250601100003"), std::nullopt, 1000);
  s->accept(unit("a", "20250601100001"), std::nullopt, 1000);
  s->accept(unit("b", "20250601100002"), std::nullopt, 1000);
  s->accept(unit("x", "20250601100009", "1371100460"), std::nullopt, 1000);
  auto claimed = s->claim_transfers("o", 2000, 60000, 10, {});
  BOOST_TEST((sources(claimed) == std::set<std::string>{"a", "x"}));
  BOOST_TEST(s->claim_transfers("o", 2000, 60000, 10, {}).empty());  // heads are leased
  for (const auto& t : claimed) s->mark_delivered(t.id, "o", "r-" + t.source_id, "ok", 2100);
  claimed = s->claim_transfers("o", 2200, 60000, 10, {});
  BOOST_TEST((sources(claimed) == std::set<std::string>{"b"}));
}

BOOST_AUTO_TEST_CASE(leases_expire_and_are_taken_over) {
  Db db;
  auto s = db.open();
  s->accept(unit("a", "20250601100001"), std::nullopt, 1000);
  BOOST_TEST(s->claim_transfers("dead", 2000, 5000, 10, {}).size() == 1u);
  BOOST_TEST(s->claim_transfers("alive", 6999, 5000, 10, {}).empty());
  const auto taken = s->claim_transfers("alive", 7000, 5000, 10, {});
  BOOST_TEST_REQUIRE(taken.size() == 1u);
  // The dead owner's late answer must not overwrite the new owner's work.
  const auto events_before = s->events(taken[0].id).size();
  BOOST_TEST(!s->mark_delivered(taken[0].id, "dead", "r-dead", "late", 7100));
  BOOST_TEST(!s->retry_later(taken[0].id, "dead", 9000, "late failure", 7100));
  BOOST_TEST(s->get(taken[0].id)->state == kAccepted);
  // Nothing happened, so the audit log records nothing.
  BOOST_TEST(s->events(taken[0].id).size() == events_before);
  BOOST_TEST(s->mark_delivered(taken[0].id, "alive", "r-alive", "ok", 7200, "UkVDRUlQVA=="));
  BOOST_TEST(s->get(taken[0].id)->remote_id == "r-alive");
  const auto events = s->events(taken[0].id);
  BOOST_TEST_REQUIRE(events.size() == events_before + 2);
  BOOST_TEST(events[events.size() - 2].kind == "delivered");
  BOOST_TEST(events.back().kind == "translation-receipt");
  // Finished: parking it changes nothing and records nothing.
  BOOST_TEST(!s->park(taken[0].id, "too late", "ops:alice", 7300));
  BOOST_TEST(s->get(taken[0].id)->state == kDelivered);
  BOOST_TEST(s->events(taken[0].id).size() == events.size());
  BOOST_TEST(s->audit_records().size() > 0u);
}

BOOST_AUTO_TEST_CASE(an_older_unit_waits_while_a_newer_one_of_its_pair_is_in_flight) {
  Db db;
  auto s = db.open();
  // The newer unit arrived first and is being sent when the older one arrives.
  s->accept(unit("newer", "20250601100009"), std::nullopt, 1000);
  const auto first = s->claim_transfers("o", 1100, 5000, 10, {});
  BOOST_TEST_REQUIRE(first.size() == 1u);
  s->accept(unit("older", "20250601100001"), std::nullopt, 1200);
  BOOST_TEST(s->claim_transfers("o", 1300, 5000, 10, {}).empty());
  // The attempt failed: now the older one goes first, and the newer waits behind it.
  BOOST_TEST(s->retry_later(first[0].id, "o", 1400, "reset", 1350));
  const auto next = s->claim_transfers("o", 1500, 5000, 10, {});
  BOOST_TEST_REQUIRE(next.size() == 1u);
  BOOST_TEST(next[0].source_id == "older");
}

BOOST_AUTO_TEST_CASE(a_batch_commits_all_or_nothing) {
  Db db;
  auto s = db.open();
  // Several operations, one transaction: all of them are there afterwards.
  s->batch([&] {
    s->accept(unit("a", "20250601100001"), CursorUpdate{"regional", "units", "7"}, 1000);
    s->accept(unit("b", "20250601100002"), CursorUpdate{"regional", "units", "8"}, 1000);
  });
  BOOST_TEST(s->list({}).size() == 2u);
  BOOST_TEST(s->load_cursor("regional", "units").value_or("") == "8");
  // A failure in the middle rolls back what came before it in the batch, cursor included.
  BOOST_CHECK_THROW(s->batch([&] {
    s->accept(unit("c", "20250601100003"), CursorUpdate{"regional", "units", "9"}, 1000);
    throw SqlError{"injected", false};
  }),
                    SqlError);
  BOOST_TEST(s->list({}).size() == 2u);
  BOOST_TEST(s->load_cursor("regional", "units").value_or("") == "8");
  // The store is usable afterwards, in and out of batches, and the chain verifies.
  s->accept(unit("c", "20250601100003"), CursorUpdate{"regional", "units", "9"}, 1000);
  s->batch([&] { s->accept(unit("d", "20250601100004"), std::nullopt, 1000); });
  BOOST_TEST(s->list({}).size() == 4u);
  const auto records = s->audit_records();
  for (std::size_t i = 1; i < records.size(); ++i) {
    BOOST_TEST(records[i].seq.value_or(0) == records[i - 1].seq.value_or(0) + 1);
    BOOST_TEST(records[i].prev_hash == records[i - 1].hash);
  }
}

BOOST_AUTO_TEST_CASE(retries_count_attempts_and_release_does_not) {
  Db db;
  auto s = db.open();
  const auto id = s->accept(unit("a", "20250601100001"), std::nullopt, 1000).id;
  s->claim_transfers("o", 1000, 60000, 10, {});
  s->retry_later(id, "o", 5000, "503 maintenance", 1100);
  BOOST_TEST(s->get(id)->attempts == 1);
  BOOST_TEST(s->claim_transfers("o", 4999, 60000, 10, {}).empty());
  BOOST_TEST(s->claim_transfers("o", 5000, 60000, 10, {}).size() == 1u);
  s->release(id, "o", 9000, "circuit open", 5100);
  BOOST_TEST(s->get(id)->attempts == 1);
  BOOST_TEST(s->claim_transfers("o", 9000, 60000, 10, {"national"}).empty());  // paused
  BOOST_TEST(s->claim_transfers("o", 9000, 60000, 10, {"regional"}).size() == 1u);
}

// OutboundUnit::attempt: every claim counts, the current one included, whatever ended the one
// before (a counted retry, a lapsed lease, a release without an attempt counted).
BOOST_AUTO_TEST_CASE(every_claim_is_counted) {
  Db db;
  auto s = db.open();
  const auto id = s->accept(unit("a", "20250601100001"), std::nullopt, 1000).id;
  BOOST_TEST(s->get(id)->claims == 0);
  auto c = s->claim_transfers("o", 1000, 5000, 10, {});
  BOOST_TEST_REQUIRE(c.size() == 1u);
  BOOST_TEST(c[0].claims == 1);  // a first claim
  BOOST_TEST(s->retry_later(id, "o", 2000, "reset", 1100));
  c = s->claim_transfers("o", 2000, 5000, 10, {});
  BOOST_TEST_REQUIRE(c.size() == 1u);
  BOOST_TEST(c[0].claims == 2);  // after a retry
  // The owner dies: its lease lapses and another instance (or the restarted one) claims it.
  BOOST_TEST(s->claim_transfers("other", 6999, 5000, 10, {}).empty());
  c = s->claim_transfers("other", 7000, 5000, 10, {});
  BOOST_TEST_REQUIRE(c.size() == 1u);
  BOOST_TEST(c[0].claims == 3);
  BOOST_TEST(c[0].attempts == 1);  // the lapsed lease spent no attempt
  s->release(id, "other", 8000, "held: login_required", 7100);
  c = s->claim_transfers("other", 8000, 5000, 10, {});
  BOOST_TEST_REQUIRE(c.size() == 1u);
  BOOST_TEST(c[0].claims == 4);
  BOOST_TEST(s->get(id)->claims == 4);
  BOOST_TEST(s->list({}).at(0).claims == 4);
}

// SendResult::hold_office: the sender office's units are put back without an attempt, skipped
// while held, and due at once when the office is active again.
BOOST_AUTO_TEST_CASE(a_held_sender_office_is_skipped_and_released) {
  Db db;
  auto s = db.open();
  const auto held = s->accept(unit("a", "20250601100001"), std::nullopt, 1000).id;
  auto other = unit("b", "20250601100002");
  other.sender_office = "3271500021";
  s->accept(other, std::nullopt, 1000);
  auto c = s->claim_transfers("o", 1000, 60000, 10, {}, {{"national", "3271500013"}});
  BOOST_TEST_REQUIRE(c.size() == 1u);  // the held office's unit is not claimed
  BOOST_TEST(c[0].sender_office == "3271500021");
  c = s->claim_transfers("o", 1000, 60000, 10, {}, {{"regional", "3271500013"}});
  BOOST_TEST_REQUIRE(c.size() == 1u);  // held on another network only
  BOOST_TEST(c[0].id == held);
  s->hold_for_office(held, "o", 301000, "login_required: log in", 1100);
  auto t = s->get(held);
  BOOST_TEST(t->attempts == 0);
  BOOST_TEST(t->state == kAccepted);
  BOOST_TEST(t->last_error == "held: login_required: log in");
  BOOST_TEST(s->claim_transfers("o", 2000, 60000, 10, {}).empty());    // due at the re-offer
  BOOST_TEST(s->release_office("national", "3271500021", 2000) == 0);  // another office
  BOOST_TEST(s->release_office("regional", "3271500013", 2000) == 0);  // another network
  BOOST_TEST(s->release_office("national", "3271500013", 2000) == 1);
  c = s->claim_transfers("o", 2000, 60000, 10, {});
  BOOST_TEST_REQUIRE(c.size() == 1u);
  BOOST_TEST(c[0].id == held);
  BOOST_TEST(c[0].attempts == 0);
}

// kh_adapter_vault: compare-and-set on the generation, per adapter, keys by prefix.
BOOST_AUTO_TEST_CASE(the_adapter_vault_writes_by_compare_and_set) {
  Db db;
  auto s = db.open();
  BOOST_TEST(!s->vault_get("kw", "a:session").has_value());
  BOOST_TEST(!s->vault_put("kw", "a:session", "v1", 1, 1000));  // not there: nothing to update
  BOOST_TEST(s->vault_put("kw", "a:session", "v1", 0, 1000));
  BOOST_TEST(!s->vault_put("kw", "a:session", "other", 0, 1000));  // taken meanwhile
  auto r = s->vault_get("kw", "a:session");
  BOOST_TEST_REQUIRE(r.has_value());
  BOOST_TEST(r->sealed == "v1");
  BOOST_TEST(r->generation == 1);
  BOOST_TEST(s->vault_put("kw", "a:session", std::string("v2\0\xff", 4), 1, 1100));
  BOOST_TEST(!s->vault_put("kw", "a:session", "stale", 1, 1200));  // a newer one was written
  r = s->vault_get("kw", "a:session");
  BOOST_TEST(r->sealed == std::string("v2\0\xff", 4));
  BOOST_TEST(r->generation == 2);
  BOOST_TEST(s->vault_put("other", "a:session", "x", 0, 1000));  // scoped per adapter
  BOOST_TEST(s->vault_put("kw", "a:doubt:1", "t", 0, 1000));
  BOOST_TEST(s->vault_put("kw", "b:session", "t", 0, 1000));
  BOOST_TEST(s->vault_put("kw", "a_session", "t", 0, 1000));  // "_" is no wildcard
  BOOST_TEST((s->vault_keys("kw", "a:") == std::vector<std::string>{"a:doubt:1", "a:session"}));
  BOOST_TEST(s->vault_keys("kw", "").size() == 4u);
  s->vault_erase("kw", "a:session");
  s->vault_erase("kw", "a:session");  // absent is fine
  BOOST_TEST(!s->vault_get("kw", "a:session").has_value());
  BOOST_TEST(s->vault_get("other", "a:session")->sealed == "x");
  BOOST_TEST(s->vault_put("kw", "a:session", "again", 0, 1300));  // a new record: generation 1
  BOOST_TEST(s->vault_get("kw", "a:session")->generation == 1);
}

BOOST_AUTO_TEST_CASE(an_older_unit_never_follows_a_newer_one_with_the_same_subject) {
  Db db;
  auto s = db.open();
  s->accept(unit("new", "20250601100009"), std::nullopt, 1000);
  auto c = s->claim_transfers("o", 1000, 60000, 10, {});
  s->mark_delivered(c.at(0).id, "o", "r1", "ok", 1100);
  const auto old_id = s->accept(unit("old", "20250601100001"), std::nullopt, 1200).id;
  const auto other_id =
      s->accept(unit("other", "20250601100002", "1371100452", "K2:202507"), std::nullopt, 1200).id;
  c = s->claim_transfers("o", 1300, 60000, 10, {});
  BOOST_TEST((sources(c) == std::set<std::string>{"other"}));
  BOOST_TEST(s->get(old_id)->state == kSuperseded);
  BOOST_TEST(s->get(other_id)->state == kAccepted);
}

BOOST_AUTO_TEST_CASE(parked_units_never_block_and_can_be_redriven) {
  Db db;
  auto s = db.open();
  const auto a = s->accept(unit("a", "20250601100001"), std::nullopt, 1000).id;
  s->accept(unit("b", "20250601100002", "1371100452", "K1:"), std::nullopt, 1000);
  s->claim_transfers("o", 1000, 60000, 10, {});
  s->park(a, "failed 8 times: 503", "engine", 1100);
  BOOST_TEST(s->get(a)->state == kParked);
  auto c = s->claim_transfers("o", 1200, 60000, 10, {});
  BOOST_TEST((sources(c) == std::set<std::string>{"b"}));
  BOOST_TEST(!s->redrive(c.at(0).id, "op", 1300));  // not parked
  BOOST_TEST(s->redrive(a, "operator alice", 1300));
  BOOST_TEST(s->get(a)->state == kAccepted);
  BOOST_TEST(s->get(a)->attempts == 0);
}

BOOST_AUTO_TEST_CASE(receipts_and_destination_refusals_reach_the_source) {
  Db db;
  auto s = db.open();
  const auto a = s->accept(unit("a", "20250601100001"), std::nullopt, 1000).id;
  const auto b = s->accept(unit("b", "20250601100002", "1371100460"), std::nullopt, 1000).id;
  s->claim_transfers("o", 1000, 60000, 10, {});
  s->mark_delivered(a, "o", "T-1", "ok", 1100);
  s->reject_at_destination(b, "RECIPIENT_SUSPENDED", "", 1100);
  BOOST_TEST(s->get(b)->state == kRejected);
  BOOST_TEST(*s->record_receipt("national", "T-1", "delivered", "",
                                CursorUpdate{"national", "receipts", "c1"}, 1200) == a);
  BOOST_TEST(*s->record_receipt("national", "T-1", "delivered", "", std::nullopt, 1300) ==
             a);  // repeat
  BOOST_TEST(!s->record_receipt("national", "T-404", "delivered", "",
                                CursorUpdate{"national", "receipts", "c2"}, 1300));
  BOOST_TEST(*s->load_cursor("national", "receipts") == "c2");
  BOOST_TEST(s->get(a)->receipt_state == "delivered");
  const auto notices = s->claim_notices("o", 2000, 60000, 10);
  BOOST_TEST(notices.size() == 2u);  // one receipt (not two) and one rejection
}

// A network may report a receipt before the gateway has recorded the delivery's remote id (crash
// between the network's answer and the commit; the redelivery gets the first answer). The receipt
// is kept and applied, with its notice to the sender, when the delivery is recorded.
BOOST_AUTO_TEST_CASE(a_receipt_before_the_delivery_is_recorded_is_not_lost) {
  Db db;
  auto s = db.open();
  const auto a = s->accept(unit("a", "20250601100001"), std::nullopt, 1000).id;
  s->claim_transfers("o", 1000, 60000, 10, {});
  BOOST_TEST(!s->record_receipt("national", "T-7", "delivered", "",
                                CursorUpdate{"national", "receipts", "c1"}, 1050));
  BOOST_TEST(!s->record_receipt("national", "T-7", "read", "",
                                CursorUpdate{"national", "receipts", "c2"}, 1060));
  BOOST_TEST(!s->record_receipt("national", "T-7", "read", "", std::nullopt, 1070));  // repeated
  BOOST_TEST(*s->load_cursor("national", "receipts") == "c2");
  BOOST_TEST(s->get(a)->receipt_state.empty());
  BOOST_TEST(s->claim_notices("o", 2000, 60000, 10).empty());
  s->mark_delivered(a, "o", "T-7", "ok", 1100);
  BOOST_TEST(s->get(a)->receipt_state == "read");
  const auto notices = s->claim_notices("o", 2000, 60000, 10);
  BOOST_TEST_REQUIRE(notices.size() == 2u);  // delivered, then read: in the order they came
  BOOST_TEST(notices[0].state == "delivered");
  BOOST_TEST(notices[1].state == "read");
  // Applied once: a later repeat of the same receipt is not news.
  BOOST_TEST(*s->record_receipt("national", "T-7", "read", "", std::nullopt, 1200) == a);
  BOOST_TEST(s->claim_notices("o", 3000, 60000, 10).size() == 0u);
  // A late "delivered" after "read" does not go backwards.
  BOOST_TEST(*s->record_receipt("national", "T-7", "delivered", "", std::nullopt, 1300) == a);
  BOOST_TEST(s->get(a)->receipt_state == "read");
}

BOOST_AUTO_TEST_CASE(the_report_balances) {
  Db db;
  auto s = db.open();
  for (int i = 0; i < 6; ++i)
    s->accept(unit("u" + std::to_string(i), "2025060110000" + std::to_string(i),
                   "137110045" + std::to_string(i)),
              std::nullopt, 1000);
  auto bad = unit("bad", "20250601100009");
  bad.state = kRejected;
  s->accept(bad, std::nullopt, 1000);
  auto c = s->claim_transfers("o", 1000, 60000, 10, {});
  BOOST_TEST_REQUIRE(c.size() == 6u);
  s->mark_delivered(c[0].id, "o", "r0", "ok", 1100);
  s->mark_delivered(c[1].id, "o", "r1", "ok", 1100);
  s->park(c[2].id, "x", "engine", 1100);
  s->reject_at_destination(c[3].id, "y", "", 1100);
  s->record_receipt("national", "r0", "read", "", std::nullopt, 1200);
  const auto rows = s->report(0, INT64_MAX);
  BOOST_TEST_REQUIRE(rows.size() == 1u);
  const auto& r = rows[0];
  BOOST_TEST(r.in == 7);
  BOOST_TEST(r.delivered == 2);
  BOOST_TEST(r.rejected == 2);
  BOOST_TEST(r.parked == 1);
  BOOST_TEST(r.in_flight == 2);
  BOOST_TEST(r.receipts == 1);
  BOOST_TEST(r.in == r.delivered + r.rejected + r.parked + r.superseded + r.in_flight);
}

BOOST_AUTO_TEST_CASE(payloads_are_purged_but_metadata_stays) {
  Db db;
  auto s = db.open();
  const auto a = s->accept(unit("a", "20250601100001"), std::nullopt, 1000).id;
  const auto b = s->accept(unit("b", "20250601100002", "1371100460"), std::nullopt, 1000).id;
  s->claim_transfers("o", 1000, 60000, 10, {});
  s->mark_delivered(a, "o", "r", "ok", 1100);
  BOOST_TEST(s->purge_payloads(1101) == 1);
  BOOST_TEST(!s->get(a)->has_payload);
  BOOST_TEST(s->get(a)->state == kDelivered);
  BOOST_TEST(s->get(b)->has_payload);  // in flight: kept
}

// Issue 17: the signed originals and the receipt of a unit translated for the national side are
// kept apart from its payload: purging payloads leaves them; they go only after their own
// retention. Binary bytes (NUL, 0xFF) come back exactly, on SQLite and PostgreSQL.
BOOST_AUTO_TEST_CASE(evidence_outlives_the_payload_until_its_own_retention) {
  Db db;
  auto s = db.open();
  const std::string original("MS932\0bytes\xff\r\n", 15), signature("\x30\x82\x00\x01", 4);
  auto u = unit("e", "20250601100003");
  u.path = kPathTranslatedToNational;
  u.evidence = {{kEvidenceSignedFile, "UPPLAN.CSV", original, signature, 1000, 5000}};
  const auto id = s->accept(u, std::nullopt, 1000).id;
  // Offered again: a duplicate keeps no second copy.
  BOOST_TEST(s->accept(u, std::nullopt, 1001).duplicate);
  const auto plain = s->accept(unit("p", "20250601100004", "1371100460"), std::nullopt, 1000).id;
  BOOST_TEST(s->get(id)->path == kPathTranslatedToNational);
  BOOST_TEST(s->get(plain)->path == "");
  s->claim_transfers("o", 1000, 60000, 10, {});
  BOOST_TEST(s->mark_delivered(id, "o", "KW-1", "ok", 1100));
  s->keep_evidence(id, {{kEvidenceReceipt, "", "", std::string("\x30\x01\x00", 3), 1100, 5100}});
  BOOST_TEST(s->purge_payloads(2000) == 1);
  BOOST_TEST(!s->get(id)->has_payload);
  auto kept = s->evidence_of(id);
  BOOST_TEST_REQUIRE(kept.size() == 2u);
  BOOST_TEST(kept[0].kind == kEvidenceSignedFile);
  BOOST_TEST(kept[0].name == "UPPLAN.CSV");
  BOOST_TEST(kept[0].content == original);
  BOOST_TEST(kept[0].signature == signature);
  BOOST_TEST(kept[0].keep_until == 5000);
  BOOST_TEST(kept[1].kind == kEvidenceReceipt);
  BOOST_TEST(kept[1].content == "");
  BOOST_TEST(kept[1].signature == std::string("\x30\x01\x00", 3));
  BOOST_TEST(s->evidence_of(plain).empty());
  // Only what is past its keep_until goes.
  BOOST_TEST(s->purge_evidence(5000) == 0);
  BOOST_TEST(s->purge_evidence(5001) == 1);
  BOOST_TEST(s->evidence_of(id).size() == 1u);
  BOOST_TEST(s->purge_evidence(5101) == 1);
  BOOST_TEST(s->evidence_of(id).empty());
  BOOST_TEST(s->get(id)->state == kDelivered);  // metadata stays
}

BOOST_AUTO_TEST_CASE(named_leases_are_exclusive_until_they_expire) {
  Db db;
  auto s = db.open();
  BOOST_TEST(s->try_lease("poll:national", "i1", 1000, 5000));
  BOOST_TEST(!s->try_lease("poll:national", "i2", 2000, 5000));
  BOOST_TEST(s->try_lease("poll:national", "i1", 2000, 5000));  // renewal
  BOOST_TEST(s->try_lease("poll:regional", "i2", 2000, 5000));
  BOOST_TEST(s->try_lease("poll:national", "i2", 7001, 5000));  // i1 died
}

BOOST_AUTO_TEST_CASE(concurrent_claimers_never_share_a_transfer) {
  Db db;
  {
    auto s = db.open();
    for (int i = 0; i < 200; ++i)
      s->accept(
          unit("u" + std::to_string(i), "20250601100000", "13711" + std::to_string(10000 + i)),
          std::nullopt, 1000);
  }
  std::atomic<int> total{0};
  std::mutex m;
  std::set<std::int64_t> seen;
  bool overlap = false;
  auto worker = [&](const std::string& owner) {
    auto s = db.open();
    while (true) {
      const auto c = s->claim_transfers(owner, 2000, 600000, 7, {});
      if (c.empty()) break;
      std::lock_guard lock(m);
      for (const auto& t : c) overlap |= !seen.insert(t.id).second;
      total += static_cast<int>(c.size());
    }
  };
  std::thread t1(worker, "one"), t2(worker, "two");
  t1.join();
  t2.join();
  BOOST_TEST(!overlap);
  BOOST_TEST(total.load() == 200);
}

// ---- superseding, ordering pairs and unit identity (issue 14) --------------------------------

namespace {

const Notice* notice_for(const std::vector<Notice>& notices, const std::string& source_id) {
  for (const auto& n : notices)
    if (n.source_id == source_id) return &n;
  return nullptr;
}

NewTransfer with_digest(NewTransfer t, const std::string& digest) {
  t.unit_digest = digest;
  return t;
}

}  // namespace

BOOST_AUTO_TEST_CASE(a_superseded_unit_owes_its_sender_a_notice_naming_the_newer_unit) {
  Db db;
  auto s = db.open();
  s->accept(unit("new", "20250601100009"), std::nullopt, 1000);
  s->mark_delivered(s->claim_transfers("o", 1000, 60000, 10, {}).at(0).id, "o", "r1", "ok", 1100);
  const auto old_id = s->accept(unit("old", "20250601100001"), std::nullopt, 1200).id;
  BOOST_TEST(s->claim_transfers("o", 1300, 60000, 10, {}).empty());
  const auto old = s->get(old_id);
  BOOST_TEST(old->state == kSuperseded);
  BOOST_TEST(old->reason.rfind("SUPERSEDED", 0) == 0u, old->reason);
  const auto notices = s->claim_notices("o", 1400, 60000, 10);
  BOOST_TEST_REQUIRE(notices.size() == 1u);
  BOOST_TEST(notices[0].adapter == "regional");
  BOOST_TEST(notices[0].source_id == "old");
  BOOST_TEST(notices[0].state == "rejected");
  BOOST_TEST(notices[0].reason.find("20250601100009") != std::string::npos, notices[0].reason);
  BOOST_TEST(notices[0].reason.find("new") != std::string::npos, notices[0].reason);
  BOOST_TEST(notices[0].reason.find("[SUPERSEDED]") != std::string::npos, notices[0].reason);
  // Counted as superseded; the notice is owed until sent.
  const auto rows = s->report(0, INT64_MAX);
  BOOST_TEST_REQUIRE(rows.size() == 1u);
  BOOST_TEST(rows[0].superseded == 1);
  BOOST_TEST(rows[0].in == rows[0].delivered + rows[0].superseded);
}

// Case (b) of issue 14: superseding compares both offices with their service types. A unit for
// another service type of the recipient office (or from another service type of the sender
// office) is not superseded by the other's newer unit.
BOOST_AUTO_TEST_CASE(superseding_compares_the_service_types) {
  Db db;
  auto s = db.open();
  s->accept(unit("new-11", "20250601100009"), std::nullopt, 1000);
  s->mark_delivered(s->claim_transfers("o", 1000, 60000, 10, {}).at(0).id, "o", "r1", "ok", 1100);
  auto to_13 = unit("old-13", "20250601100001");
  to_13.recipient_type = "13";
  auto from_46 = unit("old-46", "20250601100002");
  from_46.sender_type = "46";
  const auto id_13 = s->accept(to_13, std::nullopt, 1200).id;
  const auto id_46 = s->accept(from_46, std::nullopt, 1200).id;
  // Both are claimed in their turn (one office pair: oldest first), neither is superseded.
  const auto c = s->claim_transfers("o", 1300, 60000, 10, {});
  BOOST_TEST((sources(c) == std::set<std::string>{"old-13"}));
  BOOST_TEST(s->get(id_13)->state == kAccepted);
  for (const auto& t : c) s->mark_delivered(t.id, "o", "r-" + t.source_id, "ok", 1320);
  const auto c2 = s->claim_transfers("o", 1350, 60000, 10, {});
  BOOST_TEST((sources(c2) == std::set<std::string>{"old-46"}));
  BOOST_TEST(s->get(id_46)->state == kAccepted);
  BOOST_TEST(s->claim_notices("o", 1400, 60000, 10).empty());
  // Ordering stays per office pair, whatever the service types (stricter): the oldest first.
  s->accept(unit("b-11", "20250601100012"), std::nullopt, 1500);
  auto a_13 = unit("a-13", "20250601100011");
  a_13.recipient_type = "13";
  auto c_13 = unit("c-13", "20250601100013");
  c_13.recipient_type = "13";
  s->accept(c_13, std::nullopt, 1500);
  s->accept(a_13, std::nullopt, 1500);
  for (const auto& t : c2) s->mark_delivered(t.id, "o", "r-" + t.source_id, "ok", 1550);
  BOOST_TEST(
      (sources(s->claim_transfers("o", 1600, 60000, 10, {})) == std::set<std::string>{"a-13"}));
}

BOOST_AUTO_TEST_CASE(the_same_unit_under_another_source_id_is_a_duplicate) {
  Db db;
  auto s = db.open();
  const auto first = s->accept(with_digest(unit("m1", "20250601100001"), "d1"), std::nullopt, 1000);
  BOOST_TEST(!first.duplicate);
  const auto copy = s->accept(with_digest(unit("m2", "20250601100001"), "d1"),
                              CursorUpdate{"regional", "units", "5"}, 1100);
  BOOST_TEST(copy.duplicate);
  BOOST_TEST(copy.same_unit);
  BOOST_TEST(copy.id == first.id);
  BOOST_TEST(copy.state == kAccepted);
  BOOST_TEST(*s->load_cursor("regional", "units") == "5");  // the source moves on
  BOOST_TEST(s->list({}).size() == 1u);
  const auto c = s->claim_transfers("o", 1200, 60000, 10, {});
  BOOST_TEST_REQUIRE(c.size() == 1u);
  s->mark_delivered(c[0].id, "o", "r1", "ok", 1300);
  // After delivery: the first outcome is replayed, nothing is owed to anyone.
  const auto late = s->accept(with_digest(unit("m3", "20250601100001"), "d1"), std::nullopt, 1400);
  BOOST_TEST(late.duplicate);
  BOOST_TEST(late.state == kDelivered);
  BOOST_TEST(s->list({}).size() == 1u);
  BOOST_TEST(s->claim_transfers("o", 1500, 60000, 10, {}).empty());
  BOOST_TEST(s->claim_notices("o", 1500, 60000, 10).empty());
  std::size_t duplicates = 0;
  for (const auto& e : s->events(first.id)) duplicates += e.kind == "duplicate";
  BOOST_TEST(duplicates == 2u);
  // The identity includes both service types: the same sequence to another type is another unit.
  auto other_type = with_digest(unit("m4", "20250601100001"), "d1");
  other_type.recipient_type = "13";
  BOOST_TEST(!s->accept(other_type, std::nullopt, 1600).duplicate);
  BOOST_TEST(s->list({}).size() == 2u);
}

BOOST_AUTO_TEST_CASE(other_files_under_a_sequence_already_taken_are_refused_to_the_sender) {
  Db db;
  auto s = db.open();
  const auto first = s->accept(with_digest(unit("m1", "20250601100001"), "d1"), std::nullopt, 1000);
  const auto other = s->accept(with_digest(unit("m2", "20250601100001"), "d2"), std::nullopt, 1100);
  BOOST_TEST(!other.duplicate);
  BOOST_TEST(other.id != first.id);
  BOOST_TEST(other.state == kRejected);
  BOOST_TEST(other.reason.rfind("SEQUENCE_REUSED", 0) == 0u, other.reason);
  const auto t = s->get(other.id);
  BOOST_TEST(t->state == kRejected);
  BOOST_TEST(t->dest_adapter == "");  // refused at intake
  const auto notices = s->claim_notices("o", 1200, 60000, 10);
  BOOST_TEST_REQUIRE(notices.size() == 1u);
  BOOST_TEST(notices[0].source_id == "m2");
  BOOST_TEST(notices[0].state == "rejected");
  BOOST_TEST(notices[0].reason.find("[SEQUENCE_REUSED]") != std::string::npos);
  BOOST_TEST(notices[0].reason.find("20250601100001") != std::string::npos);
  // The first unit is untouched and goes out.
  const auto c = s->claim_transfers("o", 1300, 60000, 10, {});
  BOOST_TEST((sources(c) == std::set<std::string>{"m1"}));
  // A refused unit takes no identity: refused at admission, then sent again right, it is new.
  auto bad = with_digest(unit("m5", "20250601100005"), "d5");
  bad.state = kRejected;
  bad.dest_adapter = "";
  s->accept(bad, std::nullopt, 1400);
  const auto fixed = s->accept(with_digest(unit("m6", "20250601100005"), "d5"), std::nullopt, 1500);
  BOOST_TEST(!fixed.duplicate);
  BOOST_TEST(fixed.state == kAccepted);
  BOOST_TEST(notice_for(s->claim_notices("o", 1600, 60000, 10), "m6") == nullptr);
}

// Two instances taking the same units under different source ids at once: each unit is stored
// once (on PostgreSQL the identity index decides, the loser sees a duplicate).
BOOST_AUTO_TEST_CASE(concurrent_copies_of_a_unit_are_accepted_once) {
  Db db;
  db.open();
  std::atomic<int> duplicates{0};
  auto worker = [&](const std::string& prefix) {
    auto s = db.open();
    for (int i = 0; i < 40; ++i) {
      const auto seq = "202506011" + std::to_string(10000 + i);
      if (s->accept(with_digest(unit(prefix + std::to_string(i), seq), "d" + std::to_string(i)),
                    std::nullopt, 1000)
              .duplicate)
        ++duplicates;
    }
  };
  std::thread t1(worker, "a"), t2(worker, "b");
  t1.join();
  t2.join();
  BOOST_TEST(duplicates.load() == 40);
  TransferFilter all;
  all.limit = 1000;
  BOOST_TEST(db.open()->list(all).size() == 40u);
}

// A store made before schema 4 (no unit_digest, no identity index) is
// upgraded in place: its transfers stay and go out, and the new rules hold from then on.
BOOST_AUTO_TEST_CASE(a_store_from_before_unit_identity_is_migrated) {
  Db db;
  std::int64_t legacy = 0;
  {
    auto s = db.open();
    legacy = s->accept(unit("legacy", "20250601100001"), std::nullopt, 1000).id;
  }
  {
    // Take the store back to schema 3.
    auto c = db.connect();
    c->execute_script(
        "DROP INDEX kh_transfers_identity; "
        "ALTER TABLE kh_transfers DROP COLUMN unit_digest; "
        "UPDATE kh_meta SET value = '3' WHERE key = 'schema_version'");
  }
  auto s = db.open();
  s->migrate();  // twice: idempotent
  auto c = db.connect();
  BOOST_TEST(*c->query("SELECT value FROM kh_meta WHERE key = 'schema_version'").at(0)[0] == "6");
  const std::string indexes =
      postgres() ? "SELECT indexname FROM pg_indexes WHERE tablename = 'kh_transfers'"
                 : "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = "
                   "'kh_transfers'";
  std::set<std::string> names;
  for (const auto& r : c->query(indexes)) names.insert(r[0].value_or(""));
  BOOST_TEST(names.count("kh_transfers_identity") == 1u);
  BOOST_TEST(names.count("kh_transfers_pair") == 1u);
  BOOST_TEST(s->get(legacy)->state == kAccepted);
  BOOST_TEST(
      s->accept(with_digest(unit("copy", "20250601100002"), "d"), std::nullopt, 1100).duplicate ==
      false);
  BOOST_TEST(
      s->accept(with_digest(unit("copy2", "20250601100002"), "d"), std::nullopt, 1100).duplicate);
  BOOST_TEST(
      (sources(s->claim_transfers("o", 1200, 60000, 10, {})) == std::set<std::string>{"legacy"}));
}
