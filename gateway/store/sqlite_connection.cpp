#include <sqlite3.h>

#include "gateway/store/sql_connection.hpp"

namespace kakehashi::gateway::store {
namespace {

class SqliteConnection final : public SqlConnection {
 public:
  SqliteConnection(const std::string& path, bool synchronous_full) {
    if (sqlite3_open_v2(path.c_str(), &db_,
                        SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
                        nullptr) != SQLITE_OK) {
      const std::string msg = db_ ? sqlite3_errmsg(db_) : "out of memory";
      sqlite3_close(db_);
      db_ = nullptr;
      throw SqlError{"cannot open SQLite store " + path + ": " + msg, false};
    }
    sqlite3_busy_timeout(db_, 10000);
    execute_script("PRAGMA journal_mode=WAL; PRAGMA foreign_keys=ON;");
    execute_script(synchronous_full ? "PRAGMA synchronous=FULL;" : "PRAGMA synchronous=NORMAL;");
  }
  ~SqliteConnection() override {
    for (auto& [sql, stmt] : cache_) sqlite3_finalize(stmt);
    sqlite3_close(db_);
  }

  Dialect dialect() const override { return Dialect::kSqlite; }

  std::vector<SqlRow> query(std::string_view sql, const std::vector<SqlValue>& params) override {
    sqlite3_stmt* stmt = prepare(sql);
    sqlite3_reset(stmt);
    sqlite3_clear_bindings(stmt);
    for (std::size_t i = 0; i < params.size(); ++i) bind(stmt, static_cast<int>(i + 1), params[i]);
    std::vector<SqlRow> rows;
    while (true) {
      const int rc = sqlite3_step(stmt);
      if (rc == SQLITE_DONE) break;
      if (rc != SQLITE_ROW) {
        const std::string msg = sqlite3_errmsg(db_);
        sqlite3_reset(stmt);
        throw SqlError{msg, rc == SQLITE_BUSY || rc == SQLITE_LOCKED};
      }
      SqlRow row;
      const int n = sqlite3_column_count(stmt);
      row.reserve(static_cast<std::size_t>(n));
      for (int c = 0; c < n; ++c) {
        if (sqlite3_column_type(stmt, c) == SQLITE_NULL) {
          row.emplace_back(std::nullopt);
        } else {
          const auto* data = static_cast<const char*>(sqlite3_column_blob(stmt, c));
          const int len = sqlite3_column_bytes(stmt, c);
          row.emplace_back(std::string(data ? data : "", static_cast<std::size_t>(len)));
        }
      }
      rows.push_back(std::move(row));
    }
    sqlite3_reset(stmt);
    return rows;
  }

  void execute_script(std::string_view sql) override {
    char* err = nullptr;
    const std::string s(sql);
    if (sqlite3_exec(db_, s.c_str(), nullptr, nullptr, &err) != SQLITE_OK) {
      const std::string msg = err ? err : "error";
      sqlite3_free(err);
      throw SqlError{msg, false};
    }
  }

  void begin() override { execute_script("BEGIN IMMEDIATE"); }
  void commit() override { execute_script("COMMIT"); }
  void rollback() override {
    if (!sqlite3_get_autocommit(db_)) sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
  }

 private:
  sqlite3_stmt* prepare(std::string_view sql) {
    for (auto& [text, stmt] : cache_) {
      if (text == sql) return stmt;
    }
    sqlite3_stmt* stmt = nullptr;
    if (sqlite3_prepare_v2(db_, sql.data(), static_cast<int>(sql.size()), &stmt, nullptr) !=
        SQLITE_OK)
      throw SqlError{std::string(sqlite3_errmsg(db_)) + " in: " + std::string(sql), false};
    cache_.emplace_back(std::string(sql), stmt);
    return stmt;
  }

  static void bind(sqlite3_stmt* stmt, int index, const SqlValue& v) {
    if (std::holds_alternative<std::monostate>(v)) {
      sqlite3_bind_null(stmt, index);
    } else if (const auto* i = std::get_if<std::int64_t>(&v)) {
      sqlite3_bind_int64(stmt, index, *i);
    } else if (const auto* s = std::get_if<std::string>(&v)) {
      sqlite3_bind_text(stmt, index, s->data(), static_cast<int>(s->size()), SQLITE_TRANSIENT);
    } else {
      const auto& b = std::get<Blob>(v).bytes;
      sqlite3_bind_blob(stmt, index, b.data(), static_cast<int>(b.size()), SQLITE_TRANSIENT);
    }
  }

  sqlite3* db_ = nullptr;
  std::vector<std::pair<std::string, sqlite3_stmt*>> cache_;
};

}  // namespace

std::unique_ptr<SqlConnection> open_sqlite(const std::string& path, bool synchronous_full) {
  return std::make_unique<SqliteConnection>(path, synchronous_full);
}

std::string decode_blob(Dialect dialect, const std::string& column) {
  if (dialect == Dialect::kSqlite) return column;
  // PostgreSQL text output of bytea: \x followed by hex digits.
  if (column.size() < 2 || column[0] != '\\' || column[1] != 'x') return column;
  const auto hex = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return 0;
  };
  std::string out;
  out.reserve((column.size() - 2) / 2);
  for (std::size_t i = 2; i + 1 < column.size(); i += 2)
    out.push_back(static_cast<char>(hex(column[i]) * 16 + hex(column[i + 1])));
  return out;
}

}  // namespace kakehashi::gateway::store
