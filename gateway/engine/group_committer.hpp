#pragma once
// The group committer (internal to gateway/engine): everything the engine makes durable goes
// through it. Whatever is queued while a group commits goes into the next group, one transaction
// (one fsync) for all of it; under load a commit carries many operations and when idle an
// operation waits for nothing. A group that fails is retried one operation at a time, so one bad
// operation fails alone (and, for a lane, the operations queued after it).

#include <cstddef>
#include <deque>
#include <functional>

#include "gateway/store/store.hpp"

namespace kakehashi::gateway::engine {

struct EngineCore;

// Operations that must succeed in order (an intake lane): once `failed`, the committer answers
// the lane's queued operations false without running them.
struct CommitLane {
  bool failed = false;
};

class GroupCommitter {
 public:
  explicit GroupCommitter(EngineCore& core);

  // Queues `op` (io thread). `op` runs inside a group's transaction on a worker and may run twice
  // (the group, then alone); `then(committed)` runs on the io thread.
  void commit(std::function<void(store::Store&)> op, std::function<void(bool)> then,
              CommitLane* lane = nullptr);
  // Nothing queued and no group committing (a stop may finish).
  bool idle() const { return !committing_ && commits_.empty(); }

 private:
  struct Commit {
    std::function<void(store::Store&)> op;
    std::function<void(bool)> then;
    CommitLane* lane = nullptr;
  };
  void flush();

  EngineCore& core_;
  std::deque<Commit> commits_;
  bool committing_ = false;
};

}  // namespace kakehashi::gateway::engine
