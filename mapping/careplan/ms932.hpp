#pragma once
// MS932 (CP932 / Windows-31J) byte checks. Files are never converted: we only walk the bytes to
// find invalid sequences, forbidden 外字 (user-defined characters) and character counts.

#include <cstddef>
#include <string>
#include <string_view>

namespace kakehashi::mapping {

enum class Ms932Problem { kNone, kInvalid, kGaiji, kControl };

struct Ms932Scan {
  Ms932Problem problem = Ms932Problem::kNone;
  std::size_t offset = 0;      // byte offset of the first problem
  std::size_t characters = 0;  // characters counted (up to the problem)
};

// Walks `bytes` as MS932. Control characters other than TAB, CR and LF are reported as
// kControl; code points CP932 leaves unassigned as kInvalid; 0xF040-0xF9FC as kGaiji.
Ms932Scan scan_ms932(std::string_view bytes);

// UTF-8 rendering for display of short, non-personal values (e.g. office names in messages).
std::string ms932_to_utf8(std::string_view bytes);

}  // namespace kakehashi::mapping
