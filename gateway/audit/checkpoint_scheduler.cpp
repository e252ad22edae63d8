#include "gateway/audit/checkpoint_scheduler.hpp"

#include <exception>
#include <string>

#include <boost/asio/post.hpp>

#include "gateway/engine/log.hpp"

namespace kakehashi::gateway::audit {

CheckpointScheduler::CheckpointScheduler(boost::asio::any_io_executor timer_executor,
                                         boost::asio::any_io_executor worker,
                                         std::chrono::milliseconds every, Seal seal)
    : timer_(std::move(timer_executor)),
      worker_(std::move(worker)),
      every_(every),
      seal_(std::move(seal)) {}

CheckpointScheduler::~CheckpointScheduler() {
  *alive_ = false;
  timer_.cancel();
}

void CheckpointScheduler::start() {
  arm();
}

void CheckpointScheduler::stop() {
  *alive_ = false;
  timer_.cancel();
}

bool CheckpointScheduler::seal_now(const char* trigger) {
  std::string error;
  bool sealed = false;
  try {
    sealed = seal_();
  } catch (const std::exception& e) {
    error = e.what();
  } catch (...) {
    error = "unknown error";  // store errors are std::exceptions (store::SqlError)
  }
  if (!error.empty()) {
    log(LogLevel::kError, "audit-checkpoint-failed", {{"trigger", trigger}, {"error", error}});
    return false;
  }
  if (sealed) {
    ++*written_;
    log(LogLevel::kInfo, "audit-checkpoint", {{"trigger", trigger}});
  }
  return sealed;
}

void CheckpointScheduler::arm() {
  timer_.expires_after(every_);
  timer_.async_wait([this, alive = alive_](boost::system::error_code ec) {
    if (ec || !*alive) return;
    // The seal is shared so the worker never touches this object after it is gone.
    boost::asio::post(worker_, [seal = seal_, alive, written = written_, runs = runs_] {
      if (!*alive) return;
      std::string error;
      try {
        if (seal()) {
          ++*written;
          log(LogLevel::kInfo, "audit-checkpoint", {{"trigger", "timer"}});
        }
      } catch (const std::exception& e) {
        error = e.what();
      } catch (...) {
        error = "unknown error";  // store errors are std::exceptions: the next expiry tries again
      }
      if (!error.empty()) log(LogLevel::kError, "audit-checkpoint-failed", {{"error", error}});
      ++*runs;
    });
    arm();
  });
}

}  // namespace kakehashi::gateway::audit
