#include "mapping/common/media_type.hpp"

#include <algorithm>
#include <cctype>

namespace kakehashi::mapping::common {

namespace {

constexpr std::string_view kKnown[] = {"text/csv",  "application/pdf", "image/jpeg",
                                       "image/png", "image/gif",       "text/plain"};

}  // namespace

std::string media_type_for(std::string_view file_name) {
  const auto dot = file_name.rfind('.');
  std::string ext(dot == std::string_view::npos ? "" : file_name.substr(dot + 1));
  std::transform(ext.begin(), ext.end(), ext.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  if (ext == "csv") return "text/csv";
  if (ext == "pdf") return "application/pdf";
  if (ext == "jpg" || ext == "jpeg") return "image/jpeg";
  if (ext == "png") return "image/png";
  if (ext == "gif") return "image/gif";
  if (ext == "txt") return "text/plain";
  return "application/octet-stream";
}

bool is_known_media_type(std::string_view media_type) {
  return std::find(std::begin(kKnown), std::end(kKnown), media_type) != std::end(kKnown);
}

}  // namespace kakehashi::mapping::common
