#include "mapping/careplan/csv_reader.hpp"

namespace kakehashi::mapping {

bool CsvReader::next(CsvRecord& record, CsvSyntaxError& error) {
  record.fields.clear();
  record.line = line_;
  error = CsvSyntaxError{};
  scratch_.clear();
  const std::size_t n = bytes_.size();
  if (pos_ >= n) return false;

  const auto end_record = [&](std::size_t at) {
    // `at` points at CR or LF (or n). Consume the terminator and count the line.
    if (at >= n) {
      pos_ = n;
      return;
    }
    if (bytes_[at] == '\r' && at + 1 < n && bytes_[at + 1] == '\n') {
      endings_ |= static_cast<unsigned>(LineEnding::kCrLf);
      pos_ = at + 2;
    } else {
      endings_ |= static_cast<unsigned>(bytes_[at] == '\n' ? LineEnding::kLf : LineEnding::kCr);
      pos_ = at + 1;
    }
    ++line_;
  };
  const auto skip_line = [&](std::size_t from) {
    std::size_t i = from;
    while (i < n && bytes_[i] != '\r' && bytes_[i] != '\n') ++i;
    end_record(i);
  };

  std::size_t i = pos_;
  while (true) {
    const std::size_t field_no = record.fields.size() + 1;
    if (i < n && bytes_[i] == '"') {
      // Quoted field: runs to the closing quote; "" is a literal quote; newlines are kept.
      const std::size_t start = i + 1;
      const std::size_t open_line = line_;
      std::size_t j = start;
      bool escaped = false;
      bool closed = false;
      while (j < n) {
        const char c = bytes_[j];
        if (c == '"') {
          if (j + 1 < n && bytes_[j + 1] == '"') {
            escaped = true;
            j += 2;
            continue;
          }
          closed = true;
          break;
        }
        if (c == '\n' || (c == '\r' && !(j + 1 < n && bytes_[j + 1] == '\n'))) ++line_;
        ++j;
      }
      if (!closed) {
        error = {open_line, field_no, "quoted field is never closed (missing '\"')"};
        pos_ = n;
        return true;
      }
      std::string_view value = bytes_.substr(start, j - start);
      if (escaped) {
        std::string unescaped;
        unescaped.reserve(value.size());
        for (std::size_t k = 0; k < value.size(); ++k) {
          unescaped.push_back(value[k]);
          if (value[k] == '"') ++k;  // skip the second quote of a pair
        }
        scratch_.push_back(std::move(unescaped));
      }
      record.fields.push_back({value, true});
      i = j + 1;
      if (i < n && bytes_[i] != ',' && bytes_[i] != '\r' && bytes_[i] != '\n') {
        error = {line_, field_no, "characters after the closing quote of a quoted field"};
        skip_line(i);
        return true;
      }
    } else {
      std::size_t j = i;
      while (j < n && bytes_[j] != ',' && bytes_[j] != '\r' && bytes_[j] != '\n') {
        if (bytes_[j] == '"') {
          error = {line_, field_no, "a '\"' inside an unquoted field"};
          skip_line(j);
          return true;
        }
        ++j;
      }
      record.fields.push_back({bytes_.substr(i, j - i), false});
      i = j;
    }
    if (i < n && bytes_[i] == ',') {
      ++i;
      continue;
    }
    end_record(i);
    break;
  }
  // Point escaped values at their unescaped copies (scratch_ is stable until the next call).
  if (!scratch_.empty()) {
    std::size_t s = 0;
    for (auto& f : record.fields) {
      if (f.quoted && f.value.find('"') != std::string_view::npos) f.value = scratch_[s++];
    }
  }
  return true;
}

}  // namespace kakehashi::mapping
