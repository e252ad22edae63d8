#pragma once
// One connection to the relational store, SQLite or PostgreSQL, behind a dialect-neutral face:
// statements use `?` placeholders, values are null / integer / text / blob, rows come back as
// optional strings. The store's SQL is written once and runs on both.

#include <cstdint>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace kakehashi::gateway::store {

struct Blob {
  std::string bytes;
};
using SqlValue = std::variant<std::monostate, std::int64_t, std::string, Blob>;
using SqlRow = std::vector<std::optional<std::string>>;

enum class Dialect { kSqlite, kPostgres };

// Thrown by connections (and the store) on a database error. A std::runtime_error, so a layer that
// treats every failure alike catches std::exception once; what() is the database's message (the
// statement's text at most, never its parameters). Catch SqlError itself only to act on it
// differently (reconnect, answer "unavailable", retry when transient).
class SqlError : public std::runtime_error {
 public:
  explicit SqlError(const std::string& message, bool is_transient = false)
      : std::runtime_error(message), transient(is_transient) {}
  bool transient = false;  // serialization failure, busy, connection lost: retry the transaction
};

class SqlConnection {
 public:
  virtual ~SqlConnection() = default;
  virtual Dialect dialect() const = 0;
  // Runs one statement; returns its rows (empty for statements without results).
  virtual std::vector<SqlRow> query(std::string_view sql,
                                    const std::vector<SqlValue>& params = {}) = 0;
  // Runs a script of several statements without parameters (migrations).
  virtual void execute_script(std::string_view sql) = 0;
  virtual void begin() = 0;  // a write transaction (SQLite: BEGIN IMMEDIATE)
  virtual void commit() = 0;
  virtual void rollback() = 0;
};

// path: a file name for SQLite (WAL mode, synchronous=FULL unless `fast` says NORMAL).
std::unique_ptr<SqlConnection> open_sqlite(const std::string& path, bool synchronous_full = true);
// dsn: a libpq connection string ("" uses PGHOST/PGPORT/PGUSER/... from the environment).
std::unique_ptr<SqlConnection> open_postgres(const std::string& dsn);

// Decodes a blob column as returned by either dialect (PostgreSQL sends bytea as \x hex text).
std::string decode_blob(Dialect dialect, const std::string& column);

}  // namespace kakehashi::gateway::store
