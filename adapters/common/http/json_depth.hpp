#pragma once
// A guard both networks' JSON readers run before RapidJSON, which parses recursively: bodies
// nested deeper than any answer of either contract are refused unparsed, so that a peer cannot
// exhaust the stack with "[[[[…" (found by tests/fuzz). Pure and header-only.

#include <cstddef>
#include <string_view>

namespace kakehashi::adapters::http {

// No body of either contract nests deeper than about 5.
inline constexpr int kMaxJsonDepth = 32;

// True when no array or object in `json` is nested deeper than `max_depth` (strings skipped).
inline bool json_nesting_within(std::string_view json, int max_depth = kMaxJsonDepth) {
  int depth = 0;
  bool in_string = false;
  for (std::size_t i = 0; i < json.size(); ++i) {
    const char c = json[i];
    if (in_string) {
      if (c == '\\') {
        ++i;
      } else if (c == '"') {
        in_string = false;
      }
    } else if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{') {
      if (++depth > max_depth) return false;
    } else if (c == ']' || c == '}') {
      --depth;
    }
  }
  return true;
}

}  // namespace kakehashi::adapters::http
