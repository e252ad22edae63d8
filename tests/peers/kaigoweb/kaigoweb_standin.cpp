#include "tests/peers/kaigoweb/kaigoweb_standin.hpp"

#include <sys/stat.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <regex>
#include <sstream>
#include <stdexcept>
#include <variant>

#include <rapidjson/document.h>

#include "tests/peers/kaigoweb/send_checks.hpp"
#include "tests/peers/kaigoweb/wire.hpp"
#include "tests/peers/national/sqlite_db.hpp"

namespace kakehashi::standin::kaigoweb {
namespace {

namespace fs = std::filesystem;
using adapters::http::Request;
using adapters::http::Response;

constexpr std::int64_t kMaxSearchSpanMs = 35LL * 24 * 3600 * 1000;
constexpr std::size_t kMaxReason = 2000;

std::string str(const rapidjson::Value& v, const char* key) {
  if (!v.IsObject()) return {};
  const auto m = v.FindMember(key);
  return m != v.MemberEnd() && m->value.IsString()
             ? std::string(m->value.GetString(), m->value.GetStringLength())
             : std::string();
}

std::optional<std::int64_t> num(const rapidjson::Value& v, const char* key) {
  if (!v.IsObject()) return std::nullopt;
  const auto m = v.FindMember(key);
  if (m == v.MemberEnd() || !m->value.IsInt64()) return std::nullopt;
  return m->value.GetInt64();
}

std::string join(const std::vector<std::string>& v) {
  std::string out;
  for (const auto& s : v) out += (out.empty() ? "" : ",") + s;
  return out;
}

std::vector<std::string> split(const std::string& s, char sep) {
  std::vector<std::string> out;
  std::size_t start = 0;
  for (std::size_t p; (p = s.find(sep, start)) != std::string::npos; start = p + 1) {
    out.push_back(s.substr(start, p - start));
  }
  out.push_back(s.substr(start));
  return out;
}

// A page size `limit` (§1: 1..max, default): -1 when out of range.
int page_limit(const std::map<std::string, std::string>& q, int fallback, int max) {
  const auto it = q.find("limit");
  if (it == q.end() || it->second.empty()) return fallback;
  const std::string& t = it->second;
  if (t.size() > 5 || t.find_first_not_of("0123456789") != std::string::npos) return -1;
  const int n = std::stoi(t);
  return n >= 1 && n <= max ? n : -1;
}

// Cursors "<prefix><seq>"; nullopt when not of that feed.
std::optional<std::int64_t> cursor_seq(const std::string& c, char prefix) {
  if (c.size() < 2 || c.size() > 20 || c[0] != prefix) return std::nullopt;
  if (c.find_first_not_of("0123456789", 1) != std::string::npos) return std::nullopt;
  return std::stoll(c.substr(1));
}

struct Bucket {
  double tokens = 0;
  std::int64_t last_ms = 0;
};

// Takes one token from a bucket refilled at `rate` per second up to `burst`; 0 = allowed, else
// the seconds to wait.
int take(Bucket& b, double rate, double burst, std::int64_t now) {
  if (b.last_ms == 0) {
    b.tokens = burst;
  } else {
    b.tokens = std::min(burst, b.tokens + rate * static_cast<double>(now - b.last_ms) / 1000.0);
  }
  b.last_ms = now;
  if (b.tokens >= 1.0) {
    b.tokens -= 1.0;
    return 0;
  }
  const double wait = (1.0 - b.tokens) / std::max(rate, 1e-6);
  return std::clamp(static_cast<int>(wait + 0.999), 1, 3600);
}

struct Faults {
  int status = 0, status_count = 0, status_retry_after = 1;
  std::string status_code;
  bool maintenance = false;
  int maintenance_retry_after = 60;
  int drop = 0, reset_before = 0, delay_ms = 0, malformed = 0, envelope_garbage = 0,
      duplicate_listings = 0;
  std::string business_error;
  int business_count = 0;
  std::string reject_after_accept;
  int reject_count = 0;
  std::string only;
};

struct Principal {
  std::string session_id;
  std::string office_no;
  std::string user_id;
};

struct ItemRow {
  std::string item_id, sender_reference, sender_office, sender_type, recipient_office,
      recipient_type, kind, target_month, status, reject_by, reject_code, reject_reason,
      document_sha256, request_id;
  std::int64_t accepted_ms = 0, status_ms = 0, delivered_ms = 0, document_bytes = 0, fetches = 0,
               acks = 0;
};

constexpr const char* kItemColumns =
    "i.item_id, i.sender_reference, i.sender_office, i.sender_type, i.recipient_office, "
    "i.recipient_type, i.kind, i.target_month, i.status, i.reject_by, i.reject_code, "
    "i.reject_reason, i.document_sha256, i.request_id, i.accepted_ms, i.status_ms, "
    "i.delivered_ms, i.document_bytes, i.fetches, i.acks";

ItemRow read_item(const Statement& st, int at = 0) {
  ItemRow r;
  std::string* texts[] = {
      &r.item_id,          &r.sender_reference, &r.sender_office, &r.sender_type,
      &r.recipient_office, &r.recipient_type,   &r.kind,          &r.target_month,
      &r.status,           &r.reject_by,        &r.reject_code,   &r.reject_reason,
      &r.document_sha256,  &r.request_id};
  int c = at;
  for (auto* t : texts) *t = st.text(c++);
  std::int64_t* nums[] = {&r.accepted_ms,    &r.status_ms, &r.delivered_ms,
                          &r.document_bytes, &r.fetches,   &r.acks};
  for (auto* n : nums) *n = st.integer(c++);
  return r;
}

}  // namespace

StandinOptions options_from_pki(const std::string& pki_dir, const std::string& state_file) {
  StandinOptions o;
  o.tls.ca_file = pki_dir + "/kaigoweb/ca.pem";
  o.tls.cert_file = pki_dir + "/kaigoweb/standin-server.cert.pem";
  o.tls.key_file = pki_dir + "/kaigoweb/standin-server.key.pem";
  o.tls.require_peer_cert = true;
  o.tls.allow_tls12 = false;
  o.state_file = state_file;
  return o;
}

std::optional<Account> parse_account(const std::string& spec) {
  const auto parts = split(spec, ':');
  if (parts.size() < 3 || parts.size() > 4) return std::nullopt;
  Account a{parts[0], parts[1], parts[2], parts.size() == 4 ? parts[3] : "sms", ""};
  static const std::regex kOffice("^[0-9A-Z]{10}$");
  static const std::regex kUser("^[A-Za-z0-9._@-]{1,64}$");
  if (!std::regex_match(a.office_no, kOffice) || !std::regex_match(a.user_id, kUser) ||
      a.password.size() < 8 || a.password.size() > 128 ||
      (a.otp_delivery != "sms" && a.otp_delivery != "email")) {
    return std::nullopt;
  }
  return a;
}

struct KaigoWebStandin::Impl {
  explicit Impl(StandinOptions o)
      : options(std::move(o)), settings(options.settings), db(options.state_file) {
    otp_dir = options.otp_dir.empty()
                  ? (fs::path(options.state_file).parent_path() / "otp").string()
                  : options.otp_dir;
    if (otp_dir.empty()) otp_dir = "otp";
    fs::create_directories(otp_dir);
    fs::permissions(otp_dir, fs::perms::owner_all, fs::perm_options::replace);
    db.exec(R"(
      CREATE TABLE IF NOT EXISTS accounts(user_id TEXT PRIMARY KEY, office_no TEXT NOT NULL,
        password_hash TEXT NOT NULL, delivery TEXT NOT NULL, hint TEXT NOT NULL,
        password_expired INTEGER NOT NULL DEFAULT 0, failures INTEGER NOT NULL DEFAULT 0,
        window_start_ms INTEGER NOT NULL DEFAULT 0, locked_until_ms INTEGER NOT NULL DEFAULT 0);
      CREATE TABLE IF NOT EXISTS offices(office_no TEXT PRIMARY KEY, service_types TEXT NOT NULL,
        name TEXT NOT NULL, kana TEXT NOT NULL, prefecture TEXT NOT NULL, status TEXT NOT NULL,
        updated_ms INTEGER NOT NULL);
      CREATE TABLE IF NOT EXISTS challenges(challenge_id TEXT PRIMARY KEY, office_no TEXT NOT NULL,
        user_id TEXT NOT NULL UNIQUE, otp TEXT NOT NULL, expires_ms INTEGER NOT NULL,
        wrong INTEGER NOT NULL DEFAULT 0);
      CREATE TABLE IF NOT EXISTS sessions(session_id TEXT PRIMARY KEY, office_no TEXT NOT NULL,
        user_id TEXT NOT NULL, cert_sha256 TEXT NOT NULL, refresh_hash TEXT NOT NULL UNIQUE,
        refresh_expires_ms INTEGER NOT NULL, revoked INTEGER NOT NULL DEFAULT 0);
      CREATE TABLE IF NOT EXISTS access_tokens(token_hash TEXT PRIMARY KEY,
        session_id TEXT NOT NULL, expires_ms INTEGER NOT NULL);
      CREATE TABLE IF NOT EXISTS items(seq INTEGER PRIMARY KEY AUTOINCREMENT,
        item_id TEXT UNIQUE NOT NULL, sender_reference TEXT NOT NULL, sender_office TEXT NOT NULL,
        sender_type TEXT NOT NULL, recipient_office TEXT NOT NULL, recipient_type TEXT NOT NULL,
        kind TEXT NOT NULL, target_month TEXT NOT NULL, document TEXT NOT NULL,
        document_sha256 TEXT NOT NULL, request_id TEXT NOT NULL, accepted_ms INTEGER NOT NULL,
        status TEXT NOT NULL, status_ms INTEGER NOT NULL, reject_by TEXT NOT NULL DEFAULT '',
        reject_code TEXT NOT NULL DEFAULT '', reject_reason TEXT NOT NULL DEFAULT '',
        deliver_due_ms INTEGER NOT NULL DEFAULT 0, delivered_ms INTEGER NOT NULL DEFAULT 0,
        fetches INTEGER NOT NULL DEFAULT 0, acks INTEGER NOT NULL DEFAULT 0,
        document_bytes INTEGER NOT NULL DEFAULT 0);
      CREATE INDEX IF NOT EXISTS items_due ON items(status, deliver_due_ms);
      CREATE TABLE IF NOT EXISTS sent_events(seq INTEGER PRIMARY KEY AUTOINCREMENT,
        item_id TEXT NOT NULL, sender_office TEXT NOT NULL, status TEXT NOT NULL,
        at_ms INTEGER NOT NULL);
      CREATE TABLE IF NOT EXISTS received_events(seq INTEGER PRIMARY KEY AUTOINCREMENT,
        item_id TEXT NOT NULL, recipient_office TEXT NOT NULL, at_ms INTEGER NOT NULL);
      CREATE TABLE IF NOT EXISTS auth_log(seq INTEGER PRIMARY KEY AUTOINCREMENT,
        at_ms INTEGER NOT NULL, office_no TEXT NOT NULL, user_id TEXT NOT NULL,
        call TEXT NOT NULL, outcome TEXT NOT NULL);
      CREATE TABLE IF NOT EXISTS revoked_offices(office_no TEXT PRIMARY KEY);
    )");
    // State files written before document_bytes was kept: the size of each document in bytes
    // (listings answer it without reading the document; length() of TEXT counts characters).
    bool has_bytes = false;
    for (auto st = db.prepare("PRAGMA table_info(items)"); st.step();)
      has_bytes = has_bytes || st.text(1) == "document_bytes";
    if (!has_bytes) {
      db.exec("ALTER TABLE items ADD COLUMN document_bytes INTEGER NOT NULL DEFAULT 0;"
              "UPDATE items SET document_bytes=length(CAST(document AS BLOB))");
    }
  }

  // ---- plumbing -------------------------------------------------------------------------

  Reply handle(const Request& req, const Connection& conn) {
    std::lock_guard lock(mutex);
    request_id = request_id_of(req);
    const auto path = path_segments(req.target);
    try {
      if (path.size() >= 2 && path[0] == "admin" && path[1] == "v1") {
        return Reply{admin(req, path), Delivery::kNormal, 0};
      }
      return kaigo(req, conn, path);
    } catch (const std::exception& e) {
      std::fprintf(stderr, "kaigoweb stand-in: internal error: %s\n", e.what());
      return Reply{ng_answer(500, request_id, "S5000", "システムエラーが発生しました"),
                   Delivery::kNormal, 0};
    }
  }

  static std::string request_id_of(const Request& req) {
    static const std::regex kId("^[A-Za-z0-9-]{1,64}$");
    const std::string* h = req.header("x-request-id");
    return h != nullptr && std::regex_match(*h, kId) ? *h : random_uuid();
  }

  bool fault_applies(const Request& req) const {
    return faults.only.empty() || faults.only == req.method + " " + path_only(req.target);
  }

  Reply kaigo(const Request& req, const Connection& conn, const std::vector<std::string>& p) {
    if (conn.office_connections > options.max_connections_per_office) {
      Response r = ng_answer(503, request_id, "S5031", "接続数が上限を超えています");
      r.headers.emplace_back("retry-after", "1");
      return Reply{std::move(r), Delivery::kCloseAfter, 0};
    }
    const bool applies = fault_applies(req);
    if (applies && faults.reset_before > 0) {
      --faults.reset_before;
      return Reply{{}, Delivery::kCloseUnanswered, 0};
    }
    const bool known_base =
        p.size() >= 3 && p[0] == "kaigo" &&
        ((p[1] == "auth" && p[2] == "v1") || (p[1] == "careplan" && p[2] == "v1"));
    Response r;
    if (!known_base) {
      r = ng_answer(404, request_id, "S4040", "指定されたパスはありません");
    } else if (faults.maintenance) {
      r = ng_answer(503, request_id, "S5030", "メンテナンス中です");
      r.headers.emplace_back("retry-after", std::to_string(faults.maintenance_retry_after));
    } else if (applies && faults.status_count > 0) {
      --faults.status_count;
      r = ng_answer(faults.status, request_id, faults.status_code, "試験用の障害です");
      if (faults.status == 429 || faults.status == 503)
        r.headers.emplace_back("retry-after", std::to_string(faults.status_retry_after));
    } else if (revoked(conn.office_no)) {
      r = ng_answer(403, request_id, "S4033", "証明書が失効しているか、契約がありません");
    } else {
      deliver_due();
      r = p[1] == "auth" ? auth(req, conn, p) : careplan(req, conn, p);
    }
    if (known_base && p[1] == "auth") r.headers.emplace_back("cache-control", "no-store");
    Reply reply{std::move(r), Delivery::kNormal, faults.delay_ms};
    if (applies && reply.response.status == 200) {
      if (faults.malformed > 0) {
        --faults.malformed;
        reply.response.body = "{\"result\":\"OK\",\"data\":{\"items\":[";
      } else if (faults.envelope_garbage > 0) {
        --faults.envelope_garbage;
        reply.response.body = "{\"status\":\"fine\",\"payload\":[1,2,3]}";
      }
    }
    if (applies && faults.drop > 0) {
      --faults.drop;
      reply.delivery = Delivery::kCutAfter;
    }
    return reply;
  }

  bool revoked(const std::string& office) {
    auto st = db.prepare("SELECT 1 FROM revoked_offices WHERE office_no=?");
    st.bind(1, office);
    return st.step();
  }

  int rate_check(const std::string& office, bool auth_call) {
    const std::int64_t now = now_ms();
    if (auth_call) {
      const double per_minute = static_cast<double>(settings.auth_rate_per_minute);
      if (int wait = take(auth_buckets[office], per_minute / 60.0, per_minute, now); wait > 0)
        return wait;
    }
    return take(buckets[office], static_cast<double>(settings.rate_per_office),
                static_cast<double>(settings.rate_burst), now);
  }

  Response too_many(int wait) {
    Response r = ng_answer(429, request_id, "S4290", "リクエストが多すぎます");
    r.headers.emplace_back("retry-after", std::to_string(wait));
    return r;
  }

  std::optional<rapidjson::Document> json_body(const Request& req, Response& error) {
    rapidjson::Document d;
    d.Parse<rapidjson::kParseValidateEncodingFlag>(req.body.data(), req.body.size());
    if (d.HasParseError()) {
      error = ng_answer(400, request_id, "S4001", "リクエストを読み取れません");
      return std::nullopt;
    }
    if (!d.IsObject()) {
      error = ng_answer(400, request_id, "S4002", "リクエストの形式が正しくありません");
      return std::nullopt;
    }
    return d;
  }

  void auth_log(const std::string& office, const std::string& user, const char* call,
                const std::string& outcome) {
    db.prepare("INSERT INTO auth_log(at_ms, office_no, user_id, call, outcome) VALUES(?,?,?,?,?)")
        .bind(1, now_ms())
        .bind(2, office)
        .bind(3, user)
        .bind(4, std::string(call))
        .bind(5, outcome)
        .run();
  }

  // ---- login, tokens --------------------------------------------------------------------

  Response auth(const Request& req, const Connection& conn, const std::vector<std::string>& p) {
    const std::string call = p.size() == 4 ? p[3] : p.size() == 5 ? p[3] + "/" + p[4] : "";
    if (req.method != "POST" ||
        (call != "login" && call != "otp" && call != "token/refresh" && call != "logout")) {
      return ng_answer(404, request_id, "S4040", "指定されたパスはありません");
    }
    Response r;
    if (call == "logout") {
      r = logout(req, conn);
    } else if (int wait = rate_check(conn.office_no, true); wait > 0) {
      r = too_many(wait);
    } else if (call == "login") {
      r = login(req, conn);
    } else if (call == "otp") {
      r = otp(req, conn);
    } else {
      r = refresh(req, conn);
    }
    return r;
  }

  struct AccountRow {
    std::string office_no, password_hash, delivery, hint;
    bool password_expired = false;
    std::int64_t failures = 0, window_start_ms = 0, locked_until_ms = 0;
  };

  std::optional<AccountRow> account(const std::string& user) {
    auto st = db.prepare(
        "SELECT office_no, password_hash, delivery, hint, password_expired, failures, "
        "window_start_ms, locked_until_ms FROM accounts WHERE user_id=?");
    st.bind(1, user);
    if (!st.step()) return std::nullopt;
    return AccountRow{st.text(0),         st.text(1),    st.text(2),    st.text(3),
                      st.integer(4) != 0, st.integer(5), st.integer(6), st.integer(7)};
  }

  Response locked_answer(std::int64_t until) {
    ApiError e("KW1002", "利用者IDはロックされています");
    e.locked_until = format_jst(until);
    return ng_answer(200, request_id, {e});
  }

  // A wrong password or OTP: counts towards the lockout (§3.6).
  void count_failure(const std::string& user, const AccountRow& a) {
    const std::int64_t now = now_ms();
    const std::int64_t window = settings.lockout_seconds * 1000;
    std::int64_t failures = a.failures;
    std::int64_t start = a.window_start_ms;
    if (failures == 0 || now - start > window) {
      failures = 0;
      start = now;
    }
    ++failures;
    const std::int64_t locked = failures >= settings.lockout_after ? now + window : 0;
    db.prepare(
          "UPDATE accounts SET failures=?, window_start_ms=?, locked_until_ms=? WHERE user_id=?")
        .bind(1, locked != 0 ? std::int64_t{0} : failures)
        .bind(2, start)
        .bind(3, locked)
        .bind(4, user)
        .run();
  }

  Response login(const Request& req, const Connection& conn) {
    Response error;
    auto d = json_body(req, error);
    if (!d) return error;
    const std::string user = str(*d, "user_id");
    const std::string password = str(*d, "password");
    static const std::regex kUser("^[A-Za-z0-9._@-]{1,64}$");
    if (!std::regex_match(user, kUser))
      return ng_answer(400, request_id, "S4002", "項目の値が正しくありません", "/user_id");
    if (password.size() < 8 || password.size() > 128)
      return ng_answer(400, request_id, "S4002", "項目の値が正しくありません", "/password");
    const auto a = account(user);
    const std::int64_t now = now_ms();
    auto answer = [&](const std::string& outcome, Response r) {
      auth_log(conn.office_no, user, "login", outcome);
      return r;
    };
    if (!a) {
      return answer("KW1001", ng_answer(200, request_id, "KW1001",
                                        "利用者IDまたはパスワードが正しくありません"));
    }
    if (a->office_no != conn.office_no) {
      return answer("KW1005", ng_answer(200, request_id, "KW1005",
                                        "利用者IDはこの証明書の事業所のものではありません"));
    }
    if (a->locked_until_ms > now) return answer("KW1002", locked_answer(a->locked_until_ms));
    if (a->password_hash != sha256_hex(user + ":" + password)) {
      count_failure(user, *a);
      return answer("KW1001", ng_answer(200, request_id, "KW1001",
                                        "利用者IDまたはパスワードが正しくありません"));
    }
    if (a->password_expired) {
      return answer("KW1008",
                    ng_answer(200, request_id, "KW1008", "パスワードの有効期限が切れています"));
    }
    remove_challenge_of(user);
    const std::string challenge = "ch-" + random_hex(16);
    const std::string code = random_digits(6);
    const std::int64_t expires = now + settings.otp_ttl * 1000;
    db.prepare(
          "INSERT INTO challenges(challenge_id, office_no, user_id, otp, expires_ms) "
          "VALUES(?,?,?,?,?)")
        .bind(1, challenge)
        .bind(2, a->office_no)
        .bind(3, user)
        .bind(4, code)
        .bind(5, expires)
        .run();
    write_otp_file(a->office_no, user, code + " " + challenge + " " + format_jst(expires) + "\n");
    return answer("OK", ok_answer(request_id, [&](JsonWriter& w) {
                    put(w, "challenge_id", challenge);
                    put(w, "otp_delivery", a->delivery);
                    put(w, "otp_destination_hint", a->hint);
                    put(w, "otp_expires_at", format_jst(expires));
                    put(w, "otp_length", std::int64_t{6});
                  }));
  }

  fs::path otp_file(const std::string& office, const std::string& user) const {
    return fs::path(otp_dir) / (office + "." + user + ".otp");
  }

  void write_otp_file(const std::string& office, const std::string& user, const std::string& text) {
    const fs::path target = otp_file(office, user);
    const fs::path tmp = target.string() + ".tmp";
    {
      std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
      fs::permissions(tmp, fs::perms::owner_read | fs::perms::owner_write,
                      fs::perm_options::replace);
      out << text;
      if (!out) throw std::runtime_error("cannot write the OTP file in " + otp_dir);
    }
    fs::rename(tmp, target);
  }

  void remove_challenge_of(const std::string& user) {
    auto st = db.prepare("SELECT office_no FROM challenges WHERE user_id=?");
    st.bind(1, user);
    if (st.step()) {
      std::error_code ec;
      fs::remove(otp_file(st.text(0), user), ec);
    }
    db.prepare("DELETE FROM challenges WHERE user_id=?").bind(1, user).run();
  }

  Response otp(const Request& req, const Connection& conn) {
    Response error;
    auto d = json_body(req, error);
    if (!d) return error;
    const std::string challenge = str(*d, "challenge_id");
    const std::string code = str(*d, "otp");
    if (challenge.empty() || challenge.size() > 128)
      return ng_answer(400, request_id, "S4002", "項目の値が正しくありません", "/challenge_id");
    if (code.empty() || code.size() > 16)
      return ng_answer(400, request_id, "S4002", "項目の値が正しくありません", "/otp");
    auto st = db.prepare(
        "SELECT office_no, user_id, otp, expires_ms, wrong FROM challenges WHERE challenge_id=?");
    st.bind(1, challenge);
    const bool found = st.step();
    const std::string office = found ? st.text(0) : conn.office_no;
    const std::string user = found ? st.text(1) : "";
    auto answer = [&](const std::string& outcome, Response r) {
      auth_log(conn.office_no, user, "otp", outcome);
      return r;
    };
    const auto expired_answer = [&] {
      return answer("KW1004", ng_answer(200, request_id, "KW1004",
                                        "ワンタイムパスワードの有効期限が切れています"));
    };
    if (!found || office != conn.office_no) return expired_answer();
    const std::string expected = st.text(2);
    const std::int64_t expires = st.integer(3);
    const std::int64_t wrong = st.integer(4);
    const auto a = account(user);
    const std::int64_t now = now_ms();
    if (!a) return expired_answer();
    if (a->locked_until_ms > now) return answer("KW1002", locked_answer(a->locked_until_ms));
    if (expires <= now) {
      remove_challenge_of(user);
      return expired_answer();
    }
    if (code != expected) {
      count_failure(user, *a);
      if (wrong + 1 >= 3) {
        remove_challenge_of(user);
      } else {
        db.prepare("UPDATE challenges SET wrong=wrong+1 WHERE challenge_id=?")
            .bind(1, challenge)
            .run();
      }
      return answer("KW1003",
                    ng_answer(200, request_id, "KW1003", "ワンタイムパスワードが正しくありません"));
    }
    remove_challenge_of(user);
    db.prepare("UPDATE accounts SET failures=0, window_start_ms=0 WHERE user_id=?")
        .bind(1, user)
        .run();
    // One session per user ID: a completed login revokes every earlier token of the user.
    db.prepare(
          "DELETE FROM access_tokens WHERE session_id IN "
          "(SELECT session_id FROM sessions WHERE user_id=?)")
        .bind(1, user)
        .run();
    db.prepare("DELETE FROM sessions WHERE user_id=?").bind(1, user).run();
    const std::string session = random_hex(12);
    const std::string refresh_token = random_hex(32);
    const std::int64_t refresh_expires = now + settings.refresh_ttl * 1000;
    db.prepare(
          "INSERT INTO sessions(session_id, office_no, user_id, cert_sha256, refresh_hash, "
          "refresh_expires_ms) VALUES(?,?,?,?,?,?)")
        .bind(1, session)
        .bind(2, office)
        .bind(3, user)
        .bind(4, conn.cert_sha256)
        .bind(5, sha256_hex(refresh_token))
        .bind(6, refresh_expires)
        .run();
    const auto [access, access_expires] = new_access_token(session, refresh_expires);
    const auto types = service_types_of(office);
    return answer("OK", ok_answer(request_id, [&](JsonWriter& w) {
                    put(w, "access_token", access);
                    put(w, "token_type", "Bearer");
                    put(w, "access_expires_at", format_jst(access_expires));
                    put(w, "expires_in", (access_expires - now) / 1000);
                    put(w, "refresh_token", refresh_token);
                    put(w, "refresh_expires_at", format_jst(refresh_expires));
                    put(w, "refresh_expires_in", (refresh_expires - now) / 1000);
                    w.Key("office");
                    w.StartObject();
                    put(w, "office_no", office);
                    w.Key("service_types");
                    w.StartArray();
                    for (const auto& t : types) w.String(t.c_str());
                    w.EndArray();
                    w.EndObject();
                    put(w, "user_id", user);
                  }));
  }

  std::pair<std::string, std::int64_t> new_access_token(const std::string& session,
                                                        std::int64_t refresh_expires) {
    const std::string token = random_hex(32);
    const std::int64_t expires = std::min(now_ms() + settings.access_ttl * 1000, refresh_expires);
    db.prepare("INSERT INTO access_tokens(token_hash, session_id, expires_ms) VALUES(?,?,?)")
        .bind(1, sha256_hex(token))
        .bind(2, session)
        .bind(3, expires)
        .run();
    return {token, expires};
  }

  std::vector<std::string> service_types_of(const std::string& office) {
    auto st = db.prepare("SELECT service_types FROM offices WHERE office_no=?");
    st.bind(1, office);
    if (!st.step() || st.text(0).empty()) return {};
    return split(st.text(0), ',');
  }

  Response refresh(const Request& req, const Connection& conn) {
    Response error;
    auto d = json_body(req, error);
    if (!d) return error;
    const std::string token = str(*d, "refresh_token");
    if (token.empty() || token.size() > 512)
      return ng_answer(400, request_id, "S4002", "項目の値が正しくありません", "/refresh_token");
    auto st = db.prepare(
        "SELECT session_id, office_no, user_id, cert_sha256, refresh_expires_ms, revoked "
        "FROM sessions WHERE refresh_hash=?");
    st.bind(1, sha256_hex(token));
    if (!st.step() || st.integer(5) != 0) {
      auth_log(conn.office_no, "", "refresh", "KW1007");
      return ng_answer(200, request_id, "KW1007", "リフレッシュトークンが無効です");
    }
    const std::string session = st.text(0), user = st.text(2);
    const std::int64_t refresh_expires = st.integer(4);
    if (st.text(3) != conn.cert_sha256) {
      auth_log(conn.office_no, user, "refresh", "S4031");
      return ng_answer(403, request_id, "S4031", "ログインとは別の証明書です");
    }
    const std::int64_t now = now_ms();
    if (refresh_expires <= now) {
      auth_log(conn.office_no, user, "refresh", "KW1006");
      return ng_answer(200, request_id, "KW1006", "リフレッシュトークンの有効期限が切れています");
    }
    const auto [access, access_expires] = new_access_token(session, refresh_expires);
    auth_log(conn.office_no, user, "refresh", "OK");
    return ok_answer(request_id, [&](JsonWriter& w) {
      put(w, "access_token", access);
      put(w, "token_type", "Bearer");
      put(w, "access_expires_at", format_jst(access_expires));
      put(w, "expires_in", (access_expires - now) / 1000);
      put(w, "refresh_expires_at", format_jst(refresh_expires));
    });
  }

  // §3.5: the session of a care-plan call (or logout), or the 401/403 answer.
  std::variant<Principal, Response> authenticate(const Request& req, const Connection& conn) {
    const std::string* h = req.header("authorization");
    static const std::regex kBearer("^Bearer ([A-Za-z0-9._~+/=-]{1,512})$");
    std::smatch m;
    if (h == nullptr || !std::regex_match(*h, m, kBearer)) {
      Response r = ng_answer(401, request_id, "S4011", "認証情報がありません");
      r.headers.emplace_back("www-authenticate", "Bearer error=\"invalid_token\"");
      return r;
    }
    auto st = db.prepare(
        "SELECT s.session_id, s.office_no, s.user_id, s.cert_sha256, t.expires_ms, s.revoked "
        "FROM access_tokens t JOIN sessions s ON s.session_id=t.session_id WHERE t.token_hash=?");
    st.bind(1, sha256_hex(m[1].str()));
    if (!st.step() || st.integer(5) != 0) {
      Response r = ng_answer(401, request_id, "S4012", "トークンが無効です");
      r.headers.emplace_back("www-authenticate", "Bearer error=\"invalid_token\"");
      return r;
    }
    if (st.text(3) != conn.cert_sha256)
      return ng_answer(403, request_id, "S4031", "ログインとは別の証明書です");
    if (st.integer(4) <= now_ms()) {
      Response r = ng_answer(401, request_id, "S4013", "トークンの有効期限が切れています");
      r.headers.emplace_back("www-authenticate", "Bearer error=\"invalid_token\"");
      return r;
    }
    return Principal{st.text(0), st.text(1), st.text(2)};
  }

  Response logout(const Request& req, const Connection& conn) {
    auto who = authenticate(req, conn);
    if (auto* r = std::get_if<Response>(&who)) {
      auth_log(conn.office_no, "", "logout", str_code(*r));
      return *r;
    }
    const auto& p = std::get<Principal>(who);
    db.prepare("DELETE FROM access_tokens WHERE session_id=?").bind(1, p.session_id).run();
    db.prepare("DELETE FROM sessions WHERE session_id=?").bind(1, p.session_id).run();
    auth_log(conn.office_no, p.user_id, "logout", "OK");
    return ok_answer(request_id, nullptr);
  }

  static std::string str_code(const Response& r) {
    rapidjson::Document d;
    d.Parse(r.body.data(), r.body.size());
    if (d.HasParseError() || !d.IsObject() || !d.HasMember("errors") || !d["errors"].IsArray() ||
        d["errors"].Empty())
      return "S" + std::to_string(r.status);
    return str(d["errors"][0], "code");
  }

  // ---- care-plan calls ------------------------------------------------------------------

  Response careplan(const Request& req, const Connection& conn, const std::vector<std::string>& p) {
    auto who = authenticate(req, conn);
    if (auto* r = std::get_if<Response>(&who)) return *r;
    const Principal& me = std::get<Principal>(who);
    if (int wait = rate_check(conn.office_no, false); wait > 0) return too_many(wait);
    const std::string& m = req.method;
    const std::size_t n = p.size();
    if (n == 4 && p[3] == "sent-items" && m == "POST") return send(req, me);
    if (n == 4 && p[3] == "sent-items" && m == "GET") return sent_list(req, me);
    if (n == 5 && p[3] == "sent-items" && m == "GET") return sent_one(me, p[4]);
    if (n == 4 && p[3] == "received-items" && m == "GET") return received_list(req, me);
    if (n == 5 && p[3] == "received-items" && m == "GET") return received_one(me, p[4]);
    if (n == 6 && p[3] == "received-items" && p[5] == "ack" && m == "POST")
      return ack(req, me, p[4]);
    if (n == 4 && p[3] == "offices" && m == "GET") return offices(req);
    return ng_answer(404, request_id, "S4040", "指定されたパスはありません");
  }

  Response send(const Request& req, const Principal& me) {
    if (faults.business_count > 0 && fault_applies(req)) {
      --faults.business_count;
      ApiError e(faults.business_error, "試験用の業務エラーです");
      if (faults.business_error == "KW9001" || faults.business_error == "KW9002") e.retry_after = 1;
      return ng_answer(200, request_id, {e});
    }
    const std::int64_t now = now_ms();
    SendCheck c = check_send(req.body, me.office_no, current_month_jst(now), !settings.bench);
    if (!c.ok()) return ng_answer(c.status, request_id, c.errors);
    const CheckedSend& s = c.send;
    auto st = db.prepare("SELECT service_types, status FROM offices WHERE office_no=?");
    st.bind(1, s.recipient.office_no);
    if (!st.step())
      return ng_answer(200, request_id, "KW2101", "送信先事業所が登録されていません",
                       "/recipient/office_no");
    const auto types = split(st.text(0), ',');
    if (std::find(types.begin(), types.end(), s.recipient.service_type) == types.end())
      return ng_answer(200, request_id, "KW2102", "送信先事業所はケアプランを受け取りません",
                       "/recipient/service_type");
    if (st.text(1) != "ACTIVE")
      return ng_answer(200, request_id, "KW2103", "送信先事業所は休止または廃止されています",
                       "/recipient/office_no");
    const std::string item_id = store_item(s, me.office_no, now);
    const std::int64_t cursor = last_sent_event(item_id);
    return ok_answer(request_id, [&](JsonWriter& w) {
      put(w, "item_id", item_id);
      put(w, "status", "accepted");
      put(w, "accepted_at", format_jst(now));
      put(w, "sender_reference", s.sender_reference);
      put(w, "cursor", "s" + std::to_string(cursor));
    });
  }

  std::int64_t last_sent_event(const std::string& item_id) {
    auto st = db.prepare("SELECT min(seq) FROM sent_events WHERE item_id=?");
    st.bind(1, item_id);
    st.step();
    return st.integer(0);
  }

  // Stores an accepted item (and delivers it at once without a delivery delay).
  std::string store_item(const CheckedSend& s, const std::string& sender_office, std::int64_t now) {
    std::string hex = random_hex(8);
    std::transform(hex.begin(), hex.end(), hex.begin(),
                   [](unsigned char ch) { return static_cast<char>(std::toupper(ch)); });
    const std::string item_id = "CP" + hex;
    db.exec("BEGIN");
    try {
      db.prepare(
            "INSERT INTO items(item_id, sender_reference, sender_office, sender_type, "
            "recipient_office, recipient_type, kind, target_month, document, "
            "document_sha256, request_id, accepted_ms, status, status_ms, deliver_due_ms, "
            "document_bytes) VALUES(?,?,?,?,?,?,?,?,?,?,?,?,'accepted',?,?,?)")
          .bind(1, item_id)
          .bind(2, s.sender_reference)
          .bind(3, sender_office)
          .bind(4, s.sender.service_type)
          .bind(5, s.recipient.office_no)
          .bind(6, s.recipient.service_type)
          .bind(7, s.kind)
          .bind(8, s.target_month)
          .bind(9, s.document_json)
          .bind(10, sha256_hex(s.document_json))
          .bind(11, request_id)
          .bind(12, now)
          .bind(13, now)
          .bind(14, now + settings.delivery_delay_ms)
          .bind(15, static_cast<std::int64_t>(s.document_json.size()))
          .run();
      sent_event(item_id, sender_office, "accepted", now);
      if (faults.reject_count > 0) {
        --faults.reject_count;
        set_status(item_id, "rejected", "service", faults.reject_after_accept,
                   "受付後の検査で受け付けられませんでした", now);
      }
      db.exec("COMMIT");
    } catch (...) {
      db.exec("ROLLBACK");
      throw;
    }
    if (settings.delivery_delay_ms <= 0) deliver_due();
    return item_id;
  }

  void sent_event(const std::string& item_id, const std::string& sender_office,
                  const std::string& status, std::int64_t now) {
    db.prepare("INSERT INTO sent_events(item_id, sender_office, status, at_ms) VALUES(?,?,?,?)")
        .bind(1, item_id)
        .bind(2, sender_office)
        .bind(3, status)
        .bind(4, now)
        .run();
  }

  void set_status(const std::string& item_id, const std::string& status, const std::string& by,
                  const std::string& code, const std::string& reason, std::int64_t now) {
    db.prepare(
          "UPDATE items SET status=?, status_ms=?, reject_by=?, reject_code=?, "
          "reject_reason=? WHERE item_id=?")
        .bind(1, status)
        .bind(2, now)
        .bind(3, by)
        .bind(4, code)
        .bind(5, reason)
        .bind(6, item_id)
        .run();
    auto st = db.prepare("SELECT sender_office FROM items WHERE item_id=?");
    st.bind(1, item_id);
    if (st.step()) sent_event(item_id, st.text(0), status, now);
  }

  // accepted → delivered for every item whose delivery time has come (§5.2).
  void deliver_due() {
    const std::int64_t now = now_ms();
    std::vector<std::pair<std::string, std::string>> due;
    {
      auto st = db.prepare(
          "SELECT item_id, recipient_office FROM items WHERE status='accepted' AND "
          "deliver_due_ms<=? ORDER BY seq");
      st.bind(1, now);
      while (st.step()) due.emplace_back(st.text(0), st.text(1));
    }
    for (const auto& [item, recipient] : due) {
      db.exec("BEGIN");
      db.prepare("UPDATE items SET delivered_ms=? WHERE item_id=?")
          .bind(1, now)
          .bind(2, item)
          .run();
      set_status(item, "delivered", "", "", "", now);
      db.prepare("INSERT INTO received_events(item_id, recipient_office, at_ms) VALUES(?,?,?)")
          .bind(1, item)
          .bind(2, recipient)
          .bind(3, now)
          .run();
      db.exec("COMMIT");
    }
  }

  void write_entry(JsonWriter& w, const ItemRow& r, const std::string& status,
                   std::int64_t status_ms) {
    put(w, "sender_reference", r.sender_reference);
    put_office(w, "sender", r.sender_office, r.sender_type);
    put_office(w, "recipient", r.recipient_office, r.recipient_type);
    put(w, "kind", r.kind);
    put(w, "target_month", r.target_month);
    put(w, "accepted_at", format_jst(r.accepted_ms));
    put(w, "status", status);
    put(w, "status_at", format_jst(status_ms));
    w.Key("reject");
    if (status == "rejected") {
      w.StartObject();
      put(w, "by", r.reject_by);
      put(w, "code", r.reject_code);
      put(w, "reason", r.reject_reason);
      w.EndObject();
    } else {
      w.Null();
    }
  }

  bool take_duplicate_listing(const Request& req) {
    if (faults.duplicate_listings <= 0 || !fault_applies(req)) return false;
    --faults.duplicate_listings;
    return true;
  }

  std::int64_t max_seq(const char* table) {
    auto st = db.prepare(std::string("SELECT coalesce(max(seq),0) FROM ") + table);
    st.step();
    return st.integer(0);
  }

  Response sent_list(const Request& req, const Principal& me) {
    const auto q = query_params(req.target);
    const int limit = page_limit(q, 50, 100);
    if (limit < 0)
      return ng_answer(400, request_id, "S4002", "項目の値が正しくありません", "/limit");
    const bool by_time =
        q.count("accepted_from") != 0 || q.count("accepted_to") != 0 || q.count("page") != 0;
    if (by_time) {
      if (q.count("since") != 0)
        return ng_answer(400, request_id, "S4002", "since と accepted_from は同時に指定できません",
                         "/since");
      return sent_by_time(req, q, limit, me);
    }
    std::int64_t since = 0;
    if (auto it = q.find("since"); it != q.end() && !it->second.empty()) {
      const auto seq = cursor_seq(it->second, 's');
      if (!seq || *seq > max_seq("sent_events"))
        return ng_answer(400, request_id, "S4002", "カーソルが無効です", "/since");
      since = *seq;
    }
    struct Entry {
      std::int64_t seq;
      std::string status;
      std::int64_t at;
      ItemRow item;
    };
    std::vector<Entry> entries;
    auto st = db.prepare(std::string("SELECT e.seq, e.status, e.at_ms, ") + kItemColumns +
                         " FROM sent_events e JOIN items i ON i.item_id=e.item_id "
                         "WHERE e.sender_office=? AND e.seq>? ORDER BY e.seq LIMIT ?");
    st.bind(1, me.office_no).bind(2, since).bind(3, std::int64_t{limit + 1});
    while (st.step())
      entries.push_back({st.integer(0), st.text(1), st.integer(2), read_item(st, 3)});
    const bool more = entries.size() > static_cast<std::size_t>(limit);
    if (more) entries.pop_back();
    if (!entries.empty() && take_duplicate_listing(req)) entries.push_back(entries.front());
    const std::int64_t next = entries.empty() ? since : std::max(since, entries.back().seq);
    return ok_answer(request_id, [&](JsonWriter& w) {
      w.Key("items");
      w.StartArray();
      for (const auto& e : entries) {
        w.StartObject();
        put(w, "item_id", e.item.item_id);
        put(w, "cursor", "s" + std::to_string(e.seq));
        write_entry(w, e.item, e.status, e.at);
        w.EndObject();
      }
      w.EndArray();
      put(w, "next_cursor", "s" + std::to_string(next));
      w.Key("has_more");
      w.Bool(more);
    });
  }

  Response sent_by_time(const Request& req, const std::map<std::string, std::string>& q, int limit,
                        const Principal& me) {
    const auto from_it = q.find("accepted_from");
    const auto from = from_it == q.end() ? std::nullopt : parse_rfc3339(from_it->second);
    if (!from)
      return ng_answer(400, request_id, "S4002", "項目の値が正しくありません", "/accepted_from");
    std::int64_t to = now_ms();
    if (auto it = q.find("accepted_to"); it != q.end()) {
      const auto t = parse_rfc3339(it->second);
      if (!t)
        return ng_answer(400, request_id, "S4002", "項目の値が正しくありません", "/accepted_to");
      to = *t;
    }
    if (to < *from || to - *from > kMaxSearchSpanMs)
      return ng_answer(400, request_id, "S4002", "検索期間は35日以内です", "/accepted_to");
    std::int64_t offset = 0;
    if (auto it = q.find("page"); it != q.end() && !it->second.empty()) {
      const auto seq = cursor_seq(it->second, 'p');
      if (!seq) return ng_answer(400, request_id, "S4002", "ページが無効です", "/page");
      offset = *seq;
    }
    std::vector<ItemRow> rows;
    auto st = db.prepare(std::string("SELECT ") + kItemColumns +
                         " FROM items i WHERE i.sender_office=? AND i.accepted_ms>=? AND "
                         "i.accepted_ms<? ORDER BY i.accepted_ms, i.seq LIMIT ? OFFSET ?");
    st.bind(1, me.office_no)
        .bind(2, *from)
        .bind(3, to)
        .bind(4, std::int64_t{limit + 1})
        .bind(5, offset);
    while (st.step()) rows.push_back(read_item(st));
    const bool more = rows.size() > static_cast<std::size_t>(limit);
    if (more) rows.pop_back();
    if (!rows.empty() && take_duplicate_listing(req)) rows.push_back(rows.front());
    return ok_answer(request_id, [&](JsonWriter& w) {
      w.Key("items");
      w.StartArray();
      for (const auto& r : rows) {
        w.StartObject();
        put(w, "item_id", r.item_id);
        write_entry(w, r, r.status, r.status_ms);
        w.EndObject();
      }
      w.EndArray();
      w.Key("next_page");
      if (more) {
        const std::string page = "p" + std::to_string(offset + limit);
        w.String(page.c_str());
      } else {
        w.Null();
      }
    });
  }

  std::optional<ItemRow> item(const std::string& id) {
    auto st = db.prepare(std::string("SELECT ") + kItemColumns + " FROM items i WHERE item_id=?");
    st.bind(1, id);
    if (!st.step()) return std::nullopt;
    return read_item(st);
  }

  Response sent_one(const Principal& me, const std::string& id) {
    const auto r = item(id);
    if (!r || r->sender_office != me.office_no)
      return ng_answer(404, request_id, "S4041", "指定された項目はありません");
    return ok_answer(request_id, [&](JsonWriter& w) {
      put(w, "item_id", r->item_id);
      write_entry(w, *r, r->status, r->status_ms);
    });
  }

  void write_received(JsonWriter& w, const ItemRow& r) {
    put(w, "sender_reference", r.sender_reference);
    put_office(w, "sender", r.sender_office, r.sender_type);
    put_office(w, "recipient", r.recipient_office, r.recipient_type);
    put(w, "kind", r.kind);
    put(w, "target_month", r.target_month);
    put(w, "delivered_at", format_jst(r.delivered_ms));
    put(w, "status", r.status);
    put(w, "document_bytes", r.document_bytes);
  }

  Response received_list(const Request& req, const Principal& me) {
    const auto q = query_params(req.target);
    const int limit = page_limit(q, 50, 100);
    if (limit < 0)
      return ng_answer(400, request_id, "S4002", "項目の値が正しくありません", "/limit");
    std::int64_t since = 0;
    if (auto it = q.find("since"); it != q.end() && !it->second.empty()) {
      const auto seq = cursor_seq(it->second, 'r');
      if (!seq || *seq > max_seq("received_events"))
        return ng_answer(400, request_id, "S4002", "カーソルが無効です", "/since");
      since = *seq;
    }
    std::vector<std::pair<std::int64_t, ItemRow>> rows;
    auto st = db.prepare(std::string("SELECT e.seq, ") + kItemColumns +
                         " FROM received_events e JOIN items i ON i.item_id=e.item_id "
                         "WHERE e.recipient_office=? AND e.seq>? ORDER BY e.seq LIMIT ?");
    st.bind(1, me.office_no).bind(2, since).bind(3, std::int64_t{limit + 1});
    while (st.step()) rows.emplace_back(st.integer(0), read_item(st, 1));
    const bool more = rows.size() > static_cast<std::size_t>(limit);
    if (more) rows.pop_back();
    if (!rows.empty() && take_duplicate_listing(req)) rows.push_back(rows.front());
    const std::int64_t next = rows.empty() ? since : std::max(since, rows.back().first);
    return ok_answer(request_id, [&](JsonWriter& w) {
      w.Key("items");
      w.StartArray();
      for (const auto& [seq, r] : rows) {
        w.StartObject();
        put(w, "item_id", r.item_id);
        put(w, "cursor", "r" + std::to_string(seq));
        write_received(w, r);
        w.EndObject();
      }
      w.EndArray();
      put(w, "next_cursor", "r" + std::to_string(next));
      w.Key("has_more");
      w.Bool(more);
    });
  }

  Response received_one(const Principal& me, const std::string& id) {
    const auto r = item(id);
    if (!r || r->delivered_ms == 0)
      return ng_answer(404, request_id, "S4041", "指定された項目はありません");
    if (r->recipient_office != me.office_no)
      return ng_answer(403, request_id, "S4032", "この事業所には許可されていません");
    std::string document;
    {
      auto st = db.prepare("SELECT document FROM items WHERE item_id=?");
      st.bind(1, id);
      st.step();
      document = st.text(0);
    }
    db.prepare("UPDATE items SET fetches=fetches+1 WHERE item_id=?").bind(1, id).run();
    return ok_answer(request_id, [&](JsonWriter& w) {
      put(w, "item_id", r->item_id);
      write_received(w, *r);
      w.Key("document");
      w.RawValue(document.data(), document.size(), rapidjson::kObjectType);
    });
  }

  Response ack(const Request& req, const Principal& me, const std::string& id) {
    Response error;
    auto d = json_body(req, error);
    if (!d) return error;
    const std::string result = str(*d, "result");
    const std::string reason = str(*d, "reason");
    if (result != "downloaded" && result != "rejected")
      return ng_answer(400, request_id, "S4002", "項目の値が正しくありません", "/result");
    if (reason.size() > kMaxReason * 4)
      return ng_answer(400, request_id, "S4002", "項目の値が正しくありません", "/reason");
    const auto r = item(id);
    if (!r || r->delivered_ms == 0)
      return ng_answer(404, request_id, "S4041", "指定された項目はありません");
    if (r->recipient_office != me.office_no)
      return ng_answer(403, request_id, "S4032", "この事業所には許可されていません");
    db.prepare("UPDATE items SET acks=acks+1 WHERE item_id=?").bind(1, id).run();
    if (r->status == "delivered") {
      db.exec("BEGIN");
      set_status(id, result, result == "rejected" ? "recipient" : "",
                 result == "rejected" ? "recipient_rejected" : "", reason, now_ms());
      db.exec("COMMIT");
    } else if (r->status != result) {
      return ng_answer(200, request_id, "KW2401", "この項目は別の結果で確認済みです");
    }
    return ok_answer(request_id, [&](JsonWriter& w) {
      put(w, "item_id", id);
      put(w, "status", result);
    });
  }

  Response offices(const Request& req) {
    const auto q = query_params(req.target);
    const int limit = page_limit(q, 500, 1000);
    if (limit < 0)
      return ng_answer(400, request_id, "S4002", "項目の値が正しくありません", "/limit");
    std::int64_t since = 0;
    if (auto it = q.find("changed_since"); it != q.end() && !it->second.empty()) {
      const auto t = parse_rfc3339(it->second);
      if (!t)
        return ng_answer(400, request_id, "S4002", "項目の値が正しくありません", "/changed_since");
      since = *t;
    }
    std::int64_t after_ms = -1;
    std::string after_no;
    if (auto it = q.find("cursor"); it != q.end() && !it->second.empty()) {
      const auto parts = split(it->second, '.');
      const auto seq = parts.size() == 2 ? cursor_seq(parts[0], 'o') : std::nullopt;
      if (!seq) return ng_answer(400, request_id, "S4002", "カーソルが無効です", "/cursor");
      after_ms = *seq;
      after_no = parts[1];
    }
    const std::int64_t as_of = now_ms();
    auto st = db.prepare(
        "SELECT office_no, service_types, name, kana, prefecture, status, updated_ms FROM offices "
        "WHERE updated_ms>=? AND (updated_ms>? OR (updated_ms=? AND office_no>?)) "
        "ORDER BY updated_ms, office_no LIMIT ?");
    st.bind(1, since).bind(2, after_ms).bind(3, after_ms).bind(4, after_no);
    st.bind(5, std::int64_t{limit + 1});
    std::vector<std::pair<OfficeRecord, std::int64_t>> rows;
    while (st.step()) {
      rows.push_back({OfficeRecord{st.text(0), split(st.text(1), ','), st.text(2), st.text(3),
                                   st.text(4), st.text(5)},
                      st.integer(6)});
    }
    const bool more = rows.size() > static_cast<std::size_t>(limit);
    if (more) rows.pop_back();
    std::string next;
    if (!rows.empty())
      next = "o" + std::to_string(rows.back().second) + "." + rows.back().first.office_no;
    return ok_answer(request_id, [&](JsonWriter& w) {
      w.Key("offices");
      w.StartArray();
      for (const auto& [o, updated] : rows) {
        w.StartObject();
        put(w, "office_no", o.office_no);
        w.Key("service_types");
        w.StartArray();
        for (const auto& t : o.service_types) w.String(t.c_str());
        w.EndArray();
        put(w, "name", o.name);
        put(w, "kana", o.kana);
        put(w, "prefecture", o.prefecture);
        put(w, "status", o.status);
        put(w, "updated_at", format_jst(updated));
        w.EndObject();
      }
      w.EndArray();
      put(w, "next_cursor", next);
      w.Key("has_more");
      w.Bool(more);
      put(w, "as_of", format_jst(as_of));
    });
  }

  // ---- admin ----------------------------------------------------------------------------

  Response admin(const Request& req, const std::vector<std::string>& p) {
    const std::string* h = req.header("authorization");
    if (h == nullptr || *h != "Admin " + options.admin_token)
      return ng_answer(403, request_id, "S4032", "管理者の認証に失敗しました");
    const std::string& m = req.method;
    const std::string call = p.size() >= 3 ? p[2] : "";
    const std::size_t n = p.size();
    const auto q = query_params(req.target);
    if (n == 3 && call == "otp" && m == "GET") return admin_otp(q);
    if (n == 3 && call == "deliveries" && m == "GET") return admin_deliveries(q);
    if (n == 3 && call == "auth-log" && m == "GET") return admin_auth_log(q);
    Response error;
    auto d = json_body(req, error);
    if (!d) return error;
    if (n == 3 && call == "accounts" && m == "POST") return admin_account(*d);
    if (n == 3 && call == "offices" && m == "PUT") return admin_offices(*d);
    if (n == 3 && call == "settings" && m == "POST") return admin_settings(*d);
    if (n == 4 && call == "sessions" && p[3] == "expire" && m == "POST") return admin_expire(*d);
    if (n == 4 && call == "sessions" && p[3] == "revoke" && m == "POST") return admin_revoke(*d);
    if (n == 4 && call == "lockout" && p[3] == "reset" && m == "POST") return admin_unlock(*d);
    if (n == 4 && call == "certificates" && p[3] == "revoke" && m == "POST") {
      const std::string office = str(*d, "office_no");
      if (office.empty())
        return ng_answer(400, request_id, "S4002", "項目の値が正しくありません", "/office_no");
      db.prepare("INSERT OR IGNORE INTO revoked_offices VALUES(?)").bind(1, office).run();
      return ok_answer(request_id, nullptr);
    }
    if (n == 3 && call == "faults" && m == "POST") return admin_faults(*d);
    if (n == 3 && call == "items" && m == "POST") return admin_item(*d);
    if (n == 5 && call == "items" && p[4] == "status" && m == "POST") return admin_status(p[3], *d);
    if (n == 3 && call == "reset" && m == "POST") return admin_reset();
    return ng_answer(404, request_id, "S4040", "指定されたパスはありません");
  }

  Response admin_account(const rapidjson::Value& d) {
    Account a{str(d, "office_no"), str(d, "user_id"), str(d, "password"), str(d, "otp_delivery"),
              str(d, "destination_hint")};
    if (a.otp_delivery.empty()) a.otp_delivery = "sms";
    if (!parse_account(a.office_no + ":" + a.user_id + ":" + a.password + ":" + a.otp_delivery))
      return ng_answer(400, request_id, "S4002", "項目の値が正しくありません", "/");
    upsert_account(a, d.HasMember("password_expired") && d["password_expired"].IsBool() &&
                          d["password_expired"].GetBool());
    return ok_answer(request_id, nullptr);
  }

  void upsert_account(const Account& a, bool password_expired) {
    const std::string hash = sha256_hex(a.user_id + ":" + a.password);
    std::string hint = a.destination_hint;
    if (hint.empty())
      hint = a.otp_delivery == "email" ? "k***@example.jp" : "***-****-" + a.office_no.substr(6);
    auto st = db.prepare("SELECT password_hash FROM accounts WHERE user_id=?");
    st.bind(1, a.user_id);
    const bool exists = st.step();
    const bool new_password = !exists || st.text(0) != hash;
    db.prepare(
          "INSERT INTO accounts(user_id, office_no, password_hash, delivery, hint, "
          "password_expired) VALUES(?,?,?,?,?,?) ON CONFLICT(user_id) DO UPDATE SET "
          "office_no=excluded.office_no, password_hash=excluded.password_hash, "
          "delivery=excluded.delivery, hint=excluded.hint, "
          "password_expired=excluded.password_expired")
        .bind(1, a.user_id)
        .bind(2, a.office_no)
        .bind(3, hash)
        .bind(4, a.otp_delivery)
        .bind(5, hint)
        .bind(6, std::int64_t{password_expired ? 1 : 0})
        .run();
    if (new_password) {
      db.prepare("UPDATE accounts SET failures=0, window_start_ms=0 WHERE user_id=?")
          .bind(1, a.user_id)
          .run();
    }
  }

  Response admin_offices(const rapidjson::Value& d) {
    if (!d.HasMember("offices") || !d["offices"].IsArray())
      return ng_answer(400, request_id, "S4002", "項目の値が正しくありません", "/offices");
    std::vector<OfficeRecord> list;
    for (const auto& o : d["offices"].GetArray()) {
      OfficeRecord r{str(o, "office_no"), {}, str(o, "name"), str(o, "kana"), str(o, "prefecture"),
                     str(o, "status")};
      if (r.status.empty()) r.status = "ACTIVE";
      if (o.HasMember("service_types") && o["service_types"].IsArray()) {
        for (const auto& t : o["service_types"].GetArray())
          if (t.IsString()) r.service_types.emplace_back(t.GetString());
      }
      static const std::regex kOffice("^[0-9A-Z]{10}$");
      if (!std::regex_match(r.office_no, kOffice) ||
          (r.status != "ACTIVE" && r.status != "SUSPENDED" && r.status != "CLOSED"))
        return ng_answer(400, request_id, "S4002", "項目の値が正しくありません", "/offices");
      list.push_back(std::move(r));
    }
    for (const auto& r : list) upsert_office(r);
    return ok_answer(request_id, nullptr);
  }

  void upsert_office(const OfficeRecord& o) {
    // updated_at strictly increases, so a list resumed at as_of misses nothing.
    last_office_ms = std::max(now_ms(), last_office_ms + 1);
    db.prepare("INSERT OR REPLACE INTO offices VALUES(?,?,?,?,?,?,?)")
        .bind(1, o.office_no)
        .bind(2, join(o.service_types))
        .bind(3, o.name)
        .bind(4, o.kana)
        .bind(5, o.prefecture)
        .bind(6, o.status)
        .bind(7, last_office_ms)
        .run();
  }

  Response admin_otp(const std::map<std::string, std::string>& q) {
    const auto office = q.find("office_no");
    const auto user = q.find("user_id");
    std::string sql =
        "SELECT c.otp, c.challenge_id, c.expires_ms, a.delivery FROM challenges c JOIN accounts "
        "a ON a.user_id=c.user_id WHERE c.expires_ms>? AND (?='' OR c.office_no=?) AND "
        "(?='' OR c.user_id=?) ORDER BY c.expires_ms DESC LIMIT 1";
    const std::string o = office == q.end() ? "" : office->second;
    const std::string u = user == q.end() ? "" : user->second;
    auto st = db.prepare(sql);
    st.bind(1, now_ms()).bind(2, o).bind(3, o).bind(4, u).bind(5, u);
    if (!st.step()) return ng_answer(404, request_id, "S4041", "開いているチャレンジはありません");
    return ok_answer(request_id, [&](JsonWriter& w) {
      put(w, "otp", st.text(0));
      put(w, "challenge_id", st.text(1));
      put(w, "otp_expires_at", format_jst(st.integer(2)));
      put(w, "delivery", st.text(3));
    });
  }

  Response admin_settings(const rapidjson::Value& d) {
    Settings s = settings;
    const std::pair<const char*, std::int64_t*> fields[] = {
        {"access_ttl", &s.access_ttl},
        {"refresh_ttl", &s.refresh_ttl},
        {"otp_ttl", &s.otp_ttl},
        {"lockout_after", &s.lockout_after},
        {"lockout_seconds", &s.lockout_seconds},
        {"rate_per_office", &s.rate_per_office},
        {"rate_burst", &s.rate_burst},
        {"auth_rate_per_minute", &s.auth_rate_per_minute},
        {"delivery_delay_ms", &s.delivery_delay_ms}};
    for (const auto& [key, target] : fields) {
      if (!d.HasMember(key)) continue;
      const auto v = num(d, key);
      if (!v || *v < 0)
        return ng_answer(400, request_id, "S4002", "項目の値が正しくありません",
                         std::string("/") + key);
      *target = *v;
    }
    settings = s;
    buckets.clear();
    auth_buckets.clear();
    return ok_answer(request_id, nullptr);
  }

  Response admin_expire(const rapidjson::Value& d) {
    const std::string office = str(d, "office_no");
    const std::string which = str(d, "which").empty() ? "both" : str(d, "which");
    if (which != "access" && which != "refresh" && which != "both")
      return ng_answer(400, request_id, "S4002", "項目の値が正しくありません", "/which");
    const std::int64_t past = now_ms() - 1;
    if (which != "refresh") {
      db.prepare(
            "UPDATE access_tokens SET expires_ms=? WHERE session_id IN (SELECT session_id "
            "FROM sessions WHERE ?='' OR office_no=?)")
          .bind(1, past)
          .bind(2, office)
          .bind(3, office)
          .run();
    }
    if (which != "access") {
      db.prepare("UPDATE sessions SET refresh_expires_ms=? WHERE ?='' OR office_no=?")
          .bind(1, past)
          .bind(2, office)
          .bind(3, office)
          .run();
    }
    return ok_answer(request_id, nullptr);
  }

  Response admin_revoke(const rapidjson::Value& d) {
    const std::string office = str(d, "office_no");
    db.prepare("UPDATE sessions SET revoked=1 WHERE ?='' OR office_no=?")
        .bind(1, office)
        .bind(2, office)
        .run();
    return ok_answer(request_id, nullptr);
  }

  Response admin_unlock(const rapidjson::Value& d) {
    const std::string office = str(d, "office_no");
    const std::string user = str(d, "user_id");
    db.prepare(
          "UPDATE accounts SET failures=0, window_start_ms=0, locked_until_ms=0 WHERE "
          "(?='' OR office_no=?) AND (?='' OR user_id=?)")
        .bind(1, office)
        .bind(2, office)
        .bind(3, user)
        .bind(4, user)
        .run();
    return ok_answer(request_id, nullptr);
  }

  Response admin_faults(const rapidjson::Value& d) {
    Faults f = faults;
    auto count = [&](const char* key, int& target) -> bool {
      if (!d.HasMember(key)) return true;
      const auto v = num(d, key);
      if (!v || *v < 0) return false;
      target = static_cast<int>(*v);
      return true;
    };
    if (d.HasMember("status")) {
      const auto status = num(d, "status");
      if (!status || (*status != 429 && *status != 500 && *status != 503))
        return ng_answer(400, request_id, "S4002", "項目の値が正しくありません", "/status");
      f.status = static_cast<int>(*status);
      f.status_code = str(d, "code");
      if (f.status_code.empty())
        f.status_code = f.status == 429 ? "S4290" : f.status == 500 ? "S5000" : "S5031";
      f.status_count = 1;
      f.status_retry_after = 1;
      if (!count("count", f.status_count) || !count("retry_after", f.status_retry_after))
        return ng_answer(400, request_id, "S4002", "項目の値が正しくありません", "/count");
    }
    if (d.HasMember("maintenance")) {
      if (!d["maintenance"].IsBool())
        return ng_answer(400, request_id, "S4002", "項目の値が正しくありません", "/maintenance");
      f.maintenance = d["maintenance"].GetBool();
      if (!count("retry_after", f.maintenance_retry_after))
        return ng_answer(400, request_id, "S4002", "項目の値が正しくありません", "/retry_after");
    }
    if (!count("drop", f.drop) || !count("reset_before", f.reset_before) ||
        !count("delay_ms", f.delay_ms) || !count("malformed", f.malformed) ||
        !count("envelope_garbage", f.envelope_garbage) ||
        !count("duplicate_listings", f.duplicate_listings)) {
      return ng_answer(400, request_id, "S4002", "項目の値が正しくありません", "/");
    }
    if (d.HasMember("business_error")) {
      f.business_error = str(d, "business_error");
      f.business_count = 1;
      if (f.business_error.empty() || !count("count", f.business_count))
        return ng_answer(400, request_id, "S4002", "項目の値が正しくありません", "/business_error");
    }
    if (d.HasMember("reject_after_accept")) {
      f.reject_after_accept = str(d, "reject_after_accept");
      f.reject_count = 1;
      if (f.reject_after_accept.empty() || !count("count", f.reject_count))
        return ng_answer(400, request_id, "S4002", "項目の値が正しくありません",
                         "/reject_after_accept");
    }
    if (d.HasMember("only")) {
      if (!d["only"].IsString())
        return ng_answer(400, request_id, "S4002", "項目の値が正しくありません", "/only");
      f.only = d["only"].GetString();
    }
    faults = f;
    return ok_answer(request_id, nullptr);
  }

  Response admin_item(const rapidjson::Value& d) {
    CheckedSend s;
    auto office = [&](const char* key) {
      const auto m = d.FindMember(key);
      return m == d.MemberEnd()
                 ? mapping::OfficeRef{}
                 : mapping::OfficeRef{str(m->value, "office_no"), str(m->value, "service_type")};
    };
    s.sender = office("sender");
    s.recipient = office("recipient");
    s.kind = str(d, "kind");
    s.target_month = str(d, "target_month");
    s.sender_reference = str(d, "sender_reference");
    if (s.sender_reference.empty()) s.sender_reference = "national-" + random_hex(8);
    if (!d.HasMember("document") || !d["document"].IsObject() || s.sender.office_no.empty() ||
        s.recipient.office_no.empty())
      return ng_answer(400, request_id, "S4002", "項目の値が正しくありません", "/document");
    rapidjson::StringBuffer b;
    JsonWriter w(b);
    d["document"].Accept(w);
    s.document_json.assign(b.GetString(), b.GetSize());
    const std::string id = store_item(s, s.sender.office_no, now_ms());
    return ok_answer(request_id, [&](JsonWriter& out) { put(out, "item_id", id); });
  }

  Response admin_status(const std::string& id, const rapidjson::Value& d) {
    const std::string status = str(d, "status");
    if (status != "downloaded" && status != "rejected")
      return ng_answer(400, request_id, "S4002", "項目の値が正しくありません", "/status");
    if (!item(id)) return ng_answer(404, request_id, "S4041", "指定された項目はありません");
    db.exec("BEGIN");
    set_status(id, status, status == "rejected" ? "recipient" : "", str(d, "code"),
               str(d, "reason"), now_ms());
    db.exec("COMMIT");
    return ok_answer(request_id, nullptr);
  }

  Response admin_deliveries(const std::map<std::string, std::string>& q) {
    const auto ref = q.find("sender_reference");
    const auto office = q.find("office_no");
    const std::string r = ref == q.end() ? "" : ref->second;
    const std::string o = office == q.end() ? "" : office->second;
    auto st = db.prepare(std::string("SELECT ") + kItemColumns +
                         " FROM items i WHERE (?='' OR i.sender_reference=?) AND (?='' OR "
                         "i.sender_office=? OR i.recipient_office=?) ORDER BY i.seq");
    st.bind(1, r).bind(2, r).bind(3, o).bind(4, o).bind(5, o);
    std::vector<ItemRow> rows;
    while (st.step()) rows.push_back(read_item(st));
    return ok_answer(request_id, [&](JsonWriter& w) {
      w.Key("deliveries");
      w.StartArray();
      for (const auto& i : rows) {
        w.StartObject();
        put(w, "item_id", i.item_id);
        put(w, "sender_reference", i.sender_reference);
        put_office(w, "sender", i.sender_office, i.sender_type);
        put_office(w, "recipient", i.recipient_office, i.recipient_type);
        put(w, "kind", i.kind);
        put(w, "target_month", i.target_month);
        put(w, "document_sha256", i.document_sha256);
        put(w, "accepted_at", format_jst(i.accepted_ms));
        put(w, "status", i.status);
        put(w, "fetches", i.fetches);
        put(w, "acks", i.acks);
        put(w, "request_id", i.request_id);
        w.EndObject();
      }
      w.EndArray();
    });
  }

  Response admin_auth_log(const std::map<std::string, std::string>& q) {
    const auto office = q.find("office_no");
    const std::string o = office == q.end() ? "" : office->second;
    auto st = db.prepare(
        "SELECT at_ms, office_no, user_id, call, outcome FROM auth_log WHERE ?='' OR "
        "office_no=? ORDER BY seq");
    st.bind(1, o).bind(2, o);
    return ok_answer(request_id, [&](JsonWriter& w) {
      w.Key("events");
      w.StartArray();
      while (st.step()) {
        w.StartObject();
        put(w, "at", format_jst(st.integer(0)));
        put(w, "office_no", st.text(1));
        put(w, "user_id", st.text(2));
        put(w, "call", st.text(3));
        put(w, "outcome", st.text(4));
        w.EndObject();
      }
      w.EndArray();
    });
  }

  Response admin_reset() {
    db.exec(R"(
      DELETE FROM items; DELETE FROM sent_events; DELETE FROM received_events;
      DELETE FROM sessions; DELETE FROM access_tokens; DELETE FROM challenges;
      DELETE FROM auth_log; DELETE FROM revoked_offices;
      UPDATE accounts SET failures=0, window_start_ms=0, locked_until_ms=0;
    )");
    std::error_code ec;
    for (const auto& e : fs::directory_iterator(otp_dir, ec)) {
      if (e.path().extension() == ".otp") fs::remove(e.path(), ec);
    }
    faults = Faults{};
    buckets.clear();
    auth_buckets.clear();
    return ok_answer(request_id, nullptr);
  }

  StandinOptions options;
  Settings settings;
  SqliteDb db;
  std::string otp_dir;
  std::mutex mutex;
  std::string request_id;  // of the request being handled (under mutex)
  Faults faults;
  std::map<std::string, Bucket> buckets, auth_buckets;
  std::int64_t last_office_ms = 0;
  std::unique_ptr<TlsListener> listener;  // last: destroyed (and its worker joined) first
};

KaigoWebStandin::KaigoWebStandin(boost::asio::io_context& io, StandinOptions options)
    : impl_(std::make_unique<Impl>(std::move(options))) {
  ListenerOptions lo;
  lo.max_body_bytes = impl_->options.max_body_bytes;
  lo.body_too_large = [] {
    return ng_answer(400, random_uuid(), "S4003", "リクエストが大きすぎます");
  };
  impl_->listener = std::make_unique<TlsListener>(
      io, impl_->options.tls,
      [impl = impl_.get()](const Request& req, const Connection& conn) {
        return impl->handle(req, conn);
      },
      lo);
}

KaigoWebStandin::~KaigoWebStandin() {
  impl_->listener.reset();
}

std::uint16_t KaigoWebStandin::listen(std::uint16_t port) {
  return impl_->listener->listen("127.0.0.1", port);
}
std::uint16_t KaigoWebStandin::port() const {
  return impl_->listener->port();
}
void KaigoWebStandin::stop() {
  impl_->listener->stop();
}
Reply KaigoWebStandin::handle(const Request& request, const Connection& connection) {
  return impl_->handle(request, connection);
}
void KaigoWebStandin::add_account(const Account& account) {
  std::lock_guard lock(impl_->mutex);
  impl_->upsert_account(account, false);
}
void KaigoWebStandin::upsert_office(const OfficeRecord& office) {
  std::lock_guard lock(impl_->mutex);
  impl_->upsert_office(office);
}

void KaigoWebStandin::load_accounts_file(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw std::runtime_error("cannot read " + path);
  std::string line;
  int no = 0;
  while (std::getline(in, line)) {
    ++no;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.empty() || line[0] == '#') continue;
    const auto a = parse_account(line);
    if (!a) throw std::runtime_error(path + ":" + std::to_string(no) + ": not an account line");
    add_account(*a);
  }
}

void KaigoWebStandin::load_offices_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot read " + path);
  std::stringstream text;
  text << in.rdbuf();
  rapidjson::Document d;
  const std::string s = text.str();
  d.Parse(s.data(), s.size());
  if (d.HasParseError() || !d.IsObject()) throw std::runtime_error(path + ": not a JSON object");
  std::lock_guard lock(impl_->mutex);
  const Response r = impl_->admin_offices(d);
  if (r.status != 200 || r.body.find("\"OK\"") == std::string::npos)
    throw std::runtime_error(path + ": offices refused: " + r.body);
}

ListenerFaults& KaigoWebStandin::server_faults() {
  return impl_->listener->faults();
}
std::uint64_t KaigoWebStandin::accepted_connections() const {
  return impl_->listener->accepted_connections();
}
std::uint64_t KaigoWebStandin::requests_read() const {
  return impl_->listener->requests_read();
}

StandinThread::StandinThread(StandinOptions options, std::uint16_t port) {
  work_.emplace(io_.get_executor());
  standin_ = std::make_unique<KaigoWebStandin>(io_, std::move(options));
  port_ = standin_->listen(port);
  thread_ = std::thread([this] { io_.run(); });
}

StandinThread::~StandinThread() {
  stop();
}

void StandinThread::stop() {
  if (!thread_.joinable()) return;
  standin_->stop();
  work_.reset();
  io_.stop();
  thread_.join();
  standin_.reset();
}

}  // namespace kakehashi::standin::kaigoweb
