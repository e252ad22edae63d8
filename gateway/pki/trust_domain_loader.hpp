#pragma once
// Loads a trust domain directory (domain.conf, anchors, intermediates/, crls/) into a
// mapping::cms::TrustDomain. Layout and format: mapping/cms/README.md.

#include <filesystem>

#include "mapping/cms/trust_domain.hpp"

namespace kakehashi::gateway::pki {

// Throws PkiError naming the file (and line) on any problem: this runs at startup.
mapping::cms::TrustDomain load_trust_domain(const std::filesystem::path& dir);

}  // namespace kakehashi::gateway::pki
