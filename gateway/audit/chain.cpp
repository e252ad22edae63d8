#include "gateway/audit/chain.hpp"

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <array>

namespace kakehashi::gateway::audit {
namespace {

std::string hex(const unsigned char* p, std::size_t n) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out(n * 2, '0');
  for (std::size_t i = 0; i < n; ++i) {
    out[2 * i] = kDigits[p[i] >> 4];
    out[2 * i + 1] = kDigits[p[i] & 0xf];
  }
  return out;
}

// Length prefixes keep field boundaries unambiguous ("a|b" + "c" never equals "a" + "b|c").
void field(std::string& out, std::string_view value) {
  out += std::to_string(value.size());
  out += ':';
  out += value;
  out += '\n';
}

}  // namespace

std::string sha256_hex(std::string_view bytes) {
  std::array<unsigned char, EVP_MAX_MD_SIZE> md{};
  unsigned int len = 0;
  EVP_Digest(bytes.data(), bytes.size(), md.data(), &len, EVP_sha256(), nullptr);
  return hex(md.data(), len);
}

std::string hmac_sha256_hex(std::string_view key, std::string_view message) {
  std::array<unsigned char, EVP_MAX_MD_SIZE> md{};
  unsigned int len = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
       reinterpret_cast<const unsigned char*>(message.data()), message.size(), md.data(), &len);
  return hex(md.data(), len);
}

std::string record_hash(std::int64_t seq, std::string_view prev_hash, const AuditRecord& r) {
  std::string text = "kakehashi-audit-record v1\n";
  text.reserve(text.size() + r.detail.size() + r.kind.size() + r.actor.size() + 160);
  field(text, std::to_string(seq));
  field(text, prev_hash);
  field(text, std::to_string(r.transfer_id));
  field(text, std::to_string(r.at));
  field(text, r.kind);
  field(text, r.actor);
  field(text, r.detail);
  return sha256_hex(text);
}

}  // namespace kakehashi::gateway::audit
