#include "mapping/cms/ossl.hpp"

#include <openssl/err.h>

#include <limits>

namespace kakehashi::mapping::cms {

X509Ptr share(X509* cert) {
  if (cert != nullptr) X509_up_ref(cert);
  return X509Ptr(cert);
}

std::string take_openssl_errors() {
  std::string out;
  unsigned long code = 0;
  while ((code = ERR_get_error()) != 0) {
    char buf[256];
    ERR_error_string_n(code, buf, sizeof buf);
    if (!out.empty()) out += "; ";
    out += buf;
  }
  return out;
}

BioPtr memory_bio(ByteView bytes) {
  if (bytes.size() > static_cast<std::size_t>(std::numeric_limits<int>::max())) return nullptr;
  // BIO_new_mem_buf wants a non-null pointer even for empty input.
  static const std::uint8_t kEmpty = 0;
  const void* data = bytes.empty() ? &kEmpty : bytes.data();
  return BioPtr(BIO_new_mem_buf(data, static_cast<int>(bytes.size())));
}

Bytes bio_bytes(BIO* bio) {
  char* data = nullptr;
  const long len = BIO_get_mem_data(bio, &data);
  if (len <= 0 || data == nullptr) return {};
  const auto* p = reinterpret_cast<const std::uint8_t*>(data);
  return Bytes(p, p + len);
}

Bytes to_der(CMS_ContentInfo* cms) {
  unsigned char* out = nullptr;
  const int len = i2d_CMS_ContentInfo(cms, &out);
  if (len <= 0 || out == nullptr) return {};
  Bytes bytes(out, out + len);
  OPENSSL_free(out);
  return bytes;
}

CmsPtr parse_cms_der(ByteView der) {
  if (der.empty() || der.size() > static_cast<std::size_t>(std::numeric_limits<long>::max())) {
    return nullptr;
  }
  const unsigned char* p = der.data();
  CmsPtr cms(d2i_CMS_ContentInfo(nullptr, &p, static_cast<long>(der.size())));
  // Trailing bytes after the structure are refused: they would be unsigned and unnoticed.
  if (cms && p != der.data() + der.size()) return nullptr;
  return cms;
}

}  // namespace kakehashi::mapping::cms
