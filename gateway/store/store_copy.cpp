#include "gateway/store/store_copy.hpp"

#include <openssl/evp.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <functional>
#include <stdexcept>

namespace kakehashi::gateway::store {
namespace {

enum class Kind { kText, kInteger, kBlob };

struct Column {
  std::string name;
  Kind kind = Kind::kText;
};

struct TableInfo {
  std::string name;
  std::vector<Column> columns;
  std::vector<std::string> key;  // primary key columns
};

std::string upper(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return s;
}

Kind kind_of(const std::string& declared) {
  const std::string t = upper(declared);
  if (t.find("INT") != std::string::npos) return Kind::kInteger;
  if (t.find("BLOB") != std::string::npos || t == "BYTEA") return Kind::kBlob;
  return Kind::kText;
}

TableInfo table_info(SqlConnection& db, const std::string& table) {
  TableInfo info;
  info.name = table;
  if (db.dialect() == Dialect::kSqlite) {
    for (const auto& r :
         db.query("SELECT name, type, pk FROM pragma_table_info(?) ORDER BY cid", {table})) {
      info.columns.push_back({r[0].value_or(""), kind_of(r[1].value_or(""))});
    }
    for (const auto& r :
         db.query("SELECT name FROM pragma_table_info(?) WHERE pk > 0 ORDER BY pk", {table}))
      info.key.push_back(r[0].value_or(""));
  } else {
    for (const auto& r : db.query(
             "SELECT column_name, data_type FROM information_schema.columns "
             "WHERE table_schema = current_schema() AND table_name = ? ORDER BY ordinal_position",
             {table})) {
      info.columns.push_back({r[0].value_or(""), kind_of(r[1].value_or(""))});
    }
    for (const auto& r :
         db.query("SELECT kcu.column_name FROM information_schema.table_constraints tc "
                  "JOIN information_schema.key_column_usage kcu ON kcu.constraint_name = "
                  "tc.constraint_name AND kcu.table_schema = tc.table_schema AND kcu.table_name = "
                  "tc.table_name WHERE tc.constraint_type = 'PRIMARY KEY' AND tc.table_schema = "
                  "current_schema() AND tc.table_name = ? ORDER BY kcu.ordinal_position",
                  {table}))
      info.key.push_back(r[0].value_or(""));
  }
  if (info.key.empty()) {
    for (const auto& c : info.columns) info.key.push_back(c.name);
  }
  return info;
}

std::string column_list(const std::vector<Column>& columns) {
  std::string s;
  for (const auto& c : columns) s += (s.empty() ? "" : ", ") + c.name;
  return s;
}

// Calls `row` for every row of the table, in pages: keyset pages on a single integer key (the
// big tables: transfers, events, notices), OFFSET pages otherwise. Values are decoded (blobs as
// bytes, whatever the dialect).
void for_each_row(SqlConnection& db, const TableInfo& info,
                  const std::function<void(std::vector<std::optional<std::string>>&)>& row) {
  const bool has_blob = std::any_of(info.columns.begin(), info.columns.end(),
                                    [](const Column& c) { return c.kind == Kind::kBlob; });
  const std::int64_t page = has_blob ? 100 : 2000;
  const std::string select = "SELECT " + column_list(info.columns) + " FROM " + info.name;
  std::size_t key_index = info.columns.size();
  if (info.key.size() == 1) {
    for (std::size_t i = 0; i < info.columns.size(); ++i) {
      if (info.columns[i].name == info.key[0] && info.columns[i].kind == Kind::kInteger)
        key_index = i;
    }
  }
  std::string order;
  for (const auto& k : info.key) order += (order.empty() ? "" : ", ") + k;
  std::optional<std::int64_t> after;
  std::int64_t offset = 0;
  while (true) {
    std::vector<SqlRow> rows;
    if (key_index < info.columns.size()) {
      rows =
          after ? db.query(select + " WHERE " + info.key[0] + " > ? ORDER BY " + order + " LIMIT ?",
                           {*after, page})
                : db.query(select + " ORDER BY " + order + " LIMIT ?", {page});
    } else {
      rows = db.query(select + " ORDER BY " + order + " LIMIT ? OFFSET ?", {page, offset});
      offset += page;
    }
    for (auto& r : rows) {
      for (std::size_t i = 0; i < info.columns.size(); ++i) {
        if (info.columns[i].kind == Kind::kBlob && r[i]) r[i] = decode_blob(db.dialect(), *r[i]);
      }
      if (key_index < info.columns.size()) after = std::stoll(r[key_index].value_or("0"));
      row(r);
    }
    if (static_cast<std::int64_t>(rows.size()) < page) break;
  }
}

// Sum of SHA-256 row hashes, lane by lane (four 64-bit lanes): independent of row order.
class RowDigest {
 public:
  void add(const std::vector<std::optional<std::string>>& row) {
    EVP_MD_CTX* ctx = EVP_MD_CTX_new();
    EVP_DigestInit_ex(ctx, EVP_sha256(), nullptr);
    for (const auto& v : row) {
      // Length-prefixed, NULL distinct from "".
      const std::string len = v ? std::to_string(v->size()) + ":" : std::string("N");
      EVP_DigestUpdate(ctx, len.data(), len.size());
      if (v) EVP_DigestUpdate(ctx, v->data(), v->size());
    }
    std::array<unsigned char, 32> md{};
    unsigned int n = 0;
    EVP_DigestFinal_ex(ctx, md.data(), &n);
    EVP_MD_CTX_free(ctx);
    for (std::size_t lane = 0; lane < 4; ++lane) {
      std::uint64_t x = 0;
      for (std::size_t b = 0; b < 8; ++b) x = (x << 8) | md[lane * 8 + b];
      sum_[lane] += x;
    }
    ++rows_;
  }
  std::int64_t rows() const { return rows_; }
  std::string hex() const {
    static constexpr char kHex[] = "0123456789abcdef";
    std::string out;
    for (auto x : sum_) {
      for (int shift = 60; shift >= 0; shift -= 4) out += kHex[(x >> shift) & 0xf];
    }
    return out;
  }

 private:
  std::array<std::uint64_t, 4> sum_{};
  std::int64_t rows_ = 0;
};

SqlValue value_of(Kind kind, const std::optional<std::string>& v) {
  if (!v) return SqlValue{};
  switch (kind) {
    case Kind::kInteger:
      return SqlValue{static_cast<std::int64_t>(std::stoll(*v))};
    case Kind::kBlob:
      return SqlValue{Blob{*v}};
    case Kind::kText:
      break;
  }
  return SqlValue{*v};
}

// A read transaction over one snapshot of the store (SQLite WAL: writers go on meanwhile).
void begin_snapshot(SqlConnection& db) {
  db.execute_script(db.dialect() == Dialect::kSqlite
                        ? "BEGIN"
                        : "BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY");
}

TableSummary summarize_table(SqlConnection& db, const std::string& table) {
  RowDigest digest;
  for_each_row(db, table_info(db, table), [&](const auto& row) { digest.add(row); });
  return {table, digest.rows(), digest.hex()};
}

}  // namespace

std::vector<std::string> store_tables(SqlConnection& db) {
  const auto rows =
      db.query(db.dialect() == Dialect::kSqlite
                   ? "SELECT name FROM sqlite_master WHERE type = 'table' AND name LIKE 'kh\\_%' "
                     "ESCAPE '\\' ORDER BY name"
                   : "SELECT table_name FROM information_schema.tables WHERE table_schema = "
                     "current_schema() AND table_type = 'BASE TABLE' AND table_name LIKE 'kh\\_%' "
                     "ESCAPE '\\' ORDER BY table_name");
  std::vector<std::string> out;
  for (const auto& r : rows) out.push_back(r[0].value_or(""));
  std::sort(out.begin(), out.end());
  return out;
}

std::vector<std::string> nonempty_tables(SqlConnection& db) {
  std::vector<std::string> out;
  for (const auto& t : store_tables(db)) {
    if (t == "kh_meta" || t == "kh_leases") continue;
    if (!db.query("SELECT 1 FROM " + t + " LIMIT 1").empty()) out.push_back(t);
  }
  return out;
}

std::vector<TableSummary> summarize_store(SqlConnection& db) {
  std::vector<TableSummary> out;
  begin_snapshot(db);
  try {
    for (const auto& t : store_tables(db)) out.push_back(summarize_table(db, t));
  } catch (...) {
    db.rollback();
    throw;
  }
  db.rollback();
  return out;
}

std::vector<TableCheck> copy_store(SqlConnection& from, SqlConnection& to) {
  std::vector<TableCheck> checks;
  const auto target_tables = store_tables(to);
  begin_snapshot(from);
  to.begin();
  try {
    // The source's meta (schema version, audit chain head) replaces what migrate() wrote; the
    // old instances' named leases are copied with it (they expire).
    to.query("DELETE FROM kh_meta");
    to.query("DELETE FROM kh_leases");
    for (const auto& table : store_tables(from)) {
      if (!std::binary_search(target_tables.begin(), target_tables.end(), table))
        throw std::runtime_error("table " + table +
                                 " of the source is not in the target's schema: is the target "
                                 "made by an older kakehashi?");
      const TableInfo info = table_info(from, table);
      const TableInfo target = table_info(to, table);
      for (const auto& c : info.columns) {
        if (std::none_of(target.columns.begin(), target.columns.end(),
                         [&](const Column& t) { return t.name == c.name; }))
          throw std::runtime_error("column " + table + "." + c.name +
                                   " of the source is not in the target's schema");
      }
      // Multi-row INSERTs, at most ~2000 values each.
      const std::size_t per_statement = std::max<std::size_t>(1, 2000 / info.columns.size());
      const std::string head =
          "INSERT INTO " + table + " (" + column_list(info.columns) + ") VALUES ";
      std::string one = "(";
      for (std::size_t i = 0; i < info.columns.size(); ++i) one += i == 0 ? "?" : ", ?";
      one += ")";
      std::vector<SqlValue> params;
      std::size_t pending = 0;
      const auto flush = [&] {
        if (pending == 0) return;
        std::string sql = head;
        for (std::size_t i = 0; i < pending; ++i) sql += (i == 0 ? "" : ", ") + one;
        to.query(sql, params);
        params.clear();
        pending = 0;
      };
      RowDigest digest;
      for_each_row(from, info, [&](const auto& row) {
        digest.add(row);
        for (std::size_t i = 0; i < info.columns.size(); ++i)
          params.push_back(value_of(info.columns[i].kind, row[i]));
        if (++pending == per_statement) flush();
      });
      flush();
      TableCheck check;
      check.table = table;
      check.source_rows = digest.rows();
      check.source_digest = digest.hex();
      checks.push_back(std::move(check));
      // PostgreSQL: serial columns continue after the copied ids. (SQLite's AUTOINCREMENT
      // counter follows the largest id inserted by itself.)
      if (to.dialect() == Dialect::kPostgres) {
        for (const auto& c : target.columns) {
          if (c.kind != Kind::kInteger) continue;
          const auto seq = to.query("SELECT pg_get_serial_sequence(?, ?)", {table, c.name});
          if (seq.empty() || !seq[0][0]) continue;
          to.query("SELECT setval(CAST(? AS regclass), (SELECT COALESCE(MAX(" + c.name +
                       "), 0) FROM " + table + ") + 1, false)",
                   {*seq[0][0]});
        }
      }
    }
    to.commit();
  } catch (...) {
    to.rollback();
    from.rollback();
    throw;
  }
  from.rollback();
  // Read back what the target now holds.
  begin_snapshot(to);
  try {
    for (auto& check : checks) {
      const auto s = summarize_table(to, check.table);
      check.target_rows = s.rows;
      check.target_digest = s.digest;
    }
  } catch (...) {
    to.rollback();
    throw;
  }
  to.rollback();
  return checks;
}

}  // namespace kakehashi::gateway::store
