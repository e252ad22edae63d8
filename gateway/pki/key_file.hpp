#pragma once
// Reading certificates and private keys from files. Key files must not be accessible by group
// or others; their contents never appear in errors or logs.

#include <filesystem>
#include <vector>

#include "mapping/cms/credential.hpp"
#include "mapping/cms/ossl.hpp"

namespace kakehashi::pki {

// Reads a whole file; throws PkiError naming the path.
mapping::cms::Bytes read_file(const std::filesystem::path& path);

// Refuses (PkiError) a key file with any group/other permission bit, e.g. mode 0640 or 0644.
mapping::cms::EvpPkeyPtr load_private_key(const std::filesystem::path& path);

std::vector<mapping::cms::X509Ptr> load_certificates(const std::filesystem::path& path);
mapping::cms::X509Ptr load_certificate(const std::filesystem::path& path);

// Certificate (first in the file; the rest become the chain) and its matching private key.
mapping::cms::Credential load_credential(const std::filesystem::path& certificate,
                                         const std::filesystem::path& private_key);

}  // namespace kakehashi::pki
