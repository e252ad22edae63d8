#include "mapping/cms/signer_identity.hpp"

#include <openssl/bn.h>
#include <openssl/objects.h>

#include <regex>
#include <unordered_map>

namespace kakehashi::mapping::cms {

namespace {

std::string name_text(const X509_NAME* name) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  if (!bio) return {};
  X509_NAME_print_ex(bio.get(), name, 0, XN_FLAG_RFC2253 & ~ASN1_STRFLGS_ESC_MSB);
  const Bytes b = bio_bytes(bio.get());
  return std::string(b.begin(), b.end());
}

std::string serial_hex(const ASN1_INTEGER* serial) {
  std::unique_ptr<BIGNUM, OsslDeleter<BN_free>> bn(ASN1_INTEGER_to_BN(serial, nullptr));
  if (!bn) return {};
  char* hex = BN_bn2hex(bn.get());
  if (hex == nullptr) return {};
  std::string out(hex);
  OPENSSL_free(hex);
  return out;
}

std::optional<std::string> subject_attribute(X509* cert, const std::string& attribute) {
  const int nid = OBJ_txt2nid(attribute.c_str());
  if (nid == NID_undef) return std::nullopt;
  const X509_NAME* name = X509_get_subject_name(cert);
  const int idx = X509_NAME_get_index_by_NID(name, nid, -1);
  if (idx < 0) return std::nullopt;
  const ASN1_STRING* data = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(name, idx));
  unsigned char* utf8 = nullptr;
  const int len = ASN1_STRING_to_UTF8(&utf8, data);
  if (len < 0) return std::nullopt;
  std::string out(reinterpret_cast<char*>(utf8), static_cast<std::size_t>(len));
  OPENSSL_free(utf8);
  return out;
}

std::string key_type(X509* cert) {
  EVP_PKEY* key = X509_get0_pubkey(cert);
  if (key == nullptr) return "unknown";
  if (EVP_PKEY_is_a(key, "RSA")) return "RSA-" + std::to_string(EVP_PKEY_get_bits(key));
  if (EVP_PKEY_is_a(key, "EC")) {
    char group[64] = {};
    std::size_t len = 0;
    if (EVP_PKEY_get_group_name(key, group, sizeof group, &len) == 1) {
      const std::string g(group, len);
      return g == "prime256v1" ? "EC-P-256" : "EC-" + g;
    }
    return "EC";
  }
  return EVP_PKEY_get0_type_name(key) != nullptr ? EVP_PKEY_get0_type_name(key) : "unknown";
}

// Compiled office patterns, per thread (a std::regex is costly to build and the few domain
// patterns never change). nullptr for an invalid pattern.
const std::regex* office_pattern(const std::string& pattern) {
  thread_local std::unordered_map<std::string, std::optional<std::regex>> compiled;
  auto it = compiled.find(pattern);
  if (it == compiled.end()) {
    if (compiled.size() >= 16) compiled.clear();
    std::optional<std::regex> re;
    try {
      re.emplace(pattern);
    } catch (const std::regex_error&) {
      // The loader validates patterns; an invalid one simply names no office.
    }
    it = compiled.emplace(pattern, std::move(re)).first;
  }
  return it->second ? &*it->second : nullptr;
}

}  // namespace

std::optional<std::time_t> to_time_t(const ASN1_TIME* t) {
  if (t == nullptr) return std::nullopt;
  std::tm tm{};
  if (ASN1_TIME_to_tm(t, &tm) != 1) return std::nullopt;
  return timegm(&tm);
}

std::optional<std::string> office_number_of(X509* cert, const OfficeRule& rule) {
  auto value = subject_attribute(cert, rule.attribute);
  if (!value) return std::nullopt;
  if (rule.kind == OfficeRule::Kind::kSubjectAttribute) return value;
  const std::regex* re = office_pattern(rule.pattern);
  if (re == nullptr) return std::nullopt;
  try {
    std::smatch m;
    if (std::regex_search(*value, m, *re) && m.size() > 1 && m[1].matched) return m[1].str();
  } catch (const std::regex_error&) {
    // A pattern too complex for the subject (error_complexity / error_stack): no office.
  }
  return std::nullopt;
}

SignerIdentity describe_signer(X509* cert, const OfficeRule& rule) {
  SignerIdentity id;
  id.subject = name_text(X509_get_subject_name(cert));
  id.issuer = name_text(X509_get_issuer_name(cert));
  id.serial = serial_hex(X509_get0_serialNumber(cert));
  id.office_number = office_number_of(cert, rule);
  id.not_before = to_time_t(X509_get0_notBefore(cert)).value_or(0);
  id.not_after = to_time_t(X509_get0_notAfter(cert)).value_or(0);
  id.key_type = key_type(cert);
  return id;
}

std::string subject_text(X509* cert) {
  return name_text(X509_get_subject_name(cert));
}

bool signer_holds_office(const SignerIdentity& signer, std::string_view claimed_office) {
  return signer.office_number.has_value() && !claimed_office.empty() &&
         *signer.office_number == claimed_office;
}

}  // namespace kakehashi::mapping::cms
