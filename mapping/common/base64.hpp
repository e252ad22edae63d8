#pragma once
// Base64 (RFC 4648 §4: standard alphabet, padded), one implementation for the whole tree.
// Decoding is strict: no whitespace, padding only at the end, and the bits the padding drops
// must be zero, so each text has exactly one meaning.

#include <optional>
#include <string>
#include <string_view>

namespace kakehashi::mapping::common {

std::string base64_encode(std::string_view bytes);

// The bytes, or nullopt when `text` is not canonical padded base64 ("" decodes to "").
std::optional<std::string> base64_decode(std::string_view text);

}  // namespace kakehashi::mapping::common
