#include "tests/peers/kaigoweb/wire.hpp"

#include <array>
#include <chrono>
#include <cstdio>
#include <ctime>

#include <openssl/rand.h>

namespace kakehashi::standin::kaigoweb {
namespace {

constexpr std::int64_t kJstOffsetMs = 9LL * 3600 * 1000;
constexpr std::string_view kHex = "0123456789abcdef";

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::string url_decode(std::string_view s) {
  std::string out;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size() && hex_value(s[i + 1]) >= 0 && hex_value(s[i + 2]) >= 0) {
      out += static_cast<char>(hex_value(s[i + 1]) * 16 + hex_value(s[i + 2]));
      i += 2;
    } else if (s[i] == '+') {
      out += ' ';
    } else {
      out += s[i];
    }
  }
  return out;
}

// Days since 1970-01-01 of a civil date (Howard Hinnant's algorithm).
std::int64_t days_from_civil(std::int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  const std::int64_t era = (y >= 0 ? y : y - 399) / 400;
  const auto yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<std::int64_t>(doe) - 719468;
}

bool digits(std::string_view s, std::size_t at, std::size_t n, int& out) {
  if (at + n > s.size()) return false;
  out = 0;
  for (std::size_t i = at; i < at + n; ++i) {
    if (s[i] < '0' || s[i] > '9') return false;
    out = out * 10 + (s[i] - '0');
  }
  return true;
}

}  // namespace

std::int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string format_jst(std::int64_t ms) {
  const std::int64_t local = ms + kJstOffsetMs;
  const std::time_t secs = static_cast<std::time_t>(local / 1000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[64];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03d+09:00", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                static_cast<int>(local % 1000));
  return buf;
}

int current_month_jst(std::int64_t ms) {
  const std::time_t secs = static_cast<std::time_t>((ms + kJstOffsetMs) / 1000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  return (tm.tm_year + 1900) * 12 + tm.tm_mon;
}

std::optional<std::int64_t> parse_rfc3339(std::string_view s) {
  int y, mo, d, h, mi, se;
  if (!digits(s, 0, 4, y) || s.size() < 19 || s[4] != '-' || !digits(s, 5, 2, mo) || s[7] != '-' ||
      !digits(s, 8, 2, d) || (s[10] != 'T' && s[10] != 't') || !digits(s, 11, 2, h) ||
      s[13] != ':' || !digits(s, 14, 2, mi) || s[16] != ':' || !digits(s, 17, 2, se)) {
    return std::nullopt;
  }
  if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || se > 60) return std::nullopt;
  std::size_t i = 19;
  std::int64_t frac_ms = 0;
  if (i < s.size() && s[i] == '.') {
    ++i;
    std::size_t n = 0;
    while (i < s.size() && s[i] >= '0' && s[i] <= '9') {
      if (n < 3) frac_ms = frac_ms * 10 + (s[i] - '0');
      ++n;
      ++i;
    }
    if (n == 0) return std::nullopt;
    for (std::size_t k = n; k < 3; ++k) frac_ms *= 10;
  }
  std::int64_t offset_ms = 0;
  if (i < s.size() && (s[i] == 'Z' || s[i] == 'z')) {
    ++i;
  } else if (i < s.size() && (s[i] == '+' || s[i] == '-')) {
    int oh, om;
    if (!digits(s, i + 1, 2, oh) || i + 3 >= s.size() || s[i + 3] != ':' ||
        !digits(s, i + 4, 2, om)) {
      return std::nullopt;
    }
    offset_ms = (oh * 60LL + om) * 60000 * (s[i] == '-' ? -1 : 1);
    i += 6;
  } else {
    return std::nullopt;
  }
  if (i != s.size()) return std::nullopt;
  const std::int64_t days = days_from_civil(y, static_cast<unsigned>(mo), static_cast<unsigned>(d));
  return ((days * 24 + h) * 60 + mi) * 60000 + se * 1000LL + frac_ms - offset_ms;
}

std::string random_hex(std::size_t bytes) {
  std::string raw(bytes, '\0');
  RAND_bytes(reinterpret_cast<unsigned char*>(raw.data()), static_cast<int>(bytes));
  std::string out;
  for (const auto c : raw) {
    out += kHex[static_cast<unsigned char>(c) >> 4];
    out += kHex[static_cast<unsigned char>(c) & 15];
  }
  return out;
}

std::string random_uuid() {
  std::string h = random_hex(16);
  h[12] = '4';
  h[16] = kHex[8 + (hex_value(h[16]) & 3)];
  return h.substr(0, 8) + "-" + h.substr(8, 4) + "-" + h.substr(12, 4) + "-" + h.substr(16, 4) +
         "-" + h.substr(20);
}

std::string random_digits(std::size_t n) {
  std::string out;
  while (out.size() < n) {
    unsigned char c = 0;
    RAND_bytes(&c, 1);
    if (c < 250) out += static_cast<char>('0' + c % 10);  // no modulo bias
  }
  return out;
}

void put(JsonWriter& w, std::string_view key, std::string_view value) {
  w.Key(key.data(), static_cast<rapidjson::SizeType>(key.size()));
  w.String(value.data(), static_cast<rapidjson::SizeType>(value.size()));
}

void put(JsonWriter& w, std::string_view key, std::int64_t value) {
  w.Key(key.data(), static_cast<rapidjson::SizeType>(key.size()));
  w.Int64(value);
}

void put_office(JsonWriter& w, std::string_view key, std::string_view office_no,
                std::string_view service_type) {
  w.Key(key.data(), static_cast<rapidjson::SizeType>(key.size()));
  w.StartObject();
  put(w, "office_no", office_no);
  put(w, "service_type", service_type);
  w.EndObject();
}

namespace {
adapters::http::Response json_response(int status, const std::string& request_id,
                                       const rapidjson::StringBuffer& b) {
  adapters::http::Response r;
  r.status = status;
  r.headers.emplace_back("content-type", "application/json; charset=utf-8");
  r.headers.emplace_back("x-request-id", request_id);
  r.body.assign(b.GetString(), b.GetSize());
  return r;
}
}  // namespace

adapters::http::Response ok_answer(const std::string& request_id,
                                   const std::function<void(JsonWriter&)>& data) {
  rapidjson::StringBuffer b;
  JsonWriter w(b);
  w.StartObject();
  put(w, "result", "OK");
  put(w, "request_id", request_id);
  w.Key("data");
  w.StartObject();
  if (data) data(w);
  w.EndObject();
  w.EndObject();
  return json_response(200, request_id, b);
}

adapters::http::Response ng_answer(int status, const std::string& request_id,
                                   const std::vector<ApiError>& errors) {
  rapidjson::StringBuffer b;
  JsonWriter w(b);
  w.StartObject();
  put(w, "result", "NG");
  put(w, "request_id", request_id);
  w.Key("errors");
  w.StartArray();
  for (const auto& e : errors) {
    w.StartObject();
    put(w, "code", e.code);
    put(w, "message", e.message);
    if (!e.field.empty()) put(w, "field", e.field);
    if (e.retry_after > 0) put(w, "retry_after", std::int64_t{e.retry_after});
    if (!e.locked_until.empty()) put(w, "locked_until", e.locked_until);
    w.EndObject();
  }
  w.EndArray();
  w.EndObject();
  return json_response(status, request_id, b);
}

adapters::http::Response ng_answer(int status, const std::string& request_id, std::string code,
                                   std::string message, std::string field) {
  return ng_answer(status, request_id,
                   {ApiError{std::move(code), std::move(message), std::move(field)}});
}

std::string path_only(std::string_view target) {
  return std::string(target.substr(0, target.find('?')));
}

std::vector<std::string> path_segments(std::string_view target) {
  std::string_view path = target.substr(0, target.find('?'));
  std::vector<std::string> parts;
  while (!path.empty()) {
    if (path.front() == '/') {
      path.remove_prefix(1);
      continue;
    }
    const auto slash = path.find('/');
    parts.push_back(url_decode(path.substr(0, slash)));
    if (slash == std::string_view::npos) break;
    path.remove_prefix(slash);
  }
  return parts;
}

std::map<std::string, std::string> query_params(std::string_view target) {
  std::map<std::string, std::string> out;
  const auto q = target.find('?');
  if (q == std::string_view::npos) return out;
  std::string_view rest = target.substr(q + 1);
  while (!rest.empty()) {
    const auto amp = rest.find('&');
    const std::string_view pair = rest.substr(0, amp);
    const auto eq = pair.find('=');
    out[url_decode(pair.substr(0, eq))] =
        eq == std::string_view::npos ? std::string() : url_decode(pair.substr(eq + 1));
    if (amp == std::string_view::npos) break;
    rest.remove_prefix(amp + 1);
  }
  return out;
}

}  // namespace kakehashi::standin::kaigoweb
