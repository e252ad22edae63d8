#include "mapping/cms/der_layout.hpp"

namespace kakehashi::mapping::cms {

namespace {

constexpr std::uint8_t kSequence = 0x30;
constexpr std::uint8_t kSet = 0x31;
constexpr std::uint8_t kOctetString = 0x04;
constexpr std::uint8_t kContext0 = 0xA0;
constexpr std::uint8_t kContext1 = 0xA1;

// Reads one TLV at `offset` that must end within `end`.
std::optional<DerSpan> read_tlv(ByteView der, std::size_t offset, std::size_t end) {
  if (offset + 2 > end) return std::nullopt;
  if ((der[offset] & 0x1F) == 0x1F) return std::nullopt;  // high tag numbers do not occur here
  std::size_t pos = offset + 1;
  std::size_t len = der[pos++];
  if (len == 0x80) return std::nullopt;  // indefinite length (BER)
  if (len & 0x80) {
    const std::size_t n = len & 0x7F;
    if (n == 0 || n > 4 || pos + n > end) return std::nullopt;
    len = 0;
    for (std::size_t i = 0; i < n; ++i) len = (len << 8) | der[pos++];
  }
  if (len > end - pos) return std::nullopt;
  return DerSpan{offset, pos - offset + len, pos, len};
}

// Children of a constructed element.
std::optional<std::vector<DerSpan>> children(ByteView der, const DerSpan& parent) {
  std::vector<DerSpan> out;
  std::size_t pos = parent.value_offset;
  const std::size_t end = parent.value_offset + parent.value_size;
  while (pos < end) {
    auto c = read_tlv(der, pos, end);
    if (!c) return std::nullopt;
    out.push_back(*c);
    pos = c->offset + c->size;
  }
  return out;
}

std::optional<SignerInfoLayout> read_signer_info(ByteView der, const DerSpan& si) {
  auto parts = children(der, si);
  // version, sid, digestAlgorithm, [signedAttrs], signatureAlgorithm, signature, [unsigned]
  if (!parts || parts->size() < 5) return std::nullopt;
  SignerInfoLayout out{si, std::nullopt, {}};
  std::size_t i = 3;
  if (der[(*parts)[i].offset] == kContext0) out.signed_attrs = (*parts)[i++];
  if (i + 1 >= parts->size()) return std::nullopt;
  const DerSpan& sig = (*parts)[i + 1];
  if (der[sig.offset] != kOctetString) return std::nullopt;
  out.signature = sig;
  return out;
}

}  // namespace

std::optional<SignedDataLayout> locate_signed_data(ByteView der) {
  auto ci = read_tlv(der, 0, der.size());
  if (!ci || der[0] != kSequence || ci->size != der.size()) return std::nullopt;
  auto ci_parts = children(der, *ci);
  if (!ci_parts || ci_parts->size() != 2 || der[(*ci_parts)[1].offset] != kContext0) {
    return std::nullopt;
  }
  auto explicit_sd = children(der, (*ci_parts)[1]);
  if (!explicit_sd || explicit_sd->size() != 1 || der[(*explicit_sd)[0].offset] != kSequence) {
    return std::nullopt;
  }
  auto sd = children(der, (*explicit_sd)[0]);
  if (!sd || sd->size() < 4) return std::nullopt;
  SignedDataLayout out;
  out.content_info = *ci;
  out.explicit_content = (*ci_parts)[1];
  out.signed_data = (*explicit_sd)[0];
  // encapContentInfo: SEQUENCE { eContentType, [0] EXPLICIT OCTET STRING OPTIONAL }
  const DerSpan& encap = (*sd)[2];
  if (der[encap.offset] != kSequence) return std::nullopt;
  auto encap_parts = children(der, encap);
  if (!encap_parts || encap_parts->empty()) return std::nullopt;
  if (encap_parts->size() == 2) {
    auto inner = children(der, (*encap_parts)[1]);
    if (!inner || inner->size() != 1 || der[(*inner)[0].offset] != kOctetString) {
      return std::nullopt;
    }
    out.econtent = (*inner)[0];
  }
  std::size_t i = 3;
  if (i < sd->size() && der[(*sd)[i].offset] == kContext0) {
    auto certs = children(der, (*sd)[i]);
    if (!certs) return std::nullopt;
    out.certificate_set = (*sd)[i];
    out.certificates = *certs;
    ++i;
  }
  if (i < sd->size() && der[(*sd)[i].offset] == kContext1) ++i;
  if (i + 1 != sd->size() || der[(*sd)[i].offset] != kSet) return std::nullopt;
  auto sis = children(der, (*sd)[i]);
  if (!sis) return std::nullopt;
  for (const auto& si : *sis) {
    auto layout = read_signer_info(der, si);
    if (!layout) return std::nullopt;
    out.signer_infos.push_back(*layout);
  }
  return out;
}

std::vector<Bytes> signer_info_bytes(ByteView der) {
  std::vector<Bytes> out;
  const auto layout = locate_signed_data(der);
  if (!layout) return out;
  for (const auto& si : layout->signer_infos) {
    const auto part = der.subspan(si.whole.offset, si.whole.size);
    out.emplace_back(part.begin(), part.end());
  }
  return out;
}

}  // namespace kakehashi::mapping::cms
