#pragma once
// Test tooling: edit a generated send unit the way a faulty sender would, at the level of
// records and fields. Parses CSV independently of mapping/careplan/csv_reader so that the
// expected line numbers are not computed by the code under test.

#include <cstddef>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "tests/careplan_gen/generator.hpp"

namespace kakehashi::testing {

struct EditField {
  std::string value;  // raw bytes, unquoted
  bool quoted = false;
};

struct EditRecord {
  std::size_t line = 0;  // 1-based physical line where the record starts
  std::vector<EditField> fields;
};

// Simple RFC 4180 split, CRLF records; enough for the generator's well-formed output.
inline std::vector<EditRecord> parse_records(std::string_view bytes) {
  std::vector<EditRecord> out;
  std::size_t i = 0, line = 1;
  while (i < bytes.size()) {
    EditRecord r;
    r.line = line;
    while (true) {
      EditField f;
      if (i < bytes.size() && bytes[i] == '"') {
        f.quoted = true;
        ++i;
        while (i < bytes.size()) {
          if (bytes[i] == '"') {
            if (i + 1 < bytes.size() && bytes[i + 1] == '"') {
              f.value += '"';
              i += 2;
              continue;
            }
            ++i;
            break;
          }
          if (bytes[i] == '\n') ++line;
          f.value += bytes[i++];
        }
      } else {
        while (i < bytes.size() && bytes[i] != ',' && bytes[i] != '\r' && bytes[i] != '\n')
          f.value += bytes[i++];
      }
      r.fields.push_back(std::move(f));
      if (i < bytes.size() && bytes[i] == ',') {
        ++i;
        continue;
      }
      if (i < bytes.size() && bytes[i] == '\r') ++i;
      if (i < bytes.size() && bytes[i] == '\n') ++i;
      ++line;
      break;
    }
    out.push_back(std::move(r));
  }
  return out;
}

inline std::string serialize_records(const std::vector<EditRecord>& records) {
  std::string out;
  for (const auto& r : records) {
    for (std::size_t i = 0; i < r.fields.size(); ++i) {
      if (i > 0) out += ',';
      const auto& f = r.fields[i];
      if (f.quoted) {
        out += '"';
        for (char c : f.value) {
          if (c == '"') out += '"';
          out += c;
        }
        out += '"';
      } else {
        out += f.value;
      }
    }
    out += "\r\n";
  }
  return out;
}

inline bool name_has_kind(const std::string& name, std::string_view kind) {
  if (name.rfind(std::string(kind) + "_", 0) != 0) return false;
  // UPKIHON_ also prefixes UPKIHON_SUB1_ etc.; require the next segment to be a digit.
  const char next = name.size() > kind.size() + 1 ? name[kind.size() + 1] : '\0';
  return next >= '0' && next <= '9';
}

inline GeneratedFile& file_of(GeneratedUnit& unit, std::string_view kind) {
  for (auto& f : unit.files) {
    if (name_has_kind(f.name, kind)) return f;
  }
  throw std::logic_error("unit has no " + std::string(kind) + " file");
}

// Edits one file's records in place; returns nothing, the file's bytes are rewritten.
template <typename Fn>
void edit_records(GeneratedFile& file, Fn&& fn) {
  auto records = parse_records(file.bytes);
  fn(records);
  file.bytes = serialize_records(records);
}

}  // namespace kakehashi::testing
