#pragma once
// Whole-store copies for `kakehashi store backup|restore|copy`: every Kakehashi table (kh_*) of
// one store into another, dialect to dialect (SQLite ⇄ PostgreSQL), read from one consistent
// snapshot of the source and written in one transaction, then checked table by table (row count
// and a digest of every row as read back from the target). Payloads move as stored: still sealed
// with the payload key, never decrypted. Blocking; for the command line, not the daemon.

#include <cstdint>
#include <string>
#include <vector>

#include "gateway/store/sql_connection.hpp"

namespace kakehashi::gateway::store {

struct TableCheck {
  std::string table;
  std::int64_t source_rows = 0;
  std::int64_t target_rows = 0;
  // Order-independent digest of the rows: the sum of each row's SHA-256, so both dialects agree
  // whatever order their collations list text keys in.
  std::string source_digest;
  std::string target_digest;
  bool same() const { return source_rows == target_rows && source_digest == target_digest; }
};

// The Kakehashi tables of a store (kh_*), sorted by name.
std::vector<std::string> store_tables(SqlConnection& db);

// Tables other than kh_meta and kh_leases that hold rows (a restore target must have none).
std::vector<std::string> nonempty_tables(SqlConnection& db);

// Every row of every kh_* table of `from` into the same tables of `to`, whose schema must
// exist (Store::migrate and RegistryStore::migrate) and whose data tables must be empty: the
// target's kh_meta (schema version, audit chain head) is replaced by the source's. Serial
// columns (PostgreSQL sequences) continue after the copied ids. Throws std::runtime_error
// naming the table when the source has a table or column the target lacks; SqlError on a
// database error (nothing written: one transaction).
std::vector<TableCheck> copy_store(SqlConnection& from, SqlConnection& to);

struct TableSummary {
  std::string table;
  std::int64_t rows = 0;
  std::string digest;
};
// Rows and digest of every kh_* table (one consistent snapshot), e.g. of a backup file.
std::vector<TableSummary> summarize_store(SqlConnection& db);

// SQLite online backup (sqlite3_backup) of a live store at `source` into a new file `target`:
// a consistent snapshot taken while the gateway keeps writing (WAL: it does not wait for us).
// Written to TARGET.partial, checked (PRAGMA integrity_check) and renamed. Throws
// std::runtime_error when `target` exists or the backup fails.
void sqlite_backup(const std::string& source, const std::string& target);

}  // namespace kakehashi::gateway::store
