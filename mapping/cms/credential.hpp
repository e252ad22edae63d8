#pragma once
// A certificate with its private key (and issuing chain): what signs, co-signs and decrypts.

#include <vector>

#include "mapping/cms/ossl.hpp"

namespace kakehashi::mapping::cms {

struct Credential {
  X509Ptr certificate;
  EvpPkeyPtr private_key;
  std::vector<X509Ptr> chain;  // intermediates to embed; anchors are not needed
};

}  // namespace kakehashi::mapping::cms
