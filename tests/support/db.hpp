#pragma once
// The two-store fixture: every store suite runs on SQLite, and again on PostgreSQL when ctest
// starts it under pg_virtualenv with KAKEHASHI_TEST_BACKEND=postgres (pg_virtualenv sets the
// PG* variables, so an empty DSN reaches the throwaway cluster).

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "gateway/store/sql_connection.hpp"
#include "gateway/store/store.hpp"

namespace kakehashi::testing {

// True when this run's store is PostgreSQL (KAKEHASHI_TEST_BACKEND=postgres).
bool postgres_backend();

// A fresh, empty store per test: a temp directory (always made, for the test's other files) and
// either `store.db` in it or a new database on the pg_virtualenv cluster. Both are named after
// `label`, the process and a counter (kh-<label>-<pid>-<n>, kh_<label>_<pid>_<n>). The directory
// is removed at the end; a PostgreSQL database goes with the cluster.
class Db {
 public:
  explicit Db(const std::string& label);
  ~Db();
  Db(const Db&) = delete;
  Db& operator=(const Db&) = delete;

  bool postgres() const { return postgres_; }
  const std::filesystem::path& dir() const { return dir_; }
  // The SQLite file's path, or "dbname=<database>" on PostgreSQL.
  const std::string& dsn() const { return dsn_; }
  // The database's name on PostgreSQL ("" on SQLite).
  const std::string& name() const { return name_; }

  // A new connection (SQLite: `synchronous_full` as open_sqlite takes it).
  std::unique_ptr<gateway::store::SqlConnection> connect(bool synchronous_full = true) const;
  // A migrated store over a new connection.
  std::unique_ptr<gateway::store::Store> open(gateway::store::AuditOptions options = {}) const;
  // How the CLI is pointed at this store: {"--dsn", dsn} or {"--store", path}.
  std::vector<std::string> cli_args() const;
  // The config file's "store" section for this store (JSON).
  std::string config_json() const;

 private:
  bool postgres_;
  std::filesystem::path dir_;
  std::string name_, dsn_;
};

}  // namespace kakehashi::testing
