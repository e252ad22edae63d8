#pragma once
// Attachments travel with a send unit; their bytes must be what their extension claims.

#include <optional>
#include <string>
#include <string_view>

#include "mapping/careplan/file_name.hpp"

namespace kakehashi::mapping {

// What the leading bytes say the content is (kNone when no known signature matches).
AttachmentType sniff_attachment_type(std::string_view bytes);

// nullopt when `bytes` are a plausible file of type `expected`; otherwise why not.
std::optional<std::string> check_attachment_content(AttachmentType expected,
                                                    std::string_view bytes);

}  // namespace kakehashi::mapping
