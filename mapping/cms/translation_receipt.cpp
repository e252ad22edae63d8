#include "mapping/cms/translation_receipt.hpp"

#include <openssl/bn.h>
#include <openssl/cms.h>
#include <openssl/err.h>
#include <openssl/sha.h>
#include <openssl/x509.h>

#include <iomanip>
#include <optional>
#include <sstream>

#include "mapping/cms/der_layout.hpp"
#include "mapping/cms/signer.hpp"
#include "mapping/common/iso_time.hpp"

namespace kakehashi::mapping::cms {

namespace {

constexpr std::string_view kMagic1 = "Kakehashi-Translation-Receipt: 1";
constexpr std::string_view kMagic2 = "Kakehashi-Translation-Receipt: 2";

bool is_hex64(const std::string& s) {
  return s.size() == 64 && s.find_first_not_of("0123456789abcdef") == std::string::npos;
}

bool is_line_safe(const std::string& s) {
  return !s.empty() && s.find_first_of("\r\n") == std::string::npos;
}

// "<64 hex> <rest>" into its two parts.
bool split_digest(const std::string& rest, std::string& hex, std::string& tail) {
  if (rest.size() < 66 || rest[64] != ' ') return false;
  hex = rest.substr(0, 64);
  tail = rest.substr(65);
  return true;
}

std::string name_text(X509_NAME* name) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  if (!bio || name == nullptr) return "-";
  X509_NAME_print_ex(bio.get(), name, 0, XN_FLAG_RFC2253 & ~ASN1_STRFLGS_ESC_MSB);
  const Bytes b = bio_bytes(bio.get());
  std::string s(b.begin(), b.end());
  for (char& c : s)
    if (c == '\r' || c == '\n') c = ' ';
  return s.empty() ? "-" : s;
}

std::string serial_text(const ASN1_INTEGER* serial) {
  if (serial == nullptr) return "-";
  BIGNUM* bn = ASN1_INTEGER_to_BN(serial, nullptr);
  if (bn == nullptr) return "-";
  char* hex = BN_bn2hex(bn);
  std::string s = hex != nullptr ? hex : "-";
  OPENSSL_free(hex);
  BN_free(bn);
  return s;
}

}  // namespace

Result<TranslationReceipt> parse_receipt_text(const std::string& text) {
  const Error bad{ErrorCode::kMalformed, "receipt text is not in the expected format"};
  std::istringstream in(text);
  std::string line;
  if (!std::getline(in, line) || (line != kMagic1 && line != kMagic2)) return bad;
  TranslationReceipt r;
  r.version = line == kMagic1 ? 1 : 2;
  auto field = [&](std::string_view key, std::string& value) {
    if (!std::getline(in, line) || line.rfind(key, 0) != 0) return false;
    value = line.substr(key.size());
    return true;
  };
  std::string created;
  if (!field("Transfer: ", r.transfer_id) || !field("Created: ", created) ||
      !field("Inbound-Envelope-SHA256: ", r.inbound_sha256)) {
    return bad;
  }
  const auto t = common::parse_iso_seconds(created, common::Trailing::kIgnore);
  if (!t) return bad;
  r.created = static_cast<std::time_t>(*t);
  bool outbound = false;
  while (std::getline(in, line)) {
    constexpr std::string_view kFile = "File-SHA256: ";
    constexpr std::string_view kSignerInfo = "Signer-Info-SHA256: ";
    constexpr std::string_view kOut = "Outbound-Envelope-SHA256: ";
    if (line.rfind(kFile, 0) == 0) {
      FileDigest f;
      if (!split_digest(line.substr(kFile.size()), f.sha256, f.name)) return bad;
      r.files.push_back(std::move(f));
    } else if (r.version == 2 && line.rfind(kSignerInfo, 0) == 0) {
      SignerDigest d;
      if (!split_digest(line.substr(kSignerInfo.size()), d.signer_info_sha256, d.file) ||
          !field("Signer: ", d.signer)) {
        return bad;
      }
      r.signers.push_back(std::move(d));
    } else if (line.rfind(kOut, 0) == 0) {
      r.outbound_sha256 = line.substr(kOut.size());
      outbound = true;
      break;
    } else {
      return bad;
    }
  }
  if (!outbound) return bad;
  if (r.version == 2 && (!field("Sent-Document-SHA256: ", r.sent_sha256) ||
                         !field("National-Item: ", r.national_item))) {
    return bad;
  }
  if (std::getline(in, line)) return bad;  // nothing may follow
  // The canonical form only: what receipt_text makes of it, byte for byte.
  const auto again = receipt_text(r);
  if (!again.ok() || again.value() != text) return bad;
  return r;
}

Result<std::vector<SignerDigest>> signer_digests(const std::string& file_name, ByteView cms_der) {
  ERR_clear_error();
  CmsPtr cms = parse_cms_der(cms_der);
  if (!cms || OBJ_obj2nid(CMS_get0_type(cms.get())) != NID_pkcs7_signed)
    return Error{ErrorCode::kMalformed, file_name + ": signature is not CMS SignedData"};
  const std::vector<Bytes> ders = signer_info_bytes(cms_der);
  STACK_OF(CMS_SignerInfo)* infos = CMS_get0_SignerInfos(cms.get());
  const int n = sk_CMS_SignerInfo_num(infos);
  if (n <= 0 || ders.size() != static_cast<std::size_t>(n))
    return Error{ErrorCode::kMalformed, file_name + ": SignerInfos cannot be located"};
  std::vector<SignerDigest> out;
  for (int i = 0; i < n; ++i) {
    CMS_SignerInfo* si = sk_CMS_SignerInfo_value(infos, i);
    ASN1_OCTET_STRING* key_id = nullptr;
    X509_NAME* issuer = nullptr;
    ASN1_INTEGER* serial = nullptr;
    std::string signer = "-";
    if (CMS_SignerInfo_get0_signer_id(si, &key_id, &issuer, &serial) == 1) {
      if (issuer != nullptr) {
        signer = "serial " + serial_text(serial) + " issuer " + name_text(issuer);
      } else if (key_id != nullptr) {
        signer = "key-id ";
        static constexpr char kHex[] = "0123456789ABCDEF";
        for (int b = 0; b < ASN1_STRING_length(key_id); ++b) {
          const unsigned char c = ASN1_STRING_get0_data(key_id)[b];
          signer += kHex[c >> 4];
          signer += kHex[c & 0xF];
        }
      }
    }
    const auto& der = ders[static_cast<std::size_t>(i)];
    out.push_back({file_name, sha256_hex(ByteView(der.data(), der.size())), signer});
  }
  ERR_clear_error();
  return out;
}

std::string sha256_hex(ByteView bytes) {
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(bytes.data(), bytes.size(), digest);
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (unsigned char b : digest) {
    out += kHex[b >> 4];
    out += kHex[b & 0xF];
  }
  return out;
}

Result<std::string> receipt_text(const TranslationReceipt& r) {
  if (r.version != 1 && r.version != 2)
    return Error{ErrorCode::kInvalidArgument, "receipt version must be 1 or 2"};
  if (!is_line_safe(r.transfer_id) || !is_hex64(r.inbound_sha256) || !is_hex64(r.outbound_sha256)) {
    return Error{ErrorCode::kInvalidArgument,
                 "receipt needs a transfer id and two SHA-256 digests"};
  }
  if (r.version == 1 && (!r.signers.empty() || !r.sent_sha256.empty() || !r.national_item.empty()))
    return Error{ErrorCode::kInvalidArgument,
                 "a version 1 receipt carries no signers, sent document or national item"};
  if (r.version == 2 && (!is_hex64(r.sent_sha256) || !is_line_safe(r.national_item)))
    return Error{ErrorCode::kInvalidArgument,
                 "a version 2 receipt needs the sent document's SHA-256 and the national item id"};
  std::string text(r.version == 1 ? kMagic1 : kMagic2);
  text += "\nTransfer: " + r.transfer_id + "\nCreated: " + common::format_iso_seconds(r.created) +
          "\nInbound-Envelope-SHA256: " + r.inbound_sha256 + "\n";
  for (const auto& f : r.files) {
    if (!is_hex64(f.sha256) || !is_line_safe(f.name)) {
      return Error{ErrorCode::kInvalidArgument, "bad file digest entry"};
    }
    text += "File-SHA256: " + f.sha256 + " " + f.name + "\n";
  }
  for (const auto& d : r.signers) {
    if (!is_hex64(d.signer_info_sha256) || !is_line_safe(d.file) || !is_line_safe(d.signer))
      return Error{ErrorCode::kInvalidArgument, "bad signer digest entry"};
    text += "Signer-Info-SHA256: " + d.signer_info_sha256 + " " + d.file + "\nSigner: " + d.signer +
            "\n";
  }
  text += "Outbound-Envelope-SHA256: " + r.outbound_sha256 + "\n";
  if (r.version == 2)
    text += "Sent-Document-SHA256: " + r.sent_sha256 + "\nNational-Item: " + r.national_item + "\n";
  return text;
}

Result<Bytes> sign_receipt(const TranslationReceipt& receipt, const Credential& gateway) {
  auto text = receipt_text(receipt);
  if (!text) return text.error();
  const auto& t = text.value();
  return sign(ByteView(reinterpret_cast<const std::uint8_t*>(t.data()), t.size()), gateway,
              SignOptions{.detached = false});
}

Result<TranslationReceipt> verify_receipt(ByteView receipt_der, X509* gateway_certificate) {
  ERR_clear_error();
  CmsPtr cms = parse_cms_der(receipt_der);
  if (!cms || OBJ_obj2nid(CMS_get0_type(cms.get())) != NID_pkcs7_signed) {
    return Error{ErrorCode::kMalformed, "receipt is not CMS SignedData"};
  }
  if (sk_CMS_SignerInfo_num(CMS_get0_SignerInfos(cms.get())) != 1) {
    return Error{ErrorCode::kMalformed, "receipt must have exactly one signer"};
  }
  CertStackPtr certs(sk_X509_new_null());
  sk_X509_push(certs.get(), share(gateway_certificate).release());
  BioPtr out(BIO_new(BIO_s_mem()));
  // NOINTERN: the signer must be the given certificate, not one carried in the message.
  const unsigned flags = CMS_BINARY | CMS_NO_SIGNER_CERT_VERIFY | CMS_NOINTERN;
  if (!out || CMS_verify(cms.get(), certs.get(), nullptr, nullptr, out.get(), flags) != 1) {
    return Error{
        ErrorCode::kBadSignature,
        "receipt signature does not verify with the gateway certificate: " + take_openssl_errors()};
  }
  const Bytes body = bio_bytes(out.get());
  return parse_receipt_text(std::string(body.begin(), body.end()));
}

}  // namespace kakehashi::mapping::cms
