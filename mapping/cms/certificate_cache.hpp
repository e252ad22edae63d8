#pragma once
// Decoded certificates by their exact DER bytes, and a CMS parser that takes a SignedData's
// certificates from them: an office embeds the same certificate and chain in every file of every
// unit, and OpenSSL 3.0 spends ~180 µs decoding one certificate (mostly its public key).

#include <atomic>
#include <cstddef>
#include <list>
#include <mutex>
#include <string_view>
#include <unordered_map>

#include "mapping/cms/ossl.hpp"

namespace kakehashi::mapping::cms {

// Thread-safe and bounded: the least recently used certificate goes first. An entry is found by
// a hash of the DER and matched by comparing all of it, so a hit is always a certificate decoded
// from exactly the bytes asked for (no digest can collide). The X509 objects it
// hands out are shared between callers and threads, so they are only read (verification,
// encoding, describing), never modified — as with the certificates of an X509_STORE.
class CertificateCache {
 public:
  explicit CertificateCache(std::size_t capacity);
  CertificateCache(const CertificateCache&) = delete;
  CertificateCache& operator=(const CertificateCache&) = delete;

  // A new reference to the certificate decoded from exactly `der`; nullptr when `der` is not one
  // complete DER certificate (failures are not kept).
  X509Ptr get(ByteView der);

  std::size_t size() const;
  std::size_t hits() const { return hits_.load(std::memory_order_relaxed); }
  std::size_t misses() const { return misses_.load(std::memory_order_relaxed); }

  // The one the CMS functions use (1024 certificates: a few MB).
  static CertificateCache& shared();

 private:
  struct Entry {
    Bytes der;
    X509Ptr certificate;
  };
  // Keys view the DER held by the entry itself (a list node never moves).
  using Index = std::unordered_map<std::string_view, std::list<Entry>::iterator>;

  const std::size_t capacity_;
  mutable std::mutex mutex_;
  std::list<Entry> entries_;  // most recently used first
  Index index_;
  std::atomic<std::size_t> hits_{0};
  std::atomic<std::size_t> misses_{0};
};

// parse_cms_der, except that the certificates of a SignedData come from `cache`: the DER without
// its certificate set is decoded, then the cached certificates are added in their order in the
// input. The result is the same structure as parse_cms_der's and re-encodes to the same bytes.
// Inputs this does not handle (not definite-length DER SignedData, no or an empty certificate
// set, certificate choices other than plain certificates, a certificate present twice, anything
// that fails to decode) take parse_cms_der's path, so errors are reported exactly as it does.
CmsPtr parse_cms_der_cached(ByteView der, CertificateCache& cache = CertificateCache::shared());

}  // namespace kakehashi::mapping::cms
