#pragma once
// The Kaigo WEB adapter's labelled counters (PROTOCOL.md §7.8), registered with the adapter's
// counters when it is made and rendered by the admin listener with the network's name. Label
// values are outcomes, service codes and office numbers: never payload, credentials or personal
// data.

#include <memory>
#include <string_view>
#include <vector>

#include "adapters/kaigoweb/kaigoweb_codec.hpp"
#include "gateway/adapter/adapter.hpp"

namespace kakehashi::adapters::kaigoweb {

// Office numbers are the gateway's own (configured or in the credentials folder), not a peer's
// choice: a fleet's worth of them has its own series.
inline constexpr std::size_t kMaxPolledOffices = 2000;

struct KaigoWebCounters {
  explicit KaigoWebCounters(const gateway::AdapterEvents& events);

  // Answers to the engine's sends: accepted, refused, ambiguous, held, retry.
  std::shared_ptr<gateway::LabelledCounter> sends;
  // KWxxxx and Sxxxx codes of NG answers (HTTP 200 error objects and system errors).
  std::shared_ptr<gateway::LabelledCounter> business_codes;
  // Ended logins: ok, failed, otp_failed, locked, unreachable.
  std::shared_ptr<gateway::LabelledCounter> logins;
  // Token refreshes: ok, lapsed, failed.
  std::shared_ptr<gateway::LabelledCounter> refreshes;
  // The exactly-once check before a repeated send: found, not_found, failed.
  std::shared_ptr<gateway::LabelledCounter> sent_checks;
  // Polls of an office's received-items list, by office number.
  std::shared_ptr<gateway::LabelledCounter> polls;

  // The codes of one NG answer, each distinct code once.
  void count_codes(const std::vector<ApiError>& errors) const;
};

// The sends_total outcome of the answer to a send.
std::string_view send_outcome(const gateway::SendResult& r);

}  // namespace kakehashi::adapters::kaigoweb
