#include "mapping/cms/translation_receipt.hpp"

#include <openssl/err.h>
#include <openssl/sha.h>

#include <iomanip>
#include <optional>
#include <sstream>

#include "mapping/cms/signer.hpp"
#include "mapping/common/iso_time.hpp"

namespace kakehashi::mapping::cms {

namespace {

constexpr std::string_view kMagic = "Kakehashi-Translation-Receipt: 1";

bool is_hex64(const std::string& s) {
  return s.size() == 64 && s.find_first_not_of("0123456789abcdef") == std::string::npos;
}

bool is_line_safe(const std::string& s) {
  return !s.empty() && s.find_first_of("\r\n") == std::string::npos;
}

Result<TranslationReceipt> parse_text(const std::string& text) {
  const Error bad{ErrorCode::kMalformed, "receipt text is not in the expected format"};
  std::istringstream in(text);
  std::string line;
  if (!std::getline(in, line) || line != kMagic) return bad;
  TranslationReceipt r;
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
  while (std::getline(in, line)) {
    constexpr std::string_view kFile = "File-SHA256: ";
    constexpr std::string_view kOut = "Outbound-Envelope-SHA256: ";
    if (line.rfind(kFile, 0) == 0) {
      const std::string rest = line.substr(kFile.size());
      if (rest.size() < 66 || rest[64] != ' ') return bad;
      r.files.push_back({rest.substr(65), rest.substr(0, 64)});
    } else if (line.rfind(kOut, 0) == 0) {
      r.outbound_sha256 = line.substr(kOut.size());
      if (std::getline(in, line)) return bad;  // nothing may follow
      break;
    } else {
      return bad;
    }
  }
  if (!receipt_text(r).ok()) return bad;
  return r;
}

}  // namespace

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
  if (!is_line_safe(r.transfer_id) || !is_hex64(r.inbound_sha256) || !is_hex64(r.outbound_sha256)) {
    return Error{ErrorCode::kInvalidArgument,
                 "receipt needs a transfer id and two SHA-256 digests"};
  }
  std::string text(kMagic);
  text += "\nTransfer: " + r.transfer_id + "\nCreated: " + common::format_iso_seconds(r.created) +
          "\nInbound-Envelope-SHA256: " + r.inbound_sha256 + "\n";
  for (const auto& f : r.files) {
    if (!is_hex64(f.sha256) || !is_line_safe(f.name)) {
      return Error{ErrorCode::kInvalidArgument, "bad file digest entry"};
    }
    text += "File-SHA256: " + f.sha256 + " " + f.name + "\n";
  }
  text += "Outbound-Envelope-SHA256: " + r.outbound_sha256 + "\n";
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
  return parse_text(std::string(body.begin(), body.end()));
}

}  // namespace kakehashi::mapping::cms
