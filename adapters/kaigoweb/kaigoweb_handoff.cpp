// Kaigo WEB adapter: the one-time-password hand-off between instances (PROTOCOL.md §7.3). An
// operator's login step that reaches an instance which does not drive the office's session is
// written to the vault (`…:<office_no>:login`, sealed, the OTP with it for at most 5 minutes);
// the driver takes it within 2 s by replacing it, compare-and-set, with a record without the OTP
// (so a newer request written meanwhile is never erased), carries it out with its own challenge
// (the challenge id never leaves the driver) and writes the outcome, without secrets, in its
// place; the caller waits up to 15 s for it and answers "pending" otherwise.
#include "adapters/kaigoweb/kaigoweb_impl.hpp"

namespace kakehashi::adapters::kaigoweb::detail {
namespace {

gateway::LoginStep pending(std::string message) {
  gateway::LoginStep s;
  s.state = "pending";
  s.message = std::move(message);
  return s;
}

constexpr const char* kPendingMessage =
    "the instance that drives the office's session has not answered yet; the office list shows "
    "the outcome";

}  // namespace

void Impl::hand_off(const std::string& office_no, std::string op, std::string otp,
                    std::function<void(gateway::LoginStep)> done) {
  LoginHandoff h;
  h.request = new_request_id();
  h.op = std::move(op);
  h.otp = std::move(otp);
  h.expires_at = format_utc_ms(Clock::now() + kHandoffLifetime);
  h.state = "requested";
  const std::string key = login_key(context_.name, office_no);
  const auto deadline = std::chrono::steady_clock::now() + kHandoffWait;
  ++in_flight_;  // answered before stop drains
  auto answer = [this, self = shared_from_this(), done = std::move(done)](
                    gateway::LoginStep s) mutable {
    --in_flight_;
    finish_step(std::move(done), std::move(s));
    maybe_drained();
  };
  // Written over whatever is stored (an older request or outcome: a person's newest step wins),
  // compare-and-set so that two callers at once do not both believe they wrote.
  auto write = std::make_shared<std::function<void(int)>>();
  *write = [this, key, office_no, h, deadline, answer, write](int tries) mutable {
    vault_get(key, [this, key, office_no, h, deadline, answer, write, tries](
                       std::optional<gateway::VaultRecord> rec, bool ok) mutable {
      if (!ok) {
        *write = nullptr;  // breaks the cycle
        return answer(pending("the login could not be handed to the driving instance"));
      }
      vault_put(key, write_login_handoff(h), rec ? rec->generation : 0,
                [this, office_no, h, deadline, answer, write, tries](gateway::VaultWrite w) mutable {
                  if (w == gateway::VaultWrite::kConflict && tries < 3) return (*write)(tries + 1);
                  *write = nullptr;  // breaks the cycle
                  if (w != gateway::VaultWrite::kWritten)
                    return answer(
                        pending("the login could not be handed to the driving instance"));
                  context_.events.log(AdapterLogLevel::kInfo, "login-handed-off",
                                      {{"office", office_no}, {"step", h.op}});
                  await_handoff(office_no, h.request, deadline,
                                std::make_shared<boost::asio::steady_timer>(strand_),
                                std::move(answer));
                });
    });
  };
  (*write)(0);
}

void Impl::await_handoff(const std::string& office_no, std::string request,
                         std::chrono::steady_clock::time_point deadline,
                         std::shared_ptr<boost::asio::steady_timer> timer,
                         std::function<void(gateway::LoginStep)> done) {
  vault_get(login_key(context_.name, office_no),
            [this, office_no, request = std::move(request), deadline, timer,
             done = std::move(done)](std::optional<gateway::VaultRecord> rec, bool ok) mutable {
              std::optional<LoginHandoff> h;
              if (ok && rec) h = read_login_handoff(rec->value);
              if (h && h->request != request)
                return done(pending("a newer login step for this office replaced this one"));
              if (h && h->state == "done") {
                gateway::LoginStep s;
                s.state = h->step_state;
                s.error = h->step_error;
                s.message = h->step_message;
                s.otp_delivery = h->otp_delivery;
                s.otp_destination_hint = h->otp_destination_hint;
                s.otp_expires_at = h->otp_expires_at;
                s.refresh_expires_at = h->refresh_expires_at;
                s.locked_until = h->locked_until;
                // The driver stored the new session: this instance adopts it for its sends now.
                if (s.state == kActive) reread(office_no, [](bool) {});
                return done(std::move(s));
              }
              if (stopping_ || std::chrono::steady_clock::now() >= deadline)
                return done(pending(kPendingMessage));
              timer->expires_after(kHandoffPoll);
              timer->async_wait([this, self = shared_from_this(), office_no,
                                 request = std::move(request), deadline, timer,
                                 done = std::move(done)](boost::system::error_code) mutable {
                await_handoff(office_no, std::move(request), deadline, timer, std::move(done));
              });
            });
}

void Impl::schedule_handoffs() {
  if (stopping_ || !running_ || handoff_scheduled_) return;
  handoff_scheduled_ = true;
  handoff_timer_.expires_after(kHandoffPickup);
  handoff_timer_.async_wait([self = shared_from_this()](boost::system::error_code) {
    self->handoff_scheduled_ = false;
    // Cancelled by stop (nothing more), or by a stop and start before this ran (go on).
    if (!self->stopping_ && self->running_) self->take_handoffs();
  });
}

void Impl::take_handoffs() {
  if (!driver()) return schedule_handoffs();
  ++in_flight_;
  const std::string prefix = network_prefix(context_.name);
  context_.vault->list(prefix, [self = shared_from_this(), prefix](std::vector<std::string> keys,
                                                                  bool ok) {
    boost::asio::post(self->strand_, [self, prefix, keys = std::move(keys), ok] {
      --self->in_flight_;
      static constexpr std::string_view kSuffix = ":login";
      for (const auto& key : ok ? keys : std::vector<std::string>{}) {
        if (key.size() <= prefix.size() + kSuffix.size() ||
            key.compare(key.size() - kSuffix.size(), kSuffix.size(), kSuffix) != 0)
          continue;
        const std::string no =
            key.substr(prefix.size(), key.size() - prefix.size() - kSuffix.size());
        if (self->office(no) != nullptr) self->take_handoff(no);
      }
      self->schedule_handoffs();
      self->maybe_drained();
    });
  });
}

void Impl::take_handoff(const std::string& office_no) {
  const std::string key = login_key(context_.name, office_no);
  vault_get(key, [this, key, office_no](std::optional<gateway::VaultRecord> rec, bool ok) {
    if (!ok || !rec || stopping_) return;
    auto h = read_login_handoff(rec->value);
    if (!h || h->state != "requested") return;
    const bool stale = parse_time(h->expires_at).value_or(Clock::time_point{}) <= Clock::now();
    LoginHandoff taken;
    taken.request = h->request;
    taken.op = h->op;
    taken.expires_at = h->expires_at;
    taken.state = stale ? "expired" : "taken";  // the OTP is not kept
    const std::int64_t generation = rec->generation;
    vault_put(key, write_login_handoff(taken), generation,
              [this, key, office_no, taken, otp = std::move(h->otp),
               generation](gateway::VaultWrite w) mutable {
                // A newer request came meanwhile (taken on the next look), or the store failed.
                if (w != gateway::VaultWrite::kWritten) return;
                if (taken.state == "expired") {
                  context_.events.log(AdapterLogLevel::kWarning, "login-handoff-expired",
                                      {{"office", office_no}, {"step", taken.op}});
                  return;
                }
                context_.events.log(AdapterLogLevel::kInfo, "login-handoff-taken",
                                    {{"office", office_no}, {"step", taken.op}});
                ++in_flight_;
                auto outcome = [this, self = shared_from_this(), key, taken,
                                generation](gateway::LoginStep s) mutable {
                  --in_flight_;
                  LoginHandoff d = std::move(taken);
                  d.state = "done";
                  d.step_state = s.state;
                  d.step_error = s.error;
                  d.step_message = s.message;
                  d.otp_delivery = s.otp_delivery;
                  d.otp_destination_hint = s.otp_destination_hint;
                  d.otp_expires_at = s.otp_expires_at;
                  d.refresh_expires_at = s.refresh_expires_at;
                  d.locked_until = s.locked_until;
                  // Compare-and-set on the generation the pickup wrote: a newer request stays.
                  vault_put(key, write_login_handoff(d), generation + 1, [](gateway::VaultWrite) {});
                  maybe_drained();
                };
                if (taken.op == "otp") {
                  do_submit_otp(office_no, std::move(otp), std::move(outcome));
                } else {
                  do_begin_login(office_no, std::move(outcome));
                }
              });
  });
}

}  // namespace kakehashi::adapters::kaigoweb::detail
