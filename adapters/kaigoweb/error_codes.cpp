#include "adapters/kaigoweb/error_codes.hpp"

#include <array>
#include <stdexcept>
#include <utility>

#include <rapidjson/document.h>

#include "adapters/common/http/json_depth.hpp"

namespace kakehashi::adapters::kaigoweb {
namespace detail {
extern const std::string_view kErrorCodesJson;
}  // namespace detail

namespace {

constexpr std::array<std::pair<ErrorClass, std::string_view>, 7> kClassNames{{
    {ErrorClass::kPermanent, "permanent"},
    {ErrorClass::kTransient, "transient"},
    {ErrorClass::kRefresh, "refresh"},
    {ErrorClass::kReauth, "reauth"},
    {ErrorClass::kLogin, "login"},
    {ErrorClass::kCredential, "credential"},
    {ErrorClass::kPerson, "person"},
}};

bool fail(std::string* problem, std::string text) {
  if (problem != nullptr) *problem = std::move(text);
  return false;
}

}  // namespace

std::string_view to_string(ErrorClass c) {
  for (const auto& [value, name] : kClassNames) {
    if (value == c) return name;
  }
  return "permanent";
}

std::optional<ErrorClass> error_class_from(std::string_view name) {
  for (const auto& [value, n] : kClassNames) {
    if (n == name) return value;
  }
  return std::nullopt;
}

std::optional<ErrorCodes> ErrorCodes::parse(std::string_view json, std::string* problem) {
  if (!http::json_nesting_within(json, http::kMaxJsonDepth)) {
    fail(problem, "/: nested too deeply");
    return std::nullopt;
  }
  rapidjson::Document doc;
  doc.Parse(json.data(), json.size());
  if (doc.HasParseError() || !doc.IsObject()) {
    fail(problem, "/: not a JSON object");
    return std::nullopt;
  }
  const auto codes = doc.FindMember("codes");
  if (codes == doc.MemberEnd() || !codes->value.IsArray()) {
    fail(problem, "/codes: missing or not an array");
    return std::nullopt;
  }
  ErrorCodes table;
  for (rapidjson::SizeType i = 0; i < codes->value.Size(); ++i) {
    const auto& e = codes->value[i];
    const std::string at = "/codes/" + std::to_string(i);
    if (!e.IsObject()) {
      fail(problem, at + ": not an object");
      return std::nullopt;
    }
    ErrorCodeInfo info;
    const auto code = e.FindMember("code");
    const auto status = e.FindMember("status");
    const auto cls = e.FindMember("class");
    const auto text = e.FindMember("text");
    if (code == e.MemberEnd() || !code->value.IsString() || code->value.GetStringLength() == 0) {
      fail(problem, at + "/code: missing or not a string");
      return std::nullopt;
    }
    if (status == e.MemberEnd() || !status->value.IsInt() || status->value.GetInt() < 200 ||
        status->value.GetInt() > 599) {
      fail(problem, at + "/status: missing or not an HTTP status");
      return std::nullopt;
    }
    std::optional<ErrorClass> c;
    if (cls != e.MemberEnd() && cls->value.IsString())
      c = error_class_from({cls->value.GetString(), cls->value.GetStringLength()});
    if (!c) {
      fail(problem, at + "/class: missing or not a known class");
      return std::nullopt;
    }
    if (text == e.MemberEnd() || !text->value.IsString()) {
      fail(problem, at + "/text: missing or not a string");
      return std::nullopt;
    }
    info.code.assign(code->value.GetString(), code->value.GetStringLength());
    if (table.find(info.code) != nullptr) {
      fail(problem, at + "/code: listed twice");
      return std::nullopt;
    }
    info.status = status->value.GetInt();
    info.error_class = *c;
    info.text.assign(text->value.GetString(), text->value.GetStringLength());
    table.codes_.push_back(std::move(info));
  }
  return table;
}

const ErrorCodes& ErrorCodes::builtin() {
  static const ErrorCodes kTable = [] {
    std::string problem;
    auto table = parse(detail::kErrorCodesJson, &problem);
    // The file is part of the build: a broken one is a build mistake the unit tests catch.
    if (!table) throw std::logic_error("adapters/kaigoweb/error_codes.json: " + problem);
    return std::move(*table);
  }();
  return kTable;
}

const ErrorCodeInfo* ErrorCodes::find(std::string_view code) const {
  for (const auto& c : codes_) {
    if (c.code == code) return &c;
  }
  return nullptr;
}

}  // namespace kakehashi::adapters::kaigoweb
