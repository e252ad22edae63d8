#include "mapping/careplan/ms932.hpp"

#include <array>
#include <bitset>
#include <memory>

#include <Poco/TextConverter.h>
#include <Poco/UTF8Encoding.h>
#include <Poco/Windows932Encoding.h>

namespace kakehashi::mapping {
namespace {

// Which double-byte codes CP932 assigns, taken once from Poco's table so the check agrees with
// a real decoder rather than with a hand-written range list.
class Cp932Table {
 public:
  Cp932Table() {
    Poco::Windows932Encoding enc;
    for (unsigned lead = 0x81; lead <= 0xFC; ++lead) {
      if (lead >= 0xA0 && lead <= 0xDF) continue;
      for (unsigned trail = 0x40; trail <= 0xFC; ++trail) {
        if (trail == 0x7F) continue;
        const unsigned char bytes[2] = {static_cast<unsigned char>(lead),
                                        static_cast<unsigned char>(trail)};
        const int cp = enc.queryConvert(bytes, 2);
        if (cp >= 0) valid_->set((lead << 8) | trail);
      }
    }
  }
  bool valid(unsigned code) const { return valid_->test(code); }

 private:
  std::unique_ptr<std::bitset<65536>> valid_ = std::make_unique<std::bitset<65536>>();
};

const Cp932Table& table() {
  static const Cp932Table t;
  return t;
}

bool is_lead(unsigned char c) { return (c >= 0x81 && c <= 0x9F) || (c >= 0xE0 && c <= 0xFC); }

}  // namespace

Ms932Scan scan_ms932(std::string_view bytes) {
  const auto& t = table();
  Ms932Scan scan;
  const auto* p = reinterpret_cast<const unsigned char*>(bytes.data());
  const std::size_t n = bytes.size();
  std::size_t i = 0;
  while (i < n) {
    const unsigned char c = p[i];
    if (c >= 0x20 && c < 0x7F) {  // printable ASCII, the common case
      ++i;
      ++scan.characters;
      continue;
    }
    if (c < 0x80) {
      if (c < 0x20 && c != '\t' && c != '\r' && c != '\n') {
        scan.problem = Ms932Problem::kControl;
        scan.offset = i;
        return scan;
      }
      if (c == 0x7F) {
        scan.problem = Ms932Problem::kControl;
        scan.offset = i;
        return scan;
      }
      ++i;
    } else if (c >= 0xA1 && c <= 0xDF) {
      ++i;  // half-width katakana
    } else if (is_lead(c)) {
      if (c >= 0xF0 && c <= 0xF9) {
        scan.problem = Ms932Problem::kGaiji;
        scan.offset = i;
        return scan;
      }
      if (i + 1 >= n || !t.valid((static_cast<unsigned>(c) << 8) | p[i + 1])) {
        scan.problem = Ms932Problem::kInvalid;
        scan.offset = i;
        return scan;
      }
      i += 2;
    } else {
      scan.problem = Ms932Problem::kInvalid;  // 0x80, 0xA0, 0xFD-0xFF
      scan.offset = i;
      return scan;
    }
    ++scan.characters;
  }
  return scan;
}

std::string ms932_to_utf8(std::string_view bytes) {
  Poco::Windows932Encoding from;
  Poco::UTF8Encoding to;
  Poco::TextConverter conv(from, to, '?');
  std::string out;
  conv.convert(bytes.data(), static_cast<int>(bytes.size()), out);
  return out;
}

}  // namespace kakehashi::mapping
