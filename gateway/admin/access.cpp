#include "gateway/admin/access.hpp"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <sys/stat.h>

#include <algorithm>
#include <fstream>
#include <sstream>

namespace kakehashi::gateway::admin {

const char* to_string(Role role) {
  return role == Role::kOperator ? "operator" : "auditor";
}

std::array<unsigned char, 32> sha256(std::string_view text) {
  std::array<unsigned char, 32> out{};
  unsigned int len = 0;
  EVP_Digest(text.data(), text.size(), out.data(), &len, EVP_sha256(), nullptr);
  return out;
}

namespace {

bool parse_hex(std::string_view hex, std::array<unsigned char, 32>& out) {
  if (hex.size() != 64) return false;
  const auto nibble = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  for (std::size_t i = 0; i < 32; ++i) {
    const int hi = nibble(hex[2 * i]), lo = nibble(hex[2 * i + 1]);
    if (hi < 0 || lo < 0) return false;
    out[i] = static_cast<unsigned char>(hi * 16 + lo);
  }
  return true;
}

}  // namespace

TokenFile read_token_file(const std::string& path) {
  TokenFile out;
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) {
    out.errors.push_back("cannot read the token file " + path);
    return out;
  }
  if ((st.st_mode & 077) != 0) {
    out.errors.push_back("the token file " + path + " is readable by group or others (chmod 600)");
    return out;
  }
  std::ifstream in(path);
  if (!in) {
    out.errors.push_back("cannot read the token file " + path);
    return out;
  }
  std::string line;
  int number = 0;
  while (std::getline(in, line)) {
    ++number;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    std::istringstream fields(line);
    std::string role, token, name, extra;
    fields >> role;
    if (role.empty() || role[0] == '#') continue;
    fields >> token >> name >> extra;
    const std::string where = "line " + std::to_string(number) + ": ";
    TokenEntry e;
    if (role == "operator") {
      e.role = Role::kOperator;
    } else if (role == "auditor") {
      e.role = Role::kAuditor;
    } else {
      out.errors.push_back(where + "the role must be operator or auditor");
      continue;
    }
    if (token.empty() || !extra.empty()) {
      out.errors.push_back(where + "expected ROLE TOKEN [NAME]");
      continue;
    }
    if (token.rfind("sha256:", 0) == 0) {
      if (!parse_hex(std::string_view(token).substr(7), e.sha256)) {
        out.errors.push_back(where + "sha256: needs 64 hex digits");
        continue;
      }
    } else {
      if (token.size() < 16) {
        out.errors.push_back(where + "a token needs at least 16 characters");
        continue;
      }
      e.sha256 = sha256(token);
    }
    e.name = name.empty() ? role + "-" + std::to_string(number) : name;
    out.entries.push_back(std::move(e));
  }
  if (out.entries.empty() && out.errors.empty()) out.errors.push_back("no tokens in " + path);
  return out;
}

AccessControl::AccessControl(std::vector<TokenEntry> tokens,
                             std::vector<std::string> operator_subjects,
                             std::vector<std::string> auditor_subjects)
    : tokens_(std::move(tokens)),
      operator_subjects_(std::move(operator_subjects)),
      auditor_subjects_(std::move(auditor_subjects)) {}

std::optional<Principal> AccessControl::authenticate(const adapters::http::Request& request) const {
  if (const auto* h = request.header("authorization")) {
    constexpr std::string_view kBearer = "Bearer ";
    if (h->size() > kBearer.size() &&
        std::equal(kBearer.begin(), kBearer.end(), h->begin(), [](char a, char b) {
          return std::tolower(static_cast<unsigned char>(a)) ==
                 std::tolower(static_cast<unsigned char>(b));
        })) {
      const auto digest = sha256(std::string_view(*h).substr(kBearer.size()));
      const TokenEntry* match = nullptr;
      for (const auto& t : tokens_) {  // every entry compared: no early exit on a match
        if (CRYPTO_memcmp(t.sha256.data(), digest.data(), digest.size()) == 0) match = &t;
      }
      if (match != nullptr) return Principal{match->role, match->name};
    }
    return std::nullopt;  // a wrong token is refused even with a certificate
  }
  if (!request.peer_subject.empty()) {
    const auto listed = [&](const std::vector<std::string>& subjects) {
      return std::find(subjects.begin(), subjects.end(), request.peer_subject) != subjects.end();
    };
    if (listed(operator_subjects_)) return Principal{Role::kOperator, request.peer_subject};
    if (listed(auditor_subjects_)) return Principal{Role::kAuditor, request.peer_subject};
  }
  return std::nullopt;
}

}  // namespace kakehashi::gateway::admin
