#pragma once
// RAII owners for the OpenSSL objects the CMS code uses, and a reader for OpenSSL's error queue.

#include <openssl/bio.h>
#include <openssl/cms.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

namespace kakehashi::mapping::cms {

using Bytes = std::vector<std::uint8_t>;
using ByteView = std::span<const std::uint8_t>;

template <auto Free>
struct OsslDeleter {
  template <class T>
  void operator()(T* p) const {
    Free(p);
  }
};

struct CertStackDeleter {
  void operator()(STACK_OF(X509) * s) const { sk_X509_pop_free(s, X509_free); }
};

using X509Ptr = std::unique_ptr<X509, OsslDeleter<X509_free>>;
using X509CrlPtr = std::unique_ptr<X509_CRL, OsslDeleter<X509_CRL_free>>;
using EvpPkeyPtr = std::unique_ptr<EVP_PKEY, OsslDeleter<EVP_PKEY_free>>;
using BioPtr = std::unique_ptr<BIO, OsslDeleter<BIO_free_all>>;
using CmsPtr = std::unique_ptr<CMS_ContentInfo, OsslDeleter<CMS_ContentInfo_free>>;
using X509StorePtr = std::unique_ptr<X509_STORE, OsslDeleter<X509_STORE_free>>;
using X509StoreCtxPtr = std::unique_ptr<X509_STORE_CTX, OsslDeleter<X509_STORE_CTX_free>>;
using CertStackPtr = std::unique_ptr<STACK_OF(X509), CertStackDeleter>;
using Asn1TimePtr = std::unique_ptr<ASN1_TIME, OsslDeleter<ASN1_TIME_free>>;
using MdCtxPtr = std::unique_ptr<EVP_MD_CTX, OsslDeleter<EVP_MD_CTX_free>>;

// A new reference to cert (OpenSSL objects are reference counted).
X509Ptr share(X509* cert);

// Drains OpenSSL's thread-local error queue into one line; empty when the queue was empty.
std::string take_openssl_errors();

// A read-only memory BIO over bytes (the bytes must outlive the BIO).
BioPtr memory_bio(ByteView bytes);

// Everything written to a memory BIO so far.
Bytes bio_bytes(BIO* bio);

// DER encoding of a CMS structure.
Bytes to_der(CMS_ContentInfo* cms);

// Parses DER CMS; nullptr when the bytes are not one complete ContentInfo.
CmsPtr parse_cms_der(ByteView der);

}  // namespace kakehashi::mapping::cms
