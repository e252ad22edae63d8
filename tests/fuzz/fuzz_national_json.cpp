// Fuzz target: the national network's JSON answers as the adapter reads them (inbox, outbox
// updates, office master, token and transmission id, error bodies) and the small NCP encodings
// (base64, cursors, query strings).

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "adapters/national/ncp_answers.hpp"
#include "adapters/national/ncp_codec.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  namespace n = kakehashi::adapters::national;
  const std::string_view body(reinterpret_cast<const char*>(data), size);

  if (auto page = n::parse_inbox_page(body)) {
    for (const auto& item : page->items) {
      if (item.id.empty() || item.cursor.empty()) std::abort();
      for (const auto& name : item.names) {
        if (name.empty()) std::abort();
      }
    }
  }
  if (auto page = n::parse_updates_page(body)) {
    for (const auto& r : page->receipts) {
      if (r.remote_id.empty() || r.cursor.empty()) std::abort();
    }
  }
  (void)n::parse_office_page(body);
  (void)n::answer_string(body, "token");
  (void)n::answer_string(body, "transmission_id");
  (void)n::error_code_of(body);

  // The encodings: decode(encode(x)) == x, and decoding junk never throws.
  if (auto decoded = n::base64_decode(body)) {
    if (n::base64_decode(n::base64_encode(*decoded)) != decoded) std::abort();
  }
  if (n::base64_decode(n::base64_encode(body)) != std::string(body)) std::abort();
  (void)n::read_cursor("inbox", body);
  (void)n::query_param(body, "cursor");
  if (n::url_decode(n::url_encode(body)) != body) std::abort();
  (void)n::url_decode(body);
  return 0;
}
