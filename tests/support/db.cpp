#include "tests/support/db.hpp"

#include <unistd.h>

#include <cstdlib>

namespace kakehashi::testing {

namespace fs = std::filesystem;
using gateway::store::open_postgres;
using gateway::store::open_sqlite;

bool postgres_backend() {
  const char* b = std::getenv("KAKEHASHI_TEST_BACKEND");
  return b != nullptr && std::string(b) == "postgres";
}

Db::Db(const std::string& label) : postgres_(postgres_backend()) {
  static int counter = 0;
  const std::string n = std::to_string(::getpid()) + "-" + std::to_string(++counter);
  dir_ = fs::temp_directory_path() / ("kh-" + label + "-" + n);
  fs::create_directories(dir_);
  if (postgres_) {
    name_ = "kh_" + label + "_" + std::to_string(::getpid()) + "_" + std::to_string(counter);
    auto admin = open_postgres("");
    admin->execute_script("DROP DATABASE IF EXISTS " + name_);
    admin->execute_script("CREATE DATABASE " + name_);
    dsn_ = "dbname=" + name_;
  } else {
    dsn_ = (dir_ / "store.db").string();
  }
}

Db::~Db() {
  std::error_code ec;
  fs::remove_all(dir_, ec);
}

std::unique_ptr<gateway::store::SqlConnection> Db::connect(bool synchronous_full) const {
  return postgres_ ? open_postgres(dsn_) : open_sqlite(dsn_, synchronous_full);
}

std::unique_ptr<gateway::store::Store> Db::open(gateway::store::AuditOptions options) const {
  auto s = std::make_unique<gateway::store::Store>(connect(), std::move(options));
  s->migrate();
  return s;
}

std::vector<std::string> Db::cli_args() const {
  return postgres_ ? std::vector<std::string>{"--dsn", dsn_}
                   : std::vector<std::string>{"--store", dsn_};
}

std::string Db::config_json() const {
  return postgres_ ? R"({"type": "postgres", "dsn": ")" + dsn_ + "\"}"
                   : R"({"type": "sqlite", "path": ")" + dsn_ + "\"}";
}

}  // namespace kakehashi::testing
