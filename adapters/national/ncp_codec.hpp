#pragma once
// Small encodings shared by the NCP API's two sides (adapter and stand-in): base64, opaque
// cursors, error bodies. Pure functions; no I/O.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "adapters/common/http/json_depth.hpp"
#include "mapping/common/base64.hpp"

namespace kakehashi::adapters::national {

// Base64 is mapping/common's: canonical only (RFC 4648 §3.5), nullopt on anything else.
using mapping::common::base64_decode;
using mapping::common::base64_encode;

// Opaque cursor for a position in an ordered list: "<scope>:<n>" in base64, so clients cannot
// lean on its shape.
std::string make_cursor(std::string_view scope, std::int64_t position);
std::optional<std::int64_t> read_cursor(std::string_view scope, std::string_view cursor);

// `{"error":{"code","message","details"}}`; details_json must be a JSON object text.
std::string error_body(std::string_view code, std::string_view message,
                       std::string_view details_json = "{}");

// The nesting guard run before every parse (shared with the regional side).
using http::json_nesting_within;
using http::kMaxJsonDepth;

// The error code in an error body, or "" when the body is not one.
std::string error_code_of(std::string_view body);
// `error.details.transmission_id` of an error answer (409 idempotency_conflict names the key's
// first transmission there); "" when absent or not an error body.
std::string conflict_transmission_id(std::string_view body);

// Percent-encoding of a query or path component (unreserved characters kept).
std::string url_encode(std::string_view text);
std::string url_decode(std::string_view text);

// Value of `key` in the query part of `target` ("" when absent).
std::string query_param(std::string_view target, std::string_view key);

}  // namespace kakehashi::adapters::national
