#pragma once
// Name normalisation for comparing how two networks spell one office: the NFKC foldings that
// matter for Japanese office names (full-width ASCII, half-width katakana, ideographic space),
// spaces removed, ASCII case folded, and corporate-form variants (（株）, (株), ㈱ → 株式会社).
// The result is for comparison only; names are displayed as the network spelled them.

#include <string>
#include <string_view>

namespace kakehashi::mapping::registry {

// The comparison form of an office name. Invalid UTF-8 bytes are kept as they are.
std::string normalize_name(std::string_view utf8);

// The comparison form of a kana reading: normalize_name, and hiragana folded to katakana.
std::string normalize_kana(std::string_view utf8);

}  // namespace kakehashi::mapping::registry
