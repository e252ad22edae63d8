#include "mapping/registry/policy.hpp"

#include <algorithm>

#include <rapidjson/document.h>
#include <rapidjson/error/en.h>

namespace kakehashi::mapping::registry {

PolicyResult parse_policy(std::string_view json, const std::vector<std::string>& networks) {
  PolicyResult out;
  rapidjson::Document doc;
  doc.Parse(json.data(), json.size());
  if (doc.HasParseError()) {
    out.errors.push_back("offset " + std::to_string(doc.GetErrorOffset()) + ": " +
                         rapidjson::GetParseError_En(doc.GetParseError()));
    return out;
  }
  if (!doc.IsObject()) {
    out.errors.push_back(": must be an object");
    return out;
  }
  const auto known = [&](const std::string& n) {
    return std::find(networks.begin(), networks.end(), n) != networks.end();
  };
  for (auto m = doc.MemberBegin(); m != doc.MemberEnd(); ++m) {
    const std::string k = m->name.GetString();
    if (k != "preference" && k != "overrides" && k != "comment") out.errors.push_back(k + ": unknown key");
  }
  if (doc.HasMember("preference")) {
    const auto& p = doc["preference"];
    if (!p.IsArray()) {
      out.errors.push_back("preference: must be an array of network names");
    } else {
      for (rapidjson::SizeType i = 0; i < p.Size(); ++i) {
        const std::string path = "preference[" + std::to_string(i) + "]";
        if (!p[i].IsString()) {
          out.errors.push_back(path + ": must be a string");
        } else if (!known(p[i].GetString())) {
          out.errors.push_back(path + ": names no configured network: " + p[i].GetString());
        } else {
          out.policy.preference.emplace_back(p[i].GetString());
        }
      }
    }
  }
  if (doc.HasMember("overrides")) {
    const auto& list = doc["overrides"];
    if (!list.IsArray()) {
      out.errors.push_back("overrides: must be an array");
      return out;
    }
    for (rapidjson::SizeType i = 0; i < list.Size(); ++i) {
      const std::string path = "overrides[" + std::to_string(i) + "]";
      const auto& o = list[i];
      if (!o.IsObject()) {
        out.errors.push_back(path + ": must be an object");
        continue;
      }
      const auto text = [&](const char* key, bool required) -> std::string {
        if (!o.HasMember(key)) {
          if (required) out.errors.push_back(path + "." + key + ": missing");
          return "";
        }
        if (!o[key].IsString()) {
          out.errors.push_back(path + "." + key + ": must be a string");
          return "";
        }
        return o[key].GetString();
      };
      OfficeKey key{text("office_no", true), text("service_type", true)};
      Override ov{text("network", true), text("reason", false)};
      if (!ov.network.empty() && !known(ov.network)) {
        out.errors.push_back(path + ".network: names no configured network: " + ov.network);
        continue;
      }
      if (key.office_no.empty() || key.service_type.empty() || ov.network.empty()) continue;
      if (!out.policy.overrides.emplace(key, ov).second) {
        out.errors.push_back(path + ": a second override for " + key.str());
      }
    }
  }
  return out;
}

}  // namespace kakehashi::mapping::registry
