#include "mapping/common/iso_time.hpp"

#include <cstdio>
#include <ctime>
#include <iomanip>
#include <sstream>

namespace kakehashi::mapping::common {

namespace {

std::tm utc(std::int64_t seconds) {
  const auto t = static_cast<std::time_t>(seconds);
  std::tm tm{};
  gmtime_r(&t, &tm);
  return tm;
}

}  // namespace

std::string format_iso_ms(std::int64_t ms) {
  const std::tm tm = utc(ms / 1000);
  char buf[96];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                static_cast<int>(ms % 1000));
  return buf;
}

std::string format_iso_seconds(std::int64_t seconds) {
  const std::tm tm = utc(seconds);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

std::optional<std::int64_t> parse_iso_seconds(std::string_view text, Trailing trailing) {
  std::tm tm{};
  std::istringstream in{std::string(text)};
  in >> std::get_time(&tm, "%Y-%m-%dT%H:%M:%SZ");
  if (in.fail()) return std::nullopt;
  if (trailing == Trailing::kRefuse && in.peek() != std::char_traits<char>::eof())
    return std::nullopt;
  return static_cast<std::int64_t>(timegm(&tm));
}

std::optional<std::int64_t> parse_day_or_time_ms(std::string_view text) {
  std::tm tm{};
  std::istringstream in{std::string(text)};
  in >> std::get_time(&tm, text.size() == 10 ? "%Y-%m-%d" : "%Y-%m-%dT%H:%M:%S");
  if (in.fail()) return std::nullopt;
  return static_cast<std::int64_t>(timegm(&tm)) * 1000;
}

}  // namespace kakehashi::mapping::common
