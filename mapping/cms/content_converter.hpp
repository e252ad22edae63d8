#pragma once
// Detached ⇄ attached SignedData without re-signing: only the eContent field changes, and every
// SignerInfo is proven byte-identical (DER) before the result is returned.

#include <vector>

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

// attach_content before its encoding: the decoded structure with eContent set, after the same
// checks; `signer_infos` receives the original SignerInfos' DER, which any encoding of the
// structure must keep byte-identical. For work that continues on the structure (attach_and_cosign).
Result<CmsPtr> attach_content_unencoded(ByteView detached_der, ByteView content,
                                        std::vector<Bytes>& signer_infos);

}  // namespace kakehashi::mapping::cms
