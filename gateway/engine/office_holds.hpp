#pragma once
// Offices whose outbound units wait on one network (internal to gateway/engine): the sender office
// must log in again there, its credentials are refused... (SendResult::hold_office, an
// OfficeStateReport with holds_outbound). Like a maintenance window, but for one (network, sender
// office) pair: delivery claims none of the pair's units while the hold lasts, and the units that
// came back held are due again at the safety re-offer (office_recheck). The hold ends when the
// adapter reports the office "active" (the held units are offered at once) or, in memory, at the
// safety re-offer: a report lost across a restart strands nothing. Also keeps the latest report
// per (network, office) for the admin side. Touched on the io thread only.

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "gateway/adapter/office_sessions.hpp"

namespace kakehashi::gateway::engine {

// The latest state an adapter reported for one of its offices (Engine::office_states()).
struct OfficeState {
  std::string network;
  std::string office_no;
  std::string state;           // "active", "login_required", ...
  std::string previous_state;  // as reported
  std::string detail;          // never a secret (the adapter's promise)
  std::string until;           // RFC 3339 UTC or ""
  bool holds_outbound = false;
  std::int64_t reported_at = 0;  // ms since the epoch
};

class OfficeHolds {
 public:
  using Pair = std::pair<std::string, std::string>;  // (network, sender office number)

  // Holds the pair until `until` (ms) at least: a later hold extends it, never shortens it.
  void hold(const std::string& network, const std::string& office, std::int64_t until);
  // Ends the pair's hold; whether it was held.
  bool release(const std::string& network, const std::string& office);
  bool held(const std::string& network, const std::string& office, std::int64_t now) const;
  // Pairs held at `now` (forgets those whose time passed: their units are due again).
  std::vector<Pair> held_pairs(std::int64_t now);

  // Records a report; returns whether it is a change from the last one kept for that office
  // (its state differs, or nothing was kept): the engine tells the office once per change.
  bool record(const std::string& network, const OfficeStateReport& report, std::int64_t now);
  std::vector<OfficeState> states() const;
  std::optional<OfficeState> state(const std::string& network, const std::string& office) const;
  // A notice owed to an office whose own network no transfer showed yet: told at its first unit
  // held there (take_owed answers true once).
  void owe_notice(const std::string& network, const std::string& office);
  bool take_owed(const std::string& network, const std::string& office);

 private:
  std::map<Pair, std::int64_t> holds_;  // until, ms
  std::map<Pair, OfficeState> states_;
  std::set<Pair> owed_;
};

}  // namespace kakehashi::gateway::engine
