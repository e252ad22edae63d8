#pragma once
// ISO 8601 times in UTC as the gateway writes and reads them, one implementation for the tree.
// Times are integers since the Unix epoch: milliseconds or seconds, as each function says.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace kakehashi::mapping::common {

// 2025-06-01T09:00:00.123Z (logs, audit exports, the admin API).
std::string format_iso_ms(std::int64_t ms);
// 2025-06-01T09:00:00Z (certificates, receipts, CLI output).
std::string format_iso_seconds(std::int64_t seconds);

// What may follow a parsed time.
enum class Trailing { kRefuse, kIgnore };

// "YYYY-MM-DDTHH:MM:SSZ" to seconds; nullopt when the text does not start with one, or (with
// Trailing::kRefuse) when anything follows it.
// Both parsers read as std::get_time does, as the copies they replaced did: text that ends
// early ("2025-06-01") is accepted with the missing fields zero. Tightening that would change
// what configs and receipts are accepted; tests/common pins it.
std::optional<std::int64_t> parse_iso_seconds(std::string_view text,
                                              Trailing trailing = Trailing::kRefuse);

// An operator's bound as `kakehashi relay|audit --from/--to` and the admin API take it:
// "2025-06-01" (00:00 UTC) or "2025-06-01T09:00:00" (anything after the seconds, such as "Z",
// is ignored); milliseconds, or nullopt when it is neither.
std::optional<std::int64_t> parse_day_or_time_ms(std::string_view text);

}  // namespace kakehashi::mapping::common
