#include "adapters/national/ncp_codec.hpp"

#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

namespace kakehashi::adapters::national {
std::string make_cursor(std::string_view scope, std::int64_t position) {
  return base64_encode(std::string(scope) + ":" + std::to_string(position));
}

std::optional<std::int64_t> read_cursor(std::string_view scope, std::string_view cursor) {
  if (cursor.empty()) return 0;
  const auto text = base64_decode(cursor);
  if (!text || text->size() <= scope.size() + 1 || text->compare(0, scope.size(), scope) != 0 ||
      (*text)[scope.size()] != ':') {
    return std::nullopt;
  }
  std::int64_t n = 0;
  for (std::size_t i = scope.size() + 1; i < text->size(); ++i) {
    const char c = (*text)[i];
    if (c < '0' || c > '9' || n > 1'000'000'000'000) return std::nullopt;
    n = n * 10 + (c - '0');
  }
  return n;
}

std::string error_body(std::string_view code, std::string_view message,
                       std::string_view details_json) {
  rapidjson::StringBuffer buffer;
  rapidjson::Writer<rapidjson::StringBuffer> w(buffer);
  w.StartObject();
  w.Key("error");
  w.StartObject();
  w.Key("code");
  w.String(code.data(), static_cast<rapidjson::SizeType>(code.size()));
  w.Key("message");
  w.String(message.data(), static_cast<rapidjson::SizeType>(message.size()));
  w.Key("details");
  w.RawValue(details_json.data(), details_json.size(), rapidjson::kObjectType);
  w.EndObject();
  w.EndObject();
  return buffer.GetString();
}

std::string error_code_of(std::string_view body) {
  if (!json_nesting_within(body)) return {};
  rapidjson::Document d;
  d.Parse(body.data(), body.size());
  if (d.HasParseError() || !d.IsObject()) return {};
  const auto e = d.FindMember("error");
  if (e == d.MemberEnd() || !e->value.IsObject()) return {};
  const auto c = e->value.FindMember("code");
  if (c == e->value.MemberEnd() || !c->value.IsString()) return {};
  return c->value.GetString();
}

std::string conflict_transmission_id(std::string_view body) {
  if (!json_nesting_within(body)) return {};
  rapidjson::Document d;
  d.Parse(body.data(), body.size());
  if (d.HasParseError() || !d.IsObject()) return {};
  const auto e = d.FindMember("error");
  if (e == d.MemberEnd() || !e->value.IsObject()) return {};
  const auto details = e->value.FindMember("details");
  if (details == e->value.MemberEnd() || !details->value.IsObject()) return {};
  const auto id = details->value.FindMember("transmission_id");
  if (id == details->value.MemberEnd() || !id->value.IsString()) return {};
  return {id->value.GetString(), id->value.GetStringLength()};
}

std::string url_encode(std::string_view text) {
  static constexpr std::string_view kHex = "0123456789ABCDEF";
  std::string out;
  for (const char c : text) {
    const auto u = static_cast<unsigned char>(c);
    if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
        c == '_' || c == '.' || c == '~') {
      out += c;
    } else {
      out += '%';
      out += kHex[u >> 4];
      out += kHex[u & 15];
    }
  }
  return out;
}

std::string url_decode(std::string_view text) {
  std::string out;
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '%' && i + 2 < text.size()) {
      auto hex = [](char c) {
        if (c >= '0' && c <= '9') return c - '0';
        if (c >= 'A' && c <= 'F') return c - 'A' + 10;
        if (c >= 'a' && c <= 'f') return c - 'a' + 10;
        return -1;
      };
      const int hi = hex(text[i + 1]);
      const int lo = hex(text[i + 2]);
      if (hi >= 0 && lo >= 0) {
        out += static_cast<char>(hi * 16 + lo);
        i += 2;
        continue;
      }
    }
    out += text[i] == '+' ? ' ' : text[i];
  }
  return out;
}

std::string query_param(std::string_view target, std::string_view key) {
  const auto q = target.find('?');
  if (q == std::string_view::npos) return {};
  std::string_view rest = target.substr(q + 1);
  while (!rest.empty()) {
    const auto amp = rest.find('&');
    const std::string_view pair = rest.substr(0, amp);
    const auto eq = pair.find('=');
    if (pair.substr(0, eq) == key) {
      return eq == std::string_view::npos ? std::string() : url_decode(pair.substr(eq + 1));
    }
    if (amp == std::string_view::npos) break;
    rest = rest.substr(amp + 1);
  }
  return {};
}

}  // namespace kakehashi::adapters::national
