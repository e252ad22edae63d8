// Schema upgrades and whole-store copies (issue 19). Stores as every earlier schema version made
// them (tests/store/fixtures/store-vN.sql, from the schema text in git history) migrate to the
// current schema, keep their rows and verify; a failed migration leaves the store as it was;
// copy_store moves every table and checks it; the online backup copies a store being written.
// With KAKEHASHI_TEST_BACKEND=postgres (ctest runs that under pg_virtualenv) copies go into
// PostgreSQL.

#define BOOST_TEST_MODULE kakehashi_store_migration
#include <boost/test/unit_test.hpp>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include <unistd.h>

#include "gateway/audit/verifier.hpp"
#include "gateway/store/store.hpp"
#include "gateway/store/store_copy.hpp"

using namespace kakehashi::gateway;
using namespace kakehashi::gateway::store;
namespace fs = std::filesystem;

namespace {

bool postgres() {
  const char* b = std::getenv("KAKEHASHI_TEST_BACKEND");
  return b != nullptr && std::string(b) == "postgres";
}

struct TempDir {
  TempDir() {
    static int counter = 0;
    path = fs::temp_directory_path() /
           ("kh-migration-" + std::to_string(::getpid()) + "-" + std::to_string(++counter));
    fs::create_directories(path);
  }
  ~TempDir() { fs::remove_all(path); }
  std::string file(const std::string& name) const { return (path / name).string(); }
  fs::path path;
};

// A new empty PostgreSQL database (dsn) or SQLite file for a copy's target.
std::string fresh_target(const TempDir& dir) {
  if (!postgres()) return dir.file("target.sqlite");
  static int counter = 0;
  const std::string name =
      "kh_copy_" + std::to_string(::getpid()) + "_" + std::to_string(++counter);
  auto admin = open_postgres("");
  admin->execute_script("DROP DATABASE IF EXISTS " + name);
  admin->execute_script("CREATE DATABASE " + name);
  return "dbname=" + name;
}
std::unique_ptr<SqlConnection> open_target(const std::string& where) {
  return postgres() ? open_postgres(where) : open_sqlite(where);
}

std::string read_text(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  BOOST_REQUIRE_MESSAGE(in, "cannot read " << p);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// A SQLite store as schema version `version` made it.
std::string fixture_store(const TempDir& dir, int version) {
  const std::string path = dir.file("v" + std::to_string(version) + ".sqlite");
  open_sqlite(path)->execute_script(
      read_text(fs::path(KAKEHASHI_FIXTURES) / ("store-v" + std::to_string(version) + ".sql")));
  return path;
}

std::string meta(SqlConnection& db, const std::string& key) {
  const auto rows = db.query("SELECT value FROM kh_meta WHERE key = ?", {key});
  return rows.empty() ? std::string("(none)") : rows[0][0].value_or("");
}

// Tables with their columns, and index names: what a schema is, for comparing two stores.
std::map<std::string, std::set<std::string>> shape(SqlConnection& db) {
  std::map<std::string, std::set<std::string>> out;
  for (const auto& t : store_tables(db)) {
    for (const auto& r : db.query("SELECT name FROM pragma_table_info(?)", {t}))
      out[t].insert(r[0].value_or(""));
  }
  for (const auto& r : db.query("SELECT name FROM sqlite_master WHERE type = 'index' AND name LIKE "
                                "'kh\\_%' ESCAPE '\\'"))
    out["(indexes)"].insert(r[0].value_or(""));
  return out;
}

// Everything a SQLite file holds: its schema objects and every table's rows (digest).
std::string snapshot(const std::string& path) {
  auto db = open_sqlite(path);
  std::string out;
  for (const auto& r : db->query("SELECT type, name, sql FROM sqlite_master ORDER BY type, name")) {
    out += r[0].value_or("") + " " + r[1].value_or("") + " " + r[2].value_or("") + "\n";
  }
  for (const auto& t : summarize_store(*db))
    out += t.table + " " + std::to_string(t.rows) + " " + t.digest + "\n";
  return out;
}

NewTransfer unit(const std::string& source_id) {
  NewTransfer t;
  t.source_adapter = "regional";
  t.source_id = source_id;
  t.dest_adapter = "national";
  t.direction = "regional->national";
  t.sender_office = "3271500017";
  t.sender_type = "43";
  t.recipient_office = "1371100452";
  t.recipient_type = "11";
  // A sequence of its own per unit (RHN-M-0200 → 20251201000200): distinct units stay distinct
  // whatever the store takes a unit's identity to be.
  const std::string digits = source_id.substr(source_id.find_last_of('-') + 1);
  t.sequence = "20251201" + std::string(6 - digits.size(), '0') + digits;
  t.unit_kind = "K2";
  t.subject_key = "K2:202512";
  t.idempotency_key = "kh-" + source_id;
  t.payload = std::string("sealed\0bytes\xff", 13) + source_id;
  t.event_detail = "unit K2 1 file";
  return t;
}

void expect_chain_intact(Store& s, std::size_t records) {
  const auto report =
      audit::verify_chain(s.audit_records(), s.audit_checkpoints(), s.audit_head(), nullptr);
  BOOST_TEST(report.intact(), "audit chain: " << audit::to_string(report.breakage) << " at seq "
                                              << report.record_seq << ": " << report.detail);
  BOOST_TEST(report.records == records);
}

}  // namespace

BOOST_AUTO_TEST_CASE(every_earlier_schema_version_migrates_keeps_its_rows_and_verifies) {
  TempDir dir;
  // What this version's schema is: a store made fresh.
  const std::string fresh = dir.file("fresh.sqlite");
  Store(open_sqlite(fresh)).migrate();
  auto fresh_db = open_sqlite(fresh);
  const std::string current = meta(*fresh_db, "schema_version");
  const auto current_shape = shape(*fresh_db);
  for (int version : {1, 2, 3, 4, 5}) {
    BOOST_TEST_CONTEXT("schema version " << version) {
      const std::string path = fixture_store(dir, version);
      BOOST_TEST(meta(*open_sqlite(path), "schema_version") == std::to_string(version));
      Store s(open_sqlite(path));
      s.migrate();
      auto db = open_sqlite(path);
      BOOST_TEST(meta(*db, "schema_version") == current);
      // Every table, column and index of the current schema, nothing lost.
      BOOST_TEST(shape(*db) == current_shape);
      BOOST_TEST(db->query("SELECT id FROM kh_transfers").size() == 3u);
      const auto t2 = s.get(2, true);
      BOOST_REQUIRE(t2.has_value());
      BOOST_TEST(t2->payload == "sealed-unit-2");
      BOOST_TEST(t2->state == std::string(kAccepted));
      // Schema 5: its claims start at its attempts (one, in every fixture); a version 5 store
      // kept its own count (two) and its sealed office sessions.
      BOOST_TEST(t2->claims == (version >= 5 ? 2 : 1));
      BOOST_TEST(db->query("SELECT generation FROM kh_adapter_vault").size() ==
                 (version >= 5 ? 1u : 0u));
      // Schema 6: no path recorded for the old transfers, no evidence; a unit taken in now
      // records both.
      BOOST_TEST(t2->path == "");
      BOOST_TEST(s.evidence_of(2).empty());
      BOOST_TEST(s.load_cursor("national", "units").value_or("") == "cursor-17");
      // Version 3 kept a receipt that came before its delivery's remote id: still there.
      BOOST_TEST(db->query("SELECT remote_id FROM kh_early_receipts").size() ==
                 (version >= 3 ? 1u : 0u));
      // Version 1 had no chain: its five records are chained in id order by the migration.
      expect_chain_intact(s, 5);
      const auto records = s.audit_records();
      BOOST_TEST(records.front().actor == (version == 1 ? "gateway" : "gateway:old"));
      // And it works on: a new unit is accepted (id after the old ones) and chained.
      auto with_evidence = unit("RHN-M-0200");
      with_evidence.path = kPathTranslatedToNational;
      with_evidence.evidence = {{kEvidenceSignedFile, "K2.CSV", "sealed-original",
                                 std::string("\x30\x82\x00", 3), 1764550000000, 1764550000000}};
      const auto out = s.accept(with_evidence, std::nullopt, 1764550000000);
      BOOST_TEST(!out.duplicate);
      BOOST_TEST(out.id == 4);
      BOOST_TEST(s.get(4)->path == kPathTranslatedToNational);
      BOOST_TEST(s.evidence_of(4).size() == 1u);
      BOOST_TEST(s.accept(unit("RHN-M-0100"), std::nullopt, 1764550000001).duplicate);
      expect_chain_intact(s, 7);
      // Migrating again changes nothing.
      const std::string before = snapshot(path);
      s.migrate();
      BOOST_TEST(snapshot(path) == before);
    }
  }
}

// The same stores on PostgreSQL (fixtures/store-vN.pg.sql): a deployment that moved to PostgreSQL
// early upgrades in place too. Runs under store_copy_postgres (pg_virtualenv).
namespace {

bool on_postgres(boost::unit_test::test_unit_id) {
  return postgres();
}

// Columns per table and index names of the kh_ tables of a PostgreSQL database.
std::map<std::string, std::set<std::string>> pg_shape(SqlConnection& db) {
  std::map<std::string, std::set<std::string>> out;
  for (const auto& r :
       db.query("SELECT table_name, column_name FROM information_schema.columns "
                "WHERE table_schema = current_schema() AND table_name LIKE 'kh\\_%'"))
    out[r[0].value_or("")].insert(r[1].value_or(""));
  for (const auto& r : db.query("SELECT indexname FROM pg_indexes WHERE schemaname = "
                                "current_schema() AND indexname LIKE 'kh\\_%'"))
    out["(indexes)"].insert(r[0].value_or(""));
  return out;
}

std::string pg_snapshot(const std::string& dsn) {
  auto db = open_postgres(dsn);
  std::string out;
  for (const auto& [table, columns] : pg_shape(*db)) {
    out += table;
    for (const auto& c : columns) out += " " + c;
    out += "\n";
  }
  for (const auto& t : summarize_store(*db))
    out += t.table + " " + std::to_string(t.rows) + " " + t.digest + "\n";
  return out;
}

std::string pg_fixture_store(const TempDir& dir, int version) {
  const std::string dsn = fresh_target(dir);
  open_postgres(dsn)->execute_script(
      read_text(fs::path(KAKEHASHI_FIXTURES) / ("store-v" + std::to_string(version) + ".pg.sql")));
  return dsn;
}

}  // namespace

BOOST_AUTO_TEST_CASE(every_earlier_schema_version_migrates_on_postgres,
                     *boost::unit_test::precondition(on_postgres)) {
  TempDir dir;
  const std::string fresh = fresh_target(dir);
  Store(open_postgres(fresh)).migrate();
  auto fresh_db = open_postgres(fresh);
  const std::string current = meta(*fresh_db, "schema_version");
  const auto current_shape = pg_shape(*fresh_db);
  for (int version : {1, 2, 3, 4, 5}) {
    BOOST_TEST_CONTEXT("schema version " << version << " on PostgreSQL") {
      const std::string dsn = pg_fixture_store(dir, version);
      BOOST_TEST(meta(*open_postgres(dsn), "schema_version") == std::to_string(version));
      Store s(open_postgres(dsn));
      s.migrate();
      auto db = open_postgres(dsn);
      BOOST_TEST(meta(*db, "schema_version") == current);
      BOOST_TEST(pg_shape(*db) == current_shape);
      BOOST_TEST(db->query("SELECT id FROM kh_transfers").size() == 3u);
      const auto t2 = s.get(2, true);
      BOOST_REQUIRE(t2.has_value());
      BOOST_TEST(t2->payload == "sealed-unit-2");
      BOOST_TEST(t2->state == std::string(kAccepted));
      // Schema 5: its claims start at its attempts (one, in every fixture); a version 5 store
      // kept its own count (two) and its sealed office sessions.
      BOOST_TEST(t2->claims == (version >= 5 ? 2 : 1));
      BOOST_TEST(db->query("SELECT generation FROM kh_adapter_vault").size() ==
                 (version >= 5 ? 1u : 0u));
      // Schema 6: no path recorded for the old transfers, no evidence; a unit taken in now
      // records both.
      BOOST_TEST(t2->path == "");
      BOOST_TEST(s.evidence_of(2).empty());
      BOOST_TEST(s.load_cursor("national", "units").value_or("") == "cursor-17");
      BOOST_TEST(db->query("SELECT remote_id FROM kh_early_receipts").size() ==
                 (version >= 3 ? 1u : 0u));
      expect_chain_intact(s, 5);
      BOOST_TEST(s.audit_records().front().actor == (version == 1 ? "gateway" : "gateway:old"));
      // It works on: the serial sequences carry on after the old rows.
      auto with_evidence = unit("RHN-M-0200");
      with_evidence.path = kPathTranslatedToNational;
      with_evidence.evidence = {{kEvidenceSignedFile, "K2.CSV", "sealed-original",
                                 std::string("\x30\x82\x00", 3), 1764550000000, 1764550000000}};
      const auto out = s.accept(with_evidence, std::nullopt, 1764550000000);
      BOOST_TEST(!out.duplicate);
      BOOST_TEST(out.id == 4);
      BOOST_TEST(s.get(4)->path == kPathTranslatedToNational);
      BOOST_TEST(s.evidence_of(4).size() == 1u);
      BOOST_TEST(s.accept(unit("RHN-M-0100"), std::nullopt, 1764550000001).duplicate);
      expect_chain_intact(s, 7);
      const std::string before = pg_snapshot(dsn);
      s.migrate();
      BOOST_TEST(pg_snapshot(dsn) == before);
    }
  }
}

BOOST_AUTO_TEST_CASE(a_failed_migration_on_postgres_leaves_the_store_as_it_was,
                     *boost::unit_test::precondition(on_postgres)) {
  TempDir dir;
  const std::string dsn = pg_fixture_store(dir, 1);
  // The upgrade fails part way: after it has created the newer tables and columns, when it
  // chains the old events (a trigger refuses the update). PostgreSQL rolls the DDL back too.
  open_postgres(dsn)->execute_script(
      "CREATE FUNCTION kh_test_refuse() RETURNS trigger LANGUAGE plpgsql AS "
      "$$ BEGIN RAISE EXCEPTION 'refused by the test'; END $$; "
      "CREATE TRIGGER kh_test_refuse BEFORE UPDATE ON kh_events FOR EACH ROW "
      "EXECUTE FUNCTION kh_test_refuse();");
  const std::string before = pg_snapshot(dsn);
  Store s(open_postgres(dsn));
  BOOST_CHECK_THROW(s.migrate(), SqlError);
  BOOST_TEST(pg_snapshot(dsn) == before);
  BOOST_TEST(meta(*open_postgres(dsn), "schema_version") == "1");
}

BOOST_AUTO_TEST_CASE(a_failed_migration_leaves_the_store_as_it_was) {
  TempDir dir;
  const std::string path = fixture_store(dir, 1);
  // An index already holding a name the migration needs for a new table: the upgrade fails
  // after it has created other tables and before it has chained the events.
  open_sqlite(path)->execute_script("CREATE INDEX kh_early_receipts ON kh_cursors (adapter)");
  const std::string before = snapshot(path);
  Store s(open_sqlite(path));
  BOOST_CHECK_THROW(s.migrate(), SqlError);
  BOOST_TEST(snapshot(path) == before);
  BOOST_TEST(meta(*open_sqlite(path), "schema_version") == "1");
}

BOOST_AUTO_TEST_CASE(copy_moves_every_table_checks_it_and_the_target_carries_on) {
  TempDir dir;
  // A source with a bit of everything: refused and accepted units, a delivery, a receipt
  // that came early, notices, cursors, leases and a chain.
  const std::string source = fixture_store(dir, 2);
  {
    Store s(open_sqlite(source));
    s.migrate();
    s.accept(unit("RHN-M-0300"), CursorUpdate{"regional", "units", "300"}, 1764550000000);
    s.record_receipt("national", "NCP-T-9", "DOWNLOADED", "", std::nullopt, 1764550000001);
    BOOST_TEST(s.try_lease("poll:regional", "gateway:a", 1764550000002, 30000));
    // An adapter's sealed record (schema 5).
    BOOST_TEST(s.vault_put("kaigoweb", "kaigoweb:kw:3271500013:session",
                           std::string("sealed\0session", 14), 0, 1764550000003));
  }
  const std::string where = fresh_target(dir);
  {
    Store(open_target(where)).migrate();
    auto to = open_target(where);
    BOOST_TEST(nonempty_tables(*to).empty());
    auto from = open_sqlite(source);
    const auto checks = copy_store(*from, *to);
    BOOST_TEST(checks.size() == store_tables(*from).size());
    // Every table of this schema, the vault and the evidence included, was copied and checked.
    std::set<std::string> copied;
    for (const auto& c : checks) copied.insert(c.table);
    BOOST_TEST(copied.size() == 10u);
    BOOST_TEST(copied.count("kh_adapter_vault") == 1u);
    BOOST_TEST(copied.count("kh_evidence") == 1u);
    for (const auto& c : checks) {
      BOOST_TEST_CONTEXT(c.table) {
        BOOST_TEST(c.same());
        BOOST_TEST(c.source_rows == c.target_rows);
      }
    }
    BOOST_TEST(!nonempty_tables(*to).empty());
  }
  Store src(open_sqlite(source));
  Store dst(open_target(where));
  BOOST_TEST(dst.audit_head()->hash == src.audit_head()->hash);
  BOOST_TEST(dst.audit_head()->seq == src.audit_head()->seq);
  expect_chain_intact(dst, src.audit_records().size());
  BOOST_TEST(dst.get(4, true)->payload == src.get(4, true)->payload);
  BOOST_TEST(dst.load_cursor("regional", "units").value_or("") == "300");
  const auto record = dst.vault_get("kaigoweb", "kaigoweb:kw:3271500013:session");
  BOOST_TEST_REQUIRE(record.has_value());
  BOOST_TEST(record->sealed == std::string("sealed\0session", 14));
  BOOST_TEST(record->generation == 1);
  // New rows continue after the copied ids (PostgreSQL: the sequences were moved on).
  const auto out = dst.accept(unit("RHN-M-0301"), std::nullopt, 1764550001000);
  BOOST_TEST(out.id == 5);
  BOOST_TEST(dst.accept(unit("RHN-M-0300"), std::nullopt, 1764550001001).duplicate);
  expect_chain_intact(dst, src.audit_records().size() + 2);
}

BOOST_AUTO_TEST_CASE(copy_refuses_what_the_target_schema_cannot_hold) {
  TempDir dir;
  const std::string source = fixture_store(dir, 2);
  Store(open_sqlite(source)).migrate();
  open_sqlite(source)->execute_script(
      "CREATE TABLE kh_future (id INTEGER PRIMARY KEY); INSERT INTO kh_future VALUES (1)");
  const std::string where = fresh_target(dir);
  Store(open_target(where)).migrate();
  auto to = open_target(where);
  auto from = open_sqlite(source);
  BOOST_CHECK_EXCEPTION(copy_store(*from, *to), std::runtime_error, [](const auto& e) {
    return std::string(e.what()).find("kh_future") != std::string::npos;
  });
  // One transaction: nothing of the other tables was written either.
  BOOST_TEST(nonempty_tables(*to).empty());
}

BOOST_AUTO_TEST_CASE(online_backup_copies_a_store_being_written_consistently) {
  TempDir dir;
  const std::string live = dir.file("live.sqlite");
  Store writer(open_sqlite(live));
  writer.migrate();
  writer.accept(unit("RHN-M-1"), std::nullopt, 1764550000000);
  BOOST_TEST(writer.vault_put("kaigoweb", "k", "sealed", 0, 1764550000000));
  // Another connection is in the middle of a write transaction while the backup runs: the
  // backup neither waits for it nor holds its uncommitted row.
  auto busy = open_sqlite(live);
  busy->begin();
  busy->query(
      "INSERT INTO kh_cursors (adapter, kind, value, updated_at) VALUES "
      "('regional', 'units', 'uncommitted', 1)");
  sqlite_backup(live, dir.file("backup.sqlite"));
  busy->commit();
  BOOST_TEST(!fs::exists(dir.file("backup.sqlite.partial")));
  Store copy(open_sqlite(dir.file("backup.sqlite")));
  BOOST_TEST(copy.get(1, true)->payload == unit("RHN-M-1").payload);
  BOOST_TEST(!copy.load_cursor("regional", "units").has_value());
  BOOST_TEST(copy.vault_get("kaigoweb", "k")->sealed == "sealed");
  expect_chain_intact(copy, 1);
  // Never over an existing file.
  BOOST_CHECK_THROW(sqlite_backup(live, dir.file("backup.sqlite")), std::runtime_error);
  BOOST_CHECK_THROW(sqlite_backup(dir.file("missing.sqlite"), dir.file("b2.sqlite")),
                    std::runtime_error);
}
