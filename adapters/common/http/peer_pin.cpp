#include "adapters/common/http/peer_pin.hpp"

#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/x509.h>

#include <array>
#include <cctype>

namespace kakehashi::adapters::http {

std::optional<std::string> subject_cn_of(const std::string& der) {
  const auto* p = reinterpret_cast<const unsigned char*>(der.data());
  X509* cert = d2i_X509(nullptr, &p, static_cast<long>(der.size()));
  if (cert == nullptr) return std::nullopt;
  std::optional<std::string> cn;
  X509_NAME* name = X509_get_subject_name(cert);
  const int at = X509_NAME_get_index_by_NID(name, NID_commonName, -1);
  if (at >= 0) {
    const ASN1_STRING* data = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(name, at));
    unsigned char* utf8 = nullptr;
    const int n = ASN1_STRING_to_UTF8(&utf8, data);
    if (n >= 0) cn = std::string(reinterpret_cast<const char*>(utf8), static_cast<std::size_t>(n));
    OPENSSL_free(utf8);
  }
  X509_free(cert);
  return cn;
}

std::string sha256_hex_of(const std::string& der) {
  std::array<unsigned char, EVP_MAX_MD_SIZE> md{};
  unsigned int len = 0;
  EVP_Digest(der.data(), der.size(), md.data(), &len, EVP_sha256(), nullptr);
  static const char kHex[] = "0123456789abcdef";
  std::string out;
  for (unsigned int i = 0; i < len; ++i) {
    out += kHex[md[i] >> 4];
    out += kHex[md[i] & 0xF];
  }
  return out;
}

bool peer_matches(const PeerPin& pin, const std::string& der) {
  if (pin.empty() || der.empty()) return false;
  if (!pin.sha256.empty() && sha256_hex_of(der) != pin.sha256) return false;
  if (!pin.subject_cn.empty()) {
    const auto cn = subject_cn_of(der);
    if (!cn || *cn != pin.subject_cn) return false;
  }
  return true;
}

std::optional<std::string> normalise_sha256(const std::string& text) {
  std::string out;
  for (const char c : text) {
    if (c == ':') continue;
    if (!std::isxdigit(static_cast<unsigned char>(c))) return std::nullopt;
    out += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  }
  if (out.size() != 64) return std::nullopt;
  return out;
}

}  // namespace kakehashi::adapters::http
