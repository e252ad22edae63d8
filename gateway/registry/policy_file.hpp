#pragma once
// The per-office overrides file (config/registry-overrides.example.json): which network delivers
// an office listed on several. Read by `kakehashi run` (routing.overrides_file, again on SIGHUP),
// checked by `kakehashi config check`, and used by `kakehashi registry`.

#include <string>
#include <vector>

#include "mapping/registry/policy.hpp"

namespace kakehashi::gateway::registry {

struct PolicyFile {
  mapping::registry::Policy policy;
  std::vector<std::string> errors;  // "key.path: message" inside the file, empty when valid
  bool ok() const { return errors.empty(); }
};

// Reads and validates `path` against the configured network names. A file without its own
// `preference` takes `default_preference` (routing.preference of the gateway config).
PolicyFile load_policy_file(const std::string& path, const std::vector<std::string>& networks,
                            const std::vector<std::string>& default_preference);

}  // namespace kakehashi::gateway::registry
