#pragma once
// Counters with one label (sends by outcome, business codes by code, polls by office), for any
// adapter: kept in its AdapterCounters, rendered by the admin listener as a Prometheus family
// with the network's name as a second label. The number of distinct label values is bounded:
// values past the cap, longer than kMaxValueLength or with characters outside [A-Za-z0-9_.:-]
// count under "other", so that codes a peer makes up cannot grow memory (or carry text).

#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace kakehashi::gateway {

class LabelledCounter {
 public:
  static constexpr std::size_t kDefaultMaxValues = 200;
  static constexpr std::size_t kMaxValueLength = 64;
  static constexpr std::string_view kOther = "other";

  // `name` is the full metric name (kakehashi_..._total), `label` the label's name; `known`
  // values are shown from the start (at 0, so a rule can compare) and count against the cap.
  LabelledCounter(std::string name, std::string help, std::string label,
                  std::initializer_list<std::string_view> known = {},
                  std::size_t max_values = kDefaultMaxValues)
      : name_(std::move(name)),
        help_(std::move(help)),
        label_(std::move(label)),
        max_values_(max_values) {
    for (const auto v : known) counts_.emplace(std::string(v), 0);
  }

  const std::string& name() const { return name_; }
  const std::string& help() const { return help_; }
  const std::string& label() const { return label_; }

  // Thread-safe: adapters count on their strand (or TLS callbacks), the admin listener reads.
  void add(std::string_view value, std::uint64_t n = 1) {
    std::lock_guard lock(mutex_);
    auto it = counts_.find(value);
    if (it == counts_.end()) {
      const bool admitted = acceptable(value) && counts_.size() < max_values_ + has_other();
      it = counts_.try_emplace(std::string(admitted ? value : kOther), 0).first;
    }
    it->second += n;
  }

  std::uint64_t value(std::string_view label_value) const {
    std::lock_guard lock(mutex_);
    const auto it = counts_.find(label_value);
    return it == counts_.end() ? 0 : it->second;
  }

  // Every label value with its count, in label order.
  std::vector<std::pair<std::string, std::uint64_t>> snapshot() const {
    std::lock_guard lock(mutex_);
    return {counts_.begin(), counts_.end()};
  }

 private:
  static bool acceptable(std::string_view v) {
    if (v.empty() || v.size() > kMaxValueLength) return false;
    for (const char c : v) {
      const bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                      c == '_' || c == '.' || c == ':' || c == '-';
      if (!ok) return false;
    }
    return true;
  }
  // "other" does not take one of the capped places.
  std::size_t has_other() const { return counts_.count(kOther) != 0 ? 1 : 0; }

  const std::string name_, help_, label_;
  const std::size_t max_values_;
  mutable std::mutex mutex_;
  std::map<std::string, std::uint64_t, std::less<>> counts_;
};

// An adapter's labelled counters by metric name. Registered by the adapter (usually once, when it
// is made), listed by the admin listener.
class LabelledCounters {
 public:
  // The counter named `name`, made on first use with `help`, `label` and `known`; later calls
  // (another instance of the adapter, a restart) get the same counter.
  std::shared_ptr<LabelledCounter> get(
      std::string_view name, std::string_view help, std::string_view label,
      std::initializer_list<std::string_view> known = {},
      std::size_t max_values = LabelledCounter::kDefaultMaxValues) {
    std::lock_guard lock(mutex_);
    for (const auto& c : counters_) {
      if (c->name() == name) return c;
    }
    counters_.push_back(std::make_shared<LabelledCounter>(std::string(name), std::string(help),
                                                          std::string(label), known, max_values));
    return counters_.back();
  }

  // In registration order.
  std::vector<std::shared_ptr<const LabelledCounter>> list() const {
    std::lock_guard lock(mutex_);
    return {counters_.begin(), counters_.end()};
  }

 private:
  mutable std::mutex mutex_;
  std::vector<std::shared_ptr<LabelledCounter>> counters_;
};

}  // namespace kakehashi::gateway
