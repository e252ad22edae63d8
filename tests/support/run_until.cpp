#include "tests/support/run_until.hpp"

#include <algorithm>
#include <string>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/test/unit_test.hpp>

namespace kakehashi::testing {

bool run_until(boost::asio::io_context& io, const std::function<bool()>& done,
               std::chrono::milliseconds timeout, std::chrono::milliseconds slice) {
  using Clock = std::chrono::steady_clock;
  const auto deadline = Clock::now() + timeout;
  auto guard = boost::asio::make_work_guard(io);
  while (!done()) {
    const auto now = Clock::now();
    if (now >= deadline) return false;
    if (io.stopped()) io.restart();
    const auto left = deadline - now;
    if (slice.count() == 0) {
      // Blocks until one handler runs or the slice ends: waiting, not sleeping.
      io.run_one_for(std::min<Clock::duration>(left, std::chrono::milliseconds(50)));
    } else {
      io.run_for(std::min<Clock::duration>(left, slice));
    }
  }
  return true;
}

void require_until(boost::asio::io_context& io, const std::function<bool()>& done,
                   std::chrono::milliseconds timeout, std::chrono::milliseconds slice) {
  BOOST_REQUIRE_MESSAGE(run_until(io, done, timeout, slice),
                        "timed out after " + std::to_string(timeout.count()) + " ms waiting");
}

}  // namespace kakehashi::testing
