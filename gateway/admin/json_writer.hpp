#pragma once
// A JSON document being written for an API answer: RapidJSON's writer with the shorthands the
// endpoints use. Strings are always given with their length, so UTF-8 (office names) is kept.

#include <cstdint>
#include <string>
#include <string_view>

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

namespace kakehashi::gateway::admin {

class JsonWriter {
 public:
  using Writer = rapidjson::Writer<rapidjson::StringBuffer>;

  Writer& w() { return w_; }
  void key(std::string_view k) { w_.Key(k.data(), static_cast<rapidjson::SizeType>(k.size())); }
  void str(std::string_view v) { w_.String(v.data(), static_cast<rapidjson::SizeType>(v.size())); }
  void kv(std::string_view k, std::string_view v) {
    key(k);
    str(v);
  }
  void kv(std::string_view k, std::int64_t v) {
    key(k);
    w_.Int64(v);
  }
  void kv_bool(std::string_view k, bool v) {
    key(k);
    w_.Bool(v);
  }
  // A time in ms as ISO 8601 with milliseconds, or null when 0 (never / unknown).
  void time(std::string_view k, std::int64_t ms);
  std::string done() const { return std::string(buf_.GetString(), buf_.GetSize()); }

 private:
  rapidjson::StringBuffer buf_;
  Writer w_{buf_};
};

}  // namespace kakehashi::gateway::admin
