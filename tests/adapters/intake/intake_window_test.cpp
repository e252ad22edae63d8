// adapters/common/intake: the window of outstanding items, the durable prefix, and the lane's
// waits.
#define BOOST_TEST_DYN_LINK
#define BOOST_TEST_MODULE adapter_intake
#include <boost/test/unit_test.hpp>

#include <string>
#include <vector>

#include "adapters/common/intake/intake_lane.hpp"
#include "adapters/common/intake/intake_window.hpp"

using kakehashi::adapters::IntakeLane;
using kakehashi::adapters::IntakeWindow;

namespace {

// The cursors that joined the durable prefix, in the order the window reported them.
struct Durable {
  std::vector<std::string> cursors;
  auto sink() {
    return [this](std::string c) { cursors.push_back(std::move(c)); };
  }
};

}  // namespace

BOOST_AUTO_TEST_SUITE(intake_window)

BOOST_AUTO_TEST_CASE(window_zero_is_one) {
  IntakeWindow<std::string> w(0);
  BOOST_TEST(w.window() == 1u);
  BOOST_TEST(w.empty());
  w.hand_over("a");
  BOOST_TEST(w.full());
}

BOOST_AUTO_TEST_CASE(in_order_answers_advance_item_by_item) {
  IntakeWindow<std::string> w(3);
  Durable d;
  const auto a = w.hand_over("a");
  const auto b = w.hand_over("b");
  BOOST_TEST(!w.full());
  const auto c = w.hand_over("c");
  BOOST_TEST(w.full());
  BOOST_TEST(w.outstanding() == 3u);
  w.answer(a, true, d.sink());
  BOOST_TEST(!w.full());
  w.answer(b, true, d.sink());
  w.answer(c, true, d.sink());
  BOOST_TEST(w.empty());
  BOOST_TEST((d.cursors == std::vector<std::string>{"a", "b", "c"}));
  BOOST_TEST(!w.failed());
}

BOOST_AUTO_TEST_CASE(a_later_true_waits_for_the_earlier_items) {
  IntakeWindow<std::string> w(4);
  Durable d;
  const auto a = w.hand_over("a");
  const auto b = w.hand_over("b");
  const auto c = w.hand_over("c");
  w.answer(c, true, d.sink());  // not the contract's order: earns nothing yet
  BOOST_TEST(d.cursors.empty());
  BOOST_TEST(w.outstanding() == 2u);
  w.answer(a, true, d.sink());
  BOOST_TEST((d.cursors == std::vector<std::string>{"a"}));
  w.answer(b, true, d.sink());
  BOOST_TEST((d.cursors == std::vector<std::string>{"a", "b", "c"}));
}

BOOST_AUTO_TEST_CASE(false_ends_the_prefix_and_the_run) {
  IntakeWindow<std::string> w(4);
  Durable d;
  const auto a = w.hand_over("a");
  const auto b = w.hand_over("b");
  const auto c = w.hand_over("c");
  const auto e = w.hand_over("e");
  w.answer(c, false, d.sink());  // a false may come before earlier items are answered
  BOOST_TEST(w.failed());
  BOOST_TEST(!w.restart());  // items outstanding: the run cannot start over yet
  w.answer(a, true, d.sink());
  w.answer(b, true, d.sink());
  BOOST_TEST((d.cursors == std::vector<std::string>{"a", "b"}));
  w.answer(e, true, d.sink());  // after the false: never durable
  BOOST_TEST((d.cursors == std::vector<std::string>{"a", "b"}));
  BOOST_TEST(w.empty());
  BOOST_TEST(w.failed());
  BOOST_TEST(w.restart());
  BOOST_TEST(!w.failed());
  const auto f = w.hand_over("c");
  w.answer(f, true, d.sink());
  BOOST_TEST((d.cursors == std::vector<std::string>{"a", "b", "c"}));
}

BOOST_AUTO_TEST_CASE(lane_waits_for_room_and_for_the_last_answer) {
  IntakeLane<int> lane(2);
  int room = 0;
  int drained = 0;
  int durable = 0;
  const auto a = lane.window().hand_over(1);
  const auto b = lane.window().hand_over(2);
  lane.wait_for_room([&] { ++room; });
  BOOST_TEST(room == 0);
  BOOST_TEST(lane.waiting());
  lane.window().answer(a, true, [&](int c) { durable = c; });
  lane.progress();
  BOOST_TEST(room == 1);
  BOOST_TEST(!lane.waiting());
  lane.progress();  // runs once
  BOOST_TEST(room == 1);
  lane.wait_until_drained([&] { ++drained; });
  BOOST_TEST(drained == 0);
  lane.window().answer(b, true, [&](int c) { durable = c; });
  lane.progress();
  BOOST_TEST(drained == 1);
  BOOST_TEST(durable == 2);
  lane.wait_until_drained([&] { ++drained; });  // already drained: at once
  BOOST_TEST(drained == 2);
}

BOOST_AUTO_TEST_CASE(lane_failure_wakes_a_full_window) {
  IntakeLane<int> lane(2);
  int room = 0;
  const auto a = lane.window().hand_over(1);
  lane.window().hand_over(2);
  lane.wait_for_room([&] { ++room; });
  lane.window().answer(a, false, [](int) {});
  lane.progress();
  BOOST_TEST(room == 1);  // woken to see the failure, with room or without
  BOOST_TEST(lane.window().failed());
  lane.wait_until_drained([&] { ++room; });
  lane.forget();
  lane.progress();
  BOOST_TEST(room == 1);
}

BOOST_AUTO_TEST_SUITE_END()
