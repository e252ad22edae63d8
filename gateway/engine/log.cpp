#include "gateway/engine/log.hpp"

#include <atomic>
#include <chrono>
#include <cstdio>
#include <mutex>

#include "mapping/common/iso_time.hpp"

namespace kakehashi::gateway {
namespace {

std::atomic<int> g_level{static_cast<int>(LogLevel::kInfo)};
std::mutex g_mutex;

void escape(std::string& out, std::string_view s) {
  for (char c : s) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\u%04x", c);
          out += buf;
        } else {
          out += c;
        }
    }
  }
}

const char* level_name(LogLevel l) {
  switch (l) {
    case LogLevel::kDebug:
      return "debug";
    case LogLevel::kInfo:
      return "info";
    case LogLevel::kWarning:
      return "warning";
    case LogLevel::kError:
      return "error";
  }
  return "info";
}

template <class Fields>
void write_line(LogLevel level, std::string_view event, const Fields& fields) {
  if (static_cast<int>(level) < g_level.load()) return;
  const auto now = std::chrono::system_clock::now();
  const auto ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count();
  std::string line = "{\"ts\":\"";
  line += mapping::common::format_iso_ms(ms);
  line += "\",\"level\":\"";
  line += level_name(level);
  line += "\",\"event\":\"";
  escape(line, event);
  line += "\"";
  for (const auto& [k, v] : fields) {
    line += ",\"";
    escape(line, k);
    line += "\":\"";
    escape(line, v);
    line += "\"";
  }
  line += "}\n";
  std::lock_guard lock(g_mutex);
  std::fwrite(line.data(), 1, line.size(), stderr);
}

}  // namespace

void set_log_level(LogLevel level) {
  g_level = static_cast<int>(level);
}

void log(LogLevel level, std::string_view event,
         std::initializer_list<std::pair<std::string_view, std::string>> fields) {
  write_line(level, event, fields);
}

void log_fields(LogLevel level, std::string_view event,
                const std::vector<std::pair<std::string, std::string>>& fields) {
  write_line(level, event, fields);
}

}  // namespace kakehashi::gateway
