#pragma once
// The Kaigo WEB Service's error codes and how the gateway treats each (PROTOCOL.md §4.3): data
// (error_codes.json, compiled in), so that the published v1.0 list replaces a file, not code.

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace kakehashi::adapters::kaigoweb {

enum class ErrorClass {
  kPermanent,   // nothing helps: reject (a send) or log (an ack)
  kTransient,   // try again later (Retry-After / retry_after when given)
  kRefresh,     // the access token expired: refresh, repeat once
  kReauth,      // the token is unknown, revoked or bound elsewhere: re-read the session, else login
  kLogin,       // the refresh token lapsed or was revoked: a person must log in
  kCredential,  // the office's credentials are refused (or locked): the office waits
  kPerson,      // a step of a person's login failed (wrong or expired one-time password)
};

std::string_view to_string(ErrorClass c);
std::optional<ErrorClass> error_class_from(std::string_view name);

struct ErrorCodeInfo {
  std::string code;
  int status = 200;  // the HTTP status it comes with (200: a business error)
  ErrorClass error_class = ErrorClass::kPermanent;
  std::string text;  // for the sender and operators (never payload)
};

class ErrorCodes {
 public:
  // Reads the table (shape of error_codes.json); nullopt with `problem` set (naming the JSON
  // path) when it is not that shape.
  static std::optional<ErrorCodes> parse(std::string_view json, std::string* problem = nullptr);
  // The compiled-in error_codes.json.
  static const ErrorCodes& builtin();

  // nullptr for a code the table does not know (PROTOCOL.md §4.2: permanent for a send, logged
  // `unknown-business-code`).
  const ErrorCodeInfo* find(std::string_view code) const;
  const std::vector<ErrorCodeInfo>& all() const { return codes_; }

 private:
  std::vector<ErrorCodeInfo> codes_;
};

}  // namespace kakehashi::adapters::kaigoweb
