// SQLite online backup of a live store (declared in store_copy.hpp).
#include <sqlite3.h>

#include <chrono>
#include <filesystem>
#include <stdexcept>
#include <thread>

#include "gateway/store/store_copy.hpp"

namespace kakehashi::gateway::store {
namespace {

struct Db {
  sqlite3* db = nullptr;
  ~Db() { sqlite3_close(db); }
};

void open(Db& d, const std::string& path, int flags) {
  if (sqlite3_open_v2(path.c_str(), &d.db, flags, nullptr) != SQLITE_OK)
    throw std::runtime_error("cannot open SQLite store " + path + ": " +
                             (d.db ? sqlite3_errmsg(d.db) : "out of memory"));
  sqlite3_busy_timeout(d.db, 10000);
}

}  // namespace

void sqlite_backup(const std::string& source, const std::string& target) {
  namespace fs = std::filesystem;
  if (fs::exists(target)) throw std::runtime_error("backup target " + target + " exists");
  if (!fs::exists(source)) throw std::runtime_error("SQLite store " + source + " does not exist");
  const std::string partial = target + ".partial";
  fs::remove(partial);
  {
    Db src;
    Db dst;
    open(src, source, SQLITE_OPEN_READWRITE);
    open(dst, partial, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE);
    sqlite3_backup* backup = sqlite3_backup_init(dst.db, "main", src.db, "main");
    if (backup == nullptr)
      throw std::runtime_error("cannot start the backup: " + std::string(sqlite3_errmsg(dst.db)));
    // One step copies every page under one read transaction: a consistent snapshot. The
    // gateway's writers go on meanwhile (WAL); only a lock held at the very start makes us wait.
    int rc = SQLITE_OK;
    for (int attempt = 0; attempt < 100; ++attempt) {
      rc = sqlite3_backup_step(backup, -1);
      if (rc != SQLITE_BUSY && rc != SQLITE_LOCKED) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    sqlite3_backup_finish(backup);
    if (rc != SQLITE_DONE) {
      const std::string msg = sqlite3_errstr(rc);
      fs::remove(partial);
      throw std::runtime_error("backup of " + source + " failed: " + msg);
    }
    sqlite3_stmt* stmt = nullptr;
    std::string check = "no result";
    if (sqlite3_prepare_v2(dst.db, "PRAGMA integrity_check", -1, &stmt, nullptr) == SQLITE_OK &&
        sqlite3_step(stmt) == SQLITE_ROW) {
      const auto* text = sqlite3_column_text(stmt, 0);
      check = text ? reinterpret_cast<const char*>(text) : "";
    }
    sqlite3_finalize(stmt);
    if (check != "ok") {
      fs::remove(partial);
      throw std::runtime_error("backup of " + source + " failed its integrity check: " + check);
    }
  }
  fs::rename(partial, target);
}

}  // namespace kakehashi::gateway::store
