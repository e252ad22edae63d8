#pragma once
// One kind of inbound item (units, or receipts) of a network adapter under pipelined intake
// (gateway/adapter/adapter.hpp, AdapterSink): the window of outstanding items, the listing
// position that runs ahead of the durable one, and where the fetching stopped to wait for the
// sink's answers. Used on the adapter's strand only.

#include <cstddef>
#include <functional>
#include <utility>

#include "adapters/common/intake/intake_window.hpp"

namespace kakehashi::adapters {

template <class Cursor>
class IntakeLane {
 public:
  using Ticket = typename IntakeWindow<Cursor>::Ticket;

  explicit IntakeLane(std::size_t window) : window_(window) {}

  IntakeWindow<Cursor>& window() { return window_; }
  const IntakeWindow<Cursor>& window() const { return window_; }

  // Where the next page is listed from while a run goes on (the durable position at its start,
  // then past the last item handed over).
  Cursor listed{};

  // Fetching stops until an answer frees a place in the window or fails the run; `next` then
  // runs (at once when that already holds). It must check `window().failed()` first.
  void wait_for_room(std::function<void()> next) { park(Wait::kRoom, std::move(next)); }
  // Fetching stops until nothing is outstanding; `next` then runs (at once when already so).
  void wait_until_drained(std::function<void()> next) { park(Wait::kDrained, std::move(next)); }
  bool waiting() const { return wait_ != Wait::kNone; }
  // Forgets a waiting continuation (the adapter stops, or a new run starts).
  void forget() {
    wait_ = Wait::kNone;
    next_ = nullptr;
  }

  // Call after each answer was recorded in the window: runs the waiting continuation once its
  // condition holds.
  void progress() {
    const bool ready = (wait_ == Wait::kRoom && (window_.failed() || !window_.full())) ||
                       (wait_ == Wait::kDrained && window_.empty());
    if (!ready) return;
    auto next = std::move(next_);
    forget();
    next();
  }

 private:
  enum class Wait { kNone, kRoom, kDrained };
  void park(Wait wait, std::function<void()> next) {
    wait_ = wait;
    next_ = std::move(next);
    progress();
  }

  IntakeWindow<Cursor> window_;
  Wait wait_ = Wait::kNone;
  std::function<void()> next_;
};

}  // namespace kakehashi::adapters
