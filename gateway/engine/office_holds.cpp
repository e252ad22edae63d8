#include "gateway/engine/office_holds.hpp"

#include <algorithm>

namespace kakehashi::gateway::engine {

void OfficeHolds::hold(const std::string& network, const std::string& office, std::int64_t until) {
  auto& at = holds_[{network, office}];
  at = std::max(at, until);
}

bool OfficeHolds::release(const std::string& network, const std::string& office) {
  return holds_.erase({network, office}) > 0;
}

bool OfficeHolds::held(const std::string& network, const std::string& office,
                       std::int64_t now) const {
  const auto it = holds_.find({network, office});
  return it != holds_.end() && it->second > now;
}

std::vector<OfficeHolds::Pair> OfficeHolds::held_pairs(std::int64_t now) {
  std::vector<Pair> out;
  for (auto it = holds_.begin(); it != holds_.end();) {
    if (it->second <= now) {
      it = holds_.erase(it);
      continue;
    }
    out.push_back(it->first);
    ++it;
  }
  return out;
}

bool OfficeHolds::record(const std::string& network, const OfficeStateReport& report,
                         std::int64_t now) {
  OfficeState s;
  s.network = network;
  s.office_no = report.office.office_no;
  s.state = report.state;
  s.previous_state = report.previous_state;
  s.detail = report.detail;
  s.until = report.until;
  s.holds_outbound = report.holds_outbound;
  s.reported_at = now;
  if (!s.holds_outbound) owed_.erase({network, s.office_no});
  auto& kept = states_[{network, s.office_no}];
  const bool changed = kept.state != s.state;
  kept = std::move(s);
  return changed;
}

std::vector<OfficeState> OfficeHolds::states() const {
  std::vector<OfficeState> out;
  out.reserve(states_.size());
  for (const auto& [key, s] : states_) out.push_back(s);
  return out;
}

std::optional<OfficeState> OfficeHolds::state(const std::string& network,
                                              const std::string& office) const {
  const auto it = states_.find({network, office});
  if (it == states_.end()) return std::nullopt;
  return it->second;
}

void OfficeHolds::owe_notice(const std::string& network, const std::string& office) {
  owed_.insert({network, office});
}

bool OfficeHolds::take_owed(const std::string& network, const std::string& office) {
  return owed_.erase({network, office}) > 0;
}

}  // namespace kakehashi::gateway::engine
