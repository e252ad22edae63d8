#pragma once
// The translation receipt: a gateway-signed record that binds what came in (inbound envelope
// digest), what was relayed untouched (each signed file's digest) and what went out (outbound
// envelope digest). Verifiable with the gateway certificate alone. Format: mapping/cms/README.md.

#include <ctime>
#include <string>
#include <vector>

#include "mapping/cms/credential.hpp"
#include "mapping/cms/ossl.hpp"
#include "mapping/cms/result.hpp"

namespace kakehashi::mapping::cms {

struct FileDigest {
  std::string name;    // file name as sent (no line breaks)
  std::string sha256;  // lower-case hex
};

struct TranslationReceipt {
  std::string transfer_id;
  std::time_t created = 0;
  std::string inbound_sha256;
  std::vector<FileDigest> files;
  std::string outbound_sha256;
};

std::string sha256_hex(ByteView bytes);

// The canonical text the signature covers.
Result<std::string> receipt_text(const TranslationReceipt& receipt);

// Attached SignedData (eContentType id-data) over receipt_text, signed by the gateway.
Result<Bytes> sign_receipt(const TranslationReceipt& receipt, const Credential& gateway);

// Checks the signature with `gateway_certificate` only (no chain, no store) and parses the
// record. kBadSignature when the signature or signer does not match.
Result<TranslationReceipt> verify_receipt(ByteView receipt_der, X509* gateway_certificate);

}  // namespace kakehashi::mapping::cms
