#pragma once
// The web console's files (gateway/admin/console/, listed in its FILES), embedded into the
// binary at build time by embed_console.cmake.

#include <span>
#include <string_view>

namespace kakehashi::gateway::admin {

struct ConsoleAsset {
  std::string_view path;  // relative to the console folder, e.g. "index.html"
  std::string_view content_type;
  std::string_view data;
};

std::span<const ConsoleAsset> console_assets();

}  // namespace kakehashi::gateway::admin
