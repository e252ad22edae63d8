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

// The one-time-password hand-off (PROTOCOL.md §7.3): an instance that does not drive the
// office's session writes a person's login step here; the driver takes it (replacing it, by
// compare-and-set, with a record without the OTP), carries it out and writes the outcome (no
// secrets: never a challenge id, an OTP or a token). One record per office: a newer request
// replaces an older one.
struct LoginHandoff {
  std::string request;     // random id of the request (the caller waits for its outcome)
  std::string op;          // "begin" or "otp"
  std::string otp;         // op "otp" while state is "requested"; cleared on pickup
  std::string expires_at;  // RFC 3339 UTC: a request not taken by then is ignored
  std::string state;       // "requested", "taken", "done", "expired"
  // The outcome (state "done"), as gateway::LoginStep; the destination hint is the person's and
  // is never logged (the record is sealed at rest).
  std::string step_state, step_error, step_message, otp_delivery, otp_destination_hint,
      otp_expires_at, refresh_expires_at, locked_until;
};

std::string write_login_handoff(const LoginHandoff& h);
std::optional<LoginHandoff> read_login_handoff(std::string_view text);

// Vault keys: kaigoweb:<network>:<office_no>:session, …:login and …:doubt:<reference>.
std::string session_key(std::string_view network, std::string_view office_no);
std::string login_key(std::string_view network, std::string_view office_no);
std::string network_prefix(std::string_view network);  // kaigoweb:<network>:
std::string doubt_prefix(std::string_view network, std::string_view office_no);
std::string doubt_key(std::string_view network, std::string_view office_no,
                      std::string_view reference);

}  // namespace kakehashi::adapters::kaigoweb
