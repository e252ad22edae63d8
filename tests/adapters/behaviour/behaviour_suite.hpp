#pragma once
// The adapter behaviour suite: one contract every adapter (national, regional, drop folder) must
// honour, written once and run against each network's stand-in through a BehaviourPeer.
//
// How to plug in (in your adapter's Boost.Test executable, e.g. tests/adapters/national/):
//
//   #include "tests/adapters/behaviour/behaviour_suite.hpp"
//   class NationalPeer final : public kakehashi::testing::BehaviourPeer { ... };
//   static const kakehashi::testing::BehaviourSuiteRegistrar kRegistered(
//       "national_behaviour", [] { return std::make_unique<NationalPeer>(); });
//
// and link `kakehashi::adapter_behaviour`. Each test case calls `make_peer` once, then
// `make_adapter` once with a fresh io_context's executor and a RecordingSink; the peer lives for
// the whole case (so it may own a stand-in server, a temp dir, ...). Cases gated by a
// capability (reset, misbehave) call `make_peer` once more first, only to ask the capability,
// and are reported as skipped when it is false.
//
// Cases (suite `name`):
//   start_stop_twice           start, stop (drained once), start again, stop again (drained once)
//   send_completes_once        done called once with kAccepted; a resend with the same key is
//                              kAccepted too and the peer's delivered_count stays 1
//   stop_drains_in_flight      stop right after send: `drained` runs once, after send's done
//   reconnect_after_reset      accepted, peer resets connections, the next send is accepted
//                              (one kRetry answer in between is allowed, then it is resent)
//   malformed_answer_is_error  a malformed answer gives kRetry or kRejected; the adapter keeps
//                              working and a resend with the same key is delivered exactly once
//   retry_after_honoured       503 + Retry-After: kRetry with retry_after equal to the peer's
//   publish_directory_answers_once
//                              publish_directory (before start, as `kakehashi registry sync`
//                              does) calls done once: kAccepted for a network that takes a
//                              publication (sample_publication not empty), else kRejected with
//                              Adapter::kPublishNotSupported; the adapter still sends afterwards
// Every wait runs the io_context until a predicate holds, with a deadline (no sleeps).

#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

// Boost 1.74 Asio in C++20 mode with g++ 12 misses <utility> (ENV.md).
#include <utility>

#include <boost/asio/io_context.hpp>

#include "gateway/adapter/adapter.hpp"
#include "tests/support/run_until.hpp"  // run_until, used by the suite and every adapter test

namespace kakehashi::testing {

// One implementation per network, written by that network's engineer.
class BehaviourPeer {
 public:
  virtual ~BehaviourPeer() = default;
  // A new adapter talking to this peer. `context.sink` and `context.executor` are the suite's.
  virtual std::unique_ptr<gateway::Adapter> make_adapter(gateway::AdapterContext context) = 0;
  // A unit the peer will accept, carrying `idempotency_key`. Called once per key, maybe twice.
  virtual gateway::OutboundUnit sample_unit(const std::string& idempotency_key) = 0;
  // How many times the peer's delivery log holds the unit sent with this key.
  virtual std::size_t delivered_count(const std::string& idempotency_key) = 0;
  virtual bool can_reset_connections() const { return false; }
  virtual void reset_connections() {}  // the peer drops every open connection
  virtual bool can_misbehave() const { return false; }
  virtual void answer_malformed_next(int /*count*/) {}  // next N answers have malformed bodies
  // Next N answers are 503 with Retry-After: `after` (seconds).
  virtual void answer_retry_after_next(int /*count*/, std::chrono::seconds /*after*/) {}
  // Offices the peer accepts as the gateway's publication (Adapter::publish_directory). Empty:
  // the network type takes none (its traits say so) and keeps the interface's default.
  virtual std::vector<gateway::DirectoryEntry> sample_publication() { return {}; }
};

// Registers the cases above in the master test suite, under a sub-suite called `name`.
void register_behaviour_suite(const std::string& name,
                              std::function<std::unique_ptr<BehaviourPeer>()> make_peer);

// Calls register_behaviour_suite from a static object in your test's own .cpp file.
struct BehaviourSuiteRegistrar {
  BehaviourSuiteRegistrar(const std::string& name,
                          std::function<std::unique_ptr<BehaviourPeer>()> make_peer) {
    register_behaviour_suite(name, std::move(make_peer));
  }
};

// An AdapterSink that records what it is given. By default it answers `done(true)` at once;
// with `hold_answers` it keeps the callbacks so a test decides when (or whether) to answer.
// Thread-safe: adapters may call it from any thread.
class RecordingSink final : public gateway::AdapterSink {
 public:
  void on_unit(gateway::InboundUnit unit, std::function<void(bool)> done) override;
  void on_receipt(gateway::InboundReceipt receipt, std::function<void(bool)> done) override;

  void set_answer(bool accepted);    // what to answer (default true)
  void set_hold_answers(bool hold);  // keep callbacks instead of answering
  // Answers every held unit callback with `accepted`; returns how many were answered.
  std::size_t answer_held(bool accepted);
  void drop_held();  // forget held callbacks without calling them

  std::vector<gateway::InboundUnit> units() const;
  std::vector<gateway::InboundReceipt> receipts() const;
  std::size_t unit_count() const;
  std::size_t held_count() const;

 private:
  mutable std::mutex mutex_;
  bool accept_ = true;
  bool hold_ = false;
  std::vector<gateway::InboundUnit> units_;
  std::vector<gateway::InboundReceipt> receipts_;
  std::vector<std::function<void(bool)>> held_;
};

}  // namespace kakehashi::testing
