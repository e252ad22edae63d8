#include "gateway/config/config_node.hpp"

#include <algorithm>
#include <cctype>

namespace kakehashi::gateway {

ConfigNode::ConfigNode(const rapidjson::Value* value, std::string path,
                       std::vector<ConfigError>* errors)
    : value_(value), path_(std::move(path)), errors_(errors) {}

std::string ConfigNode::key_path(std::string_view key) const {
  if (key.empty()) return path_;
  return path_.empty() ? std::string(key) : path_ + "." + std::string(key);
}

const rapidjson::Value* ConfigNode::member(std::string_view key) const {
  if (value_ == nullptr || !value_->IsObject()) return nullptr;
  const auto it = value_->FindMember(
      rapidjson::Value(rapidjson::StringRef(key.data(), static_cast<rapidjson::SizeType>(key.size()))));
  if (it == value_->MemberEnd() || it->value.IsNull()) return nullptr;
  return &it->value;
}

bool ConfigNode::has(std::string_view key) const { return member(key) != nullptr; }

ConfigNode ConfigNode::child(std::string_view key) const {
  const auto* v = member(key);
  if (v != nullptr && !v->IsObject()) {
    error(key, "must be an object");
    v = nullptr;
  }
  return ConfigNode(v, key_path(key), errors_);
}

std::vector<ConfigNode> ConfigNode::array(std::string_view key) const {
  std::vector<ConfigNode> out;
  const auto* v = member(key);
  if (v == nullptr) return out;
  if (!v->IsArray()) {
    error(key, "must be an array");
    return out;
  }
  for (rapidjson::SizeType i = 0; i < v->Size(); ++i)
    out.emplace_back(&(*v)[i], key_path(key) + "[" + std::to_string(i) + "]", errors_);
  return out;
}

std::vector<std::string> ConfigNode::keys() const {
  std::vector<std::string> out;
  if (value_ == nullptr || !value_->IsObject()) return out;
  for (auto it = value_->MemberBegin(); it != value_->MemberEnd(); ++it)
    out.emplace_back(it->name.GetString(), it->name.GetStringLength());
  return out;
}

std::string ConfigNode::string(std::string_view key, std::optional<std::string> fallback) const {
  const auto* v = member(key);
  if (v == nullptr) {
    if (!fallback) error(key, "missing (a string is required)");
    return fallback.value_or("");
  }
  if (!v->IsString()) {
    error(key, "must be a string");
    return fallback.value_or("");
  }
  return {v->GetString(), v->GetStringLength()};
}

std::int64_t ConfigNode::integer(std::string_view key, std::optional<std::int64_t> fallback,
                                 std::int64_t min, std::int64_t max) const {
  const auto* v = member(key);
  if (v == nullptr) {
    if (!fallback) error(key, "missing (an integer is required)");
    return fallback.value_or(min);
  }
  if (!v->IsInt64()) {
    error(key, "must be an integer");
    return fallback.value_or(min);
  }
  const auto n = v->GetInt64();
  if (n < min || n > max) {
    error(key, "must be between " + std::to_string(min) + " and " + std::to_string(max));
    return std::clamp(n, min, max);
  }
  return n;
}

bool ConfigNode::boolean(std::string_view key, std::optional<bool> fallback) const {
  const auto* v = member(key);
  if (v == nullptr) {
    if (!fallback) error(key, "missing (true or false is required)");
    return fallback.value_or(false);
  }
  if (!v->IsBool()) {
    error(key, "must be true or false");
    return fallback.value_or(false);
  }
  return v->GetBool();
}

std::chrono::milliseconds ConfigNode::duration(
    std::string_view key, std::optional<std::chrono::milliseconds> fallback) const {
  const auto* v = member(key);
  if (v == nullptr) {
    if (!fallback) error(key, "missing (a duration such as \"30s\" is required)");
    return fallback.value_or(std::chrono::milliseconds{0});
  }
  if (v->IsUint64()) return std::chrono::milliseconds{static_cast<std::int64_t>(v->GetUint64())};
  if (v->IsString()) {
    const std::string s(v->GetString(), v->GetStringLength());
    std::size_t i = 0;
    std::int64_t n = 0;
    while (i < s.size() && std::isdigit(static_cast<unsigned char>(s[i])) && n < 1'000'000'000'000)
      n = n * 10 + (s[i++] - '0');
    const std::string unit = s.substr(i);
    if (i > 0) {
      if (unit == "ms") return std::chrono::milliseconds{n};
      if (unit == "s") return std::chrono::seconds{n};
      if (unit == "m") return std::chrono::minutes{n};
      if (unit == "h") return std::chrono::hours{n};
      if (unit == "d") return std::chrono::hours{24 * n};
    }
  }
  error(key, "must be a duration: milliseconds, or a string like \"250ms\", \"30s\", \"5m\", \"2h\", \"7d\"");
  return fallback.value_or(std::chrono::milliseconds{0});
}

std::vector<std::string> ConfigNode::strings(std::string_view key) const {
  std::vector<std::string> out;
  const auto* v = member(key);
  if (v == nullptr) return out;
  if (!v->IsArray()) {
    error(key, "must be an array of strings");
    return out;
  }
  for (rapidjson::SizeType i = 0; i < v->Size(); ++i) {
    if (!(*v)[i].IsString()) {
      error(std::string(key) + "[" + std::to_string(i) + "]", "must be a string");
      continue;
    }
    out.emplace_back((*v)[i].GetString(), (*v)[i].GetStringLength());
  }
  return out;
}

void ConfigNode::error(std::string_view key, std::string message) const {
  if (errors_ != nullptr) errors_->push_back({key_path(key), std::move(message)});
}

void ConfigNode::reject_unknown(std::initializer_list<std::string_view> known) const {
  if (value_ == nullptr || !value_->IsObject()) return;
  for (auto it = value_->MemberBegin(); it != value_->MemberEnd(); ++it) {
    const std::string_view k(it->name.GetString(), it->name.GetStringLength());
    if (std::find(known.begin(), known.end(), k) == known.end()) error(k, "unknown key");
  }
}

}  // namespace kakehashi::gateway
