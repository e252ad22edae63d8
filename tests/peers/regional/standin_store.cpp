#include "tests/peers/regional/standin_store.hpp"

#include <sqlite3.h>

#include <cstdio>
#include <stdexcept>

namespace kakehashi::adapters::regional::standin {

namespace {

// One prepared statement; throws on SQLite errors (the stand-in treats them as fatal: 500).
class Stmt {
 public:
  Stmt(sqlite3* db, const char* sql) : db_(db) {
    if (sqlite3_prepare_v2(db, sql, -1, &stmt_, nullptr) != SQLITE_OK) {
      throw std::runtime_error(std::string("sqlite prepare: ") + sqlite3_errmsg(db));
    }
  }
  ~Stmt() { sqlite3_finalize(stmt_); }
  Stmt(const Stmt&) = delete;
  Stmt& operator=(const Stmt&) = delete;

  Stmt& bind(int i, std::string_view text) {
    sqlite3_bind_text(stmt_, i, text.data(), static_cast<int>(text.size()), SQLITE_TRANSIENT);
    return *this;
  }
  Stmt& bind(int i, std::int64_t v) {
    sqlite3_bind_int64(stmt_, i, v);
    return *this;
  }
  bool step() {
    const int rc = sqlite3_step(stmt_);
    if (rc == SQLITE_ROW) return true;
    if (rc == SQLITE_DONE) return false;
    throw std::runtime_error(std::string("sqlite step: ") + sqlite3_errmsg(db_));
  }
  std::string text(int c) const {
    const auto* p = sqlite3_column_text(stmt_, c);
    const int n = sqlite3_column_bytes(stmt_, c);
    return p == nullptr
               ? std::string()
               : std::string(reinterpret_cast<const char*>(p), static_cast<std::size_t>(n));
  }
  std::int64_t integer(int c) const { return sqlite3_column_int64(stmt_, c); }

 private:
  sqlite3* db_;
  sqlite3_stmt* stmt_ = nullptr;
};

constexpr const char* kMessageColumns =
    "id, sender, message_id, body_sha256, response_status, response_body, recipient, sequence, "
    "from_facility, from_office, from_type, to_office, to_type, subject, body, documents, "
    "document_count, state, reason, state_at, received_at, attempts";

StoredMessage read_message(const Stmt& s) {
  StoredMessage m;
  m.id = s.text(0);
  m.sender = s.text(1);
  m.message_id = s.text(2);
  m.body_sha256 = s.text(3);
  m.response_status = static_cast<int>(s.integer(4));
  m.response_body = s.text(5);
  m.recipient = s.text(6);
  m.sequence = s.integer(7);
  m.from.facility_id = s.text(8);
  m.from.office.office_no = s.text(9);
  m.from.office.service_type = s.text(10);
  m.to.office_no = s.text(11);
  m.to.service_type = s.text(12);
  m.subject = s.text(13);
  m.body = s.text(14);
  m.documents_json = s.text(15);
  m.document_count = s.integer(16);
  m.state = s.text(17);
  m.reason = s.text(18);
  m.state_at = s.text(19);
  m.received_at = s.text(20);
  m.attempts = s.integer(21);
  return m;
}

}  // namespace

StandinStore::StandinStore(const std::filesystem::path& file) {
  if (sqlite3_open(file.string().c_str(), &db_) != SQLITE_OK) {
    const std::string why = db_ != nullptr ? sqlite3_errmsg(db_) : "out of memory";
    sqlite3_close(db_);
    db_ = nullptr;
    throw std::runtime_error("cannot open state file " + file.string() + ": " + why);
  }
  sqlite3_busy_timeout(db_, 5000);
  exec("PRAGMA journal_mode=WAL");
  exec("PRAGMA synchronous=NORMAL");
  exec(R"(
    CREATE TABLE IF NOT EXISTS members (
      cn TEXT PRIMARY KEY, facility_id TEXT NOT NULL, gateway INTEGER NOT NULL,
      callback_url TEXT NOT NULL DEFAULT '');
    CREATE TABLE IF NOT EXISTS facilities (
      facility_id TEXT PRIMARY KEY, name TEXT, kana TEXT, prefecture TEXT,
      external INTEGER NOT NULL, published_by TEXT NOT NULL DEFAULT '');
    CREATE TABLE IF NOT EXISTS offices (
      facility_id TEXT NOT NULL, office_no TEXT NOT NULL, service_type TEXT NOT NULL,
      name TEXT, kana TEXT, prefecture TEXT, status TEXT NOT NULL, updated_at TEXT,
      PRIMARY KEY (facility_id, office_no, service_type));
    CREATE INDEX IF NOT EXISTS offices_by_ref ON offices (office_no, service_type);
    CREATE TABLE IF NOT EXISTS messages (
      row_no INTEGER PRIMARY KEY AUTOINCREMENT,
      id TEXT UNIQUE, sender TEXT NOT NULL, message_id TEXT NOT NULL, body_sha256 TEXT NOT NULL,
      response_status INTEGER NOT NULL, response_body TEXT NOT NULL,
      recipient TEXT NOT NULL, sequence INTEGER NOT NULL,
      from_facility TEXT, from_office TEXT, from_type TEXT, to_office TEXT, to_type TEXT,
      subject TEXT, body TEXT, documents TEXT, document_count INTEGER,
      state TEXT NOT NULL, reason TEXT NOT NULL DEFAULT '', state_at TEXT NOT NULL DEFAULT '',
      received_at TEXT NOT NULL, attempts INTEGER NOT NULL,
      UNIQUE (sender, message_id), UNIQUE (recipient, sequence));
    CREATE TABLE IF NOT EXISTS notices (
      row_no INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT UNIQUE, sender TEXT NOT NULL,
      notice_id TEXT NOT NULL, body_sha256 TEXT NOT NULL, office_no TEXT NOT NULL,
      service_type TEXT NOT NULL, text TEXT NOT NULL, accepted_at TEXT NOT NULL,
      attempts INTEGER NOT NULL, UNIQUE (sender, notice_id));
    CREATE TABLE IF NOT EXISTS receipts (
      sender TEXT NOT NULL, sequence INTEGER NOT NULL, id TEXT NOT NULL, message_id TEXT NOT NULL,
      state TEXT NOT NULL, reason TEXT NOT NULL, at TEXT NOT NULL,
      PRIMARY KEY (sender, sequence));
  )");
}

StandinStore::~StandinStore() {
  sqlite3_close(db_);
}

void StandinStore::exec(const char* sql) {
  char* err = nullptr;
  if (sqlite3_exec(db_, sql, nullptr, nullptr, &err) != SQLITE_OK) {
    std::string why = err != nullptr ? err : "unknown";
    sqlite3_free(err);
    throw std::runtime_error("sqlite: " + why);
  }
}

void StandinStore::upsert_member(const Member& m) {
  Stmt(db_,
       "INSERT INTO members (cn, facility_id, gateway) VALUES (?, ?, ?) "
       "ON CONFLICT (cn) DO UPDATE SET facility_id = excluded.facility_id, "
       "gateway = excluded.gateway")
      .bind(1, m.cn)
      .bind(2, m.facility_id)
      .bind(3, std::int64_t{m.gateway ? 1 : 0})
      .step();
  if (m.gateway) {
    // A gateway member's facility is external: its offices come only from its publication.
    Stmt(db_,
         "INSERT INTO facilities (facility_id, name, kana, prefecture, external, published_by) "
         "VALUES (?, ?, '', '', 1, ?) ON CONFLICT (facility_id) DO UPDATE SET external = 1, "
         "published_by = excluded.published_by")
        .bind(1, m.facility_id)
        .bind(2, "Kakehashi gateway (" + m.cn + ")")
        .bind(3, m.cn)
        .step();
  }
}

std::optional<Member> StandinStore::member(std::string_view cn) {
  Stmt s(db_, "SELECT cn, facility_id, gateway, callback_url FROM members WHERE cn = ?");
  s.bind(1, cn);
  if (!s.step()) return std::nullopt;
  return Member{s.text(0), s.text(1), s.integer(2) != 0, s.text(3)};
}

void StandinStore::set_callback(std::string_view cn, std::string_view url) {
  Stmt(db_, "UPDATE members SET callback_url = ? WHERE cn = ?").bind(1, url).bind(2, cn).step();
}

void StandinStore::upsert_facility(const RhnFacility& f, std::string_view now) {
  exec("BEGIN IMMEDIATE");
  try {
    Stmt(db_,
         "INSERT INTO facilities (facility_id, name, kana, prefecture, external, published_by) "
         "VALUES (?, ?, ?, ?, 0, '') ON CONFLICT (facility_id) DO UPDATE SET name = excluded.name, "
         "kana = excluded.kana, prefecture = excluded.prefecture")
        .bind(1, f.facility_id)
        .bind(2, f.name)
        .bind(3, f.kana)
        .bind(4, f.prefecture)
        .step();
    exec("COMMIT");
  } catch (...) {
    exec("ROLLBACK");
    throw;
  }
  replace_offices(f.facility_id, f.offices, now);
}

void StandinStore::replace_offices(std::string_view facility_id,
                                   const std::vector<RhnOffice>& offices, std::string_view now) {
  exec("BEGIN IMMEDIATE");
  try {
    Stmt(db_, "DELETE FROM offices WHERE facility_id = ?").bind(1, facility_id).step();
    for (const auto& o : offices) {
      Stmt(db_,
           "INSERT OR REPLACE INTO offices (facility_id, office_no, service_type, name, kana, "
           "prefecture, status, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)")
          .bind(1, facility_id)
          .bind(2, o.office.office_no)
          .bind(3, o.office.service_type)
          .bind(4, o.name)
          .bind(5, o.kana)
          .bind(6, o.prefecture)
          .bind(7, o.status)
          .bind(8, o.updated_at.empty() ? now : std::string_view(o.updated_at))
          .step();
    }
    exec("COMMIT");
  } catch (...) {
    exec("ROLLBACK");
    throw;
  }
}

std::optional<std::string> StandinStore::office_status(std::string_view facility_id,
                                                       const mapping::OfficeRef& office) {
  Stmt s(db_,
         "SELECT status FROM offices WHERE facility_id = ? AND office_no = ? AND "
         "service_type = ?");
  s.bind(1, facility_id).bind(2, office.office_no).bind(3, office.service_type);
  if (!s.step()) return std::nullopt;
  return s.text(0);
}

std::optional<Recipient> StandinStore::recipient(const mapping::OfficeRef& office) {
  // Native holders first (ORDER BY external), and only facilities some member speaks for.
  Stmt s(db_,
         "SELECT m.cn, f.facility_id, o.status, f.external FROM offices o "
         "JOIN facilities f ON f.facility_id = o.facility_id "
         "JOIN members m ON m.facility_id = f.facility_id AND m.gateway = f.external "
         "WHERE o.office_no = ? AND o.service_type = ? ORDER BY f.external, m.cn LIMIT 1");
  s.bind(1, office.office_no).bind(2, office.service_type);
  if (!s.step()) return std::nullopt;
  return Recipient{s.text(0), s.text(1), s.text(2), s.integer(3) != 0};
}

std::vector<RhnFacility> StandinStore::directory() {
  std::vector<RhnFacility> out;
  {
    Stmt s(db_,
           "SELECT facility_id, name, kana, prefecture, external, published_by FROM facilities "
           "ORDER BY facility_id");
    while (s.step()) {
      RhnFacility f;
      f.facility_id = s.text(0);
      f.name = s.text(1);
      f.kana = s.text(2);
      f.prefecture = s.text(3);
      f.external = s.integer(4) != 0;
      f.published_by = s.text(5);
      out.push_back(std::move(f));
    }
  }
  for (auto& f : out) {
    Stmt s(db_,
           "SELECT office_no, service_type, name, kana, prefecture, status, updated_at "
           "FROM offices WHERE facility_id = ? ORDER BY office_no, service_type");
    s.bind(1, f.facility_id);
    while (s.step()) {
      RhnOffice o;
      o.office.office_no = s.text(0);
      o.office.service_type = s.text(1);
      o.name = s.text(2);
      o.kana = s.text(3);
      o.prefecture = s.text(4);
      o.status = s.text(5);
      o.updated_at = s.text(6);
      f.offices.push_back(std::move(o));
    }
  }
  return out;
}

std::optional<StoredMessage> StandinStore::message_by_key(std::string_view sender,
                                                          std::string_view message_id) {
  const std::string sql = std::string("SELECT ") + kMessageColumns +
                          " FROM messages WHERE sender = ? AND message_id = ?";
  Stmt s(db_, sql.c_str());
  s.bind(1, sender).bind(2, message_id);
  if (!s.step()) return std::nullopt;
  return read_message(s);
}

void StandinStore::count_attempt(std::string_view sender, std::string_view message_id) {
  Stmt(db_, "UPDATE messages SET attempts = attempts + 1 WHERE sender = ? AND message_id = ?")
      .bind(1, sender)
      .bind(2, message_id)
      .step();
}

StoredMessage StandinStore::insert_message(StoredMessage m,
                                           std::string (*answer)(const StoredMessage&)) {
  exec("BEGIN IMMEDIATE");
  try {
    {
      Stmt s(db_, "SELECT COALESCE(MAX(sequence), 0) + 1 FROM messages WHERE recipient = ?");
      s.bind(1, m.recipient);
      s.step();
      m.sequence = s.integer(0);
    }
    {
      Stmt s(db_, "SELECT COALESCE(MAX(row_no), 0) + 1 FROM messages");
      s.step();
      char id[32];
      std::snprintf(id, sizeof id, "m-%012lld", static_cast<long long>(s.integer(0)));
      m.id = id;
    }
    m.response_body = answer(m);
    const std::string sql = std::string("INSERT INTO messages (") + kMessageColumns +
                            ") VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)";
    Stmt(db_, sql.c_str())
        .bind(1, m.id)
        .bind(2, m.sender)
        .bind(3, m.message_id)
        .bind(4, m.body_sha256)
        .bind(5, std::int64_t{m.response_status})
        .bind(6, m.response_body)
        .bind(7, m.recipient)
        .bind(8, m.sequence)
        .bind(9, m.from.facility_id)
        .bind(10, m.from.office.office_no)
        .bind(11, m.from.office.service_type)
        .bind(12, m.to.office_no)
        .bind(13, m.to.service_type)
        .bind(14, m.subject)
        .bind(15, m.body)
        .bind(16, m.documents_json)
        .bind(17, m.document_count)
        .bind(18, m.state)
        .bind(19, m.reason)
        .bind(20, m.state_at)
        .bind(21, m.received_at)
        .bind(22, m.attempts)
        .step();
    exec("COMMIT");
  } catch (...) {
    exec("ROLLBACK");
    throw;
  }
  return m;
}

std::optional<StoredMessage> StandinStore::message(std::string_view id) {
  const std::string sql = std::string("SELECT ") + kMessageColumns + " FROM messages WHERE id = ?";
  Stmt s(db_, sql.c_str());
  s.bind(1, id);
  if (!s.step()) return std::nullopt;
  return read_message(s);
}

std::vector<StoredMessage> StandinStore::mailbox(std::string_view member, std::int64_t since,
                                                 std::int64_t limit) {
  const std::string sql = std::string("SELECT ") + kMessageColumns +
                          " FROM messages WHERE recipient = ? AND sequence > ? "
                          "ORDER BY sequence LIMIT ?";
  Stmt s(db_, sql.c_str());
  s.bind(1, member).bind(2, since).bind(3, limit);
  std::vector<StoredMessage> out;
  while (s.step()) out.push_back(read_message(s));
  return out;
}

void StandinStore::set_state(const StoredMessage& m, std::string_view state,
                             std::string_view reason, std::string_view at) {
  exec("BEGIN IMMEDIATE");
  try {
    Stmt(db_, "UPDATE messages SET state = ?, reason = ?, state_at = ? WHERE id = ?")
        .bind(1, state)
        .bind(2, reason)
        .bind(3, at)
        .bind(4, m.id)
        .step();
    std::int64_t sequence = 0;
    {
      Stmt s(db_, "SELECT COALESCE(MAX(sequence), 0) + 1 FROM receipts WHERE sender = ?");
      s.bind(1, m.sender);
      s.step();
      sequence = s.integer(0);
    }
    Stmt(db_,
         "INSERT INTO receipts (sender, sequence, id, message_id, state, reason, at) "
         "VALUES (?, ?, ?, ?, ?, ?, ?)")
        .bind(1, m.sender)
        .bind(2, sequence)
        .bind(3, m.id)
        .bind(4, m.message_id)
        .bind(5, state)
        .bind(6, reason)
        .bind(7, at)
        .step();
    exec("COMMIT");
  } catch (...) {
    exec("ROLLBACK");
    throw;
  }
}

std::vector<RhnReceipt> StandinStore::receipts(std::string_view member, std::int64_t since,
                                               std::int64_t limit) {
  Stmt s(db_,
         "SELECT sequence, id, message_id, state, reason, at FROM receipts "
         "WHERE sender = ? AND sequence > ? ORDER BY sequence LIMIT ?");
  s.bind(1, member).bind(2, since).bind(3, limit);
  std::vector<RhnReceipt> out;
  while (s.step()) {
    out.push_back(RhnReceipt{s.integer(0), s.text(1), s.text(2), s.text(3), s.text(4), s.text(5)});
  }
  return out;
}

std::vector<StoredMessage> StandinStore::deliveries(std::optional<std::string> message_id) {
  std::string sql = std::string("SELECT ") + kMessageColumns + " FROM messages";
  if (message_id) sql += " WHERE message_id = ?";
  sql += " ORDER BY row_no";
  Stmt s(db_, sql.c_str());
  if (message_id) s.bind(1, *message_id);
  std::vector<StoredMessage> out;
  while (s.step()) out.push_back(read_message(s));
  return out;
}

namespace {

constexpr const char* kNoticeColumns =
    "id, sender, notice_id, body_sha256, office_no, service_type, text, accepted_at, attempts";

StoredNotice read_notice(const Stmt& s) {
  return StoredNotice{s.text(0), s.text(1), s.text(2), s.text(3), s.text(4),
                      s.text(5), s.text(6), s.text(7), s.integer(8)};
}

}  // namespace

std::optional<StoredNotice> StandinStore::notice_by_key(std::string_view sender,
                                                        std::string_view notice_id) {
  const std::string sql = std::string("SELECT ") + kNoticeColumns +
                          " FROM notices WHERE sender = ? AND notice_id = ?";
  Stmt s(db_, sql.c_str());
  s.bind(1, sender).bind(2, notice_id);
  if (!s.step()) return std::nullopt;
  return read_notice(s);
}

void StandinStore::count_notice_attempt(std::string_view sender, std::string_view notice_id) {
  Stmt(db_, "UPDATE notices SET attempts = attempts + 1 WHERE sender = ? AND notice_id = ?")
      .bind(1, sender)
      .bind(2, notice_id)
      .step();
}

StoredNotice StandinStore::insert_notice(StoredNotice n) {
  exec("BEGIN IMMEDIATE");
  try {
    {
      Stmt s(db_, "SELECT COALESCE(MAX(row_no), 0) + 1 FROM notices");
      s.step();
      char id[32];
      std::snprintf(id, sizeof id, "n-%012lld", static_cast<long long>(s.integer(0)));
      n.id = id;
    }
    const std::string sql =
        std::string("INSERT INTO notices (") + kNoticeColumns + ") VALUES (?,?,?,?,?,?,?,?,?)";
    Stmt(db_, sql.c_str())
        .bind(1, n.id)
        .bind(2, n.sender)
        .bind(3, n.notice_id)
        .bind(4, n.body_sha256)
        .bind(5, n.office_no)
        .bind(6, n.service_type)
        .bind(7, n.text)
        .bind(8, n.accepted_at)
        .bind(9, n.attempts)
        .step();
    exec("COMMIT");
  } catch (...) {
    exec("ROLLBACK");
    throw;
  }
  return n;
}

std::vector<StoredNotice> StandinStore::notices(std::optional<std::string> office_no) {
  std::string sql = std::string("SELECT ") + kNoticeColumns + " FROM notices";
  if (office_no) sql += " WHERE office_no = ?";
  sql += " ORDER BY row_no";
  Stmt s(db_, sql.c_str());
  if (office_no) s.bind(1, *office_no);
  std::vector<StoredNotice> out;
  while (s.step()) out.push_back(read_notice(s));
  return out;
}

bool StandinStore::native_office(const mapping::OfficeRef& office) {
  std::string sql =
      "SELECT 1 FROM offices o JOIN facilities f ON f.facility_id = o.facility_id "
      "WHERE f.external = 0 AND o.office_no = ?";
  if (!office.service_type.empty()) sql += " AND o.service_type = ?";
  Stmt s(db_, sql.c_str());
  s.bind(1, office.office_no);
  if (!office.service_type.empty()) s.bind(2, office.service_type);
  return s.step();
}

}  // namespace kakehashi::adapters::regional::standin
