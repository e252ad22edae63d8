#pragma once
// Internal to the Kaigo WEB adapter (the gateway sees kaigoweb_adapter.hpp only): the state of
// each office and the one implementation class, whose parts live in kaigoweb_adapter.cpp
// (lifecycle, vault), kaigoweb_sessions.cpp (credentials, states, sessions, logins, authenticated
// calls), kaigoweb_sending.cpp (sends, the exactly-once check, acks, the office list) and
// kaigoweb_polling.cpp (upkeep and the round-robin poll). Everything runs on the strand.

#include <algorithm>
#include <deque>
#include <map>
#include <optional>
#include <set>
#include <stdexcept>
#include <string>
#include <vector>

#include "adapters/common/intake/intake_lane.hpp"
#include "adapters/common/intake/poll_health.hpp"
#include "adapters/kaigoweb/credentials.hpp"
#include "adapters/kaigoweb/error_codes.hpp"
#include "adapters/kaigoweb/kaigoweb_codec.hpp"
#include "adapters/kaigoweb/kaigoweb_config.hpp"
#include "adapters/kaigoweb/kaigoweb_counters.hpp"
#include "adapters/kaigoweb/office_client.hpp"
#include "adapters/kaigoweb/session_record.hpp"
#include "gateway/adapter/adapter.hpp"
#include "mapping/common/media_type.hpp"
#include "mapping/standard5/translate.hpp"

// The implementation's namespace (not the anonymous one: its parts span four files).
namespace kakehashi::adapters::kaigoweb::detail {

using gateway::AdapterCounters;
using gateway::AdapterLogLevel;
using gateway::SendResult;
using Clock = std::chrono::system_clock;
using Ms = std::chrono::milliseconds;
namespace standard5 = mapping::standard5;

// Office states (PROTOCOL.md §7.2).
inline constexpr const char* kActive = "active";
inline constexpr const char* kLoginRequired = "login_required";
inline constexpr const char* kAwaitingOtp = "awaiting_otp";
inline constexpr const char* kLocked = "locked";
inline constexpr const char* kCredentialsInvalid = "credentials_invalid";
inline constexpr const char* kNoCredentials = "no_credentials";

inline SendResult retry(std::string code, std::string message) {
  SendResult r;
  r.status = SendResult::Status::kRetry;
  r.error_code = std::move(code);
  r.message = std::move(message);
  return r;
}

inline SendResult rejected(std::string code, std::string message) {
  SendResult r;
  r.status = SendResult::Status::kRejected;
  r.error_code = std::move(code);
  r.message = std::move(message);
  return r;
}

inline std::optional<std::chrono::seconds> retry_after_of(const http::Response& resp) {
  if (const std::string* h = resp.header("retry-after")) {
    try {
      const long long s = std::stoll(*h);
      if (s > 0) return std::chrono::seconds(s);
    } catch (const std::exception&) {
      // Not an integer: the engine's own backoff.
    }
  }
  return std::nullopt;
}

// "KW2101 the recipient office is not registered (/recipient/office_no); ...": codes, meanings
// and paths, never values.
inline std::string describe_errors(const std::vector<ApiError>& errors) {
  std::string out;
  for (const auto& e : errors) {
    if (!out.empty()) out += "; ";
    out += e.code;
    if (const auto* info = ErrorCodes::builtin().find(e.code)) out += " " + info->text;
    if (!e.field.empty()) out += " (" + e.field + ")";
  }
  return out;
}

inline std::string describe_findings(const standard5::Findings& findings) {
  std::string out;
  for (const auto& f : findings) {
    if (f.severity != standard5::Severity::kError) continue;
    if (!out.empty()) out += "; ";
    out += standard5::describe(f);
  }
  return out;
}

struct Office {
  std::string office_no;
  std::optional<OfficeCredentials> credentials;
  std::string credential_problem;  // names a file, never contents
  std::shared_ptr<OfficeClient> client;
  std::string state = kLoginRequired;
  std::string detail;
  std::string until;
  bool reported = false;

  // The session (PROTOCOL.md §7.1), mirrored from the vault record.
  SessionRecord session;
  std::int64_t generation = 0;  // of the vault record
  Clock::time_point access_expires{}, refresh_expires{};
  Ms access_lifetime{0};
  bool refreshing = false;
  std::vector<std::function<void(bool)>> after_refresh;
  bool login_due_logged = false;

  // A person's login in progress (the challenge never leaves this instance).
  std::string challenge_id;
  Clock::time_point challenge_expires{};
  bool login_busy = false;
  Clock::time_point locked_until{};

  // Exactly once (§6): in-doubt references and the sent index.
  std::map<std::string, Clock::time_point> doubt;
  std::map<std::string, std::vector<std::pair<std::string, std::string>>>
      sent_index;  // ref →
                   // (accepted_at, item)
  std::optional<Clock::time_point> covered_from, high_water;
  Clock::time_point certificate_alerted{};

  bool has_tokens() const { return !session.access_token.empty(); }
};

// What an authenticated call came to.
struct Reply {
  std::optional<SendResult> hold;  // the office cannot call now: answer this (hold_office)
  CallOutcome out;
};

class Impl : public std::enable_shared_from_this<Impl>, public gateway::OfficeLogins {
 public:
  using Lane = adapters::IntakeLane<std::string>;

  Impl(KaigoWebConfig config, gateway::AdapterContext context)
      : config_(std::move(config)),
        context_(std::move(context)),
        strand_(boost::asio::make_strand(context_.executor)),
        timer_(strand_),
        handoff_timer_(strand_),
        unit_cursor_(context_.unit_cursor),
        receipt_cursor_(context_.receipt_cursor),
        units_(context_.intake_window),
        receipts_(context_.intake_window) {}

  // ---- lifecycle ------------------------------------------------------------------------------

  void start();

  void stop(std::function<void()> drained);

  void shutdown();

  // ---- OfficeLogins (§7.3) --------------------------------------------------------------------

  void begin_login(std::string office_no, std::function<void(gateway::LoginStep)> done) override;

  void submit_otp(std::string office_no, std::string otp,
                  std::function<void(gateway::LoginStep)> done) override;

  void office_states(std::function<void(std::vector<gateway::OfficeSessionView>)> done) override;

  // ---- sending (§7.4) -------------------------------------------------------------------------

  void send(gateway::OutboundUnit unit, std::function<void(SendResult)> done);

  void send_receipt(gateway::OutboundReceipt receipt, std::function<void(SendResult)> done);

  void fetch_directory(std::string changed_since,
                       std::function<void(gateway::DirectoryResult)> done);

 private:
  // ---- offices and credentials ----------------------------------------------------------------

  Office* office(const std::string& office_no);

  bool driver() const { return !context_.may_poll || context_.may_poll(); }

  void load_offices();

  // (Re)reads the office's credentials; false leaves the office credentials_invalid.
  bool read_credentials(Office& o);

  // The engine's credential reload, by time (PROTOCOL.md §7.1): offices added to the folder
  // (when the config lists none), credentials added, fixed, replaced or removed.
  void reload_credentials();

  void check_certificate_expiry(Office& o);

  // ---- states (§7.2) --------------------------------------------------------------------------

  void set_state(Office& o, const std::string& state, std::string detail, std::string until = {});

  SendResult hold(const Office& o) const;

  // ---- sessions (§3, §7.1) --------------------------------------------------------------------

  void adopt(Office& o, const SessionRecord& r, std::int64_t generation);

  // Whether the record can be used with the office's current certificate.
  bool usable(const Office& o, const SessionRecord& r) const;

  void load_session(const std::string& office_no);

  void loaded_one();

  void drop_session(Office& o, const char* state, std::string detail, std::string until = {});

  Ms refresh_margin(const Office& o) const;

  // Writes the session after a login or refresh (CAS on generation). A conflict after a refresh
  // adopts the newer record; after a login the login wins (it is the newest a person made).
  void persist(const std::string& office_no, bool login);

  // Re-reads the office's record (another instance's newer login or refresh): done(true) when a
  // newer usable session was adopted.
  void reread(const std::string& office_no, std::function<void(bool)> done);

  // POST /token/refresh once for the office (single-flight): done(true) with a fresh token.
  void refresh(const std::string& office_no, std::function<void(bool)> done);

  void certificate_refused(Office& o, const CallOutcome& out);

  void garbled(const std::string& office_no, const char* call, const CallOutcome& out,
               const std::string& problem);

  // One authenticated care-plan call (§3.5): a fresh token first, S4013 → refresh (or re-read)
  // and repeat once, S4011/S4012/S4031 → re-read, else login_required; S4033 and certificate
  // refusals → credentials_invalid. `done` gets the hold or the answer (or transport outcome).
  void api(const std::string& office_no, std::string method, std::string target, std::string body,
           std::function<void(Reply)> done, bool repeated = false);

  // ---- logins (§7.3) --------------------------------------------------------------------------

  gateway::LoginStep step_of(const Office& o, std::string error = {}, std::string message = {});

  void finish_step(std::function<void(gateway::LoginStep)> done, gateway::LoginStep step);

  void do_begin_login(const std::string& office_no, std::function<void(gateway::LoginStep)> done);

  // A login or OTP step answered NG with a credential class code (§4.2).
  void login_refused(Office& o, const std::vector<ApiError>& errors, const std::string& code);

  void do_submit_otp(const std::string& office_no, std::string otp,
                     std::function<void(gateway::LoginStep)> done);

  // ---- the one-time-password hand-off through the vault (§7.3; kaigoweb_handoff.cpp) ----------

  // On an instance that does not drive the office's session: writes the step (the OTP sealed,
  // 5 minutes' lifetime) for the driver and waits up to 15 s for its outcome (else "pending").
  void hand_off(const std::string& office_no, std::string op, std::string otp,
                std::function<void(gateway::LoginStep)> done);

  void await_handoff(const std::string& office_no, std::string request,
                     std::chrono::steady_clock::time_point deadline,
                     std::shared_ptr<boost::asio::steady_timer> timer,
                     std::function<void(gateway::LoginStep)> done);

  // The driver looks for handed-off steps every second.
  void schedule_handoffs();

  void take_handoffs();

  void take_handoff(const std::string& office_no);

  // ---- sending (§6, §7.4) ---------------------------------------------------------------------

  void do_send(gateway::OutboundUnit unit, std::function<void(SendResult)> done);

  struct SendJob {
    std::string office_no, reference, kind, target_month, document;
    gateway::OfficeRef recipient;
    std::function<void(SendResult)> done;
  };

  void finish(const std::shared_ptr<SendJob>& job, SendResult r);

  // §6.3: look for the reference among the office's sent items before sending again.
  void check_sent(const std::shared_ptr<SendJob>& job);

  void search_page(const std::shared_ptr<SendJob>& job, std::string from, std::string to,
                   std::string page, Clock::time_point started);

  void index_sent(Office& o, const ItemEntry& e);

  void resolve_check(const std::shared_ptr<SendJob>& job);

  void post_send(const std::shared_ptr<SendJob>& job);

  void ambiguous(const std::shared_ptr<SendJob>& job, Clock::time_point started,
                 const CallOutcome& out);

  void clear_doubt(const std::string& office_no, const std::string& reference);

  // A 200 NG on a send, by the class of its first code (§4.2).
  SendResult business_result(const std::shared_ptr<SendJob>& job,
                             const std::vector<ApiError>& errors, const std::string& request_id);

  static std::string describe_codes(const std::vector<ApiError>& errors);

  // A non-200 answer or a transport failure on any call, by §4.1; nullopt for a 200.
  std::optional<SendResult> classify_system(const std::string& office_no, const CallOutcome& out);

  // ---- receipts to the service (§5.5) ---------------------------------------------------------

  void do_send_receipt(gateway::OutboundReceipt receipt, std::function<void(SendResult)> done);

  // ---- office list (§5.6) ---------------------------------------------------------------------

  void directory_page(std::string through, std::string since, std::string cursor,
                      std::shared_ptr<gateway::DirectoryResult> result,
                      std::function<void(gateway::DirectoryResult)> done);

  // ---- the driver's upkeep and polling (§7.1, §7.2, §7.5) -------------------------------------

  void schedule(Ms after);

  void tick();

  // Lapses, refreshes ahead of expiry, the login-due notice, locks and challenges that ran out.
  void sync_sessions();

  void upkeep();

  void start_run();

  void end_run();

  bool run_broken() const { return units_.window().failed() || receipts_.window().failed(); }

  void next_office();

  void office_done(const std::string& no, bool more);

  void wait_room(Lane& lane, std::vector<std::function<void()>>& waiting,
                 std::function<void()> next);

  void poll_failed(const std::string& office_no, const char* call, const std::string& code);

  void poll_received(const std::string& no);

  void cursor_reset_if(const std::string& no, const CallOutcome& out, CompositeCursor& listed);

  void next_received(const std::string& no, std::shared_ptr<std::deque<ItemEntry>> items, bool more,
                     std::size_t before_receive_from);

  void fetch(const std::string& no, std::shared_ptr<std::deque<ItemEntry>> items, bool more,
             std::size_t before_receive_from);

  void hand_over_unit(const std::string& no, const ItemEntry& listed, const ReceivedItem& item,
                      std::string fetched_sha256);

  void answered(Lane& lane, std::string& durable, Lane::Ticket ticket, bool accepted);

  void poll_sent(const std::string& no, bool more_received);

  void next_receipt(const std::string& no, std::shared_ptr<std::deque<ItemEntry>> entries,
                    bool more);

  // ---- vault (answers come on the context's executor: back onto the strand) --------------------

  void vault_get(std::string key,
                 std::function<void(std::optional<gateway::VaultRecord>, bool)> done);

  void vault_put(std::string key, std::string value, std::int64_t generation,
                 std::function<void(gateway::VaultWrite)> done);

  // Writes `value` whatever is stored (the in-doubt records: one writer per reference).
  void vault_put_any(std::string key, std::string value);

  void load_doubts(const std::string& office_no);

  template <class Result>
  void post(std::function<void(Result)> done, Result r) {
    boost::asio::post(strand_,
                      [done = std::move(done), r = std::move(r)]() mutable { done(std::move(r)); });
  }

  void maybe_drained();

  KaigoWebConfig config_;
  gateway::AdapterContext context_;
  boost::asio::strand<boost::asio::any_io_executor> strand_;
  boost::asio::steady_timer timer_;
  boost::asio::steady_timer handoff_timer_;
  bool handoff_scheduled_ = false;
  static constexpr std::chrono::minutes kHandoffLifetime{5};
  static constexpr std::chrono::seconds kHandoffWait{15};
  static constexpr Ms kHandoffPickup{1000};  // the driver takes a step within 2 s
  static constexpr Ms kHandoffPoll{250};     // the caller looks for the outcome
  std::map<std::string, Office> offices_;
  std::string unit_cursor_;  // durable composite cursors
  std::string receipt_cursor_;
  CompositeCursor units_listed_, receipts_listed_;  // ahead of the durable ones during a run
  Lane units_;
  Lane receipts_;
  std::deque<std::string> run_queue_;
  std::size_t rotation_ = 0;
  bool run_active_ = false;
  bool run_ending_ = false;
  std::set<std::string> offices_polling_;                        // at most max_offices_in_flight
  std::vector<std::function<void()>> unit_room_, receipt_room_;  // offices waiting for room
  bool run_failed_ = false;
  bool loaded_ = false;
  bool running_ = false;
  bool stopping_ = false;
  int in_flight_ = 0;
  int sink_pending_ = 0;
  std::function<void()> drained_;
  adapters::PollHealth health_{context_.events};
  KaigoWebCounters metrics_{context_.events};  // §7.8
  static constexpr std::chrono::seconds kCredentialReload{30};
  Clock::time_point credentials_read_ = Clock::now();
  static constexpr std::chrono::seconds kSessionSync{2};
  Clock::time_point sessions_synced_{};
  int sessions_loading_ = 0;                       // session records still being read
  std::vector<std::function<void()>> after_load_;  // sends waiting for them
};

}  // namespace kakehashi::adapters::kaigoweb::detail
