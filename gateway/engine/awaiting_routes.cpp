#include "gateway/engine/awaiting_routes.hpp"

#include <memory>
#include <utility>

#include "gateway/engine/engine_core.hpp"
#include "gateway/engine/log.hpp"
#include "gateway/engine/refusal.hpp"

namespace kakehashi::gateway::engine {
namespace {

constexpr std::size_t kPage = 200;  // awaiting units read per store query
constexpr auto kRecheck = std::chrono::seconds(30);

struct SweepResult {
  struct Outcome {
    std::int64_t id = 0;
    LateRoute route;
  };
  std::vector<Outcome> routed, refused;
  std::size_t waiting = 0;
  std::set<std::pair<std::string, std::string>> held;  // pairs of the units still waiting
};

}  // namespace

LateRoute decide_late_route(const Router& router, const store::Transfer& unit,
                            const std::vector<std::string>& networks) {
  LateRoute out;
  const OfficeRef recipient{unit.recipient_office, unit.recipient_type};
  const auto readiness = router.ready_for(recipient, unit.source_adapter, networks);
  if (!readiness.ready) {
    out.waiting_for = readiness.waiting_for;
    return out;
  }
  out.ready = true;
  // Admission's route step (admission.cpp, step 5), now that it can be decided.
  const auto route = router.resolve(recipient, unit.source_adapter);
  if (route.adapter) {
    out.dest_adapter = *route.adapter;
    out.direction = unit.source_adapter + "->" + *route.adapter;
    out.detail =
        "route " + *route.adapter + " (registry " + std::to_string(route.registry_version) + ")";
    return out;
  }
  const std::vector<Refusal> refusals{route.refusal.value_or(Refusal{})};
  out.direction = unit.source_adapter + "->unrouted";
  out.detail = refusal_summary(refusals);
  out.notice_text = refusal_text_ja(refusals);
  return out;
}

AwaitingRoutes::AwaitingRoutes(EngineCore& core) : core_(core) {}

void AwaitingRoutes::tick() {
  const bool moved = core_.router.generation() != seen_generation_;
  if (moved || again_ || std::chrono::steady_clock::now() - last_sweep_ >= kRecheck) sweep();
}

void AwaitingRoutes::wake() {
  again_ = true;
  sweep();
}

void AwaitingRoutes::wake(const std::string& sender_office, const std::string& recipient_office) {
  held_.insert({sender_office, recipient_office});
  if (sweeping_) held_meanwhile_.insert({sender_office, recipient_office});
  wake();
}

bool AwaitingRoutes::holds(const std::string& sender_office,
                           const std::string& recipient_office) const {
  return held_.count({sender_office, recipient_office}) != 0;
}

void AwaitingRoutes::sweep() {
  if (core_.stopping) return;
  if (sweeping_) {
    again_ = true;  // once this one is done
    return;
  }
  sweeping_ = true;
  again_ = false;
  // Read before looking: a change made while the sweep runs brings another one.
  seen_generation_ = core_.router.generation();
  last_sweep_ = std::chrono::steady_clock::now();
  std::vector<std::string> networks;
  for (const auto& [name, n] : core_.networks) networks.push_back(name);
  core_.on_worker(
      [this, networks](store::Store& s) {
        auto result = std::make_shared<SweepResult>();
        // Units that keep waiting stay in the list: the next page starts after them.
        for (;;) {
          const auto page = s.awaiting_route(result->waiting, kPage);
          for (const auto& t : page) {
            auto route = decide_late_route(core_.router, t, networks);
            if (!route.ready) {
              ++result->waiting;
              result->held.insert({t.sender_office, t.recipient_office});
              continue;
            }
            const auto now = core_.now();
            if (!route.dest_adapter.empty()) {
              if (s.route_awaiting(t.id, route.dest_adapter, route.direction, route.detail, now))
                result->routed.push_back({t.id, std::move(route)});
            } else if (s.refuse_awaiting(t.id, route.direction, route.detail, route.notice_text,
                                         now)) {
              result->refused.push_back({t.id, std::move(route)});
            }
          }
          if (page.size() < kPage) break;
        }
        return result;
      },
      [this](bool ok, std::shared_ptr<SweepResult> r) {
        sweeping_ = false;
        if (ok && r) {
          ++core_.counters.awaiting_route_looks;
          held_ = std::move(r->held);
          held_.insert(held_meanwhile_.begin(), held_meanwhile_.end());
        }
        held_meanwhile_.clear();
        if (ok && r) {
          for (const auto& o : r->routed) {
            ++core_.counters.routed_later;
            log(LogLevel::kInfo, "unit-routed",
                {{"transfer", std::to_string(o.id)}, {"destination", o.route.dest_adapter}});
          }
          for (const auto& o : r->refused) {
            ++core_.counters.refused;
            log(LogLevel::kInfo, "unit-refused",
                {{"transfer", std::to_string(o.id)}, {"reason", o.route.detail}});
          }
          if (!r->routed.empty()) core_.pump_transfers();
          if (!r->refused.empty()) core_.pump_notices();
        } else {
          again_ = true;  // the store failed: look again at the next tick
        }
        if (again_ && ok) sweep();
        core_.maybe_finish_stop();
      });
}

}  // namespace kakehashi::gateway::engine
