#pragma once
// Seals the audit chain's tail on a timer (audit.checkpoint_every) in the running daemon. The
// store also seals by count and by time when it writes a record; without this timer, records
// written before a quiet period would stay unsealed until the next record arrives. The seal
// (signing and the store write) runs on `worker`, never on the network thread.

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/steady_timer.hpp>

namespace kakehashi::gateway::audit {

class CheckpointScheduler {
 public:
  // Seals what follows the last checkpoint; true when a checkpoint was written. May throw.
  using Seal = std::function<bool()>;

  CheckpointScheduler(boost::asio::any_io_executor timer_executor,
                      boost::asio::any_io_executor worker, std::chrono::milliseconds every,
                      Seal seal);
  ~CheckpointScheduler();
  CheckpointScheduler(const CheckpointScheduler&) = delete;
  CheckpointScheduler& operator=(const CheckpointScheduler&) = delete;

  void start();
  void stop();  // on the timer's executor
  // Seals now on the calling thread (a clean stop: SIGTERM seals the tail before the daemon
  // exits, so a stopped gateway leaves no record unsealed). Logs with `trigger`; never throws.
  bool seal_now(const char* trigger);

  std::int64_t written() const { return written_->load(); }  // checkpoints this timer wrote
  std::int64_t runs() const { return runs_->load(); }        // timer expiries handled

 private:
  void arm();

  boost::asio::steady_timer timer_;
  boost::asio::any_io_executor worker_;
  std::chrono::milliseconds every_;
  Seal seal_;
  std::shared_ptr<std::atomic<bool>> alive_ = std::make_shared<std::atomic<bool>>(true);
  std::shared_ptr<std::atomic<std::int64_t>> written_ =
      std::make_shared<std::atomic<std::int64_t>>(0);
  std::shared_ptr<std::atomic<std::int64_t>> runs_ = std::make_shared<std::atomic<std::int64_t>>(0);
};

}  // namespace kakehashi::gateway::audit
