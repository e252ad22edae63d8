#include <libpq-fe.h>

#include <cstring>

#include "gateway/store/sql_connection.hpp"

namespace kakehashi::gateway::store {
namespace {

// `?` placeholders become $1, $2, ... (outside quoted strings).
std::string to_dollar_placeholders(std::string_view sql) {
  std::string out;
  out.reserve(sql.size() + 16);
  int n = 0;
  bool in_string = false;
  for (char c : sql) {
    if (c == '\'') in_string = !in_string;
    if (c == '?' && !in_string) {
      out += '$' + std::to_string(++n);
    } else {
      out += c;
    }
  }
  return out;
}

class PostgresConnection final : public SqlConnection {
 public:
  explicit PostgresConnection(const std::string& dsn) : conn_(PQconnectdb(dsn.c_str())) {
    if (conn_ == nullptr || PQstatus(conn_) != CONNECTION_OK) {
      const std::string msg = conn_ ? PQerrorMessage(conn_) : "out of memory";
      PQfinish(conn_);
      conn_ = nullptr;
      throw SqlError{"cannot connect to PostgreSQL: " + msg, true};
    }
    execute_script("SET client_min_messages = warning");
  }
  ~PostgresConnection() override { PQfinish(conn_); }

  Dialect dialect() const override { return Dialect::kPostgres; }

  std::vector<SqlRow> query(std::string_view sql, const std::vector<SqlValue>& params) override {
    const std::string text = to_dollar_placeholders(sql);
    std::vector<std::string> storage(params.size());
    std::vector<const char*> values(params.size(), nullptr);
    std::vector<int> lengths(params.size(), 0);
    std::vector<int> formats(params.size(), 0);
    for (std::size_t i = 0; i < params.size(); ++i) {
      const auto& v = params[i];
      if (std::holds_alternative<std::monostate>(v)) continue;
      if (const auto* n = std::get_if<std::int64_t>(&v)) {
        storage[i] = std::to_string(*n);
      } else if (const auto* s = std::get_if<std::string>(&v)) {
        storage[i] = *s;
      } else {
        storage[i] = std::get<Blob>(v).bytes;
        formats[i] = 1;  // binary
      }
      values[i] = storage[i].data();
      lengths[i] = static_cast<int>(storage[i].size());
    }
    PGresult* res = PQexecParams(conn_, text.c_str(), static_cast<int>(params.size()), nullptr,
                                 values.data(), lengths.data(), formats.data(), 0);
    const auto status = PQresultStatus(res);
    if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK) {
      throw_error(res);
    }
    std::vector<SqlRow> rows;
    const int nrows = PQntuples(res);
    const int ncols = PQnfields(res);
    rows.reserve(static_cast<std::size_t>(nrows));
    for (int r = 0; r < nrows; ++r) {
      SqlRow row;
      row.reserve(static_cast<std::size_t>(ncols));
      for (int c = 0; c < ncols; ++c) {
        if (PQgetisnull(res, r, c)) {
          row.emplace_back(std::nullopt);
        } else {
          row.emplace_back(std::string(PQgetvalue(res, r, c),
                                       static_cast<std::size_t>(PQgetlength(res, r, c))));
        }
      }
      rows.push_back(std::move(row));
    }
    PQclear(res);
    return rows;
  }

  void execute_script(std::string_view sql) override {
    const std::string s(sql);
    PGresult* res = PQexec(conn_, s.c_str());
    const auto status = PQresultStatus(res);
    if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK) throw_error(res);
    PQclear(res);
  }

  void begin() override { execute_script("BEGIN"); }
  void commit() override { execute_script("COMMIT"); }
  void rollback() override {
    if (PQtransactionStatus(conn_) != PQTRANS_IDLE) PQclear(PQexec(conn_, "ROLLBACK"));
  }

 private:
  [[noreturn]] void throw_error(PGresult* res) {
    const char* state = PQresultErrorField(res, PG_DIAG_SQLSTATE);
    std::string msg = PQresultErrorMessage(res);
    if (msg.empty()) msg = PQerrorMessage(conn_);
    // 40001 serialization failure, 40P01 deadlock, 08xxx connection problems; 23505 unique
    // violation: another instance inserted the same row first — running the transaction again
    // sees it (e.g. the same inbox item accepted by two instances becomes a duplicate).
    const bool transient = PQstatus(conn_) != CONNECTION_OK ||
                           (state != nullptr && (std::strcmp(state, "40001") == 0 ||
                                                 std::strcmp(state, "40P01") == 0 ||
                                                 std::strcmp(state, "23505") == 0 ||
                                                 std::strncmp(state, "08", 2) == 0));
    PQclear(res);
    throw SqlError{msg, transient};
  }

  PGconn* conn_;
};

}  // namespace

std::unique_ptr<SqlConnection> open_postgres(const std::string& dsn) {
  return std::make_unique<PostgresConnection>(dsn);
}

}  // namespace kakehashi::gateway::store
