#include "mapping/careplan/check_digit.hpp"

#include <array>

namespace kakehashi::mapping {
namespace {

constexpr std::string_view kOfficeLetters = "ABCDEFGHJKLMNPRSTUVWXYZ";

int digit_sum(int v) {
  int s = 0;
  while (v > 0) {
    s += v % 10;
    v /= 10;
  }
  return s;
}

template <typename Values>
int mod10_w21(const Values& values, std::size_t n) {
  int total = 0;
  for (std::size_t i = 0; i < n; ++i) {
    // The rightmost position gets weight 2, then 1, alternating to the left.
    const int weight = ((n - 1 - i) % 2 == 0) ? 2 : 1;
    total += digit_sum(values[i] * weight);
  }
  return (10 - total % 10) % 10;
}

bool is_digit(char c) { return c >= '0' && c <= '9'; }

}  // namespace

// Position values for every byte: -1 where the character is not allowed (hot path: a table).
constexpr std::array<signed char, 256> kPositionValues = [] {
  std::array<signed char, 256> t{};
  for (auto& v : t) v = -1;
  for (int d = 0; d < 10; ++d) t[static_cast<std::size_t>('0' + d)] = static_cast<signed char>(d);
  for (std::size_t i = 0; i < kOfficeLetters.size(); ++i)
    t[static_cast<unsigned char>(kOfficeLetters[i])] = static_cast<signed char>(10 + i);
  return t;
}();

std::optional<int> office_position_value(char c) {
  const int v = kPositionValues[static_cast<unsigned char>(c)];
  if (v < 0) return std::nullopt;
  return v;
}

bool has_office_number_shape(std::string_view number) {
  if (number.size() != 10) return false;
  for (std::size_t i = 0; i < 10; ++i) {
    const char c = number[i];
    if (i == 2) {
      if (!office_position_value(c)) return false;
    } else if (!is_digit(c)) {
      return false;
    }
  }
  return true;
}

std::optional<int> office_check_digit(std::string_view first9) {
  if (first9.size() != 9) return std::nullopt;
  std::array<int, 9> values{};
  for (std::size_t i = 0; i < 9; ++i) {
    const char c = first9[i];
    if (i != 2 && !is_digit(c)) return std::nullopt;
    const auto v = office_position_value(c);
    if (!v) return std::nullopt;
    values[i] = *v;
  }
  return mod10_w21(values, 9);
}

bool is_valid_office_number(std::string_view number) {
  if (!has_office_number_shape(number)) return false;
  const auto check = office_check_digit(number.substr(0, 9));
  return check && *check == number[9] - '0';
}

std::optional<int> insurer_check_digit(std::string_view first5) {
  if (first5.size() != 5) return std::nullopt;
  std::array<int, 5> values{};
  for (std::size_t i = 0; i < 5; ++i) {
    if (!is_digit(first5[i])) return std::nullopt;
    values[i] = first5[i] - '0';
  }
  return mod10_w21(values, 5);
}

bool is_valid_insurer_number(std::string_view number) {
  if (number.size() != 6 || !is_digit(number[5])) return false;
  const auto check = insurer_check_digit(number.substr(0, 5));
  return check && *check == number[5] - '0';
}

}  // namespace kakehashi::mapping
