#include "gateway/pki/expiry.hpp"

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <algorithm>
#include <ctime>
#include <filesystem>
#include <system_error>
#include <utility>

namespace kakehashi::gateway::pki {
namespace fs = std::filesystem;

namespace {

constexpr std::int64_t kDayMs = 24 * 3600 * 1000;

std::int64_t asn1_ms(const ASN1_TIME* t) {
  std::tm tm{};
  if (t == nullptr || ASN1_TIME_to_tm(t, &tm) != 1) return 0;
  return static_cast<std::int64_t>(timegm(&tm)) * 1000;
}

std::string x509_name(X509_NAME* name) {
  std::string out;
  if (BIO* bio = BIO_new(BIO_s_mem())) {
    X509_NAME_print_ex(bio, name, 0, XN_FLAG_RFC2253 & ~ASN1_STRFLGS_ESC_MSB);
    char* data = nullptr;
    const long n = BIO_get_mem_data(bio, &data);
    if (n > 0) out.assign(data, static_cast<std::size_t>(n));
    BIO_free(bio);
  }
  return out;
}

}  // namespace

std::int64_t days_left(std::int64_t until_ms, std::int64_t now_ms) {
  // Floor division: a certificate expiring in 12 hours has 0 days left, an expired one < 0.
  const std::int64_t diff = until_ms - now_ms;
  return diff >= 0 ? diff / kDayMs : -((-diff + kDayMs - 1) / kDayMs);
}

std::vector<Expiry> read_expiry(const ExpirySource& source) {
  std::vector<Expiry> out;
  BIO* bio = BIO_new_file(source.file.c_str(), "r");
  if (bio == nullptr) {
    out.push_back({source.kind, source.name, "", 0, "cannot read " + source.file});
    return out;
  }
  if (source.kind == "crl") {
    while (X509_CRL* crl = PEM_read_bio_X509_CRL(bio, nullptr, nullptr, nullptr)) {
      out.push_back({source.kind, source.name, x509_name(X509_CRL_get_issuer(crl)),
                     asn1_ms(X509_CRL_get0_nextUpdate(crl)), ""});
      X509_CRL_free(crl);
    }
  } else {
    while (X509* cert = PEM_read_bio_X509(bio, nullptr, nullptr, nullptr)) {
      out.push_back({source.kind, source.name, x509_name(X509_get_subject_name(cert)),
                     asn1_ms(X509_get0_notAfter(cert)), ""});
      X509_free(cert);
    }
  }
  BIO_free(bio);
  ERR_clear_error();
  if (out.empty())
    out.push_back(
        {source.kind, source.name, "", 0, "no PEM " + source.kind + " in " + source.file});
  return out;
}

std::vector<ExpirySource> trust_domain_expiry_sources(const std::string& network,
                                                      const std::string& directory) {
  std::vector<ExpirySource> out;
  for (const auto& [sub, kind] : {std::pair<const char*, const char*>{"anchors", "certificate"},
                                  {"intermediates", "certificate"},
                                  {"crls", "crl"}}) {
    std::error_code ec;
    std::vector<fs::path> files;
    for (const auto& e : fs::directory_iterator(fs::path(directory) / sub, ec)) {
      if (e.is_regular_file() && e.path().extension() == ".pem") files.push_back(e.path());
    }
    std::sort(files.begin(), files.end());
    for (const auto& f : files)
      out.push_back(
          {kind, "trust_domain " + network + " " + std::string(sub) + "/" + f.filename().string(),
           f.string()});
  }
  return out;
}

}  // namespace kakehashi::gateway::pki
