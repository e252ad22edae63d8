#include "gateway/registry/policy_file.hpp"

#include <fstream>
#include <iterator>

namespace kakehashi::gateway::registry {

PolicyFile load_policy_file(const std::string& path, const std::vector<std::string>& networks,
                            const std::vector<std::string>& default_preference) {
  PolicyFile out;
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    out.errors.push_back("cannot read the file");
    return out;
  }
  const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  auto parsed = mapping::registry::parse_policy(text, networks);
  out.errors = std::move(parsed.errors);
  out.policy = std::move(parsed.policy);
  if (out.policy.preference.empty()) out.policy.preference = default_preference;
  return out;
}

}  // namespace kakehashi::gateway::registry
