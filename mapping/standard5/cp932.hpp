#pragma once
// MS932 (CP932) ⇄ Unicode for the 4.1 ⇄ 5.0 translation. Unlike mapping/careplan/ms932.hpp (which
// only walks bytes), this converts, and it decides the hard cases: NEC/IBM duplicate codes, the
// JIS X 0208 characters whose Unicode mapping differs between CP932 and JIS X 0213, and
// characters MS932 cannot hold. The decisions are written down in README.md ("Characters").

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace kakehashi::mapping::standard5 {

// One JIS X 0208 character with two Unicode mappings: CP932 decodes `cp932` as `cp932_unicode`;
// 5.0 text (JIS X 0213) carries it as `emit`. Both decode back to `cp932`.
struct JisVariant {
  std::uint16_t cp932 = 0;
  char32_t cp932_unicode = 0;
  char32_t emit = 0;
};

// A character MS932 cannot hold with a close MS932 stand-in, used only when substitution is on.
struct BestFit {
  char32_t unicode = 0;
  std::uint16_t cp932 = 0;
};

struct CharacterRules {
  std::vector<JisVariant> jis_variants;
  std::vector<BestFit> best_fit;
  bool carry_original_codes = true;
};

// A decoded character: its code point and, when its CP932 code is not the one Unicode → CP932
// would choose (an NEC/IBM duplicate), the original code so it can be restored.
struct DecodeError {
  enum class Kind { kInvalid, kGaiji, kControl };
  std::size_t byte_offset = 0;
  Kind kind = Kind::kInvalid;  // kGaiji: 0xF040-0xF9FC (forbidden 外字); kControl: not TAB/CR/LF
};

class Cp932Codec {
 public:
  explicit Cp932Codec(const CharacterRules& rules);

  // Appends the UTF-8 of `bytes` to `out`. For every character whose code is a non-preferred
  // duplicate, `on_duplicate(char_index, code)` is called. Returns the error on invalid bytes,
  // 外字 and control characters other than TAB, CR and LF (which 5.0 text would refuse too).
  template <class OnDuplicate>
  std::optional<DecodeError> decode(std::string_view bytes, std::string& out,
                                    OnDuplicate&& on_duplicate) const;

  // The CP932 code (1 or 2 bytes, as a value: 0x41 or 0x82A0) for a code point from 5.0 text,
  // or nullopt when MS932 cannot hold it. Duplicates come out as their preferred code.
  std::optional<std::uint16_t> encode(char32_t cp) const;
  // Same character? (used to check an original-code hint before restoring it)
  bool same_character(std::uint16_t code, char32_t cp) const;
  std::optional<std::uint16_t> best_fit(char32_t cp) const;

  // Decoded code point of a CP932 code (0 when unassigned); for tests and hints.
  char32_t code_point(std::uint16_t code) const { return decode_[code]; }
  bool is_preferred(std::uint16_t code) const;

 private:
  std::vector<char32_t> decode_;  // CP932 code (single byte = its value) → emitted code point
  std::vector<std::uint16_t> encode_;  // BMP code point → preferred CP932 code (0: none)
  std::vector<BestFit> best_fit_;
};

void append_utf8(std::string& out, char32_t cp);
// Next code point of valid UTF-8 at `pos` (advanced); nullopt on invalid UTF-8.
std::optional<char32_t> next_utf8(std::string_view s, std::size_t& pos);
// "U+20BB7"
std::string code_point_name(char32_t cp);

template <class OnDuplicate>
std::optional<DecodeError> Cp932Codec::decode(std::string_view bytes, std::string& out,
                                              OnDuplicate&& on_duplicate) const {
  const auto* p = reinterpret_cast<const unsigned char*>(bytes.data());
  const std::size_t n = bytes.size();
  std::size_t chars = 0;
  for (std::size_t i = 0; i < n; ++chars) {
    const unsigned c = p[i];
    if (c < 0x80) {
      if ((c < 0x20 && c != '\t' && c != '\r' && c != '\n') || c == 0x7F)
        return DecodeError{i, DecodeError::Kind::kControl};
      out.push_back(static_cast<char>(c));
      ++i;
      continue;
    }
    std::uint16_t code = static_cast<std::uint16_t>(c);
    std::size_t len = 1;
    if ((c >= 0x81 && c <= 0x9F) || (c >= 0xE0 && c <= 0xFC)) {
      if (i + 1 >= n) return DecodeError{i, DecodeError::Kind::kInvalid};
      code = static_cast<std::uint16_t>((c << 8) | p[i + 1]);
      len = 2;
    }
    const char32_t cp = decode_[code];
    if (cp == 0)
      return DecodeError{
          i, c >= 0xF0 && c <= 0xF9 ? DecodeError::Kind::kGaiji : DecodeError::Kind::kInvalid};
    if (len == 2 && !is_preferred(code)) on_duplicate(chars, code);
    append_utf8(out, cp);
    i += len;
  }
  return std::nullopt;
}

}  // namespace kakehashi::mapping::standard5
