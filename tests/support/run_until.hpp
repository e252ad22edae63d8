#pragma once
// Deadline-bounded waits on an io_context: run its handlers on this thread until a predicate
// holds, instead of sleeping. Handlers run on the calling thread, so `done` may read state they
// write; a predicate fed by another thread is looked at again at least every 50 ms.

#include <chrono>
#include <functional>

#include <boost/asio/io_context.hpp>

namespace kakehashi::testing {

// Runs `io` (a work guard is held while waiting; a stopped context is restarted) until `done()`
// holds or `timeout` passes; returns done(). With `slice` 0 the predicate is looked at after every
// handler, so the run stops the moment it holds; otherwise after each `slice` of handlers (for a
// predicate that costs a store query).
bool run_until(boost::asio::io_context& io, const std::function<bool()>& done,
               std::chrono::milliseconds timeout = std::chrono::seconds(10),
               std::chrono::milliseconds slice = std::chrono::milliseconds(0));

// The same, for a wait that must end: when `timeout` passes first, the current Boost.Test case
// fails at once ("timed out after N ms waiting"), so a hang reads as a failure, not a stall.
void require_until(boost::asio::io_context& io, const std::function<bool()>& done,
                   std::chrono::milliseconds timeout = std::chrono::seconds(30),
                   std::chrono::milliseconds slice = std::chrono::milliseconds(0));

}  // namespace kakehashi::testing
