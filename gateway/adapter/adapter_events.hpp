#pragma once
// How an adapter says what went wrong (issues 14 and 15): a logger and counters handed to it in
// its AdapterContext. Every degraded path (a failed poll, a malformed answer, an item that cannot
// be opened, a re-login, a refused push notice) logs once with the item's id and counts here.
// Never payload, credentials or personal data: ids, codes, JSON paths and reasons only.

#include <atomic>
#include <cstdint>
#include <functional>
#include <initializer_list>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "gateway/adapter/labelled_counter.hpp"

namespace kakehashi::gateway {

// Counters of one adapter instance. Written on the adapter's strand (and TLS callbacks), read by
// the admin listener (Prometheus text, alerts) from any thread.
struct AdapterCounters {
  std::atomic<std::uint64_t> polls_failed{0};         // a listing or fetch failed (transient)
  std::atomic<std::uint64_t> malformed_answers{0};    // an answer that is not the contract's shape
  std::atomic<std::uint64_t> items_unreadable{0};     // handed over as unreadable (refused back)
  std::atomic<std::uint64_t> items_skipped{0};        // listed without an id to fetch or refuse
  std::atomic<std::uint64_t> relogins{0};             // a session was renewed after a 401
  std::atomic<std::uint64_t> tls_verify_failures{0};  // a peer certificate failed verification
  std::atomic<std::uint64_t> push_refused{0};  // push notices refused (identity, size, connections)
  // Gauge: inbox runs in a row that ended on a network failure without the unit cursor moving
  // (0 again after a run that went through). The admin's "inbox-stalled" alert reads it.
  std::atomic<std::uint64_t> stalled_polls{0};
  // Gauge: offices (mailboxes, accounts) whose lists are being polled at this moment, for
  // adapters that poll several at once (bounded by the adapter's own setting).
  std::atomic<std::uint64_t> offices_polling{0};
  // The adapter's own counters with a label (sends by outcome, codes by code, ...).
  LabelledCounters labelled;
};

enum class AdapterLogLevel { kInfo, kWarning, kError };

using AdapterLogFields = std::vector<std::pair<std::string, std::string>>;

// The context's reporting side. Copyable; an empty `sink` logs nothing (tests, tools).
struct AdapterEvents {
  // The daemon prefixes the adapter's name; `event` is a stable name ("item-unreadable", ...).
  std::function<void(AdapterLogLevel, std::string_view event, const AdapterLogFields&)> sink;
  std::shared_ptr<AdapterCounters> counters = std::make_shared<AdapterCounters>();

  void log(AdapterLogLevel level, std::string_view event, AdapterLogFields fields) const {
    if (sink) sink(level, event, fields);
  }
  // Counts `counter` and logs the event in one step (the usual pair on a degraded path).
  void report(std::atomic<std::uint64_t> AdapterCounters::*counter, AdapterLogLevel level,
              std::string_view event, AdapterLogFields fields) const {
    if (counters) ++((*counters).*counter);
    log(level, event, std::move(fields));
  }
  void count(std::atomic<std::uint64_t> AdapterCounters::*counter) const {
    if (counters) ++((*counters).*counter);
  }
  // The labelled counter `name` of these counters (LabelledCounters::get); without counters, one
  // of its own that nobody reads, so the adapter counts without checking.
  std::shared_ptr<LabelledCounter> labelled(
      std::string_view name, std::string_view help, std::string_view label,
      std::initializer_list<std::string_view> known = {},
      std::size_t max_values = LabelledCounter::kDefaultMaxValues) const {
    if (counters) return counters->labelled.get(name, help, label, known, max_values);
    return std::make_shared<LabelledCounter>(std::string(name), std::string(help),
                                             std::string(label), known, max_values);
  }
};

}  // namespace kakehashi::gateway
