#pragma once
// Where the parts of a DER SignedData sit in its bytes: lets us prove that a conversion left a
// sender's SignerInfo byte-identical, and lets tests aim tampering at a chosen part.

#include <cstddef>
#include <optional>
#include <vector>

#include "mapping/cms/ossl.hpp"

namespace kakehashi::mapping::cms {

struct DerSpan {
  std::size_t offset = 0;  // first byte of the element (its tag)
  std::size_t size = 0;    // tag + length + value
  std::size_t value_offset = 0;
  std::size_t value_size = 0;
};

struct SignerInfoLayout {
  DerSpan whole;
  std::optional<DerSpan> signed_attrs;  // the [0] IMPLICIT SET
  DerSpan signature;                    // the OCTET STRING
};

struct SignedDataLayout {
  std::optional<DerSpan> econtent;  // the OCTET STRING holding attached content
  std::vector<DerSpan> certificates;
  std::vector<SignerInfoLayout> signer_infos;
  DerSpan content_info;                    // the outer ContentInfo SEQUENCE (all of the input)
  DerSpan explicit_content;                // ContentInfo's [0] EXPLICIT around the SignedData
  DerSpan signed_data;                     // the SignedData SEQUENCE
  std::optional<DerSpan> certificate_set;  // the [0] IMPLICIT SET the certificates sit in
};

// Locates the parts of a ContentInfo carrying SignedData. nullopt when the bytes are not
// definite-length DER of that shape (BER indefinite lengths are not handled).
std::optional<SignedDataLayout> locate_signed_data(ByteView der);

// The DER bytes of each SignerInfo, in order (empty when the layout cannot be read).
std::vector<Bytes> signer_info_bytes(ByteView der);

}  // namespace kakehashi::mapping::cms
