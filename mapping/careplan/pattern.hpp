#pragma once
// A small, fast matcher for the field patterns of layouts.json. They use only anchors, literal
// characters, escapes, character classes, non-capturing groups with alternation and the
// quantifiers ? * + {n} {n,m}; std::regex is far too slow for millions of fields per second.

#include <bitset>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace kakehashi::mapping {

class Pattern {
 public:
  // nullopt when the pattern uses syntax outside the subset (the layouts test keeps this honest).
  static std::optional<Pattern> compile(std::string_view source);

  bool matches(std::string_view text) const;  // whole-string match (patterns are anchored)
  const std::string& source() const { return source_; }

  struct Node;
  using Sequence = std::vector<Node>;
  struct Node {
    std::bitset<256> set;                // for single-character nodes
    std::vector<Sequence> alternatives;  // for groups (empty: single character)
    int min = 1;
    int max = 1;                         // -1: unbounded
  };

 private:
  std::string source_;
  Sequence root_;
};

}  // namespace kakehashi::mapping
