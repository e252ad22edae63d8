#include "mapping/cms/parse.hpp"

#include <openssl/err.h>
#include <openssl/pem.h>

#include <algorithm>
#include <string_view>

namespace kakehashi::mapping::cms {

namespace {

bool looks_like_pem(ByteView bytes) {
  constexpr std::string_view kBegin = "-----BEGIN ";
  const std::string_view text(reinterpret_cast<const char*>(bytes.data()), bytes.size());
  return text.find(kBegin) != std::string_view::npos;
}

}  // namespace

Result<std::vector<X509Ptr>> parse_certificates(ByteView bytes) {
  std::vector<X509Ptr> out;
  if (looks_like_pem(bytes)) {
    auto bio = memory_bio(bytes);
    if (!bio) return Error{ErrorCode::kInvalidArgument, "input too large"};
    while (X509* c = PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr)) out.emplace_back(c);
    ERR_clear_error();  // the loop ends on "no start line"
  } else {
    const unsigned char* p = bytes.data();
    X509Ptr c(d2i_X509(nullptr, &p, static_cast<long>(bytes.size())));
    if (c && p == bytes.data() + bytes.size()) out.push_back(std::move(c));
  }
  if (out.empty()) {
    return Error{ErrorCode::kMalformed, "no certificate found " + take_openssl_errors()};
  }
  return out;
}

Result<X509Ptr> parse_certificate(ByteView bytes) {
  auto certs = parse_certificates(bytes);
  if (!certs) return certs.error();
  if (certs.value().size() != 1) {
    return Error{ErrorCode::kMalformed,
                 "expected one certificate, found " + std::to_string(certs.value().size())};
  }
  return std::move(certs.value().front());
}

Result<std::vector<X509CrlPtr>> parse_crls(ByteView bytes) {
  std::vector<X509CrlPtr> out;
  if (looks_like_pem(bytes)) {
    auto bio = memory_bio(bytes);
    if (!bio) return Error{ErrorCode::kInvalidArgument, "input too large"};
    while (X509_CRL* c = PEM_read_bio_X509_CRL(bio.get(), nullptr, nullptr, nullptr)) {
      out.emplace_back(c);
    }
    ERR_clear_error();
  } else {
    const unsigned char* p = bytes.data();
    X509CrlPtr c(d2i_X509_CRL(nullptr, &p, static_cast<long>(bytes.size())));
    if (c && p == bytes.data() + bytes.size()) out.push_back(std::move(c));
  }
  if (out.empty()) return Error{ErrorCode::kMalformed, "no CRL found " + take_openssl_errors()};
  return out;
}

Result<EvpPkeyPtr> parse_private_key(ByteView bytes) {
  auto bio = memory_bio(bytes);
  if (!bio) return Error{ErrorCode::kInvalidArgument, "input too large"};
  EvpPkeyPtr key;
  if (looks_like_pem(bytes)) {
    // A null passphrase callback result refuses encrypted keys instead of prompting on a tty.
    key.reset(PEM_read_bio_PrivateKey(
        bio.get(), nullptr, [](char*, int, int, void*) { return 0; }, nullptr));
  } else {
    key.reset(d2i_PrivateKey_bio(bio.get(), nullptr));
  }
  ERR_clear_error();  // OpenSSL's messages may quote the input; they are not passed on
  if (!key) return Error{ErrorCode::kMalformed, "not an unencrypted private key"};
  return key;
}

Result<Bytes> cms_der_from_pem_or_der(ByteView bytes) {
  if (!looks_like_pem(bytes)) return Bytes(bytes.begin(), bytes.end());
  // PEM carries the DER unchanged in base64; decoding it keeps the signer's exact bytes.
  auto bio2 = memory_bio(bytes);
  if (!bio2) return Error{ErrorCode::kInvalidArgument, "input too large"};
  char* name = nullptr;
  char* header = nullptr;
  unsigned char* data = nullptr;
  long len = 0;
  if (PEM_read_bio(bio2.get(), &name, &header, &data, &len) != 1) {
    return Error{ErrorCode::kMalformed, "not PEM: " + take_openssl_errors()};
  }
  const std::string_view label(name);
  Bytes der(data, data + len);
  const bool cms_label = label == "CMS" || label == "PKCS7";
  OPENSSL_free(name);
  OPENSSL_free(header);
  OPENSSL_free(data);
  if (!cms_label) return Error{ErrorCode::kMalformed, "PEM block is not CMS or PKCS7"};
  return der;
}

bool key_matches_certificate(EVP_PKEY* key, X509* cert) {
  const bool ok = X509_check_private_key(cert, key) == 1;
  ERR_clear_error();
  return ok;
}

}  // namespace kakehashi::mapping::cms
