#pragma once
// The stand-in's checks of one send (PROTOCOL.md §5.1, §4.2 "How the stand-in decides"): body
// bytes and the session's office in, the errors or the checked item out. Pure (no I/O, no state):
// the recipient's entry in the office list (KW2101-KW2103) is looked up by the caller.

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "mapping/careplan/file_name.hpp"

namespace kakehashi::standin::kaigoweb {

// One entry of §2's `errors`: a code, Japanese text for people, and a JSON pointer (never a value).
struct ApiError {
  ApiError(std::string c, std::string m, std::string f = {})
      : code(std::move(c)), message(std::move(m)), field(std::move(f)) {}
  std::string code;
  std::string message;
  std::string field;         // "" = none
  int retry_after = 0;       // seconds, transient business codes only
  std::string locked_until;  // KW1002 only
};

struct CheckedSend {
  std::string sender_reference;
  mapping::OfficeRef sender;  // the document's 送信元
  mapping::OfficeRef recipient;
  std::string kind;
  std::string target_month;
  std::string document_json;  // the document object, compact
};

struct SendCheck {
  int status = 200;              // 400 for S4001/S4002, else 200 (business errors)
  std::vector<ApiError> errors;  // empty: the send passed
  CheckedSend send;
  bool ok() const { return errors.empty(); }
};

// `current_month`: this month in JST as YYYY*12 + (MM-1) (KW2201's range).
// `full` false (the stand-in's --bench): the envelope and metadata only; the document is taken
// as it is (no schema, character or rendering checks).
SendCheck check_send(std::string_view body, const std::string& session_office, int current_month,
                     bool full = true);

// §5.1's target_month of a 5.0 document: the first ファイル対象年月 (model order) that is not
// 000000, else the first six digits of ファイル連番 ("" when the text is not a JSON object).
std::string target_month_of(std::string_view document_json);

// True for code points §4.2 maps to KW2003: private use (U+E000-U+F8FF, planes 15-16) and
// noncharacters (U+FDD0-U+FDEF, U+xFFFE, U+xFFFF).
bool outside_jis_model(char32_t cp);

}  // namespace kakehashi::standin::kaigoweb
