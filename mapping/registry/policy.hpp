#pragma once
// Which network delivers an office that lives on several: a preference order of network names
// and per-office overrides, read from a JSON file in config/ (registry-overrides.example.json).

#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "mapping/registry/office.hpp"

namespace kakehashi::mapping::registry {

struct Override {
  std::string network;
  std::string reason;  // why the operator chose it (shown by `kakehashi registry show`)
};

struct Policy {
  std::vector<std::string> preference;  // network names, most preferred first
  std::map<OfficeKey, Override> overrides;
};

struct PolicyResult {
  Policy policy;
  std::vector<std::string> errors;  // "key.path: message", empty when the file is valid
  bool ok() const { return errors.empty(); }
};

// Parses {"preference":[...], "overrides":[{"office_no","service_type","network","reason"}]}.
// `networks` are the configured network names; anything naming another one is an error.
PolicyResult parse_policy(std::string_view json, const std::vector<std::string>& networks);

}  // namespace kakehashi::mapping::registry
