#pragma once
// Parsing of certificates, CRLs, private keys and CMS from PEM or DER bytes (no file access).

#include <vector>

#include "mapping/cms/ossl.hpp"
#include "mapping/cms/result.hpp"

namespace kakehashi::mapping::cms {

// Every certificate in PEM text (one or many), or one DER certificate.
Result<std::vector<X509Ptr>> parse_certificates(ByteView bytes);
// Exactly one certificate (PEM or DER).
Result<X509Ptr> parse_certificate(ByteView bytes);
// Every CRL in PEM text, or one DER CRL.
Result<std::vector<X509CrlPtr>> parse_crls(ByteView bytes);
// An unencrypted private key, PEM (PKCS#8 or traditional) or DER. Errors never echo key bytes.
Result<EvpPkeyPtr> parse_private_key(ByteView bytes);
// CMS as DER, or PEM ("CMS" or "PKCS7" label) converted to DER.
Result<Bytes> cms_der_from_pem_or_der(ByteView bytes);
// Checks that the key is the certificate's key.
bool key_matches_certificate(EVP_PKEY* key, X509* cert);

}  // namespace kakehashi::mapping::cms
