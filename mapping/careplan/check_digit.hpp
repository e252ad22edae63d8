#pragma once
// Check digits of the identifiers the care-plan standard uses: 事業所番号 (office number) and
// 保険者番号 (insurer number). Modulus 10, weights 2-1, products split into digits.

#include <optional>
#include <string_view>

namespace kakehashi::mapping {

// Value of one office-number position: digits 0-9, letters A=10 ... Z=32 without I, O, Q.
std::optional<int> office_position_value(char c);

// Check digit for the first 9 characters of an office number; nullopt when a character is not
// allowed (a letter outside position 3, I/O/Q, lower case, ...).
std::optional<int> office_check_digit(std::string_view first9);

// True when the 10-character office number is well formed and its check digit is right.
bool is_valid_office_number(std::string_view number);

// True when the string has an office number's shape (10 chars, letter only at position 3).
bool has_office_number_shape(std::string_view number);

std::optional<int> insurer_check_digit(std::string_view first5);
bool is_valid_insurer_number(std::string_view number);

}  // namespace kakehashi::mapping
