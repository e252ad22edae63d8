#include "mapping/careplan/attachment.hpp"

#include "mapping/careplan/ms932.hpp"

namespace kakehashi::mapping {
namespace {

bool starts_with(std::string_view bytes, std::string_view magic) {
  return bytes.substr(0, magic.size()) == magic;
}

bool valid_utf8(std::string_view s) {
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  std::size_t i = 0;
  const std::size_t n = s.size();
  while (i < n) {
    const unsigned char c = p[i];
    std::size_t len = 0;
    unsigned cp = 0;
    if (c < 0x80) {
      if (c < 0x20 && c != '\t' && c != '\r' && c != '\n' && c != '\f') return false;
      ++i;
      continue;
    }
    if (c >= 0xC2 && c <= 0xDF) len = 1, cp = c & 0x1Fu;
    else if (c >= 0xE0 && c <= 0xEF) len = 2, cp = c & 0x0Fu;
    else if (c >= 0xF0 && c <= 0xF4) len = 3, cp = c & 0x07u;
    else return false;
    for (std::size_t k = 1; k <= len; ++k) {
      if (i + k >= n || (p[i + k] & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (p[i + k] & 0x3Fu);
    }
    if ((len == 2 && cp < 0x800) || (len == 3 && (cp < 0x10000 || cp > 0x10FFFF)) ||
        (cp >= 0xD800 && cp <= 0xDFFF))
      return false;
    i += len + 1;
  }
  return true;
}

}  // namespace

AttachmentType sniff_attachment_type(std::string_view bytes) {
  if (starts_with(bytes, "%PDF-")) return AttachmentType::kPdf;
  if (starts_with(bytes, "\xFF\xD8\xFF")) return AttachmentType::kJpeg;
  if (starts_with(bytes, std::string_view("\x89PNG\r\n\x1A\n", 8))) return AttachmentType::kPng;
  if (starts_with(bytes, "GIF87a") || starts_with(bytes, "GIF89a")) return AttachmentType::kGif;
  return AttachmentType::kNone;
}

std::optional<std::string> check_attachment_content(AttachmentType expected,
                                                    std::string_view bytes) {
  const AttachmentType sniffed = sniff_attachment_type(bytes);
  const std::string want(attachment_type_name(expected));
  if (expected == AttachmentType::kTxt) {
    if (sniffed != AttachmentType::kNone)
      return "content is a " + std::string(attachment_type_name(sniffed)) + " file, not text";
    if (bytes.find('\0') != std::string_view::npos) return "text attachment contains NUL bytes";
    const Ms932Scan scan = scan_ms932(bytes);
    if (scan.problem == Ms932Problem::kNone || valid_utf8(bytes)) return std::nullopt;
    return "text attachment is neither MS932 nor UTF-8 text";
  }
  if (sniffed == expected) {
    // A truncated file is as useless to the recipient as a wrong one.
    if (expected == AttachmentType::kPdf &&
        bytes.substr(bytes.size() > 1024 ? bytes.size() - 1024 : 0).find("%%EOF") ==
            std::string_view::npos)
      return "pdf has no %%EOF marker near its end (truncated?)";
    if (expected == AttachmentType::kJpeg && !bytes.ends_with("\xFF\xD9") &&
        bytes.substr(bytes.size() > 64 ? bytes.size() - 64 : 0).find("\xFF\xD9") ==
            std::string_view::npos)
      return "jpeg has no end-of-image marker (truncated?)";
    return std::nullopt;
  }
  if (sniffed == AttachmentType::kNone)
    return "content does not start like a " + want + " file";
  return "content is a " + std::string(attachment_type_name(sniffed)) + " file, not " + want;
}

}  // namespace kakehashi::mapping
