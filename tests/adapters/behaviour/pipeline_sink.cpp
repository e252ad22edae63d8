#include "tests/adapters/behaviour/pipeline_sink.hpp"

#include <algorithm>
#include <thread>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/test/unit_test.hpp>

#include "tests/adapters/behaviour/behaviour_suite.hpp"

namespace kakehashi::testing {

void PipelineSink::on_unit(gateway::InboundUnit unit, std::function<void(bool)> done) {
  units.take({unit.source_id, unit.cursor}, std::move(done));
}

void PipelineSink::on_receipt(gateway::InboundReceipt receipt, std::function<void(bool)> done) {
  receipts.take({receipt.remote_id, receipt.cursor}, std::move(done));
}

void PipelineSink::Lane::set_hold(bool hold) {
  std::lock_guard lock(mutex_);
  hold_ = hold;
}

void PipelineSink::Lane::take(Handed item, std::function<void(bool)> done) {
  std::optional<bool> at_once;
  {
    std::lock_guard lock(mutex_);
    handed_.push_back(item);
    ++outstanding_;
    max_outstanding_ = std::max(max_outstanding_, outstanding_);
    if (poisoned_) {
      at_once = false;  // the contract: false until the adapter has nothing outstanding
    } else if (!hold_) {
      at_once = true;
    } else {
      held_.emplace_back(std::move(item), std::move(done));
      return;
    }
    --outstanding_;
    if (*at_once) accepted_.push_back(item);
    if (outstanding_ == 0) poisoned_ = false;
  }
  done(*at_once);
}

void PipelineSink::Lane::give(std::vector<std::pair<std::function<void(bool)>, bool>> answers) {
  // Answers come from another thread, as the engine's do.
  std::thread([answers = std::move(answers)] {
    for (const auto& [done, accepted] : answers) done(accepted);
  }).join();
}

void PipelineSink::Lane::answer_held(std::optional<std::size_t> fail_at) {
  std::vector<std::pair<std::function<void(bool)>, bool>> answers;
  {
    std::lock_guard lock(mutex_);
    for (std::size_t i = 0; i < held_.size(); ++i) {
      const bool accepted = !fail_at || i < *fail_at;
      if (accepted) {
        accepted_.push_back(held_[i].first);
      } else {
        poisoned_ = true;
      }
      answers.emplace_back(std::move(held_[i].second), accepted);
    }
    outstanding_ -= held_.size();
    held_.clear();
    if (outstanding_ == 0) poisoned_ = false;
  }
  give(std::move(answers));
}

void PipelineSink::Lane::answer_from(std::size_t first, bool accepted) {
  std::vector<std::pair<std::function<void(bool)>, bool>> answers;
  {
    std::lock_guard lock(mutex_);
    while (held_.size() > first) {
      // In hand-over order: the first of the tail first.
      auto it = held_.begin() + static_cast<std::ptrdiff_t>(first);
      if (accepted) {
        accepted_.push_back(it->first);
      } else {
        poisoned_ = true;
      }
      answers.emplace_back(std::move(it->second), accepted);
      held_.erase(it);
      --outstanding_;
    }
    if (outstanding_ == 0) poisoned_ = false;
  }
  give(std::move(answers));
}

std::size_t PipelineSink::Lane::held() const {
  std::lock_guard lock(mutex_);
  return held_.size();
}

std::size_t PipelineSink::Lane::max_outstanding() const {
  std::lock_guard lock(mutex_);
  return max_outstanding_;
}

std::vector<PipelineSink::Handed> PipelineSink::Lane::handed() const {
  std::lock_guard lock(mutex_);
  return handed_;
}

std::vector<PipelineSink::Handed> PipelineSink::Lane::accepted() const {
  std::lock_guard lock(mutex_);
  return accepted_;
}

std::size_t PipelineSink::Lane::accepted_count() const {
  std::lock_guard lock(mutex_);
  return accepted_.size();
}

void drive_pipelined_intake(boost::asio::io_context& io, PipelineSink::Lane& lane,
                            std::size_t window, std::size_t total,
                            std::optional<std::size_t> fail_at, bool false_first,
                            std::chrono::milliseconds quiet) {
  for (std::size_t batch = 0; lane.accepted_count() < total; ++batch) {
    const std::size_t expect = std::min(window, total - lane.accepted_count());
    const auto arrived = [&] { return lane.held() >= expect; };
    BOOST_TEST_REQUIRE(
        run_until(io, arrived, std::chrono::seconds(30)),
        "batch " << batch << ": " << lane.held() << " of " << expect << " items held at the sink");
    BOOST_TEST_REQUIRE(lane.held() == expect, "batch " << batch << ": more than the window");
    if (batch != 1 || !fail_at) {
      lane.answer_held();
      continue;
    }
    if (!false_first) {
      lane.answer_held(fail_at);
      continue;
    }
    // The false overtakes the earlier answers: nothing may be handed over while they are out.
    const std::size_t handed = lane.handed().size();
    lane.answer_from(*fail_at, false);
    {
      // Waiting for something not to happen: a bounded run of the adapter, not a sleep.
      auto guard = boost::asio::make_work_guard(io);
      io.restart();
      io.run_for(quiet);
    }
    BOOST_TEST(lane.handed().size() == handed, "handed over after a false with items out");
    BOOST_TEST(lane.held() == *fail_at);
    lane.answer_held();
  }
}

}  // namespace kakehashi::testing
