#pragma once
// Reading certificates and private keys from files. Key files must not be accessible by group
// or others; their contents never appear in errors or logs.

#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "mapping/cms/credential.hpp"
#include "mapping/cms/ossl.hpp"

namespace kakehashi::gateway::pki {

// Reads a whole file; throws PkiError naming the path.
mapping::cms::Bytes read_file(const std::filesystem::path& path);

// Secrets (private keys, password files, the audit HMAC key, the payload key) must be regular
// files with no group/other permission bit: `run` refuses them (read_secret_file) and `config
// check` reports them (secret_file_problem), with the same wording and the path named.

// Why `path` may not hold a secret (not a regular file, or mode 0640/0644...), or nullopt when it
// is fine or does not exist (existence is the config's own check). Never reads the file.
std::optional<std::string> secret_file_problem(const std::filesystem::path& path,
                                               std::string_view what);

// Reads a secret whole; throws PkiError naming `what` and the path when it cannot be opened, is
// not a regular file or is accessible by group or others. Checked on the descriptor that is read,
// so the file cannot be swapped between the check and the read.
mapping::cms::Bytes read_secret_file(const std::filesystem::path& path, std::string_view what);

// read_secret_file(path, "private key"), parsed.
mapping::cms::EvpPkeyPtr load_private_key(const std::filesystem::path& path);

std::vector<mapping::cms::X509Ptr> load_certificates(const std::filesystem::path& path);
mapping::cms::X509Ptr load_certificate(const std::filesystem::path& path);

// Certificate (first in the file; the rest become the chain) and its matching private key.
mapping::cms::Credential load_credential(const std::filesystem::path& certificate,
                                         const std::filesystem::path& private_key);

}  // namespace kakehashi::gateway::pki
