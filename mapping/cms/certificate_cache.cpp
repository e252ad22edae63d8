#include "mapping/cms/certificate_cache.hpp"

#include <openssl/err.h>

#include <algorithm>
#include <limits>

#include "mapping/cms/der_layout.hpp"

namespace kakehashi::mapping::cms {

namespace {

constexpr std::uint8_t kSequence = 0x30;

X509Ptr decode(ByteView der) {
  if (der.empty() || der.size() > static_cast<std::size_t>(std::numeric_limits<long>::max())) {
    return nullptr;
  }
  const unsigned char* p = der.data();
  X509Ptr cert(d2i_X509(nullptr, &p, static_cast<long>(der.size())));
  if (cert && p != der.data() + der.size()) return nullptr;
  return cert;
}

std::string_view key_of(ByteView der) {
  return {reinterpret_cast<const char*>(der.data()), der.size()};
}

// Tag and length octets of a DER header (short form below 128, else 0x80|count and the count).
std::size_t header_size(std::size_t length) {
  if (length < 0x80) return 2;
  std::size_t n = 0;
  for (std::size_t l = length; l != 0; l >>= 8) ++n;
  return 2 + n;
}

void put_header(Bytes& out, std::uint8_t tag, std::size_t length) {
  out.push_back(tag);
  if (length < 0x80) {
    out.push_back(static_cast<std::uint8_t>(length));
    return;
  }
  std::uint8_t bytes[sizeof(std::size_t)];
  std::size_t n = 0;
  for (std::size_t l = length; l != 0; l >>= 8) bytes[n++] = static_cast<std::uint8_t>(l & 0xFF);
  out.push_back(static_cast<std::uint8_t>(0x80 | n));
  while (n > 0) out.push_back(bytes[--n]);
}

void append(Bytes& out, ByteView der, std::size_t from, std::size_t to) {
  out.insert(out.end(), der.begin() + static_cast<std::ptrdiff_t>(from),
             der.begin() + static_cast<std::ptrdiff_t>(to));
}

// The ContentInfo with the SignedData's certificate set left out (lengths re-encoded).
Bytes without_certificates(ByteView der, const SignedDataLayout& layout) {
  const DerSpan& ci = layout.content_info;
  const DerSpan& ex = layout.explicit_content;
  const DerSpan& sd = layout.signed_data;
  const DerSpan& set = *layout.certificate_set;
  const std::size_t sd_length = sd.value_size - set.size;
  const std::size_t ex_length = header_size(sd_length) + sd_length;
  // ContentInfo: contentType, then the [0] EXPLICIT (its last element).
  const std::size_t ci_length = (ex.offset - ci.value_offset) + header_size(ex_length) + ex_length;
  Bytes out;
  out.reserve(der.size());
  put_header(out, der[ci.offset], ci_length);
  append(out, der, ci.value_offset, ex.offset);
  put_header(out, der[ex.offset], ex_length);
  put_header(out, der[sd.offset], sd_length);
  append(out, der, sd.value_offset, set.offset);
  append(out, der, set.offset + set.size, sd.value_offset + sd.value_size);
  return out;
}

CmsPtr full_parse(ByteView der) {
  ERR_clear_error();  // nothing of the attempt is left for the caller to report
  return parse_cms_der(der);
}

}  // namespace

CertificateCache::CertificateCache(std::size_t capacity)
    : capacity_(std::max<std::size_t>(capacity, 1)) {}

CertificateCache& CertificateCache::shared() {
  static CertificateCache cache(1024);
  return cache;
}

std::size_t CertificateCache::size() const {
  std::lock_guard lock(mutex_);
  return entries_.size();
}

X509Ptr CertificateCache::get(ByteView der) {
  const std::string_view key = key_of(der);
  {
    std::lock_guard lock(mutex_);
    const auto it = index_.find(key);
    if (it != index_.end()) {
      entries_.splice(entries_.begin(), entries_, it->second);
      hits_.fetch_add(1, std::memory_order_relaxed);
      return share(it->second->certificate.get());
    }
  }
  // Decoding is the slow part: outside the lock. Two threads may both decode a new certificate;
  // the first to finish is kept.
  X509Ptr cert = decode(der);
  misses_.fetch_add(1, std::memory_order_relaxed);
  if (!cert) return nullptr;
  std::lock_guard lock(mutex_);
  if (const auto it = index_.find(key); it != index_.end()) {
    entries_.splice(entries_.begin(), entries_, it->second);
    return share(it->second->certificate.get());
  }
  entries_.push_front(Entry{Bytes(der.begin(), der.end()), share(cert.get())});
  index_.emplace(key_of(entries_.front().der), entries_.begin());
  while (entries_.size() > capacity_) {
    index_.erase(key_of(entries_.back().der));
    entries_.pop_back();
  }
  return cert;
}

CmsPtr parse_cms_der_cached(ByteView der, CertificateCache& cache) {
  const auto layout = locate_signed_data(der);
  if (!layout || !layout->certificate_set || layout->certificates.empty()) return full_parse(der);
  for (const auto& c : layout->certificates) {
    if (der[c.offset] != kSequence) return full_parse(der);  // not a plain certificate
  }
  CmsPtr cms = parse_cms_der(without_certificates(der, *layout));
  if (!cms || OBJ_obj2nid(CMS_get0_type(cms.get())) != NID_pkcs7_signed) return full_parse(der);
  for (const auto& c : layout->certificates) {
    X509Ptr cert = cache.get(der.subspan(c.offset, c.size));
    // CMS_add0_cert refuses a certificate already present (the full parse keeps duplicates).
    if (!cert || CMS_add0_cert(cms.get(), cert.get()) != 1) return full_parse(der);
    cert.release();  // now owned by the CMS structure
  }
  return cms;
}

}  // namespace kakehashi::mapping::cms
