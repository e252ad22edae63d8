#include "mapping/standard5/json_schema.hpp"

#include "mapping/common/base64.hpp"

#include <array>

#include <rapidjson/error/en.h>

namespace kakehashi::mapping::standard5 {
namespace {

enum Type : unsigned {
  kString = 1,
  kInteger = 2,
  kNumber = 4,
  kObject = 8,
  kArray = 16,
  kBoolean = 32,
  kNull = 64
};

std::optional<unsigned> type_bit(std::string_view name) {
  if (name == "string") return kString;
  if (name == "integer") return kInteger;
  if (name == "number") return kNumber | kInteger;
  if (name == "object") return kObject;
  if (name == "array") return kArray;
  if (name == "boolean") return kBoolean;
  if (name == "null") return kNull;
  return std::nullopt;
}

std::string_view type_name(const rapidjson::Value& v) {
  if (v.IsString()) return "a string";
  if (v.IsObject()) return "an object";
  if (v.IsArray()) return "an array";
  if (v.IsBool()) return "a boolean";
  if (v.IsNull()) return "null";
  if (v.IsInt64() || v.IsUint64()) return "an integer";
  return "a number";
}

unsigned value_bits(const rapidjson::Value& v) {
  if (v.IsString()) return kString;
  if (v.IsObject()) return kObject;
  if (v.IsArray()) return kArray;
  if (v.IsBool()) return kBoolean;
  if (v.IsNull()) return kNull;
  if (v.IsInt64() || v.IsUint64()) return kInteger | kNumber;
  return kNumber;
}

std::size_t code_points(std::string_view s) {
  std::size_t n = 0;
  for (unsigned char c : s) n += (c & 0xC0) != 0x80 ? 1 : 0;
  return n;
}

std::string_view sv(const rapidjson::Value& v) {
  return {v.GetString(), v.GetStringLength()};
}

}  // namespace

class JsonSchema::Compiler {
 public:
  explicit Compiler(std::vector<Node>& nodes) : nodes_(nodes) {}
  std::string error;

  bool compile_root(const rapidjson::Value& root) {
    if (!root.IsObject()) return fail("", "the schema is not an object");
    nodes_.emplace_back();  // root is node 0
    if (root.HasMember("$defs")) {
      const auto& defs = root["$defs"];
      if (!defs.IsObject()) return fail("/$defs", "not an object");
      for (const auto& m : defs.GetObject()) {
        defs_.emplace(std::string(sv(m.name)), static_cast<int>(nodes_.size()));
        nodes_.emplace_back();
      }
      for (const auto& m : defs.GetObject()) {
        std::string path = "/$defs";
        append_pointer_token(path, sv(m.name));
        if (!compile(m.value, defs_.at(std::string(sv(m.name))), path)) return false;
      }
    }
    return compile(root, 0, "");
  }

 private:
  bool fail(const std::string& path, const std::string& what) {
    error = (path.empty() ? std::string("/") : path) + ": " + what;
    return false;
  }

  int compile_child(const rapidjson::Value& v, const std::string& path) {
    const int index = static_cast<int>(nodes_.size());
    nodes_.emplace_back();
    return compile(v, index, path) ? index : -1;
  }

  static std::optional<std::size_t> size_value(const rapidjson::Value& v) {
    if (!v.IsUint64()) return std::nullopt;
    return static_cast<std::size_t>(v.GetUint64());
  }

  bool compile(const rapidjson::Value& v, int index, const std::string& path) {
    if (!v.IsObject()) return fail(path, "a schema must be an object");
    for (const auto& m : v.GetObject()) {
      const std::string_view key = sv(m.name);
      const auto& val = m.value;
      std::string here = path;
      append_pointer_token(here, key);
      Node& node = nodes_[static_cast<std::size_t>(index)];  // re-taken: children may reallocate
      if (key == "$schema" || key == "$id" || key == "$comment" || key == "title" ||
          key == "description" || key == "examples" || key == "default" ||
          key == "contentMediaType") {
        continue;
      }
      if (key == "$defs") {
        if (index != 0) return fail(here, "$defs only at the root");
        continue;
      }
      if (key == "type") {
        unsigned bits = 0;
        if (val.IsString()) {
          const auto b = type_bit(sv(val));
          if (!b) return fail(here, "unknown type");
          bits = *b;
        } else if (val.IsArray()) {
          for (const auto& t : val.GetArray()) {
            const auto b = t.IsString() ? type_bit(sv(t)) : std::nullopt;
            if (!b) return fail(here, "unknown type");
            bits |= *b;
          }
        } else {
          return fail(here, "must be a string or an array");
        }
        node.types = bits;
      } else if (key == "const") {
        if (!val.IsString()) return fail(here, "only string constants are supported");
        node.const_value = std::string(sv(val));
      } else if (key == "enum") {
        if (!val.IsArray()) return fail(here, "must be an array");
        std::vector<std::string> values;
        for (const auto& e : val.GetArray()) {
          if (!e.IsString()) return fail(here, "only string enums are supported");
          values.emplace_back(sv(e));
        }
        node.enum_values = std::move(values);
      } else if (key == "pattern") {
        if (!val.IsString()) return fail(here, "must be a string");
        auto p = Pattern::compile(sv(val));
        if (!p) return fail(here, "pattern outside the supported subset");
        node.pattern = std::move(p);
      } else if (key == "minLength" || key == "maxLength" || key == "minItems" ||
                 key == "maxItems" || key == "minProperties") {
        const auto s = size_value(val);
        if (!s) return fail(here, "must be a non-negative integer");
        (key == "minLength"   ? node.min_length
         : key == "maxLength" ? node.max_length
         : key == "minItems"  ? node.min_items
         : key == "maxItems"  ? node.max_items
                              : node.min_properties) = *s;
      } else if (key == "minimum") {
        if (!val.IsInt64()) return fail(here, "only integer minimums are supported");
        node.minimum = val.GetInt64();
      } else if (key == "contentEncoding") {
        if (!val.IsString() || sv(val) != "base64") return fail(here, "only base64 is supported");
        node.base64 = true;
      } else if (key == "required") {
        if (!val.IsArray()) return fail(here, "must be an array");
        for (const auto& r : val.GetArray()) {
          if (!r.IsString()) return fail(here, "must list strings");
          node.required.emplace_back(sv(r));
        }
      } else if (key == "additionalProperties") {
        if (!val.IsBool()) return fail(here, "only true or false is supported");
        node.additional = val.GetBool();
      } else if (key == "properties") {
        if (!val.IsObject()) return fail(here, "must be an object");
        for (const auto& p : val.GetObject()) {
          std::string child_path = here;
          append_pointer_token(child_path, sv(p.name));
          const int child = compile_child(p.value, child_path);
          if (child < 0) return false;
          nodes_[static_cast<std::size_t>(index)].properties.emplace(std::string(sv(p.name)),
                                                                     child);
        }
      } else if (key == "items") {
        const int child = compile_child(val, here);
        if (child < 0) return false;
        nodes_[static_cast<std::size_t>(index)].items = child;
      } else if (key == "$ref") {
        constexpr std::string_view kPrefix = "#/$defs/";
        if (!val.IsString() || sv(val).substr(0, kPrefix.size()) != kPrefix)
          return fail(here, "only local references into $defs are supported");
        const auto it = defs_.find(std::string(sv(val).substr(kPrefix.size())));
        if (it == defs_.end()) return fail(here, "reference to an unknown definition");
        node.ref = it->second;
      } else {
        return fail(here, "keyword '" + std::string(key) + "' is outside the supported subset");
      }
    }
    return true;
  }

  std::vector<Node>& nodes_;
  std::unordered_map<std::string, int> defs_;
};

std::variant<JsonSchema, std::string> JsonSchema::compile(std::string_view schema_json) {
  rapidjson::Document doc;
  doc.Parse<rapidjson::kParseValidateEncodingFlag>(schema_json.data(), schema_json.size());
  if (doc.HasParseError()) {
    return std::string("schema is not JSON at byte ") + std::to_string(doc.GetErrorOffset()) +
           ": " + rapidjson::GetParseError_En(doc.GetParseError());
  }
  JsonSchema schema;
  Compiler compiler(schema.nodes_);
  if (!compiler.compile_root(doc)) return compiler.error;
  return schema;
}

class JsonSchema::Validator {
 public:
  Validator(const std::vector<Node>& nodes, Findings& out, std::size_t max)
      : nodes_(nodes), out_(out), max_(max) {}

  void run(const rapidjson::Value& v, int index, std::string& path, int depth) {
    if (full_) return;
    if (depth > 64) {
      add(path, "nested too deeply");
      return;
    }
    const Node& node = nodes_[static_cast<std::size_t>(index)];
    if (node.ref >= 0) run(v, node.ref, path, depth + 1);
    if (node.types != 0 && (value_bits(v) & node.types) == 0) {
      add(path, "expected " + expected(node.types) + ", found " + std::string(type_name(v)));
      return;
    }
    if (v.IsString()) check_string(node, sv(v), path);
    if (node.const_value && !(v.IsString() && sv(v) == *node.const_value))
      add(path, "must be \"" + *node.const_value + "\"");
    if (node.minimum && v.IsInt64() && v.GetInt64() < *node.minimum)
      add(path, "must be at least " + std::to_string(*node.minimum));
    if (v.IsObject()) check_object(node, v, path, depth);
    if (v.IsArray()) check_array(node, v, path, depth);
  }

 private:
  static std::string expected(unsigned types) {
    static constexpr std::array<std::pair<unsigned, std::string_view>, 7> kNames{
        {{kString, "a string"},
         {kInteger, "an integer"},
         {kNumber, "a number"},
         {kObject, "an object"},
         {kArray, "an array"},
         {kBoolean, "a boolean"},
         {kNull, "null"}}};
    std::string s;
    for (const auto& [bit, name] : kNames) {
      if ((types & bit) == 0 || (bit == kInteger && (types & kNumber) != 0)) continue;
      s += (s.empty() ? "" : " or ") + std::string(name);
    }
    return s;
  }

  void check_string(const Node& node, std::string_view s, const std::string& path) {
    if (node.enum_values) {
      bool found = false;
      for (const auto& e : *node.enum_values) found = found || e == s;
      if (!found) add(path, "value is not one of the codes the schema allows");
      return;
    }
    if (node.min_length || node.max_length) {
      const std::size_t n = code_points(s);
      if (node.min_length && n < *node.min_length) {
        add(path, *node.min_length == 1
                      ? "must not be empty (omit an empty item)"
                      : "shorter than " + std::to_string(*node.min_length) + " characters");
        return;
      }
      if (node.max_length && n > *node.max_length) {
        add(path, std::to_string(n) + " characters; at most " + std::to_string(*node.max_length) +
                      " allowed");
        return;
      }
    }
    if (node.pattern && !node.pattern->matches(s))
      add(path, "does not match the format " + node.pattern->source());
    if (node.base64 && !common::base64_decode(s)) add(path, "not base64 (RFC 4648, padded)");
  }

  void check_object(const Node& node, const rapidjson::Value& v, std::string& path, int depth) {
    for (const auto& r : node.required) {
      if (!v.HasMember(rapidjson::StringRef(r.data(), r.size()))) {
        std::string p = path;
        append_pointer_token(p, r);
        add(p, "required item is missing", r);
      }
    }
    if (node.min_properties && v.MemberCount() < *node.min_properties)
      add(path, "must have at least " + std::to_string(*node.min_properties) + " item(s)");
    for (const auto& m : v.GetObject()) {
      const std::string key(sv(m.name));
      const std::size_t mark = path.size();
      append_pointer_token(path, key);
      const auto it = node.properties.find(key);
      if (it != node.properties.end()) {
        run(m.value, it->second, path, depth + 1);
      } else if (!node.additional) {
        add(path, "item not in the schema", key);
      }
      path.resize(mark);
    }
  }

  void check_array(const Node& node, const rapidjson::Value& v, std::string& path, int depth) {
    const std::size_t n = v.Size();
    if (node.min_items && n < *node.min_items)
      add(path, "must have at least " + std::to_string(*node.min_items) + " element(s)");
    if (node.max_items && n > *node.max_items)
      add(path, "must have at most " + std::to_string(*node.max_items) + " element(s)");
    if (node.items < 0) return;
    for (std::size_t i = 0; i < n && !full_; ++i) {
      const std::size_t mark = path.size();
      append_pointer_index(path, i);
      run(v[static_cast<rapidjson::SizeType>(i)], node.items, path, depth + 1);
      path.resize(mark);
    }
  }

  void add(const std::string& path, std::string message, std::string field = {}) {
    if (full_) return;
    if (out_.size() >= max_) {
      full_ = true;
      Finding f;
      f.code = std::string(codes::kTooManyFindings);
      f.message = "more problems not listed";
      out_.push_back(std::move(f));
      return;
    }
    Finding f;
    f.code = std::string(codes::kJsonSchema);
    f.json_path = path.empty() ? "/" : path;  // "" is the whole document in RFC 6901
    f.field = std::move(field);
    f.message = std::move(message);
    out_.push_back(std::move(f));
  }

  const std::vector<Node>& nodes_;
  Findings& out_;
  std::size_t max_;
  bool full_ = false;
};

void JsonSchema::validate(const rapidjson::Value& document, Findings& out,
                          std::size_t max_findings) const {
  Validator validator(nodes_, out, max_findings);
  std::string path;
  validator.run(document, 0, path, 0);
}

}  // namespace kakehashi::mapping::standard5
