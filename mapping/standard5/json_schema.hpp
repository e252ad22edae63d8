#pragma once
// A validator for the subset of JSON Schema (draft 2020-12) that schema.json uses: type, const,
// enum, pattern (the careplan Pattern subset), minLength/maxLength (code points), contentEncoding
// base64, minimum, required, properties, additionalProperties (boolean), minProperties, items,
// minItems/maxItems and local $ref into $defs. Any other keyword makes compile() fail, so the
// schema can never ask for a check this code silently skips.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <variant>
#include <vector>

#include <rapidjson/document.h>

#include "mapping/careplan/pattern.hpp"
#include "mapping/standard5/finding.hpp"

namespace kakehashi::mapping::standard5 {

class JsonSchema {
 public:
  // The compiled schema, or what in it is outside the subset (with its pointer).
  static std::variant<JsonSchema, std::string> compile(std::string_view schema_json);

  // Appends one finding per violation (S5_JSON_SCHEMA, with the JSON path) up to `max_findings`.
  void validate(const rapidjson::Value& document, Findings& out,
                std::size_t max_findings = 100) const;

 private:
  struct Node {
    unsigned types = 0;  // bit set of Type; 0 = any
    std::optional<std::string> const_value;
    std::optional<std::vector<std::string>> enum_values;
    std::optional<Pattern> pattern;
    std::optional<std::size_t> min_length, max_length, min_items, max_items, min_properties;
    std::optional<std::int64_t> minimum;
    bool base64 = false;
    std::vector<std::string> required;
    std::unordered_map<std::string, int> properties;
    bool additional = true;
    int items = -1;
    int ref = -1;
  };
  class Compiler;
  class Validator;

  std::vector<Node> nodes_;  // nodes_[0] is the root
};

}  // namespace kakehashi::mapping::standard5
