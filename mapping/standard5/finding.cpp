#include "mapping/standard5/finding.hpp"

namespace kakehashi::mapping::standard5 {

void append_pointer_token(std::string& path, std::string_view token) {
  path.push_back('/');
  for (char c : token) {
    if (c == '~') {
      path += "~0";
    } else if (c == '/') {
      path += "~1";
    } else {
      path.push_back(c);
    }
  }
}

void append_pointer_index(std::string& path, std::size_t index) {
  path.push_back('/');
  path += std::to_string(index);
}

std::string describe(const Finding& f) {
  std::string s = f.code;
  s += f.severity == Severity::kError ? " error" : " warning";
  if (!f.file.empty()) s += " file " + f.file;
  if (f.record != 0) s += " record " + std::to_string(f.record);
  if (f.line != 0) s += " line " + std::to_string(f.line);
  if (f.field_no != 0) s += " field " + std::to_string(f.field_no);
  if (!f.field.empty()) s += " (" + f.field + ")";
  if (!f.json_path.empty()) s += " at " + f.json_path;
  s += ": " + f.message;
  return s;
}

}  // namespace kakehashi::mapping::standard5
