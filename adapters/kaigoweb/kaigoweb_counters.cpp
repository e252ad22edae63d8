#include "adapters/kaigoweb/kaigoweb_counters.hpp"

#include <set>
#include <string>

namespace kakehashi::adapters::kaigoweb {

KaigoWebCounters::KaigoWebCounters(const gateway::AdapterEvents& events)
    : sends(events.labelled(
          "kakehashi_kaigoweb_sends_total",
          "Answers to the engine's sends by outcome: accepted (taken, or found among the office's "
          "sent items), refused, ambiguous (the POST may have been stored; checked before the "
          "next attempt), held (the office cannot send: login required, locked, credentials "
          "invalid), retry (transient: 429, 503, 5xx, transport, transient codes).",
          "outcome", {"accepted", "refused", "ambiguous", "held", "retry"})),
      business_codes(events.labelled(
          "kakehashi_kaigoweb_business_codes_total",
          "Codes of the Kaigo WEB Service's NG answers (KWxxxx in HTTP 200 error objects, Sxxxx "
          "system errors), each distinct code once per answer.",
          "code")),
      logins(events.labelled("kakehashi_kaigoweb_logins_total",
                             "Ended office logins by outcome: ok (session established), failed "
                             "(password step refused), otp_failed, locked, unreachable "
                             "(transport or certificate refused).",
                             "outcome", {"ok", "failed", "otp_failed", "locked", "unreachable"})),
      refreshes(events.labelled(
          "kakehashi_kaigoweb_refreshes_total",
          "Session token refreshes by outcome: ok, lapsed (a person must log in again), failed.",
          "outcome", {"ok", "lapsed", "failed"})),
      sent_checks(events.labelled(
          "kakehashi_kaigoweb_sent_checks_total",
          "Checks of an office's sent items before a repeated send, by outcome: found (the "
          "earlier attempt was stored), not_found (sent again), failed.",
          "outcome", {"found", "not_found", "failed"})),
      polls(events.labelled("kakehashi_kaigoweb_polls_total",
                            "Polls of an office's received items, by office number.", "office", {},
                            kMaxPolledOffices)) {}

void KaigoWebCounters::count_codes(const std::vector<ApiError>& errors) const {
  std::set<std::string_view> seen;
  for (const auto& e : errors) {
    if (seen.insert(e.code).second) business_codes->add(e.code.empty() ? "none" : e.code);
  }
}

std::string_view send_outcome(const gateway::SendResult& r) {
  switch (r.status) {
    case gateway::SendResult::Status::kAccepted:
      return "accepted";
    case gateway::SendResult::Status::kRejected:
      return "refused";
    case gateway::SendResult::Status::kRetry:
      break;
  }
  if (r.error_code == "send_ambiguous") return "ambiguous";
  if (r.hold_office) return "held";
  return "retry";
}

}  // namespace kakehashi::adapters::kaigoweb
