#pragma once
// Units taken in before their route could be decided (internal to gateway/engine): intake makes
// them durable as store::kAwaitingRoute when a directory their route depends on has not answered
// yet (Router::ready_for), so the units behind them keep flowing. This part routes them once the
// router can decide: the decision admission's route step makes (Router::resolve), then the
// destination and state accepted (delivery takes it from there, translating it into the
// destination's form), or the refusal with its notice to the sender. Each change is a
// compare-and-set on the state in the store, so instances sharing a store never route a unit
// twice. A unit waits as long as its directories stay silent (no timeout).

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "gateway/engine/router.hpp"
#include "gateway/store/store.hpp"

namespace kakehashi::gateway::engine {

struct EngineCore;

// What becomes of one awaiting unit now (pure: the router's state in, a decision out).
struct LateRoute {
  bool ready = false;        // false: it keeps waiting
  std::string waiting_for;   // when not ready: the network whose directory it waits for
  std::string dest_adapter;  // routed: the destination ("" when refused)
  std::string direction;     // "<source>-><destination>", or "<source>->unrouted" when refused
  std::string detail;        // routed: "route <dest> (registry N)"; refused: the summary
  std::string notice_text;   // refused: what the sender is told
};
LateRoute decide_late_route(const Router& router, const store::Transfer& unit,
                            const std::vector<std::string>& networks);

class AwaitingRoutes {
 public:
  explicit AwaitingRoutes(EngineCore& core);
  // On every engine tick (io thread): looks at the awaiting units when the router changed, when
  // a unit was taken in awaiting its route since the last look, or every `kRecheck` (units
  // another instance took in).
  void tick();
  // A unit was just taken in awaiting its route (io thread): look now, in case its directory
  // answered between intake's check and the commit.
  void wake();
  // wake() with the unit's sender and recipient offices: they are held from now on.
  void wake(const std::string& sender_office, const std::string& recipient_office);
  bool idle() const { return !sweeping_; }
  // Whether a unit of this sender and recipient (offices) is known to await its route (io
  // thread): a later unit of the pair then waits behind it, so the pair keeps its sequence order
  // (delivery orders a pair's units once they have a destination). Known: taken in here, or seen
  // waiting by the last look at the store.
  bool holds(const std::string& sender_office, const std::string& recipient_office) const;

 private:
  using Pair = std::pair<std::string, std::string>;  // sender office, recipient office
  void sweep();

  EngineCore& core_;
  bool sweeping_ = false;
  bool again_ = true;  // look (again) at the next chance; true at start: units of earlier runs
  std::uint64_t seen_generation_ = 0;
  std::chrono::steady_clock::time_point last_sweep_{};
  std::set<Pair> held_;            // pairs with a unit awaiting its route
  std::set<Pair> held_meanwhile_;  // taken in while a look was running (it may not see them)
};

}  // namespace kakehashi::gateway::engine
