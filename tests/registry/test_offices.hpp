#pragma once
// Office numbers for the registry tests and the benchmark: valid ones made from a serial number
// (the check digit computed), and a deliberately broken one.

#include <cstdio>
#include <ostream>
#include <string>

#include "mapping/careplan/check_digit.hpp"
#include "mapping/registry/registry.hpp"

namespace kakehashi::testing {

// A valid office number in prefecture `pref` (2 digits) with serial `n` (up to 7 digits).
inline std::string office_no(int n, const char* pref = "32") {
  char first9[16];
  std::snprintf(first9, sizeof first9, "%s%07d", pref, n % 10000000);
  return std::string(first9, 9) + std::to_string(*mapping::office_check_digit(std::string(first9, 9)));
}

// The same number with its check digit off by one.
inline std::string bad_office_no(int n) {
  auto s = office_no(n);
  s.back() = static_cast<char>('0' + (s.back() - '0' + 1) % 10);
  return s;
}

inline mapping::registry::SourceEntry entry(const std::string& no, const std::string& type,
                                            const std::string& name,
                                            mapping::registry::OfficeStatus status = mapping::registry::OfficeStatus::kActive,
                                            const std::string& facility = "") {
  mapping::registry::SourceEntry e;
  e.key = {no, type};
  e.name = name;
  e.kana = "カナ";
  e.facility_id = facility;
  e.prefecture = no.substr(0, 2);
  e.status = status;
  e.updated_at = "2025-04-01T00:00:00Z";
  return e;
}

}  // namespace kakehashi::testing

// Printable enums, for Boost.Test's messages (found by argument-dependent lookup).
namespace kakehashi::mapping::registry {
inline std::ostream& operator<<(std::ostream& os, RouteRefusal r) { return os << to_string(r); }
inline std::ostream& operator<<(std::ostream& os, EntryProblem p) { return os << to_string(p); }
inline std::ostream& operator<<(std::ostream& os, ChangeKind k) { return os << to_string(k); }
inline std::ostream& operator<<(std::ostream& os, ConflictKind k) { return os << to_string(k); }
inline std::ostream& operator<<(std::ostream& os, OfficeStatus s) { return os << to_string(s); }
}  // namespace kakehashi::mapping::registry
