#pragma once
// Intake (internal to gateway/engine): what adapters hand over, from hand-over to the answer.
// Each unit's admission (signatures, the standard's checks, routing) runs as its own worker task;
// the durable accept, with the source cursor, goes through the group committer. Items keep their
// hand-over order per network and kind (a lane): one is committed only after the ones handed over
// before it, and answered in that order (the AdapterSink contract in gateway/adapter/adapter.hpp).

#include <cstddef>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <string>

#include "gateway/adapter/adapter.hpp"
#include "gateway/engine/group_committer.hpp"
#include "gateway/store/store.hpp"

namespace kakehashi::gateway::engine {

struct EngineCore;

class IntakePipeline {
 public:
  IntakePipeline(EngineCore& core, GroupCommitter& committer);

  // What each adapter's sink forwards to (io thread), with the adapter's name.
  void on_unit(const std::string& network, InboundUnit unit, std::function<void(bool)> done);
  void on_receipt(const std::string& network, InboundReceipt receipt,
                  std::function<void(bool)> done);
  // Items handed over and not yet answered.
  std::size_t in_flight() const { return in_flight_; }

 private:
  struct Slot;
  // Items of one network and kind in hand-over order. `failed`: an item was answered false, so
  // every later one is too until the lane is empty (AdapterSink contract).
  struct Lane : CommitLane {
    std::deque<std::shared_ptr<Slot>> slots;
  };
  struct NetworkLanes {
    Lane units, receipts;
  };

  // A new slot, and moving ready slots into the committer in order (io thread).
  std::shared_ptr<Slot> open_slot(Lane& lane, std::function<void(bool)> done);
  void advance(Lane& lane);

  EngineCore& core_;
  GroupCommitter& committer_;
  std::map<std::string, NetworkLanes> lanes_;  // by network; nodes stay put (lanes are captured)
  std::size_t in_flight_ = 0;
};

}  // namespace kakehashi::gateway::engine
