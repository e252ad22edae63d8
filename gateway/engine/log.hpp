#pragma once
// Structured log lines (one JSON object per line on stderr, journald-friendly): what happened to
// which transfer. Never payloads, field values or key material.

#include <initializer_list>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace kakehashi::gateway {

enum class LogLevel { kDebug, kInfo, kWarning, kError };

void set_log_level(LogLevel level);
void log(LogLevel level, std::string_view event,
         std::initializer_list<std::pair<std::string_view, std::string>> fields = {});
// The same with fields known only at run time (an adapter's events).
void log_fields(LogLevel level, std::string_view event,
                const std::vector<std::pair<std::string, std::string>>& fields);

}  // namespace kakehashi::gateway
