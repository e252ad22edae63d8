#pragma once
// Settings of a Kaigo WEB Service network (PROTOCOL.md §7.9): where the service is, the CA that
// issued its server certificate, where each office's credentials live, and the pacing of polls,
// sends and checks. Parsed once at startup; every error recorded with its key path.

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "gateway/config/config_node.hpp"

namespace kakehashi::adapters::kaigoweb {

struct KaigoWebConfig {
  std::string base_url;  // as written: https://HOST[:PORT]
  std::string host;
  std::uint16_t port = 443;
  std::string ca_file;               // the service's CA (server certificate checks, never disabled)
  std::string credentials_dir;       // <office_no>/{cert.pem,key.pem,user_id,password}
  std::vector<std::string> offices;  // empty: every office with credentials
  std::chrono::milliseconds poll_interval{30'000};
  int page_size = 50;  // 1-100
  std::chrono::milliseconds timeout{20'000};
  int max_connections_per_office = 4;  // 1-8 (the service's limit is 8)
  int max_offices_in_flight = 4;
  double rate_per_second = 8;  // client-side token bucket per office (80 % of the service's)
  int rate_burst = 16;
  std::chrono::milliseconds sent_check_window{std::chrono::hours(24 * 35)};
  std::chrono::milliseconds login_due_alert{std::chrono::minutes(30)};
  int certificate_alert_days = 90;
  // Optional: default min(5 min, lifetime / 4) of the token at hand.
  std::optional<std::chrono::milliseconds> refresh_margin;
  // Optional: default 2 × timeout.
  std::optional<std::chrono::milliseconds> ambiguity_settle;

  // Characters of a national document that MS932 cannot hold (issue 17): refused back to the
  // sender by default; with `substitute`, written as `replacement` (one MS932 character) and
  // reported in the recipient's cover note and the intake audit record.
  bool substitute_characters = false;
  char32_t replacement = U'\u3013';  // 〓 GETA MARK

  std::chrono::milliseconds settle() const { return ambiguity_settle.value_or(2 * timeout); }
};

// Reads the adapter's section; every problem is recorded on the node with its key path, unknown
// keys refused.
KaigoWebConfig parse_kaigoweb_config(const gateway::ConfigNode& section);

}  // namespace kakehashi::adapters::kaigoweb
