#pragma once
// Who may use the admin listener: bearer tokens from a token file and client certificates mapped
// to a role by subject. Two roles: the operator acts (re-drive, park), the auditor reads and
// exports. Tokens are kept as SHA-256 digests and compared in constant time.

#include <array>
#include <optional>
#include <string>
#include <vector>

#include "adapters/common/http/message.hpp"

namespace kakehashi::gateway::admin {

enum class Role { kOperator, kAuditor };
const char* to_string(Role role);

struct Principal {
  Role role = Role::kAuditor;
  std::string name;  // for the audit log: the token's name, or the certificate subject
  std::string actor() const { return "admin:" + name; }
};

struct TokenEntry {
  Role role = Role::kAuditor;
  std::array<unsigned char, 32> sha256{};
  std::string name;
};

struct TokenFile {
  std::vector<TokenEntry> entries;
  std::vector<std::string> errors;  // "line N: ..." or a file problem
};

// Lines "ROLE TOKEN [NAME]": ROLE operator|auditor, TOKEN the token itself or "sha256:<64 hex>";
// blank lines and "#" comments skipped. Refused when group- or world-readable.
TokenFile read_token_file(const std::string& path);

std::array<unsigned char, 32> sha256(std::string_view text);

class AccessControl {
 public:
  AccessControl(std::vector<TokenEntry> tokens, std::vector<std::string> operator_subjects,
                std::vector<std::string> auditor_subjects);
  // The request's bearer token, else its verified client certificate; nullopt: no access.
  std::optional<Principal> authenticate(const adapters::http::Request& request) const;

 private:
  std::vector<TokenEntry> tokens_;
  std::vector<std::string> operator_subjects_, auditor_subjects_;
};

}  // namespace kakehashi::gateway::admin
