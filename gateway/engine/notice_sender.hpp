#pragma once
// The notice sender (internal to gateway/engine): claims the receipts and refusal notices due to
// go back to senders' networks, sends each through that network's adapter, and commits that it
// was sent or when to try again (the network's Retry-After, else the delivery backoff).

#include <cstddef>

namespace kakehashi::gateway::engine {

struct EngineCore;
class GroupCommitter;

class NoticeSender {
 public:
  NoticeSender(EngineCore& core, GroupCommitter& committer);

  // Claims what is due (io thread), up to max_in_flight notices in flight.
  void pump();
  // Nothing being claimed and no notice between claim and committed outcome.
  bool idle() const { return !claiming_ && in_flight_ == 0; }

 private:
  EngineCore& core_;
  GroupCommitter& committer_;
  std::size_t in_flight_ = 0;
  bool claiming_ = false;
};

}  // namespace kakehashi::gateway::engine
