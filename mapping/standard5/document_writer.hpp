#pragma once
// Helpers shared by to_v5 and from_v5: building and reading nested JSON paths of a record.
// Internal to the module.

#include <span>
#include <string>
#include <string_view>

#include <rapidjson/document.h>

namespace kakehashi::mapping::standard5::detail {

inline rapidjson::Value json_string(std::string_view s, rapidjson::Document::AllocatorType& a) {
  return rapidjson::Value(s.data(), static_cast<rapidjson::SizeType>(s.size()), a);
}

// Sets `value` at `path` under `object`, creating intermediate objects.
inline void set_path(rapidjson::Value& object, std::span<const std::string> path,
                     rapidjson::Value value, rapidjson::Document::AllocatorType& a) {
  rapidjson::Value* at = &object;
  for (std::size_t i = 0; i + 1 < path.size(); ++i) {
    const rapidjson::Value key(rapidjson::StringRef(path[i].data(), path[i].size()));
    if (!at->HasMember(key))
      at->AddMember(json_string(path[i], a), rapidjson::Value(rapidjson::kObjectType), a);
    at = &(*at)[key];
  }
  at->AddMember(json_string(path.back(), a), std::move(value), a);
}

// The value at `path` under `object`, or nullptr.
inline const rapidjson::Value* get_path(const rapidjson::Value& object,
                                        std::span<const std::string> path) {
  const rapidjson::Value* at = &object;
  for (const auto& key : path) {
    if (!at->IsObject()) return nullptr;
    const auto it = at->FindMember(rapidjson::StringRef(key.data(), key.size()));
    if (it == at->MemberEnd()) return nullptr;
    at = &it->value;
  }
  return at;
}

}  // namespace kakehashi::mapping::standard5::detail
