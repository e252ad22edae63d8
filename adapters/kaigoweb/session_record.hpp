#pragma once
// The sealed per-office records the adapter keeps in the gateway's vault (PROTOCOL.md §7.1): the
// session (tokens, expiries, the certificate it is bound to) and the in-doubt sends of §6. Pure
// (de)serialisation; the vault seals them at rest. Never logged.

#include <optional>
#include <string>
#include <string_view>

namespace kakehashi::adapters::kaigoweb {

struct SessionRecord {
  std::string office_no;
  std::string user_id;
  std::string state;  // "active" or "login_required" (a dropped session)
  std::string access_token;
  std::string access_expires_at;  // RFC 3339 UTC
  std::string refresh_token;
  std::string refresh_expires_at;
  std::string login_at;
  std::string certificate_sha256;  // the certificate of the login (tokens are bound to it)
  std::string updated_at;
};

std::string write_session_record(const SessionRecord& r);
std::optional<SessionRecord> read_session_record(std::string_view text);

// Vault keys: kaigoweb:<network>:<office_no>:session and …:doubt:<reference>.
std::string session_key(std::string_view network, std::string_view office_no);
std::string doubt_prefix(std::string_view network, std::string_view office_no);
std::string doubt_key(std::string_view network, std::string_view office_no,
                      std::string_view reference);

}  // namespace kakehashi::adapters::kaigoweb
