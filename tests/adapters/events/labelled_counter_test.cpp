// LabelledCounter and its registry (gateway/adapter/labelled_counter.hpp): known values, the cap
// on distinct values, values that are not a label's shape, concurrent counting.
#define BOOST_TEST_DYN_LINK
#define BOOST_TEST_MODULE adapter_events
#include <boost/test/unit_test.hpp>

#include <string>
#include <thread>
#include <vector>

#include "gateway/adapter/adapter_events.hpp"
#include "gateway/adapter/labelled_counter.hpp"

using kakehashi::gateway::AdapterEvents;
using kakehashi::gateway::LabelledCounter;
using kakehashi::gateway::LabelledCounters;

BOOST_AUTO_TEST_CASE(known_values_show_at_zero_and_count) {
  LabelledCounter c("kakehashi_x_total", "X.", "outcome", {"accepted", "refused"});
  BOOST_TEST(c.snapshot().size() == 2u);
  BOOST_TEST(c.value("refused") == 0u);
  c.add("accepted");
  c.add("accepted", 2);
  c.add("retry");
  BOOST_TEST(c.value("accepted") == 3u);
  BOOST_TEST(c.value("retry") == 1u);
  BOOST_TEST(c.value("never") == 0u);
  const auto s = c.snapshot();
  BOOST_TEST_REQUIRE(s.size() == 3u);
  BOOST_TEST(s[0].first == "accepted");  // in label order
  BOOST_TEST(s[2].first == "retry");
}

BOOST_AUTO_TEST_CASE(values_past_the_cap_count_under_other) {
  LabelledCounter c("kakehashi_codes_total", "Codes.", "code", {"KW0000"}, 3);
  for (int i = 1; i <= 10; ++i) c.add("KW" + std::to_string(1000 + i));
  BOOST_TEST(c.snapshot().size() == 4u);  // 3 values and "other"
  BOOST_TEST(c.value("KW0000") == 0u);
  BOOST_TEST(c.value("KW1001") == 1u);
  BOOST_TEST(c.value("KW1002") == 1u);
  BOOST_TEST(c.value("KW1003") == 0u);
  BOOST_TEST(c.value("other") == 8u);
  c.add("KW1001");  // a value already there still counts as itself
  BOOST_TEST(c.value("KW1001") == 2u);
}

BOOST_AUTO_TEST_CASE(values_that_are_not_a_label_shape_count_under_other) {
  LabelledCounter c("kakehashi_codes_total", "Codes.", "code");
  c.add("");
  c.add(std::string(LabelledCounter::kMaxValueLength + 1, 'K'));
  c.add("KW1001\"} 1\nfake 2");
  c.add("山田太郎");
  c.add(std::string(LabelledCounter::kMaxValueLength, 'K'));
  c.add("S4290");
  c.add("3271500013:CP-1_a.b");
  BOOST_TEST(c.value("other") == 4u);
  BOOST_TEST(c.snapshot().size() == 4u);
}

BOOST_AUTO_TEST_CASE(a_hostile_stream_of_codes_stays_bounded) {
  LabelledCounter c("kakehashi_codes_total", "Codes.", "code");
  for (int i = 0; i < 10000; ++i) c.add("KW" + std::to_string(i));
  BOOST_TEST(c.snapshot().size() == LabelledCounter::kDefaultMaxValues + 1);
  BOOST_TEST(c.value("other") == 10000u - LabelledCounter::kDefaultMaxValues);
}

BOOST_AUTO_TEST_CASE(concurrent_increments_are_all_counted) {
  LabelledCounter c("kakehashi_x_total", "X.", "office", {}, 16);
  constexpr int kThreads = 8;
  constexpr int kEach = 5000;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&c, t] {
      for (int i = 0; i < kEach; ++i) c.add("office-" + std::to_string((t + i) % 32));
    });
  }
  std::thread reader([&c] {
    for (int i = 0; i < 200; ++i) (void)c.snapshot();
  });
  for (auto& th : threads) th.join();
  reader.join();
  std::uint64_t total = 0;
  for (const auto& [v, n] : c.snapshot()) total += n;
  BOOST_TEST(total == static_cast<std::uint64_t>(kThreads * kEach));
  BOOST_TEST(c.snapshot().size() == 17u);  // 16 offices and "other"
}

BOOST_AUTO_TEST_CASE(the_registry_gives_one_counter_per_name) {
  LabelledCounters r;
  auto a = r.get("kakehashi_a_total", "A.", "outcome", {"ok"});
  auto b = r.get("kakehashi_b_total", "B.", "code");
  auto a2 = r.get("kakehashi_a_total", "ignored", "ignored");
  BOOST_TEST(a.get() == a2.get());
  BOOST_TEST(a2->help() == "A.");
  a->add("ok");
  BOOST_TEST(a2->value("ok") == 1u);
  const auto list = r.list();
  BOOST_TEST_REQUIRE(list.size() == 2u);
  BOOST_TEST(list[0]->name() == "kakehashi_a_total");
  BOOST_TEST(list[1].get() == b.get());
}

BOOST_AUTO_TEST_CASE(events_without_counters_hand_out_a_counter_nobody_reads) {
  AdapterEvents with;
  with.labelled("kakehashi_a_total", "A.", "outcome")->add("ok");
  BOOST_TEST(with.counters->labelled.list().size() == 1u);
  BOOST_TEST(with.labelled("kakehashi_a_total", "A.", "outcome")->value("ok") == 1u);
  AdapterEvents without;
  without.counters = nullptr;
  auto c = without.labelled("kakehashi_a_total", "A.", "outcome");
  c->add("ok");
  BOOST_TEST(c->value("ok") == 1u);
}
