#pragma once
// The translation receipt: a gateway-signed record that binds what came in (inbound envelope
// digest), what was relayed untouched (each signed file's digest) and what went out (outbound
// envelope digest). Version 2 (a unit a network translated, e.g. to standard 5.0 JSON) also binds
// each SignerInfo on the signed files (digest of its DER, its signer) to the digest of the
// document the network took and the item id it gave. Verifiable with the gateway certificate
// alone. Format: mapping/cms/README.md.

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

// One SignerInfo of a signed file (version 2).
struct SignerDigest {
  std::string file;                // the file name it signs
  std::string signer_info_sha256;  // SHA-256 of the SignerInfo's DER bytes, lower-case hex
  std::string signer;              // "serial <HEX> issuer <RFC 2253>" (no line breaks)
};

struct TranslationReceipt {
  int version = 1;  // 1 or 2
  std::string transfer_id;
  std::time_t created = 0;
  std::string inbound_sha256;
  std::vector<FileDigest> files;
  std::string outbound_sha256;
  // Version 2 only.
  std::vector<SignerDigest> signers;
  std::string sent_sha256;    // SHA-256 of the exact document bytes the network took
  std::string national_item;  // the item id the network gave it
};

std::string sha256_hex(ByteView bytes);

// Each SignerInfo of a DER SignedData, in order, as the receipt names it. kMalformed when the
// bytes are not SignedData.
Result<std::vector<SignerDigest>> signer_digests(const std::string& file_name, ByteView cms_der);

// The canonical text the signature covers (its version's format).
Result<std::string> receipt_text(const TranslationReceipt& receipt);

// Parses the text of either version strictly (what receipt_text makes, nothing else).
Result<TranslationReceipt> parse_receipt_text(const std::string& text);

// Attached SignedData (eContentType id-data) over receipt_text, signed by the gateway.
Result<Bytes> sign_receipt(const TranslationReceipt& receipt, const Credential& gateway);

// Checks the signature with `gateway_certificate` only (no chain, no store) and parses the
// record (either version). kBadSignature when the signature or signer does not match.
Result<TranslationReceipt> verify_receipt(ByteView receipt_der, X509* gateway_certificate);

}  // namespace kakehashi::mapping::cms
