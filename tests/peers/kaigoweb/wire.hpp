#pragma once
// Small wire helpers of the Kaigo WEB stand-in: §2's envelope, JST times (§1), ids, queries.

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include "adapters/common/http/message.hpp"
#include "tests/peers/kaigoweb/send_checks.hpp"

namespace kakehashi::standin::kaigoweb {

using JsonWriter = rapidjson::Writer<rapidjson::StringBuffer>;

std::int64_t now_ms();
// 2027-04-01T09:30:00.000+09:00
std::string format_jst(std::int64_t ms);
// RFC 3339 with any offset or Z (fraction optional) → milliseconds since the epoch.
std::optional<std::int64_t> parse_rfc3339(std::string_view text);
// This month in JST as YYYY*12 + (MM-1).
int current_month_jst(std::int64_t ms);

std::string random_hex(std::size_t bytes);
std::string random_uuid();
std::string random_digits(std::size_t n);

void put(JsonWriter& w, std::string_view key, std::string_view value);
void put(JsonWriter& w, std::string_view key, std::int64_t value);
void put_office(JsonWriter& w, std::string_view key, std::string_view office_no,
                std::string_view service_type);

// §2: {"result":"OK","request_id":…,"data":{…}} and {"result":"NG",…,"errors":[…]}.
adapters::http::Response ok_answer(const std::string& request_id,
                                   const std::function<void(JsonWriter&)>& data);
adapters::http::Response ng_answer(int status, const std::string& request_id,
                                   const std::vector<ApiError>& errors);
adapters::http::Response ng_answer(int status, const std::string& request_id, std::string code,
                                   std::string message, std::string field = {});

// Path segments (URL-decoded) and query parameters of a request target.
std::vector<std::string> path_segments(std::string_view target);
std::map<std::string, std::string> query_params(std::string_view target);
std::string path_only(std::string_view target);

}  // namespace kakehashi::standin::kaigoweb
