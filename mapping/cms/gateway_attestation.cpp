#include "mapping/cms/gateway_attestation.hpp"

#include <openssl/cms.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/x509.h>

#include <algorithm>
#include <memory>

#include "mapping/common/iso_time.hpp"

namespace kakehashi::mapping::cms {
namespace {

constexpr std::uint8_t kSequence = 0x30, kInteger = 0x02, kPrintable = 0x13, kUtf8 = 0x0C,
                       kGeneralizedTime = 0x18, kOctetString = 0x04;
constexpr std::size_t kMaxText = 256;

void put_tlv(Bytes& out, std::uint8_t tag, const Bytes& value) {
  out.push_back(tag);
  const std::size_t n = value.size();
  if (n < 0x80) {
    out.push_back(static_cast<std::uint8_t>(n));
  } else {
    Bytes len;
    for (std::size_t v = n; v != 0; v >>= 8) len.insert(len.begin(), static_cast<std::uint8_t>(v));
    out.push_back(static_cast<std::uint8_t>(0x80 | len.size()));
    out.insert(out.end(), len.begin(), len.end());
  }
  out.insert(out.end(), value.begin(), value.end());
}

Bytes text_bytes(const std::string& s) {
  return {s.begin(), s.end()};
}

bool all_digits(const std::string& s) {
  return s.find_first_not_of("0123456789") == std::string::npos;
}

// Text a person reads on one line: UTF-8 without control characters.
bool is_plain_text(const std::string& s) {
  if (s.empty() || s.size() > kMaxText) return false;
  for (unsigned char c : s)
    if (c < 0x20 || c == 0x7F) return false;
  return true;
}

std::string generalized_time(std::time_t t) {
  // 2025-03-25T01:48:05Z → 20250325014805Z
  std::string iso = common::format_iso_seconds(t);
  std::string out;
  for (char c : iso)
    if (c >= '0' && c <= '9') out += c;
  return out + "Z";
}

std::optional<std::time_t> parse_generalized_time(const std::string& s) {
  if (s.size() != 15 || s.back() != 'Z' || !all_digits(s.substr(0, 14))) return std::nullopt;
  const std::string iso = s.substr(0, 4) + "-" + s.substr(4, 2) + "-" + s.substr(6, 2) + "T" +
                          s.substr(8, 2) + ":" + s.substr(10, 2) + ":" + s.substr(12, 2) + "Z";
  const auto t = common::parse_iso_seconds(iso, common::Trailing::kRefuse);
  if (!t || generalized_time(static_cast<std::time_t>(*t)) != s) return std::nullopt;
  return static_cast<std::time_t>(*t);
}

std::string to_hex(ByteView b) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string s;
  for (std::uint8_t c : b) {
    s += kHex[c >> 4];
    s += kHex[c & 0xF];
  }
  return s;
}

std::optional<Bytes> from_hex64(const std::string& s) {
  if (s.size() != 64 || s.find_first_not_of("0123456789abcdef") != std::string::npos)
    return std::nullopt;
  Bytes out;
  for (std::size_t i = 0; i < 64; i += 2)
    out.push_back(static_cast<std::uint8_t>(std::stoi(s.substr(i, 2), nullptr, 16)));
  return out;
}

// A strict DER reader over one level of elements.
class DerReader {
 public:
  explicit DerReader(ByteView data) : data_(data) {}
  bool done() const { return pos_ == data_.size(); }
  // The value of the next element when it has `tag` and a minimal definite length.
  std::optional<ByteView> next(std::uint8_t tag) {
    if (data_.size() - pos_ < 2 || data_[pos_] != tag) return std::nullopt;
    std::size_t at = pos_ + 1;
    std::size_t len = data_[at++];
    if (len & 0x80) {
      const std::size_t octets = len & 0x7F;
      if (octets == 0 || octets > 3 || data_.size() - at < octets || data_[at] == 0)
        return std::nullopt;
      len = 0;
      for (std::size_t i = 0; i < octets; ++i) len = (len << 8) | data_[at++];
      if (len < 0x80) return std::nullopt;  // not minimal
    }
    if (data_.size() - at < len) return std::nullopt;
    pos_ = at + len;
    return data_.subspan(at, len);
  }

 private:
  ByteView data_;
  std::size_t pos_ = 0;
};

Error malformed(const std::string& what) {
  return Error{ErrorCode::kMalformed, "gateway attestation: " + what};
}

std::optional<std::string> text_of(std::optional<ByteView> v) {
  if (!v) return std::nullopt;
  return std::string(v->begin(), v->end());
}

using AsnObjectPtr = std::unique_ptr<ASN1_OBJECT, OsslDeleter<ASN1_OBJECT_free>>;

AsnObjectPtr attestation_oid() {
  return AsnObjectPtr(OBJ_txt2obj(kGatewayAttestationOid, 1));
}

}  // namespace

Result<Bytes> encode_attestation(const GatewayAttestation& a) {
  auto invalid = [](const std::string& field) {
    return Error{ErrorCode::kInvalidArgument, "gateway attestation: " + field + " is not valid"};
  };
  if (a.office_number.size() != 10 || !all_digits(a.office_number)) return invalid("office_number");
  if (!a.service_type.empty() && (a.service_type.size() != 2 || !all_digits(a.service_type)))
    return invalid("service_type");
  if (!is_plain_text(a.session)) return invalid("session");
  if (!is_plain_text(a.national_item)) return invalid("national_item");
  if (a.fetched_at < 0 || !parse_generalized_time(generalized_time(a.fetched_at)))
    return invalid("fetched_at");
  const auto digest = from_hex64(a.fetched_sha256);
  if (!digest) return invalid("fetched_sha256");
  Bytes office, body, out;
  put_tlv(office, kPrintable, text_bytes(a.office_number));
  put_tlv(office, kPrintable, text_bytes(a.service_type));
  put_tlv(body, kInteger, Bytes{0x01});
  put_tlv(body, kSequence, office);
  put_tlv(body, kUtf8, text_bytes(a.session));
  put_tlv(body, kUtf8, text_bytes(a.national_item));
  put_tlv(body, kGeneralizedTime, text_bytes(generalized_time(a.fetched_at)));
  put_tlv(body, kOctetString, *digest);
  put_tlv(out, kSequence, body);
  return out;
}

Result<GatewayAttestation> decode_attestation(ByteView der) {
  DerReader top(der);
  const auto seq = top.next(kSequence);
  if (!seq || !top.done()) return malformed("not one DER SEQUENCE");
  DerReader body(*seq);
  const auto version = body.next(kInteger);
  if (!version || version->size() != 1 || (*version)[0] != 0x01)
    return malformed("version is not 1");
  const auto office_seq = body.next(kSequence);
  if (!office_seq) return malformed("nationalOffice is missing");
  DerReader office(*office_seq);
  GatewayAttestation a;
  const auto number = text_of(office.next(kPrintable));
  const auto service = text_of(office.next(kPrintable));
  if (!number || !service || !office.done()) return malformed("nationalOffice is not two strings");
  a.office_number = *number;
  a.service_type = *service;
  const auto session = text_of(body.next(kUtf8));
  if (!session) return malformed("session is missing");
  a.session = *session;
  const auto item = text_of(body.next(kUtf8));
  if (!item) return malformed("nationalItem is missing");
  a.national_item = *item;
  const auto when = text_of(body.next(kGeneralizedTime));
  const auto at = when ? parse_generalized_time(*when) : std::nullopt;
  if (!at) return malformed("fetchedAt is not a GeneralizedTime YYYYMMDDHHMMSSZ");
  a.fetched_at = *at;
  const auto digest = body.next(kOctetString);
  if (!digest || digest->size() != 32) return malformed("fetchedDigest is not 32 bytes");
  a.fetched_sha256 = to_hex(*digest);
  if (!body.done()) return malformed("elements follow fetchedDigest");
  // The field rules the encoder applies (office number, service type, plain text).
  const auto again = encode_attestation(a);
  if (!again.ok()) return malformed(again.error().detail);
  if (!std::equal(again.value().begin(), again.value().end(), der.begin(), der.end()))
    return malformed("not in canonical DER");
  return a;
}

Result<Bytes> sign_with_attestation(ByteView content, const Credential& gateway,
                                    const GatewayAttestation& attestation) {
  if (!gateway.certificate || !gateway.private_key)
    return Error{ErrorCode::kInvalidArgument, "signer has no certificate or key"};
  const auto value = encode_attestation(attestation);
  if (!value) return value.error();
  ERR_clear_error();
  constexpr unsigned kFlags = CMS_BINARY | CMS_NOSMIMECAP | CMS_DETACHED;
  CmsPtr cms(CMS_sign(nullptr, nullptr, nullptr, nullptr, kFlags | CMS_PARTIAL));
  if (!cms) return Error{ErrorCode::kCryptoFailure, "CMS_sign: " + take_openssl_errors()};
  CMS_SignerInfo* si = CMS_add1_signer(cms.get(), gateway.certificate.get(),
                                       gateway.private_key.get(), EVP_sha256(), kFlags);
  if (si == nullptr)
    return Error{ErrorCode::kCryptoFailure, "CMS_add1_signer: " + take_openssl_errors()};
  for (const auto& c : gateway.chain)
    if (CMS_add1_cert(cms.get(), c.get()) != 1)
      return Error{ErrorCode::kCryptoFailure, "CMS_add1_cert: " + take_openssl_errors()};
  const auto oid = attestation_oid();
  if (!oid || CMS_signed_add1_attr_by_OBJ(si, oid.get(), V_ASN1_SEQUENCE, value.value().data(),
                                          static_cast<int>(value.value().size())) != 1)
    return Error{ErrorCode::kCryptoFailure, "attestation attribute: " + take_openssl_errors()};
  auto in = memory_bio(content);
  if (!in || CMS_final(cms.get(), in.get(), nullptr, kFlags) != 1)
    return Error{ErrorCode::kCryptoFailure, "CMS_final: " + take_openssl_errors()};
  Bytes der = to_der(cms.get());
  if (der.empty()) return Error{ErrorCode::kCryptoFailure, "encoding: " + take_openssl_errors()};
  return der;
}

Result<std::optional<GatewayAttestation>> read_attestation(ByteView cms_der) {
  ERR_clear_error();
  CmsPtr cms = parse_cms_der(cms_der);
  if (!cms || OBJ_obj2nid(CMS_get0_type(cms.get())) != NID_pkcs7_signed)
    return Error{ErrorCode::kMalformed, "not CMS SignedData"};
  const auto oid = attestation_oid();
  if (!oid) return Error{ErrorCode::kCryptoFailure, "attestation OID: " + take_openssl_errors()};
  std::optional<GatewayAttestation> found;
  STACK_OF(CMS_SignerInfo)* infos = CMS_get0_SignerInfos(cms.get());
  for (int i = 0; i < sk_CMS_SignerInfo_num(infos); ++i) {
    CMS_SignerInfo* si = sk_CMS_SignerInfo_value(infos, i);
    const int at = CMS_signed_get_attr_by_OBJ(si, oid.get(), -1);
    if (at < 0) continue;
    if (CMS_signed_get_attr_by_OBJ(si, oid.get(), at) >= 0)
      return malformed("a SignerInfo carries it twice");
    if (found) return malformed("more than one SignerInfo carries one");
    X509_ATTRIBUTE* attr = CMS_signed_get_attr(si, at);
    if (X509_ATTRIBUTE_count(attr) != 1) return malformed("the attribute has not one value");
    ASN1_TYPE* v = X509_ATTRIBUTE_get0_type(attr, 0);
    if (v == nullptr || v->type != V_ASN1_SEQUENCE || v->value.sequence == nullptr)
      return malformed("the value is not a SEQUENCE");
    const ByteView der(ASN1_STRING_get0_data(v->value.sequence),
                       static_cast<std::size_t>(ASN1_STRING_length(v->value.sequence)));
    auto decoded = decode_attestation(der);
    if (!decoded) return decoded.error();
    found = std::move(decoded.value());
  }
  ERR_clear_error();
  return found;
}

std::string describe(const GatewayAttestation& a) {
  return "gateway attestation: from national office " + a.office_number +
         (a.service_type.empty() ? "" : "/" + a.service_type) + ", session " + a.session +
         ", national item " + a.national_item + ", fetched " +
         common::format_iso_seconds(a.fetched_at) + " (answer sha256 " + a.fetched_sha256 + ")";
}

}  // namespace kakehashi::mapping::cms
