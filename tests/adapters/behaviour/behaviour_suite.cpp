#include "tests/adapters/behaviour/behaviour_suite.hpp"

#include <optional>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/test/unit_test.hpp>

namespace kakehashi::testing {
namespace {

using gateway::SendResult;
using Status = SendResult::Status;
namespace ut = boost::unit_test;

std::string status_name(Status s) {
  switch (s) {
    case Status::kAccepted:
      return "accepted";
    case Status::kRejected:
      return "rejected";
    case Status::kRetry:
      return "retry";
  }
  return "?";
}

// One test case's world: an io_context, a recording sink, the peer and its adapter.
struct Bench {
  explicit Bench(const std::function<std::unique_ptr<BehaviourPeer>()>& make_peer)
      : peer(make_peer()) {
    gateway::AdapterContext context;
    context.executor = io.get_executor();
    context.sink = &sink;
    context.name = "behaviour";
    adapter = peer->make_adapter(std::move(context));
    BOOST_TEST_REQUIRE(adapter != nullptr);
  }
  ~Bench() {
    // Release the adapter while the io_context still exists (its handlers reference it).
    adapter.reset();
  }
  Bench(const Bench&) = delete;
  Bench& operator=(const Bench&) = delete;

  // Stops and waits for `drained`; checks it ran exactly once.
  void stop_and_drain() {
    int drained = 0;
    adapter->stop([&] { ++drained; });
    BOOST_TEST_REQUIRE(run_until(io, [&] { return drained > 0; }), "drained never ran");
    io.poll();  // anything queued behind it would show up as a second call
    BOOST_TEST(drained == 1);
  }

  // Sends and waits for the answer; checks `done` ran exactly once.
  SendResult send(gateway::OutboundUnit unit) {
    int calls = 0;
    SendResult result;
    adapter->send(std::move(unit), [&](SendResult r) {
      ++calls;
      result = std::move(r);
    });
    BOOST_TEST_REQUIRE(run_until(io, [&] { return calls > 0; }), "send never completed");
    io.poll();
    BOOST_TEST(calls == 1);
    return result;
  }

  boost::asio::io_context io;
  RecordingSink sink;
  std::unique_ptr<BehaviourPeer> peer;
  std::unique_ptr<gateway::Adapter> adapter;
};

void start_stop_twice(const std::function<std::unique_ptr<BehaviourPeer>()>& make_peer) {
  Bench b(make_peer);
  b.adapter->start();
  b.stop_and_drain();
  b.adapter->start();
  const auto result = b.send(b.peer->sample_unit("behaviour-restart-1"));
  BOOST_TEST(status_name(result.status) == "accepted", result.message);
  b.stop_and_drain();
}

void send_completes_once(const std::function<std::unique_ptr<BehaviourPeer>()>& make_peer) {
  Bench b(make_peer);
  b.adapter->start();
  const std::string key = "behaviour-once-1";
  const auto first = b.send(b.peer->sample_unit(key));
  BOOST_TEST(status_name(first.status) == "accepted", first.error_code << " " << first.message);
  const auto again = b.send(b.peer->sample_unit(key));
  BOOST_TEST(status_name(again.status) == "accepted", again.error_code << " " << again.message);
  BOOST_TEST(b.peer->delivered_count(key) == 1u);
  b.stop_and_drain();
}

void stop_drains_in_flight(const std::function<std::unique_ptr<BehaviourPeer>()>& make_peer) {
  Bench b(make_peer);
  b.adapter->start();
  const std::string key = "behaviour-drain-1";
  std::vector<std::string> events;
  std::optional<SendResult> result;
  b.adapter->send(b.peer->sample_unit(key), [&](SendResult r) {
    events.push_back("send");
    result = std::move(r);
  });
  b.adapter->stop([&] { events.push_back("drained"); });
  BOOST_TEST_REQUIRE(run_until(b.io, [&] { return events.size() >= 2; }), "no drain");
  b.io.poll();
  BOOST_TEST_REQUIRE(events.size() == 2u);
  BOOST_TEST(events[0] == "send");
  BOOST_TEST(events[1] == "drained");
  // Accepted, or refused as transient because stop won the race; never lost half-way.
  BOOST_TEST((result->status != Status::kRejected), result->message);
  const std::size_t expected = result->status == Status::kAccepted ? 1u : 0u;
  BOOST_TEST(b.peer->delivered_count(key) == expected);
}

void reconnect_after_reset(const std::function<std::unique_ptr<BehaviourPeer>()>& make_peer) {
  Bench b(make_peer);
  b.adapter->start();
  const auto first = b.send(b.peer->sample_unit("behaviour-reset-1"));
  BOOST_TEST_REQUIRE(status_name(first.status) == "accepted", first.message);
  b.peer->reset_connections();
  const std::string key = "behaviour-reset-2";
  auto second = b.send(b.peer->sample_unit(key));
  if (second.status == Status::kRetry) second = b.send(b.peer->sample_unit(key));
  BOOST_TEST(status_name(second.status) == "accepted", second.error_code << " " << second.message);
  BOOST_TEST(b.peer->delivered_count(key) == 1u);
  b.stop_and_drain();
}

void malformed_answer_is_error(const std::function<std::unique_ptr<BehaviourPeer>()>& make_peer) {
  Bench b(make_peer);
  b.adapter->start();
  const std::string key = "behaviour-malformed-1";
  b.peer->answer_malformed_next(1);
  const auto bad = b.send(b.peer->sample_unit(key));
  BOOST_TEST(status_name(bad.status) != "accepted", "a malformed answer was taken as success");
  BOOST_TEST(!bad.error_code.empty());
  const auto good = b.send(b.peer->sample_unit(key));
  BOOST_TEST(status_name(good.status) == "accepted", good.error_code << " " << good.message);
  BOOST_TEST(b.peer->delivered_count(key) == 1u);
  b.stop_and_drain();
}

void retry_after_honoured(const std::function<std::unique_ptr<BehaviourPeer>()>& make_peer) {
  Bench b(make_peer);
  b.adapter->start();
  b.peer->answer_retry_after_next(1, std::chrono::seconds(7));
  const auto result = b.send(b.peer->sample_unit("behaviour-retry-after-1"));
  BOOST_TEST(status_name(result.status) == "retry");
  BOOST_TEST_REQUIRE(result.retry_after.has_value());
  BOOST_TEST(result.retry_after->count() == 7);
  b.stop_and_drain();
}

void publish_directory_answers_once(
    const std::function<std::unique_ptr<BehaviourPeer>()>& make_peer) {
  Bench b(make_peer);
  auto entries = b.peer->sample_publication();
  const bool takes = !entries.empty();
  if (!takes) {
    gateway::DirectoryEntry e;
    e.office = {"1371100452", "11"};
    e.name = "behaviour";
    e.status = "ACTIVE";
    entries.push_back(e);
  }
  int calls = 0;
  SendResult result;
  b.adapter->publish_directory(std::move(entries), [&](SendResult r) {
    ++calls;
    result = std::move(r);
  });
  BOOST_TEST_REQUIRE(run_until(b.io, [&] { return calls > 0; }), "publish never completed");
  b.io.poll();
  BOOST_TEST(calls == 1);
  if (takes) {
    BOOST_TEST(status_name(result.status) == "accepted",
               result.error_code << " " << result.message);
  } else {
    BOOST_TEST(status_name(result.status) == "rejected");
    BOOST_TEST(result.error_code == gateway::Adapter::kPublishNotSupported);
  }
  b.adapter->start();
  const auto sent = b.send(b.peer->sample_unit("behaviour-after-publish-1"));
  BOOST_TEST(status_name(sent.status) == "accepted", sent.error_code << " " << sent.message);
  b.stop_and_drain();
}

using Case = void (*)(const std::function<std::unique_ptr<BehaviourPeer>()>&);

}  // namespace

void register_behaviour_suite(const std::string& name,
                              std::function<std::unique_ptr<BehaviourPeer>()> make_peer) {
  auto* suite = BOOST_TEST_SUITE(name);
  enum class Needs { kNothing, kReset, kMisbehave };
  struct Entry {
    const char* name;
    Case run;
    Needs needs;
  };
  static constexpr Entry kCases[] = {
      {"start_stop_twice", &start_stop_twice, Needs::kNothing},
      {"send_completes_once", &send_completes_once, Needs::kNothing},
      {"stop_drains_in_flight", &stop_drains_in_flight, Needs::kNothing},
      {"reconnect_after_reset", &reconnect_after_reset, Needs::kReset},
      {"malformed_answer_is_error", &malformed_answer_is_error, Needs::kMisbehave},
      {"retry_after_honoured", &retry_after_honoured, Needs::kMisbehave},
      {"publish_directory_answers_once", &publish_directory_answers_once, Needs::kNothing},
  };
  for (const auto& entry : kCases) {
    auto* test_case =
        ut::make_test_case(std::function<void()>([run = entry.run, make_peer] { run(make_peer); }),
                           entry.name, __FILE__, __LINE__);
    if (entry.needs != Needs::kNothing) {
      const Needs needs = entry.needs;
      // Reported as skipped (not passed) for a peer that cannot play this part.
      test_case->add_precondition([make_peer, needs](ut::test_unit_id) {
        const auto peer = make_peer();
        const bool able =
            needs == Needs::kReset ? peer->can_reset_connections() : peer->can_misbehave();
        return boost::test_tools::assertion_result(able);
      });
    }
    suite->add(test_case);
  }
  ut::framework::master_test_suite().add(suite);
}

void RecordingSink::on_unit(gateway::InboundUnit unit, std::function<void(bool)> done) {
  bool answer = false;
  {
    std::lock_guard lock(mutex_);
    units_.push_back(std::move(unit));
    if (hold_) {
      held_.push_back(std::move(done));
      return;
    }
    answer = accept_;
  }
  done(answer);
}

void RecordingSink::on_receipt(gateway::InboundReceipt receipt, std::function<void(bool)> done) {
  {
    std::lock_guard lock(mutex_);
    receipts_.push_back(std::move(receipt));
  }
  done(true);
}

void RecordingSink::set_answer(bool accepted) {
  std::lock_guard lock(mutex_);
  accept_ = accepted;
}

void RecordingSink::set_hold_answers(bool hold) {
  std::lock_guard lock(mutex_);
  hold_ = hold;
}

std::size_t RecordingSink::answer_held(bool accepted) {
  std::vector<std::function<void(bool)>> held;
  {
    std::lock_guard lock(mutex_);
    held.swap(held_);
  }
  for (auto& done : held) done(accepted);
  return held.size();
}

void RecordingSink::drop_held() {
  std::lock_guard lock(mutex_);
  held_.clear();
}

std::vector<gateway::InboundUnit> RecordingSink::units() const {
  std::lock_guard lock(mutex_);
  return units_;
}

std::vector<gateway::InboundReceipt> RecordingSink::receipts() const {
  std::lock_guard lock(mutex_);
  return receipts_;
}

std::size_t RecordingSink::unit_count() const {
  std::lock_guard lock(mutex_);
  return units_.size();
}

std::size_t RecordingSink::held_count() const {
  std::lock_guard lock(mutex_);
  return held_.size();
}

}  // namespace kakehashi::testing
