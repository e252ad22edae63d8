#pragma once
// An RFC 4180 style reader over the original bytes of a care-plan CSV file: quoted fields may hold
// commas, line breaks and doubled quotes; records end with CRLF, LF or CR. Nothing is copied
// except the fields that contain doubled quotes.

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace kakehashi::mapping {

struct CsvField {
  std::string_view value;  // unquoted value (points into the file, or into the record scratch)
  bool quoted = false;
};

struct CsvRecord {
  std::size_t line = 0;  // 1-based physical line where the record starts
  std::vector<CsvField> fields;
};

struct CsvSyntaxError {
  std::size_t line = 0;
  std::size_t field_no = 0;  // 1-based field where it happened
  std::string message;
};

enum class LineEnding : unsigned char { kNone = 0, kCrLf = 1, kLf = 2, kCr = 4 };

class CsvReader {
 public:
  explicit CsvReader(std::string_view bytes) : bytes_(bytes) {}

  // Reads the next record into `record`. Returns false at the end of the input. On a syntax
  // error, `error` is filled, the rest of the physical line is skipped, and true is returned
  // with the record marked by `error.line != 0`.
  bool next(CsvRecord& record, CsvSyntaxError& error);

  // Bitwise OR of the LineEnding values seen as record terminators so far.
  unsigned line_endings() const { return endings_; }

 private:
  std::string_view bytes_;
  std::size_t pos_ = 0;
  std::size_t line_ = 1;
  unsigned endings_ = 0;
  std::vector<std::string> scratch_;  // unescaped values with doubled quotes
};

}  // namespace kakehashi::mapping
