#pragma once
// Detached ⇄ attached SignedData without re-signing: only the eContent field changes, and every
// SignerInfo is proven byte-identical (DER) before the result is returned.

#include "mapping/cms/ossl.hpp"
#include "mapping/cms/result.hpp"

namespace kakehashi::mapping::cms {

struct DetachedSignature {
  Bytes signature;  // SignedData without eContent
  Bytes content;    // the exact bytes that were embedded
};

// Attached → detached (national → regional).
Result<DetachedSignature> detach_content(ByteView attached_der);

// Detached → attached (regional → national). The content must match every SignerInfo's
// messageDigest, so a wrong file is never wrapped into a signature it does not belong to.
Result<Bytes> attach_content(ByteView detached_der, ByteView content);

}  // namespace kakehashi::mapping::cms
