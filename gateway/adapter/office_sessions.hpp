#pragma once
// What a network whose offices each log in with their own credentials (the Kaigo WEB Service,
// adapters/kaigoweb/PROTOCOL.md §7) needs from the gateway beyond adapter.hpp: a sealed record
// store shared by the instances (sessions, in-doubt sends, the one-time-password hand-off), a way
// to report an office's state (the engine alerts, tells the office on its own network, holds or
// releases its outbound units), and the operator side of a login (admin API, CLI, console).
// Nothing here names a network type; the gateway reaches an adapter's logins through
// Adapter::office_logins(), never by casting to the concrete adapter.
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>
#include "mapping/careplan/file_name.hpp"

namespace kakehashi::gateway {

// One sealed record: the value in clear (the vault seals it at rest with the gateway's key) and
// its generation, bumped by every write.
struct VaultRecord {
  std::string value;
  std::int64_t generation = 0;  // 1 after the first write
};

enum class VaultWrite {
  kWritten,   // stored; the record's generation is now expected_generation + 1
  kConflict,  // the stored generation was not expected_generation (another writer was first)
  kFailed,    // the store failed (transient): nothing changed
};

// Sealed key-value records of one adapter instance, shared by every instance on one store. Keys
// are the adapter's own (the vault scopes them to the adapter's name); values are sealed with
// AES-256-GCM under the gateway's payload key and never logged. Blocking work runs off the
// adapter's executor; every `done` is posted back to AdapterContext::executor.
class AdapterVault {
 public:
  virtual ~AdapterVault() = default;
  // done(record or nullopt when absent, ok=false when the store failed).
  virtual void get(std::string key,
                   std::function<void(std::optional<VaultRecord>, bool ok)> done) = 0;
  // Writes when the stored generation equals `expected_generation` (0: the key must be absent).
  virtual void put(std::string key, std::string value, std::int64_t expected_generation,
                   std::function<void(VaultWrite)> done) = 0;
  // Deletes whatever is stored (absent is fine): done(ok).
  virtual void erase(std::string key, std::function<void(bool ok)> done) = 0;
  // Keys that start with `prefix`, in key order: done(keys, ok).
  virtual void list(std::string prefix,
                    std::function<void(std::vector<std::string>, bool ok)> done) = 0;
};

// An office's state on a network where it logs in (PROTOCOL.md §7.2). Strings, so the engine and
// the admin API need no network-specific enum: "active", "login_required", "awaiting_otp",
// "locked", "credentials_invalid", "no_credentials".
struct OfficeStateReport {
  mapping::OfficeRef office;  // service_type empty: every service type of the office number
  std::string state;
  std::string previous_state;  // "" when first reported
  // For operators and for the office's notice: what happened and what a person must do. Never a
  // secret (password, one-time password, token, challenge) or the OTP destination.
  std::string detail;
  std::string until;  // RFC 3339 UTC: locked_until, or when a login falls due; "" otherwise
  // true for every state in which the office's outbound units must wait (all but "active").
  bool holds_outbound = false;
};

// One office's session as operators may see it (no tokens, no user ID's password).
struct OfficeSessionView {
  std::string office_no;
  std::string state;
  std::string detail;
  std::string user_id;             // the login's user ID (not a secret; shown to operators)
  std::string access_expires_at;   // RFC 3339 UTC or ""
  std::string refresh_expires_at;  // when a person must log in again, or ""
  std::string certificate_not_after;
  std::string locked_until;
};

// The answer to a step of a login a person carries out.
struct LoginStep {
  // "awaiting_otp", "active", "login_required", "locked", "credentials_invalid",
  // "no_credentials", "pending" (another instance carries it out; ask again), "unknown_office".
  std::string state;
  std::string error;                 // the service's or a local code (KW1003, KW1004, ...), or ""
  std::string message;               // for the person, never a secret
  std::string otp_delivery;          // "email" / "sms" (awaiting_otp)
  std::string otp_destination_hint;  // shown only to the person logging in; never logged
  std::string otp_expires_at;        // RFC 3339 UTC
  std::string refresh_expires_at;    // active: when the next login is due
  std::string locked_until;          // locked
};

// The operator side of a network whose offices log in with a one-time password. A person starts
// a login (the gateway never does by itself), reads the code sent to them and submits it. Every
// `done` runs on the adapter's executor's thread or the caller's; callers must not block in it.
class OfficeLogins {
 public:
  virtual ~OfficeLogins() = default;
  virtual void begin_login(std::string office_no, std::function<void(LoginStep)> done) = 0;
  virtual void submit_otp(std::string office_no, std::string otp,
                          std::function<void(LoginStep)> done) = 0;
  virtual void office_states(std::function<void(std::vector<OfficeSessionView>)> done) = 0;
};

}  // namespace kakehashi::gateway
