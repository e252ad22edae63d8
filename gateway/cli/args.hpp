#pragma once
// A small argument parser for subcommands: --flag, --key VALUE, --key=VALUE and positionals.

#include <map>
#include <optional>
#include <set>
#include <span>
#include <string>
#include <vector>

namespace kakehashi::gateway::cli {

class Args {
 public:
  // flags: options without a value; options: options that take a value.
  // Throws UsageError on unknown options or a missing value.
  Args(std::span<const std::string> args, std::set<std::string> flags,
       std::set<std::string> options);

  bool flag(const std::string& name) const { return flags_.count(name) != 0; }
  std::optional<std::string> option(const std::string& name) const;
  const std::vector<std::string>& positionals() const { return positionals_; }

 private:
  std::set<std::string> flags_;
  std::map<std::string, std::string> options_;
  std::vector<std::string> positionals_;
};

struct UsageError {
  std::string message;
};

}  // namespace kakehashi::gateway::cli
