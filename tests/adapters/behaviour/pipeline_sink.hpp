#pragma once
// An AdapterSink that answers like the engine under pipelined intake (gateway/adapter/adapter.hpp,
// AdapterSink): it holds every item until the test answers, then answers in hand-over order from
// another thread; after a false it answers false to whatever is handed over until nothing is
// outstanding. It counts what is outstanding at once, so a test can check the adapter's window.
// One lane per kind. Thread-safe.
//
// drive_pipelined_intake plays a whole run against one lane: wait until the adapter holds a full
// window (or the last items) at the sink, answer them, again, until every item was answered true.

#include <chrono>
#include <cstddef>
#include <deque>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <boost/asio/io_context.hpp>

#include "gateway/adapter/adapter.hpp"

namespace kakehashi::testing {

class PipelineSink final : public gateway::AdapterSink {
 public:
  // An item as handed over: its id on the network (source_id, or remote_id for receipts) and
  // the cursor its durable accept would persist.
  struct Handed {
    std::string id;
    std::string cursor;
  };

  class Lane {
   public:
    // Holding (the default) keeps every item until the test answers; otherwise items are
    // answered true at once, on the adapter's thread.
    void set_hold(bool hold);

    // Answers every held item in hand-over order from another thread: true, except the item at
    // `fail_at` (0-based among the held ones) and every one after it, answered false.
    void answer_held(std::optional<std::size_t> fail_at = std::nullopt);
    // Answers the held items from `first` on with `accepted` (in order, from another thread) and
    // keeps the earlier ones held: a false that overtakes earlier answers.
    void answer_from(std::size_t first, bool accepted);

    std::size_t held() const;
    std::size_t max_outstanding() const;
    std::vector<Handed> handed() const;    // every hand-over, in order
    std::vector<Handed> accepted() const;  // every item answered true, in answer order
    std::size_t accepted_count() const;

   private:
    friend class PipelineSink;
    using Held = std::pair<Handed, std::function<void(bool)>>;
    void take(Handed item, std::function<void(bool)> done);
    // Takes the answers to give out of `held_` under the lock; they are given outside it.
    void give(std::vector<std::pair<std::function<void(bool)>, bool>> answers);

    mutable std::mutex mutex_;
    bool hold_ = true;
    bool poisoned_ = false;  // a false was given and items are still outstanding
    std::size_t outstanding_ = 0;
    std::size_t max_outstanding_ = 0;
    std::deque<Held> held_;
    std::vector<Handed> handed_;
    std::vector<Handed> accepted_;
  };

  void on_unit(gateway::InboundUnit unit, std::function<void(bool)> done) override;
  void on_receipt(gateway::InboundReceipt receipt, std::function<void(bool)> done) override;

  Lane units;
  Lane receipts;
};

// Plays a run to its end against `lane` (Boost.Test assertions; the io_context runs on this
// thread): repeatedly waits until min(window, total - accepted) items are held, checks that no
// more are, and answers them in order. In the second batch, when `fail_at` is given, the item at
// that index and the rest of the batch are answered false (per the contract); with
// `false_first`, those falses are given first, the adapter runs for `quiet` and must hand
// nothing over meanwhile, then the earlier items are answered true. Ends when `total` items were
// answered true.
void drive_pipelined_intake(boost::asio::io_context& io, PipelineSink::Lane& lane,
                            std::size_t window, std::size_t total,
                            std::optional<std::size_t> fail_at = std::nullopt,
                            bool false_first = false,
                            std::chrono::milliseconds quiet = std::chrono::milliseconds(300));

}  // namespace kakehashi::testing
