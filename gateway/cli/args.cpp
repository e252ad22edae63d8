#include "gateway/cli/args.hpp"

namespace kakehashi::gateway::cli {

Args::Args(std::span<const std::string> args, std::set<std::string> flags,
           std::set<std::string> options) {
  bool only_positionals = false;
  for (std::size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (only_positionals || a.size() < 2 || a[0] != '-' || a == "-") {
      positionals_.push_back(a);
      continue;
    }
    if (a == "--") {
      only_positionals = true;
      continue;
    }
    std::string key = a;
    std::optional<std::string> value;
    if (const auto eq = a.find('='); eq != std::string::npos) {
      key = a.substr(0, eq);
      value = a.substr(eq + 1);
    }
    if (flags.count(key) != 0) {
      if (value) throw UsageError{"option " + key + " takes no value"};
      flags_.insert(key);
    } else if (options.count(key) != 0) {
      if (!value) {
        if (i + 1 >= args.size()) throw UsageError{"option " + key + " needs a value"};
        value = args[++i];
      }
      options_[key] = *value;
    } else {
      throw UsageError{"unknown option " + key};
    }
  }
}

std::optional<std::string> Args::option(const std::string& name) const {
  const auto it = options_.find(name);
  if (it == options_.end()) return std::nullopt;
  return it->second;
}

}  // namespace kakehashi::gateway::cli
