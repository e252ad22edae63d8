#pragma once
// Typed reading of one section of the JSON configuration, collecting every error with its key
// path (e.g. "adapters.national.tls.key_file: missing") instead of stopping at the first one.
// Used at startup only; each component parses its own section into its own typed struct.

#include <chrono>
#include <cstdint>
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <rapidjson/document.h>

namespace kakehashi::gateway {

struct ConfigError {
  std::string path;
  std::string message;
};

class ConfigNode {
 public:
  // `value` may be null (a missing section); `errors` must outlive the node.
  ConfigNode(const rapidjson::Value* value, std::string path, std::vector<ConfigError>* errors);

  const std::string& path() const { return path_; }
  bool present() const { return value_ != nullptr && !value_->IsNull(); }
  bool has(std::string_view key) const;

  ConfigNode child(std::string_view key) const;
  std::vector<ConfigNode> array(std::string_view key) const;
  // Keys of an object (for maps such as "adapters": {"national": {...}}).
  std::vector<std::string> keys() const;

  std::string string(std::string_view key, std::optional<std::string> fallback = std::nullopt) const;
  std::int64_t integer(std::string_view key, std::optional<std::int64_t> fallback,
                       std::int64_t min, std::int64_t max) const;
  bool boolean(std::string_view key, std::optional<bool> fallback = std::nullopt) const;
  // Milliseconds given as a number, or as a string with a unit: "250ms", "30s", "5m", "2h".
  std::chrono::milliseconds duration(std::string_view key,
                                     std::optional<std::chrono::milliseconds> fallback) const;
  std::vector<std::string> strings(std::string_view key) const;

  // Records an error at `<path>.<key>` (or at the node itself when key is empty).
  void error(std::string_view key, std::string message) const;
  // Every key not in `known` is an error ("unknown key"), so typos do not pass silently.
  void reject_unknown(std::initializer_list<std::string_view> known) const;

 private:
  const rapidjson::Value* member(std::string_view key) const;
  std::string key_path(std::string_view key) const;

  const rapidjson::Value* value_;
  std::string path_;
  std::vector<ConfigError>* errors_;
};

}  // namespace kakehashi::gateway
