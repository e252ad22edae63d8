#pragma once
// Shared by the network adapters' inbox runs (issue 14): whether an inbox is moving, and which
// items were already reported. Failures in a row while the unit cursor stays where it is feed
// the `stalled_polls` gauge (the admin's "inbox-stalled" alert); the first failure of a streak
// and the recovery are logged, not every retry. Used on the adapter's strand only.

#include <algorithm>
#include <cstddef>
#include <deque>
#include <string>
#include <utility>

#include "gateway/adapter/adapter_events.hpp"

namespace kakehashi::adapters {

class PollHealth {
 public:
  explicit PollHealth(const gateway::AdapterEvents& events) : events_(events) {}

  // A listing or fetch of the inbox failed (transport, 5xx, an answer that does not parse).
  // `cursor` is the durable unit cursor now.
  void failed(const std::string& cursor, const char* call, const std::string& code,
              const std::string& message) {
    auto& c = *events_.counters;
    ++c.polls_failed;
    if (c.stalled_polls == 0 || cursor != cursor_at_failure_) {
      cursor_at_failure_ = cursor;
      c.stalled_polls = 1;
      events_.log(gateway::AdapterLogLevel::kWarning, "poll-failed",
                  {{"call", call}, {"code", code}, {"message", message}});
    } else {
      ++c.stalled_polls;
    }
  }

  // A run listed the inbox to its end.
  void succeeded() {
    if (events_.counters->stalled_polls.exchange(0) > 0)
      events_.log(gateway::AdapterLogLevel::kInfo, "poll-recovered", {});
  }

 private:
  const gateway::AdapterEvents& events_;
  std::string cursor_at_failure_;
};

// The last few item ids reported, so that an item offered again (after a done(false), or
// listed again) is logged once.
class RecentIds {
 public:
  // True the first time `id` is seen.
  bool first_time(const std::string& id) {
    if (std::find(ids_.begin(), ids_.end(), id) != ids_.end()) return false;
    ids_.push_back(id);
    if (ids_.size() > kKeep) ids_.pop_front();
    return true;
  }

 private:
  static constexpr std::size_t kKeep = 256;
  std::deque<std::string> ids_;
};

}  // namespace kakehashi::adapters
