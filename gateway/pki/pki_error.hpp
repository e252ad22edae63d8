#pragma once
// Raised at startup when PKI material (trust domain, key, certificate) cannot be loaded.

#include <stdexcept>

namespace kakehashi::gateway::pki {

class PkiError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

}  // namespace kakehashi::gateway::pki
