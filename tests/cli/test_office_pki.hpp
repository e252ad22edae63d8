#pragma once
// Certificates and keys made in the test process (OpenSSL API) for the Kaigo WEB credential tests:
// a CA, office client certificates with the subject deploy/pki.sh writes, and the odd cases
// (expired, not yet valid, another office, wrong key size). PEM strings, written where a test
// wants them.

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <sys/stat.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <memory>
#include <stdexcept>
#include <string>

namespace kakehashi::testing {

using TestPkey = std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)>;
using TestX509 = std::unique_ptr<X509, decltype(&X509_free)>;

inline TestPkey make_rsa_key(unsigned bits = 2048) {
  TestPkey key(EVP_RSA_gen(bits), EVP_PKEY_free);
  if (!key) throw std::runtime_error("RSA key generation failed");
  return key;
}

inline TestPkey make_ec_key() {
  TestPkey key(EVP_EC_gen("P-256"), EVP_PKEY_free);
  if (!key) throw std::runtime_error("EC key generation failed");
  return key;
}

inline std::string key_pem(EVP_PKEY* key) {
  std::unique_ptr<BIO, decltype(&BIO_free)> bio(BIO_new(BIO_s_mem()), BIO_free);
  PEM_write_bio_PrivateKey(bio.get(), key, nullptr, nullptr, 0, nullptr, nullptr);
  char* data = nullptr;
  const long n = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<std::size_t>(n));
}

inline std::string cert_pem(X509* cert) {
  std::unique_ptr<BIO, decltype(&BIO_free)> bio(BIO_new(BIO_s_mem()), BIO_free);
  PEM_write_bio_X509(bio.get(), cert);
  char* data = nullptr;
  const long n = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<std::size_t>(n));
}

inline void add_extension(X509* cert, X509* issuer, int nid, const char* value) {
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, issuer, cert, nullptr, nullptr, 0);
  X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value);
  if (ext == nullptr) throw std::runtime_error("bad extension");
  X509_add_ext(cert, ext, -1);
  X509_EXTENSION_free(ext);
}

struct CertSpec {
  std::string common_name;
  std::string serial_number;        // subject serialNumber ("" = none)
  long valid_from_seconds = -3600;  // relative to now
  long valid_to_seconds = 825L * 86400;
  bool ca = false;
  bool client = true;  // extendedKeyUsage clientAuth
  bool server_for_localhost = false;
};

// A certificate for `key` by `issuer` (nullptr: self-signed) signed with `issuer_key`.
inline TestX509 make_certificate(const CertSpec& spec, EVP_PKEY* key, X509* issuer,
                                 EVP_PKEY* issuer_key) {
  static long serial = 1000;
  TestX509 cert(X509_new(), X509_free);
  X509_set_version(cert.get(), 2);
  ASN1_INTEGER_set(X509_get_serialNumber(cert.get()), ++serial);
  X509_gmtime_adj(X509_getm_notBefore(cert.get()), spec.valid_from_seconds);
  X509_gmtime_adj(X509_getm_notAfter(cert.get()), spec.valid_to_seconds);
  X509_set_pubkey(cert.get(), key);
  X509_NAME* name = X509_get_subject_name(cert.get());
  const auto add = [&](const char* field, const std::string& value) {
    X509_NAME_add_entry_by_txt(name, field, MBSTRING_UTF8,
                               reinterpret_cast<const unsigned char*>(value.c_str()), -1, -1, 0);
  };
  add("C", "JP");
  add("O", "Kakehashi test");
  if (!spec.serial_number.empty()) add("serialNumber", spec.serial_number);
  add("CN", spec.common_name);
  X509* signer = issuer != nullptr ? issuer : cert.get();
  X509_set_issuer_name(cert.get(), X509_get_subject_name(signer));
  if (spec.ca) {
    add_extension(cert.get(), signer, NID_basic_constraints, "critical,CA:TRUE");
    add_extension(cert.get(), signer, NID_key_usage, "critical,keyCertSign,cRLSign");
  } else {
    add_extension(cert.get(), signer, NID_basic_constraints, "critical,CA:FALSE");
    add_extension(cert.get(), signer, NID_key_usage, "critical,digitalSignature,keyEncipherment");
    if (spec.server_for_localhost) {
      add_extension(cert.get(), signer, NID_ext_key_usage, "serverAuth");
      add_extension(cert.get(), signer, NID_subject_alt_name, "IP:127.0.0.1,DNS:localhost");
    } else if (spec.client) {
      add_extension(cert.get(), signer, NID_ext_key_usage, "clientAuth");
    }
  }
  add_extension(cert.get(), signer, NID_subject_key_identifier, "hash");
  if (X509_sign(cert.get(), issuer_key, EVP_sha256()) == 0) {
    throw std::runtime_error("signing failed");
  }
  return cert;
}

// A certificate valid from `from` to `to` seconds relative to now.
inline CertSpec valid_between(long from, long to) {
  CertSpec spec;
  spec.valid_from_seconds = from;
  spec.valid_to_seconds = to;
  return spec;
}

// A CA and what it issues.
struct TestCa {
  TestPkey key = make_rsa_key();
  TestX509 cert = make_certificate(ca_spec(), key.get(), nullptr, key.get());

  static CertSpec ca_spec() {
    CertSpec spec;
    spec.common_name = "Kaigo WEB test CA";
    spec.ca = true;
    return spec;
  }

  struct Issued {
    std::string cert_pem, key_pem;
  };
  Issued office(const std::string& office_no, CertSpec spec = {}, unsigned bits = 2048) const {
    auto k = make_rsa_key(bits);
    if (spec.common_name.empty()) spec.common_name = "Office " + office_no;
    if (spec.serial_number.empty()) spec.serial_number = office_no;
    auto c = make_certificate(spec, k.get(), cert.get(), key.get());
    return {testing::cert_pem(c.get()), key_pem(k.get())};
  }
};

inline void write_text(const std::filesystem::path& path, const std::string& text,
                       mode_t mode = 0600) {
  std::filesystem::remove(path);
  {
    std::ofstream out(path, std::ios::binary);
    out << text;
  }
  ::chmod(path.c_str(), mode);
}

// DIR/<office_no>/ laid out as credentials_dir expects (folder 0700, files 0600).
inline std::filesystem::path write_office_folder(const std::filesystem::path& dir,
                                                 const std::string& office_no,
                                                 const TestCa::Issued& issued,
                                                 const std::string& user_id,
                                                 const std::string& password) {
  const auto folder = dir / office_no;
  std::filesystem::create_directories(folder);
  ::chmod(dir.c_str(), 0700);
  ::chmod(folder.c_str(), 0700);
  write_text(folder / "cert.pem", issued.cert_pem);
  write_text(folder / "key.pem", issued.key_pem);
  write_text(folder / "user_id", user_id + "\n");
  write_text(folder / "password", password + "\n");
  return folder;
}

}  // namespace kakehashi::testing
