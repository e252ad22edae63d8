#pragma once
// Readers of the NCP API answers the national adapter consumes (inbox, outbox updates, office
// master, and single members such as the session token): pure functions, body in, values out,
// so that they are tested and fuzzed without a network. nullopt when a body is not the
// contract's shape (PROTOCOL.md).

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "gateway/adapter/adapter.hpp"

namespace kakehashi::adapters::national {

// One listed transmission: the unit to hand over (files still to download) and their names.
struct NcpInboxItem {
  std::string id;
  std::string cursor;
  gateway::InboundUnit unit;
  std::vector<std::string> names;
  // Non-empty when the item is listed but cannot be taken as the contract describes (files
  // missing, not names, more than kMaxTransmissionFiles): refused back without a download.
  std::string problem;
};

// PROTOCOL.md §6: a transmission carries 1-64 files.
inline constexpr std::size_t kMaxTransmissionFiles = 64;

struct NcpInboxPage {
  std::vector<NcpInboxItem> items;
  bool more = false;
  // Items listed without a transmission id or cursor: nothing to fetch, refuse or resume from,
  // so they are left out (the adapter logs and counts them).
  std::size_t skipped = 0;
};

struct NcpUpdatesPage {
  std::vector<gateway::InboundReceipt> receipts;
  bool more = false;
};

struct NcpOfficePage {
  std::vector<gateway::DirectoryEntry> entries;  // one per (office, service type)
  std::string as_of;
  std::string next_cursor;
  bool more = false;
};

// GET /ncp/v1/inbox. One malformed item does not spoil the page: see `problem` and `skipped`.
std::optional<NcpInboxPage> parse_inbox_page(std::string_view body);
// GET /ncp/v1/outbox/updates
std::optional<NcpUpdatesPage> parse_updates_page(std::string_view body);
// GET /ncp/v1/offices
std::optional<NcpOfficePage> parse_office_page(std::string_view body);
// A string member of a JSON object body ("" when the body is not JSON or has no such string).
std::string answer_string(std::string_view body, const char* key);

}  // namespace kakehashi::adapters::national
