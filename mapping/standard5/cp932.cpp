#include "mapping/standard5/cp932.hpp"

#include <cstdio>

#include <Poco/Windows932Encoding.h>

namespace kakehashi::mapping::standard5 {
namespace {

// Which of several codes for one character comes back (Microsoft's own choice when Windows
// converts Unicode to CP932): JIS X 0208 rows, then NEC row 13 (0x87), then the IBM extension
// (0xFA-0xFC), then NEC's selection of IBM extensions (0xED-0xEE).
int rank(std::uint16_t code) {
  if (code < 0x100) return 0;
  const unsigned lead = code >> 8;
  if ((lead >= 0x81 && lead <= 0x84) || (lead >= 0x88 && lead <= 0x9F) ||
      (lead >= 0xE0 && lead <= 0xEA))
    return 1;
  if (lead == 0x87) return 2;
  if (lead >= 0xFA && lead <= 0xFC) return 3;
  if (lead == 0xED || lead == 0xEE) return 4;
  return 5;
}

bool is_lead(unsigned c) {
  return (c >= 0x81 && c <= 0x9F) || (c >= 0xE0 && c <= 0xFC);
}

}  // namespace

Cp932Codec::Cp932Codec(const CharacterRules& rules)
    : decode_(0x10000, 0), encode_(0x10000, 0), best_fit_(rules.best_fit) {
  Poco::Windows932Encoding enc;
  const auto add = [&](std::uint16_t code, int cp) {
    if (cp <= 0 || cp >= 0x10000) return;
    decode_[code] = static_cast<char32_t>(cp);
    std::uint16_t& e = encode_[static_cast<std::size_t>(cp)];
    if (e == 0 || rank(code) < rank(e)) e = code;
  };
  for (unsigned c = 0x80; c < 0x100; ++c) {
    if (is_lead(c)) continue;
    const unsigned char b[1] = {static_cast<unsigned char>(c)};
    add(static_cast<std::uint16_t>(c), enc.queryConvert(b, 1));
  }
  for (unsigned lead = 0x81; lead <= 0xFC; ++lead) {
    if (!is_lead(lead)) continue;
    for (unsigned trail = 0x40; trail <= 0xFC; ++trail) {
      if (trail == 0x7F) continue;
      const unsigned char b[2] = {static_cast<unsigned char>(lead),
                                  static_cast<unsigned char>(trail)};
      add(static_cast<std::uint16_t>((lead << 8) | trail), enc.queryConvert(b, 2));
    }
  }
  for (const auto& v : rules.jis_variants) {
    if (v.cp932_unicode >= 0x10000 || v.emit >= 0x10000) continue;  // refused by the model check
    const std::uint16_t code = encode_[v.cp932_unicode];
    if (code == 0 || encode_[v.emit] != 0) continue;
    for (std::size_t c = 0; c < decode_.size(); ++c) {
      if (decode_[c] == v.cp932_unicode) decode_[c] = v.emit;
    }
    encode_[v.emit] = code;
  }
}

std::optional<std::uint16_t> Cp932Codec::encode(char32_t cp) const {
  if (cp < 0x80) return static_cast<std::uint16_t>(cp);
  if (cp >= 0x10000) return std::nullopt;
  const std::uint16_t code = encode_[cp];
  if (code == 0) return std::nullopt;
  return code;
}

bool Cp932Codec::same_character(std::uint16_t code, char32_t cp) const {
  const char32_t decoded = decode_[code];
  if (decoded == 0) return false;
  const auto a = encode(decoded);
  const auto b = encode(cp);
  return a && b && *a == *b;
}

std::optional<std::uint16_t> Cp932Codec::best_fit(char32_t cp) const {
  for (const auto& b : best_fit_) {
    if (b.unicode == cp) return b.cp932;
  }
  return std::nullopt;
}

bool Cp932Codec::is_preferred(std::uint16_t code) const {
  const char32_t cp = decode_[code];
  return cp != 0 && cp < 0x10000 && encode_[cp] == code;
}

void append_utf8(std::string& out, char32_t cp) {
  if (cp < 0x80) {
    out.push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out.push_back(static_cast<char>(0xC0 | (cp >> 6)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    out.push_back(static_cast<char>(0xE0 | (cp >> 12)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    out.push_back(static_cast<char>(0xF0 | (cp >> 18)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
}

std::optional<char32_t> next_utf8(std::string_view s, std::size_t& pos) {
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  const std::size_t n = s.size();
  const unsigned c = p[pos];
  if (c < 0x80) {
    ++pos;
    return c;
  }
  std::size_t len = 0;
  char32_t cp = 0;
  char32_t min = 0;
  if ((c & 0xE0) == 0xC0) {
    len = 2, cp = c & 0x1F, min = 0x80;
  } else if ((c & 0xF0) == 0xE0) {
    len = 3, cp = c & 0x0F, min = 0x800;
  } else if ((c & 0xF8) == 0xF0) {
    len = 4, cp = c & 0x07, min = 0x10000;
  } else {
    return std::nullopt;
  }
  if (pos + len > n) return std::nullopt;
  for (std::size_t k = 1; k < len; ++k) {
    const unsigned t = p[pos + k];
    if ((t & 0xC0) != 0x80) return std::nullopt;
    cp = (cp << 6) | (t & 0x3F);
  }
  if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return std::nullopt;
  pos += len;
  return cp;
}

std::string code_point_name(char32_t cp) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "U+%04X", static_cast<unsigned>(cp));
  return buf;
}

}  // namespace kakehashi::mapping::standard5
