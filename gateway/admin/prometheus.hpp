#pragma once
// Prometheus text exposition format 0.0.4: one "# HELP" and "# TYPE" per family, samples with
// escaped label values. Pure: builds a string.

#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace kakehashi::gateway::admin {

using Labels = std::vector<std::pair<std::string, std::string>>;

class PrometheusText {
 public:
  // Starts a family: type is counter, gauge or histogram. Each name at most once.
  void family(std::string_view name, std::string_view type, std::string_view help);
  // One sample of the current family (name may carry a _bucket/_sum/_count suffix).
  void sample(std::string_view name, const Labels& labels, double value);
  const std::string& text() const { return out_; }

 private:
  std::string out_;
};

std::string escape_help(std::string_view text);         // backslash and newline
std::string escape_label_value(std::string_view text);  // backslash, double quote and newline
std::string format_value(double value);                 // integers without a fraction, +Inf, NaN

inline constexpr const char* kPrometheusContentType = "text/plain; version=0.0.4; charset=utf-8";

}  // namespace kakehashi::gateway::admin
