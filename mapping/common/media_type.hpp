#pragma once
// The media type of a care-plan attachment from its file name, as every network states it.

#include <string>
#include <string_view>

namespace kakehashi::mapping::common {

// By the extension, case-insensitively: csv, pdf, jpg/jpeg, png, gif, txt; anything else is
// "application/octet-stream".
std::string media_type_for(std::string_view file_name);

// One of the types media_type_for names for a known extension (not application/octet-stream).
bool is_known_media_type(std::string_view media_type);

}  // namespace kakehashi::mapping::common
