#include "adapters/kaigoweb/kaigoweb_config.hpp"

#include <algorithm>
#include <charconv>

#include "adapters/kaigoweb/credentials.hpp"
#include "mapping/standard5/cp932.hpp"
#include "mapping/standard5/model.hpp"

namespace kakehashi::adapters::kaigoweb {

namespace {

// https://HOST[:PORT][/]: the base paths are the protocol's, not a setting.
void parse_base_url(const gateway::ConfigNode& section, KaigoWebConfig& c) {
  constexpr std::string_view kScheme = "https://";
  std::string_view url = c.base_url;
  if (url.substr(0, kScheme.size()) != kScheme) {
    section.error("base_url", "must start with https:// (the service is reached over TLS only)");
    return;
  }
  url.remove_prefix(kScheme.size());
  if (!url.empty() && url.back() == '/') url.remove_suffix(1);
  if (url.find('/') != std::string_view::npos || url.find('@') != std::string_view::npos) {
    section.error("base_url", "must be https://HOST[:PORT] without a path");
    return;
  }
  std::string_view host = url;
  std::string_view port;
  if (!url.empty() && url.front() == '[') {
    const auto close = url.find(']');
    if (close == std::string_view::npos) {
      section.error("base_url", "unterminated IPv6 address");
      return;
    }
    host = url.substr(1, close - 1);
    if (close + 1 < url.size()) {
      if (url[close + 1] != ':') {
        section.error("base_url", "must be https://HOST[:PORT]");
        return;
      }
      port = url.substr(close + 2);
    }
  } else if (const auto colon = url.rfind(':'); colon != std::string_view::npos) {
    host = url.substr(0, colon);
    port = url.substr(colon + 1);
  }
  if (host.empty()) {
    section.error("base_url", "has no host");
    return;
  }
  c.host = std::string(host);
  if (!port.empty()) {
    unsigned value = 0;
    const auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
    if (ec != std::errc() || end != port.data() + port.size() || value == 0 || value > 65535) {
      section.error("base_url", "port must be 1-65535");
      return;
    }
    c.port = static_cast<std::uint16_t>(value);
  }
}

// "characters": {"substitute": true, "replacement": "〓"} (PROTOCOL.md §7.9).
void parse_characters(const gateway::ConfigNode& section, KaigoWebConfig& c) {
  const auto characters = section.child("characters");
  if (!characters.present()) return;
  characters.reject_unknown({"substitute", "replacement"});
  c.substitute_characters = characters.boolean("substitute", false);
  if (!characters.has("replacement")) return;
  // Not a string: that error alone (the fallback is valid).
  const std::string text = characters.string("replacement", std::string("〓"));
  std::size_t pos = 0;
  const auto cp = mapping::standard5::next_utf8(text, pos);
  if (!cp || pos != text.size()) {
    characters.error("replacement", "must be exactly one character");
    return;
  }
  // One MS932 character, printable: it is written into the 4.1 files as it is.
  if (*cp < 0x20 || *cp == 0x7F ||
      !mapping::standard5::Model::builtin().codec().encode(*cp).has_value()) {
    characters.error("replacement", mapping::standard5::code_point_name(*cp) +
                                        " is not a printable MS932 character");
    return;
  }
  c.replacement = *cp;
}

}  // namespace

KaigoWebConfig parse_kaigoweb_config(const gateway::ConfigNode& section) {
  KaigoWebConfig c;
  section.reject_unknown({"base_url", "tls", "credentials_dir", "offices", "poll_interval",
                          "page_size", "timeout", "max_connections_per_office",
                          "max_offices_in_flight", "rate", "sent_check_window", "login_due_alert",
                          "certificate_alert_days", "refresh_margin", "ambiguity_settle",
                          "characters"});
  c.base_url = section.string("base_url");
  if (!c.base_url.empty()) parse_base_url(section, c);

  const auto tls = section.child("tls");
  if (!tls.present()) {
    section.error("tls", "missing (the service's CA: {\"ca_file\": ...})");
  } else {
    // No option to skip certificate or host-name checks, not even for tests (PROTOCOL.md §1).
    tls.reject_unknown({"ca_file"});
    c.ca_file = tls.string("ca_file");
  }
  c.credentials_dir = section.string("credentials_dir");

  const auto offices = section.strings("offices");
  for (std::size_t i = 0; i < offices.size(); ++i) {
    if (!is_office_no(offices[i])) {
      section.error("offices[" + std::to_string(i) + "]", "must be 10 characters [0-9A-Z]");
    } else if (std::find(c.offices.begin(), c.offices.end(), offices[i]) != c.offices.end()) {
      section.error("offices[" + std::to_string(i) + "]", "listed twice");
    } else {
      c.offices.push_back(offices[i]);
    }
  }

  c.poll_interval = section.duration("poll_interval", std::chrono::seconds(30));
  if (c.poll_interval < std::chrono::milliseconds(10))
    section.error("poll_interval", "must be at least 10ms");
  c.page_size = static_cast<int>(section.integer("page_size", 50, 1, 100));
  c.timeout = section.duration("timeout", std::chrono::seconds(20));
  if (c.timeout < std::chrono::milliseconds(100))
    section.error("timeout", "must be at least 100ms");
  c.max_connections_per_office =
      static_cast<int>(section.integer("max_connections_per_office", 4, 1, 8));
  c.max_offices_in_flight = static_cast<int>(section.integer("max_offices_in_flight", 4, 1, 64));

  const auto rate = section.child("rate");
  if (rate.present()) {
    rate.reject_unknown({"per_second", "burst"});
    c.rate_per_second = static_cast<double>(rate.integer("per_second", 8, 1, 1000));
    c.rate_burst = static_cast<int>(rate.integer("burst", 16, 1, 10000));
  }
  c.sent_check_window = section.duration("sent_check_window", std::chrono::hours(24 * 35));
  if (c.sent_check_window > std::chrono::hours(24 * 35))
    section.error("sent_check_window", "must be at most 35d (the service's search span)");
  if (c.sent_check_window < std::chrono::minutes(1))
    section.error("sent_check_window", "must be at least 1m");
  c.login_due_alert = section.duration("login_due_alert", std::chrono::minutes(30));
  c.certificate_alert_days =
      static_cast<int>(section.integer("certificate_alert_days", 90, 0, 825));
  if (section.has("refresh_margin"))
    c.refresh_margin = section.duration("refresh_margin", std::nullopt);
  if (section.has("ambiguity_settle"))
    c.ambiguity_settle = section.duration("ambiguity_settle", std::nullopt);
  parse_characters(section, c);
  return c;
}

}  // namespace kakehashi::adapters::kaigoweb
