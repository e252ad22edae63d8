#include "mapping/registry/normalize.hpp"

#include <array>
#include <cstdint>
#include <utility>
#include <vector>

namespace kakehashi::mapping::registry {
namespace {

// Half-width katakana U+FF61..U+FF9D → their full-width forms (NFKC); U+FF9E/U+FF9F, the
// half-width voiced marks, are composed with the preceding kana below.
constexpr std::array<char32_t, 0x3D> kHalfWidthKana = {
    0x3002, 0x300C, 0x300D, 0x3001, 0x30FB, 0x30F2, 0x30A1, 0x30A3, 0x30A5, 0x30A7, 0x30A9,
    0x30E3, 0x30E5, 0x30E7, 0x30C3, 0x30FC, 0x30A2, 0x30A4, 0x30A6, 0x30A8, 0x30AA, 0x30AB,
    0x30AD, 0x30AF, 0x30B1, 0x30B3, 0x30B5, 0x30B7, 0x30B9, 0x30BB, 0x30BD, 0x30BF, 0x30C1,
    0x30C4, 0x30C6, 0x30C8, 0x30CA, 0x30CB, 0x30CC, 0x30CD, 0x30CE, 0x30CF, 0x30D2, 0x30D5,
    0x30D8, 0x30DB, 0x30DE, 0x30DF, 0x30E0, 0x30E1, 0x30E2, 0x30E4, 0x30E6, 0x30E8, 0x30E9,
    0x30EA, 0x30EB, 0x30EC, 0x30ED, 0x30EF, 0x30F3};

bool takes_dakuten(char32_t c) {
  return (c >= 0x30AB && c <= 0x30C1 && (c - 0x30AB) % 2 == 0) || c == 0x30C4 || c == 0x30C6 ||
         c == 0x30C8 || (c >= 0x30CF && c <= 0x30DB && (c - 0x30CF) % 3 == 0);
}
bool takes_handakuten(char32_t c) { return c >= 0x30CF && c <= 0x30DB && (c - 0x30CF) % 3 == 0; }

// Decodes one code point; on a malformed sequence returns the byte itself as a marker
// (0x110000 + byte) so that it is re-emitted untouched.
char32_t decode(std::string_view s, std::size_t& i) {
  const auto b = static_cast<unsigned char>(s[i]);
  int len = b < 0x80 ? 1 : (b >> 5) == 0x6 ? 2 : (b >> 4) == 0xE ? 3 : (b >> 3) == 0x1E ? 4 : 0;
  if (len == 0 || i + static_cast<std::size_t>(len) > s.size()) {
    ++i;
    return 0x110000 + b;
  }
  char32_t c = len == 1 ? b : b & (0x7F >> len);
  for (int k = 1; k < len; ++k) {
    const auto t = static_cast<unsigned char>(s[i + static_cast<std::size_t>(k)]);
    if ((t & 0xC0) != 0x80) {
      ++i;
      return 0x110000 + b;
    }
    c = (c << 6) | (t & 0x3F);
  }
  i += static_cast<std::size_t>(len);
  return c;
}

void encode(char32_t c, std::string& out) {
  if (c >= 0x110000) {
    out += static_cast<char>(c - 0x110000);
  } else if (c < 0x80) {
    out += static_cast<char>(c);
  } else if (c < 0x800) {
    out += static_cast<char>(0xC0 | (c >> 6));
    out += static_cast<char>(0x80 | (c & 0x3F));
  } else if (c < 0x10000) {
    out += static_cast<char>(0xE0 | (c >> 12));
    out += static_cast<char>(0x80 | ((c >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (c & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (c >> 18));
    out += static_cast<char>(0x80 | ((c >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((c >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (c & 0x3F));
  }
}

bool is_space(char32_t c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == 0x3000 || c == 0x00A0;
}

// Parenthesised corporate forms, after the width folding above, and what they abbreviate.
// ㈱ and friends fold to "(株)" first (NFKC), so one table serves every spelling.
const std::vector<std::pair<std::string, std::string>>& corporate_forms() {
  static const std::vector<std::pair<std::string, std::string>> kForms = {
      {"(株)", "株式会社"}, {"(有)", "有限会社"}, {"(同)", "合同会社"},
      {"(資)", "合資会社"}, {"(名)", "合名会社"}, {"(福)", "社会福祉法人"},
      {"(医)", "医療法人"}, {"(社)", "社団法人"}, {"(財)", "財団法人"},
      {"(特非)", "特定非営利活動法人"}, {"(NPO)", "特定非営利活動法人"},
  };
  return kForms;
}

// Parenthesised ideographs U+3231.. that NFKC opens into "(X)".
char32_t parenthesised_ideograph(char32_t c) {
  switch (c) {
    case 0x3231: return 0x682A;  // ㈱ 株
    case 0x3232: return 0x6709;  // ㈲ 有
    case 0x3233: return 0x793E;  // ㈳ 社
    case 0x3234: return 0x540D;  // ㈴ 名
    case 0x3236: return 0x8CA1;  // ㈶ 財
    case 0x323E: return 0x8CC7;  // ㈾ 資
    default: return 0;
  }
}

std::string fold(std::string_view in, bool kana) {
  std::vector<char32_t> cps;
  cps.reserve(in.size());
  for (std::size_t i = 0; i < in.size();) {
    char32_t c = decode(in, i);
    if (c >= 0xFF01 && c <= 0xFF5E) c = c - 0xFF01 + 0x21;  // full-width ASCII
    if (c >= 0xFF61 && c <= 0xFF9D) c = kHalfWidthKana[c - 0xFF61];
    if (c == 0xFF9E || c == 0x3099 || c == 0x309B) {  // voiced mark: compose when it can
      if (!cps.empty() && takes_dakuten(cps.back())) {
        ++cps.back();
        continue;
      }
      if (!cps.empty() && cps.back() == 0x30A6) {  // ウ + ゛ = ヴ
        cps.back() = 0x30F4;
        continue;
      }
      c = 0x309B;
    }
    if (c == 0xFF9F || c == 0x309A || c == 0x309C) {
      if (!cps.empty() && takes_handakuten(cps.back())) {
        cps.back() += 2;
        continue;
      }
      c = 0x309C;
    }
    if (const char32_t p = parenthesised_ideograph(c)) {
      cps.push_back('(');
      cps.push_back(p);
      cps.push_back(')');
      continue;
    }
    if (is_space(c)) continue;
    if (c >= 'A' && c <= 'Z') c = c - 'A' + 'a';
    if (kana && c >= 0x3041 && c <= 0x3096) c += 0x60;  // hiragana → katakana
    cps.push_back(c);
  }
  std::string out;
  out.reserve(in.size());
  for (const char32_t c : cps) encode(c, out);
  if (kana) return out;
  for (const auto& [form, full] : corporate_forms()) {
    std::string lowered = form;  // the table is compared after ASCII case folding
    for (auto& ch : lowered) ch = (ch >= 'A' && ch <= 'Z') ? static_cast<char>(ch - 'A' + 'a') : ch;
    for (std::size_t p = out.find(lowered); p != std::string::npos; p = out.find(lowered, p)) {
      out.replace(p, lowered.size(), full);
      p += full.size();
    }
  }
  return out;
}

}  // namespace

std::string normalize_name(std::string_view utf8) { return fold(utf8, false); }
std::string normalize_kana(std::string_view utf8) { return fold(utf8, true); }

}  // namespace kakehashi::mapping::registry
