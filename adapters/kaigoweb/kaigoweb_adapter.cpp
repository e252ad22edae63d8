#include "adapters/kaigoweb/kaigoweb_adapter.hpp"

#include <algorithm>
#include <deque>
#include <map>
#include <optional>
#include <set>
#include <stdexcept>

#include "adapters/common/intake/intake_lane.hpp"
#include "adapters/common/intake/poll_health.hpp"
#include "adapters/kaigoweb/credentials.hpp"
#include "adapters/kaigoweb/error_codes.hpp"
#include "adapters/kaigoweb/kaigoweb_codec.hpp"
#include "adapters/kaigoweb/office_client.hpp"
#include "adapters/kaigoweb/session_record.hpp"
#include "mapping/common/media_type.hpp"
#include "mapping/standard5/translate.hpp"

namespace kakehashi::adapters::kaigoweb {
namespace {

using gateway::AdapterCounters;
using gateway::AdapterLogLevel;
using gateway::SendResult;
using Clock = std::chrono::system_clock;
using Ms = std::chrono::milliseconds;
namespace standard5 = mapping::standard5;

// Office states (PROTOCOL.md §7.2).
constexpr const char* kActive = "active";
constexpr const char* kLoginRequired = "login_required";
constexpr const char* kAwaitingOtp = "awaiting_otp";
constexpr const char* kLocked = "locked";
constexpr const char* kCredentialsInvalid = "credentials_invalid";
constexpr const char* kNoCredentials = "no_credentials";

SendResult retry(std::string code, std::string message) {
  SendResult r;
  r.status = SendResult::Status::kRetry;
  r.error_code = std::move(code);
  r.message = std::move(message);
  return r;
}

SendResult rejected(std::string code, std::string message) {
  SendResult r;
  r.status = SendResult::Status::kRejected;
  r.error_code = std::move(code);
  r.message = std::move(message);
  return r;
}

std::optional<std::chrono::seconds> retry_after_of(const http::Response& resp) {
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
std::string describe_errors(const std::vector<ApiError>& errors) {
  std::string out;
  for (const auto& e : errors) {
    if (!out.empty()) out += "; ";
    out += e.code;
    if (const auto* info = ErrorCodes::builtin().find(e.code)) out += " " + info->text;
    if (!e.field.empty()) out += " (" + e.field + ")";
  }
  return out;
}

std::string describe_findings(const standard5::Findings& findings) {
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
        unit_cursor_(context_.unit_cursor),
        receipt_cursor_(context_.receipt_cursor),
        units_(context_.intake_window),
        receipts_(context_.intake_window) {}

  // ---- lifecycle ------------------------------------------------------------------------------

  void start() {
    boost::asio::dispatch(strand_, [self = shared_from_this()] {
      if (self->running_) return;
      self->running_ = true;
      self->stopping_ = false;
      self->drained_ = nullptr;
      if (!self->loaded_) {
        self->loaded_ = true;
        self->load_offices();
      }
      self->schedule(Ms(0));
    });
  }

  void stop(std::function<void()> drained) {
    boost::asio::dispatch(strand_,
                          [self = shared_from_this(), drained = std::move(drained)]() mutable {
                            self->stopping_ = true;
                            self->running_ = false;
                            self->drained_ = std::move(drained);
                            self->timer_.cancel();
                            self->units_.forget();
                            self->receipts_.forget();
                            self->run_queue_.clear();
                            self->maybe_drained();
                          });
  }

  void shutdown() {
    boost::asio::dispatch(strand_, [self = shared_from_this()] {
      self->stopping_ = true;
      self->timer_.cancel();
      self->units_.forget();
      self->receipts_.forget();
      for (auto& [no, o] : self->offices_) {
        if (o.client) o.client->close();
      }
    });
  }

  // ---- OfficeLogins (§7.3) --------------------------------------------------------------------

  void begin_login(std::string office_no, std::function<void(gateway::LoginStep)> done) override {
    boost::asio::dispatch(strand_, [self = shared_from_this(), office_no = std::move(office_no),
                                    done = std::move(done)]() mutable {
      self->do_begin_login(office_no, std::move(done));
    });
  }

  void submit_otp(std::string office_no, std::string otp,
                  std::function<void(gateway::LoginStep)> done) override {
    boost::asio::dispatch(strand_, [self = shared_from_this(), office_no = std::move(office_no),
                                    otp = std::move(otp), done = std::move(done)]() mutable {
      self->do_submit_otp(office_no, std::move(otp), std::move(done));
    });
  }

  void office_states(std::function<void(std::vector<gateway::OfficeSessionView>)> done) override {
    boost::asio::dispatch(strand_, [self = shared_from_this(), done = std::move(done)] {
      std::vector<gateway::OfficeSessionView> views;
      for (const auto& [no, o] : self->offices_) {
        gateway::OfficeSessionView v;
        v.office_no = no;
        v.state = o.state;
        v.detail = o.detail;
        if (o.credentials) v.user_id = o.credentials->user_id;
        if (o.has_tokens()) {
          v.access_expires_at = format_utc_ms(o.access_expires);
          v.refresh_expires_at = format_utc_ms(o.refresh_expires);
        }
        if (o.credentials) v.certificate_not_after = format_utc_ms(o.credentials->not_after);
        if (o.state == kLocked) v.locked_until = format_utc_ms(o.locked_until);
        views.push_back(std::move(v));
      }
      done(std::move(views));
    });
  }

  // ---- sending (§7.4) -------------------------------------------------------------------------

  void send(gateway::OutboundUnit unit, std::function<void(SendResult)> done) {
    boost::asio::dispatch(strand_, [self = shared_from_this(), unit = std::move(unit),
                                    done = std::move(done)]() mutable {
      self->do_send(std::move(unit), std::move(done));
    });
  }

  void send_receipt(gateway::OutboundReceipt receipt, std::function<void(SendResult)> done) {
    boost::asio::dispatch(strand_, [self = shared_from_this(), receipt = std::move(receipt),
                                    done = std::move(done)]() mutable {
      self->do_send_receipt(std::move(receipt), std::move(done));
    });
  }

  void fetch_directory(std::string changed_since,
                       std::function<void(gateway::DirectoryResult)> done) {
    boost::asio::dispatch(strand_, [self = shared_from_this(), since = std::move(changed_since),
                                    done = std::move(done)]() mutable {
      std::string through;
      for (const auto& [no, o] : self->offices_) {
        if (o.state == kActive) {
          through = no;
          break;
        }
      }
      if (through.empty()) {
        gateway::DirectoryResult r;
        r.status = retry(kLoginRequired, "no office has an active Kaigo WEB session");
        return self->post(std::move(done), std::move(r));
      }
      auto result = std::make_shared<gateway::DirectoryResult>();
      self->directory_page(through, std::move(since), "", result, std::move(done));
    });
  }

 private:
  // ---- offices and credentials ----------------------------------------------------------------

  Office* office(const std::string& office_no) {
    const auto it = offices_.find(office_no);
    return it == offices_.end() ? nullptr : &it->second;
  }

  bool driver() const { return !context_.may_poll || context_.may_poll(); }

  void load_offices() {
    std::vector<std::string> numbers = config_.offices;
    if (numbers.empty()) numbers = list_credential_offices(config_.credentials_dir);
    for (const auto& no : numbers) {
      Office& o = offices_[no];
      o.office_no = no;
      read_credentials(o);
      if (o.credentials) load_session(no);
      load_doubts(no);
    }
    if (numbers.empty()) {
      context_.events.log(AdapterLogLevel::kWarning, "no-offices",
                          {{"credentials_dir", config_.credentials_dir}});
    }
  }

  // (Re)reads the office's credentials; false leaves the office credentials_invalid.
  bool read_credentials(Office& o) {
    auto read = read_office_credentials(config_.credentials_dir, o.office_no);
    if (auto* problem = std::get_if<CredentialProblem>(&read)) {
      o.credentials.reset();
      if (o.client) o.client->close();
      o.client.reset();
      o.credential_problem = problem->message;
      const bool missing =
          !std::filesystem::exists(std::filesystem::path(config_.credentials_dir) / o.office_no);
      set_state(o, missing ? kNoCredentials : kCredentialsInvalid, problem->message);
      return false;
    }
    auto creds = std::get<OfficeCredentials>(std::move(read));
    const bool replaced =
        o.credentials && o.credentials->certificate_sha256 != creds.certificate_sha256;
    const bool same_certificate = o.credentials && o.client && !replaced;
    o.credentials = std::move(creds);
    o.credential_problem.clear();
    if (same_certificate) return true;  // the connection pool stays
    if (o.client) o.client->close();
    OfficeClientOptions opts;
    opts.host = config_.host;
    opts.port = config_.port;
    opts.ca_file = config_.ca_file;
    const auto folder = std::filesystem::path(config_.credentials_dir) / o.office_no;
    opts.cert_file = (folder / "cert.pem").string();
    opts.key_file = (folder / "key.pem").string();
    opts.timeout = config_.timeout;
    opts.max_connections = static_cast<std::size_t>(config_.max_connections_per_office);
    opts.rate_per_second = config_.rate_per_second;
    opts.rate_burst = config_.rate_burst;
    opts.on_verify_failure = [events = context_.events](const std::string& peer,
                                                        const std::string& reason) {
      events.report(&AdapterCounters::tls_verify_failures, AdapterLogLevel::kError,
                    "tls-verify-failed", {{"peer", peer}, {"reason", reason}});
    };
    try {
      o.client = std::make_shared<OfficeClient>(strand_, std::move(opts));
    } catch (const std::exception& e) {
      o.credentials.reset();
      o.credential_problem = e.what();
      set_state(o, kCredentialsInvalid, e.what());
      return false;
    }
    if (replaced) drop_session(o, kLoginRequired, "the office's certificate was replaced");
    check_certificate_expiry(o);
    return true;
  }

  // The engine's credential reload, by time (PROTOCOL.md §7.1): offices added to the folder
  // (when the config lists none), credentials added, fixed, replaced or removed.
  void reload_credentials() {
    if (config_.offices.empty()) {
      for (const auto& no : list_credential_offices(config_.credentials_dir)) {
        if (offices_.count(no) != 0) continue;
        Office& o = offices_[no];
        o.office_no = no;
        if (read_credentials(o)) load_session(no);
        load_doubts(no);
      }
    }
    for (auto& [no, o] : offices_) {
      const bool waiting = o.state == kNoCredentials || o.state == kCredentialsInvalid;
      const std::string before = o.credentials
                                     ? o.credentials->certificate_sha256 + "\n" +
                                           o.credentials->user_id + "\n" + o.credentials->password
                                     : std::string();
      const bool had_problem = !o.credential_problem.empty();
      if (!read_credentials(o)) {
        if (o.has_tokens()) drop_session(o, o.state.c_str(), o.detail);
        continue;
      }
      const std::string after = o.credentials->certificate_sha256 + "\n" + o.credentials->user_id +
                                "\n" + o.credentials->password;
      if (waiting && (had_problem || before != after)) {
        set_state(o, kLoginRequired,
                  "the office's credentials were changed: a person must log in with a one-time "
                  "password");
        load_session(no);
      }
    }
  }

  void check_certificate_expiry(Office& o) {
    if (!o.credentials) return;
    const auto now = Clock::now();
    if (now - o.certificate_alerted < std::chrono::hours(24)) return;
    const auto left =
        std::chrono::duration_cast<std::chrono::hours>(o.credentials->not_after - now);
    if (left < std::chrono::hours(24 * config_.certificate_alert_days)) {
      o.certificate_alerted = now;
      context_.events.log(AdapterLogLevel::kWarning, "certificate-expiring",
                          {{"office", o.office_no},
                           {"not_after", format_utc_ms(o.credentials->not_after)},
                           {"days_left", std::to_string(left.count() / 24)}});
    }
  }

  // ---- states (§7.2) --------------------------------------------------------------------------

  void set_state(Office& o, const std::string& state, std::string detail, std::string until = {}) {
    if (o.reported && o.state == state && o.detail == detail && o.until == until) return;
    const std::string previous = o.reported ? o.state : std::string();
    o.state = state;
    o.detail = std::move(detail);
    o.until = std::move(until);
    o.reported = true;
    context_.events.log(
        state == kActive ? AdapterLogLevel::kInfo : AdapterLogLevel::kWarning, "office-state",
        {{"office", o.office_no}, {"from", previous}, {"to", state}, {"detail", o.detail}});
    if (context_.office_state) {
      gateway::OfficeStateReport r;
      r.office.office_no = o.office_no;
      r.state = state;
      r.previous_state = previous;
      r.detail = o.detail;
      r.until = o.until;
      r.holds_outbound = state != kActive;
      context_.office_state(std::move(r));
    }
  }

  SendResult hold(const Office& o) const {
    SendResult r = retry(o.state, "office " + o.office_no + " cannot send now (" + o.state +
                                      (o.detail.empty() ? std::string() : ": " + o.detail) + ")");
    r.hold_office = true;
    return r;
  }

  // ---- sessions (§3, §7.1) --------------------------------------------------------------------

  void adopt(Office& o, const SessionRecord& r, std::int64_t generation) {
    o.session = r;
    o.generation = generation;
    o.access_expires = parse_time(r.access_expires_at).value_or(Clock::time_point{});
    o.refresh_expires = parse_time(r.refresh_expires_at).value_or(Clock::time_point{});
    o.login_due_logged = false;
  }

  // Whether the record can be used with the office's current certificate.
  bool usable(const Office& o, const SessionRecord& r) const {
    return o.credentials && r.state == kActive && !r.access_token.empty() &&
           r.certificate_sha256 == o.credentials->certificate_sha256 &&
           parse_time(r.refresh_expires_at).value_or(Clock::time_point{}) > Clock::now();
  }

  void load_session(const std::string& office_no) {
    vault_get(session_key(context_.name, office_no),
              [this, office_no](std::optional<gateway::VaultRecord> rec, bool ok) {
                Office* o = office(office_no);
                if (o == nullptr || !o->credentials) return;
                if (!ok) {
                  set_state(*o, kLoginRequired, "the session record could not be read");
                  return;
                }
                std::optional<SessionRecord> r;
                if (rec) r = read_session_record(rec->value);
                if (rec) o->generation = rec->generation;
                if (r && usable(*o, *r)) {
                  adopt(*o, *r, rec->generation);
                  set_state(*o, kActive, "");
                } else {
                  set_state(*o, kLoginRequired,
                            "the gateway needs a one-time password for the office's Kaigo WEB "
                            "login; outbound care plans wait");
                }
              });
  }

  void drop_session(Office& o, const char* state, std::string detail, std::string until = {}) {
    o.session.access_token.clear();
    o.session.refresh_token.clear();
    o.session.state = kLoginRequired;
    o.access_expires = o.refresh_expires = Clock::time_point{};
    set_state(o, state, std::move(detail), std::move(until));
  }

  Ms refresh_margin(const Office& o) const {
    if (config_.refresh_margin) return *config_.refresh_margin;
    return std::min<Ms>(std::chrono::minutes(5), o.access_lifetime / 4);
  }

  // Writes the session after a login or refresh (CAS on generation). A conflict after a refresh
  // adopts the newer record; after a login the login wins (it is the newest a person made).
  void persist(const std::string& office_no, bool login) {
    Office* of = office(office_no);
    if (of == nullptr) return;
    of->session.updated_at = format_utc_ms(Clock::now());
    vault_put(session_key(context_.name, office_no), write_session_record(of->session),
              of->generation, [this, office_no, login](gateway::VaultWrite w) {
                Office* cur = office(office_no);
                if (cur == nullptr) return;
                if (w == gateway::VaultWrite::kWritten) {
                  ++cur->generation;
                  return;
                }
                if (w == gateway::VaultWrite::kFailed) {
                  context_.events.log(AdapterLogLevel::kError, "session-not-stored",
                                      {{"office", office_no}});
                  return;
                }
                vault_get(
                    session_key(context_.name, office_no),
                    [this, office_no, login](std::optional<gateway::VaultRecord> rec, bool ok) {
                      Office* o = office(office_no);
                      if (o == nullptr || !ok) return;
                      o->generation = rec ? rec->generation : 0;
                      std::optional<SessionRecord> r;
                      if (rec) r = read_session_record(rec->value);
                      if (!login && r && usable(*o, *r)) {
                        adopt(*o, *r, rec->generation);
                      } else {
                        persist(office_no, login);
                      }
                    });
              });
  }

  // Re-reads the office's record (another instance's newer login or refresh): done(true) when a
  // newer usable session was adopted.
  void reread(const std::string& office_no, std::function<void(bool)> done) {
    vault_get(session_key(context_.name, office_no),
              [this, office_no, done = std::move(done)](std::optional<gateway::VaultRecord> rec,
                                                        bool ok) {
                Office* o = office(office_no);
                if (o == nullptr || !ok || !rec) return done(false);
                auto r = read_session_record(rec->value);
                if (rec->generation > o->generation && r && usable(*o, *r)) {
                  adopt(*o, *r, rec->generation);
                  set_state(*o, kActive, "");
                  return done(true);
                }
                done(false);
              });
  }

  // POST /token/refresh once for the office (single-flight): done(true) with a fresh token.
  void refresh(const std::string& office_no, std::function<void(bool)> done) {
    Office* of = office(office_no);
    if (of == nullptr || !of->client || of->session.refresh_token.empty()) return done(false);
    of->after_refresh.push_back(std::move(done));
    if (of->refreshing) return;
    of->refreshing = true;
    ++in_flight_;
    of->client->call(
        "POST", std::string(kRefreshPath), refresh_body(of->session.refresh_token), "",
        [self = shared_from_this(), office_no](CallOutcome out) {
          --self->in_flight_;
          Office* o = self->office(office_no);
          if (o == nullptr) return self->maybe_drained();
          bool ok = false;
          if (out.kind == CallOutcome::Kind::kCertificateRefused) {
            self->certificate_refused(*o, out);
          } else if (out.kind == CallOutcome::Kind::kAnswer) {
            const auto a = read_tokens(out.response.body, false);
            if (a.ok() && out.response.status == 200) {
              o->session.access_token = a.data.access_token;
              o->session.access_expires_at =
                  format_utc_ms(parse_time(a.data.access_expires_at).value_or(Clock::now()));
              o->access_expires = *parse_time(o->session.access_expires_at);
              o->access_lifetime = std::chrono::duration_cast<Ms>(o->access_expires - Clock::now());
              self->context_.events.log(AdapterLogLevel::kInfo, "session-refreshed",
                                        {{"office", office_no},
                                         {"request_id", out.request_id},
                                         {"access_expires_at", o->session.access_expires_at}});
              self->persist(office_no, false);
              ok = true;
            } else if (a.first_code() == "KW1006" || a.first_code() == "KW1007") {
              self->context_.events.log(AdapterLogLevel::kWarning, "session-lapsed",
                                        {{"office", office_no}, {"code", a.first_code()}});
              self->drop_session(*o, kLoginRequired,
                                 a.first_code() == "KW1006"
                                     ? "the Kaigo WEB session lapsed (8 hours): a person must "
                                       "log in again with a one-time password"
                                     : "the Kaigo WEB session was revoked (a login elsewhere?): "
                                       "a person must log in again");
            } else if (a.first_code() == "S4031") {
              self->drop_session(*o, kLoginRequired, "the session belongs to another certificate");
            } else if (a.kind == AnswerKind::kGarbled) {
              self->garbled(office_no, "refresh", out, a.problem);
            }
          }
          o->refreshing = false;
          auto waiters = std::move(o->after_refresh);
          o->after_refresh.clear();
          for (auto& w : waiters) w(ok);
          self->maybe_drained();
        });
  }

  void certificate_refused(Office& o, const CallOutcome& out) {
    context_.events.report(&AdapterCounters::tls_verify_failures, AdapterLogLevel::kError,
                           "certificate-refused", {{"office", o.office_no}, {"alert", out.alert}});
    drop_session(o, kCredentialsInvalid,
                 "the Kaigo WEB Service refused the office's certificate (TLS alert " + out.alert +
                     "): check it with `kakehashi kaigoweb credentials check`");
  }

  void garbled(const std::string& office_no, const char* call, const CallOutcome& out,
               const std::string& problem) {
    context_.events.report(&AdapterCounters::malformed_answers, AdapterLogLevel::kWarning,
                           "garbled-answer",
                           {{"office", office_no},
                            {"call", call},
                            {"request_id", out.request_id},
                            {"status", std::to_string(out.response.status)},
                            {"path", problem}});
  }

  // One authenticated care-plan call (§3.5): a fresh token first, S4013 → refresh (or re-read)
  // and repeat once, S4011/S4012/S4031 → re-read, else login_required; S4033 and certificate
  // refusals → credentials_invalid. `done` gets the hold or the answer (or transport outcome).
  void api(const std::string& office_no, std::string method, std::string target, std::string body,
           std::function<void(Reply)> done, bool repeated = false) {
    Office* of = office(office_no);
    if (of == nullptr) {
      Reply r;
      r.hold = rejected("kaigoweb_no_credentials", "office " + office_no + " is not configured");
      return done(std::move(r));
    }
    if (of->state != kActive || !of->has_tokens() || !of->client) {
      Reply r;
      r.hold = hold(*of);
      return done(std::move(r));
    }
    const auto now = Clock::now();
    if (now >= of->refresh_expires) {
      context_.events.log(AdapterLogLevel::kWarning, "session-lapsed", {{"office", office_no}});
      drop_session(*of, kLoginRequired,
                   "the Kaigo WEB session lapsed (8 hours): a person must log in again");
      Reply r;
      r.hold = hold(*of);
      return done(std::move(r));
    }
    if (!repeated && of->access_expires - now < refresh_margin(*of)) {
      auto again = [this, office_no, method = std::move(method), target = std::move(target),
                    body = std::move(body), done = std::move(done)](bool) mutable {
        api(office_no, std::move(method), std::move(target), std::move(body), std::move(done),
            true);
      };
      if (driver()) return refresh(office_no, std::move(again));
      return reread(office_no, std::move(again));
    }
    ++in_flight_;
    const std::string token = of->session.access_token;
    of->client->call(
        method, target, body, token,
        [self = shared_from_this(), office_no, method, target, body, done = std::move(done),
         repeated, token](CallOutcome out) mutable {
          --self->in_flight_;
          Office* o = self->office(office_no);
          if (o == nullptr) return self->maybe_drained();
          if (out.kind == CallOutcome::Kind::kCertificateRefused) {
            self->certificate_refused(*o, out);
            Reply r;
            r.hold = self->hold(*o);
            done(std::move(r));
            return self->maybe_drained();
          }
          const int status = out.kind == CallOutcome::Kind::kAnswer ? out.response.status : 0;
          if (status == 401 || status == 403) {
            const std::string code = read_envelope(out.response.body).first_code();
            const bool same = o->session.access_token == token;
            if (code == "S4033") {
              self->drop_session(*o, kCredentialsInvalid,
                                 "the office's certificate is revoked or the office is not "
                                 "contracted for care plans (S4033)");
              Reply r;
              r.hold = self->hold(*o);
              done(std::move(r));
              return self->maybe_drained();
            }
            if (status == 401 || code == "S4031") {
              if (!repeated) {
                auto again = [self, office_no, method = std::move(method),
                              target = std::move(target), body = std::move(body),
                              done = std::move(done)](bool) mutable {
                  self->api(office_no, std::move(method), std::move(target), std::move(body),
                            std::move(done), true);
                };
                self->context_.events.count(&AdapterCounters::relogins);
                if (!same) {
                  again(true);  // a newer token came meanwhile
                } else if (code == "S4013" && self->driver()) {
                  self->refresh(office_no, std::move(again));
                } else {
                  self->reread(office_no, [self, office_no, code,
                                           again = std::move(again)](bool newer) mutable {
                    Office* cur = self->office(office_no);
                    if (!newer && cur != nullptr && code != "S4013") {
                      self->drop_session(*cur, kLoginRequired,
                                         "the Kaigo WEB session is no longer valid (" + code +
                                             "): a person must log in again");
                    }
                    again(newer);
                  });
                }
                return self->maybe_drained();
              }
              if (same && code != "S4013") {
                self->drop_session(*o, kLoginRequired,
                                   "the Kaigo WEB session is no longer valid (" + code +
                                       "): a person must log in again");
              }
              Reply r;
              r.hold = self->hold(*o);
              if (o->state == kActive) {
                // Still active (an expired token another instance has not refreshed yet).
                r.hold = retry("session_pending", "the office's session is being renewed");
                r.hold->hold_office = true;
                r.hold->retry_after = std::chrono::seconds(5);
              }
              done(std::move(r));
              return self->maybe_drained();
            }
          }
          Reply r;
          r.out = std::move(out);
          done(std::move(r));
          self->maybe_drained();
        });
  }

  // ---- logins (§7.3) --------------------------------------------------------------------------

  gateway::LoginStep step_of(const Office& o, std::string error = {}, std::string message = {}) {
    gateway::LoginStep s;
    s.state = o.state;
    if (!o.challenge_id.empty() && Clock::now() < o.challenge_expires) {
      s.state = kAwaitingOtp;
      s.otp_expires_at = format_utc_ms(o.challenge_expires);
    }
    s.error = std::move(error);
    s.message = message.empty() ? o.detail : std::move(message);
    if (o.has_tokens()) s.refresh_expires_at = format_utc_ms(o.refresh_expires);
    if (o.state == kLocked) s.locked_until = format_utc_ms(o.locked_until);
    return s;
  }

  void finish_step(std::function<void(gateway::LoginStep)> done, gateway::LoginStep step) {
    boost::asio::post(strand_, [done = std::move(done), step = std::move(step)]() mutable {
      done(std::move(step));
    });
  }

  void do_begin_login(const std::string& office_no, std::function<void(gateway::LoginStep)> done) {
    Office* of = office(office_no);
    if (of == nullptr) {
      gateway::LoginStep s;
      s.state = "unknown_office";
      s.message = "office " + office_no + " is not one this network acts for";
      return finish_step(std::move(done), std::move(s));
    }
    const auto now = Clock::now();
    if (now < of->locked_until) {
      return finish_step(
          std::move(done),
          step_of(*of, "KW1002", "the user ID is locked until " + format_utc_ms(of->locked_until)));
    }
    if (of->login_busy) {
      gateway::LoginStep s = step_of(*of);
      s.state = "pending";
      s.message = "a login step for this office is in progress";
      return finish_step(std::move(done), std::move(s));
    }
    // In credentials_invalid (or with none) the files are read again first: a fixed password or
    // certificate is used.
    if (!of->credentials || of->state == kCredentialsInvalid || of->state == kNoCredentials) {
      if (!read_credentials(*of)) return finish_step(std::move(done), step_of(*of));
    }
    of->login_busy = true;
    context_.events.log(AdapterLogLevel::kInfo, "login-started",
                        {{"office", office_no}, {"user_id", of->credentials->user_id}});
    ++in_flight_;
    of->client->call(
        "POST", std::string(kLoginPath),
        login_body(of->credentials->user_id, of->credentials->password), "",
        [self = shared_from_this(), office_no, done = std::move(done)](CallOutcome out) mutable {
          --self->in_flight_;
          Office* o = self->office(office_no);
          o->login_busy = false;
          if (out.kind == CallOutcome::Kind::kCertificateRefused) {
            self->certificate_refused(*o, out);
            self->finish_step(std::move(done), self->step_of(*o, "certificate_refused"));
            return self->maybe_drained();
          }
          if (out.kind == CallOutcome::Kind::kTransport) {
            self->finish_step(std::move(done),
                              self->step_of(*o, "transport",
                                            "the Kaigo WEB Service could not be reached; try "
                                            "again"));
            return self->maybe_drained();
          }
          const auto a = read_challenge(out.response.body);
          if (a.ok() && out.response.status == 200) {
            o->challenge_id = a.data.challenge_id;
            o->challenge_expires = parse_time(a.data.otp_expires_at).value_or(Clock::now());
            if (o->state != kActive)
              self->set_state(*o, kAwaitingOtp, "waiting for the one-time password");
            gateway::LoginStep s = self->step_of(*o);
            s.otp_delivery = a.data.otp_delivery;
            s.otp_destination_hint = a.data.otp_destination_hint;  // the person's, never logged
            self->finish_step(std::move(done), std::move(s));
            return self->maybe_drained();
          }
          const std::string code = a.first_code();
          self->context_.events.log(AdapterLogLevel::kWarning, "login-failed",
                                    {{"office", office_no},
                                     {"user_id", o->credentials->user_id},
                                     {"code", code.empty() ? "garbled" : code},
                                     {"request_id", out.request_id}});
          self->login_refused(*o, a.errors, code);
          self->finish_step(std::move(done), self->step_of(*o, code.empty() ? "garbled" : code));
          self->maybe_drained();
        });
  }

  // A login or OTP step answered NG with a credential class code (§4.2).
  void login_refused(Office& o, const std::vector<ApiError>& errors, const std::string& code) {
    if (code == "KW1002") {
      const std::string until = errors.empty() ? std::string() : errors.front().locked_until;
      o.locked_until = parse_time(until).value_or(Clock::now() + std::chrono::minutes(30));
      o.challenge_id.clear();
      context_.events.log(AdapterLogLevel::kWarning, "office-locked",
                          {{"office", o.office_no}, {"until", format_utc_ms(o.locked_until)}});
      // A lock during a replacement login leaves an active office active (§7.2).
      if (o.state != kActive)
        set_state(o, kLocked, "the office's Kaigo WEB user ID is locked",
                  format_utc_ms(o.locked_until));
      return;
    }
    const auto* info = ErrorCodes::builtin().find(code);
    if (info != nullptr && info->error_class == ErrorClass::kCredential) {
      o.challenge_id.clear();
      drop_session(o, kCredentialsInvalid,
                   code + " " + info->text + ": fix the office's credentials, then log in again");
    }
  }

  void do_submit_otp(const std::string& office_no, std::string otp,
                     std::function<void(gateway::LoginStep)> done) {
    Office* of = office(office_no);
    if (of == nullptr) {
      gateway::LoginStep s;
      s.state = "unknown_office";
      return finish_step(std::move(done), std::move(s));
    }
    if (of->challenge_id.empty() || Clock::now() >= of->challenge_expires || !of->client) {
      of->challenge_id.clear();
      if (of->state == kAwaitingOtp)
        set_state(*of, kLoginRequired, "the login expired: start again");
      return finish_step(std::move(done),
                         step_of(*of, "KW1004", "no login is open for this office: start again"));
    }
    if (of->login_busy) {
      gateway::LoginStep s = step_of(*of);
      s.state = "pending";
      return finish_step(std::move(done), std::move(s));
    }
    of->login_busy = true;
    ++in_flight_;
    of->client->call(
        "POST", std::string(kOtpPath), otp_body(of->challenge_id, otp), "",
        [self = shared_from_this(), office_no, done = std::move(done)](CallOutcome out) mutable {
          --self->in_flight_;
          Office* o = self->office(office_no);
          o->login_busy = false;
          if (out.kind == CallOutcome::Kind::kCertificateRefused) {
            self->certificate_refused(*o, out);
            self->finish_step(std::move(done), self->step_of(*o, "certificate_refused"));
            return self->maybe_drained();
          }
          if (out.kind == CallOutcome::Kind::kTransport) {
            self->finish_step(std::move(done), self->step_of(*o, "transport"));
            return self->maybe_drained();
          }
          const auto a = read_tokens(out.response.body, true);
          if (a.ok() && out.response.status == 200) {
            o->challenge_id.clear();
            const auto now = Clock::now();
            o->session.office_no = office_no;
            o->session.user_id = o->credentials->user_id;
            o->session.state = kActive;
            o->session.access_token = a.data.access_token;
            o->session.refresh_token = a.data.refresh_token;
            o->session.access_expires_at = format_utc_ms(*parse_time(a.data.access_expires_at));
            o->session.refresh_expires_at = format_utc_ms(*parse_time(a.data.refresh_expires_at));
            o->session.login_at = format_utc_ms(now);
            o->session.certificate_sha256 = o->credentials->certificate_sha256;
            o->access_expires = *parse_time(a.data.access_expires_at);
            o->refresh_expires = *parse_time(a.data.refresh_expires_at);
            o->access_lifetime = std::chrono::duration_cast<Ms>(o->access_expires - now);
            o->login_due_logged = false;
            self->context_.events.log(AdapterLogLevel::kInfo, "session-established",
                                      {{"office", office_no},
                                       {"user_id", o->credentials->user_id},
                                       {"request_id", out.request_id},
                                       {"refresh_expires_at", o->session.refresh_expires_at}});
            self->persist(office_no, true);
            self->set_state(*o, kActive, "");
            self->finish_step(std::move(done), self->step_of(*o));
            // Held units go out and polling resumes: the next tick comes at once.
            self->schedule(Ms(0));
            return self->maybe_drained();
          }
          const std::string code = a.first_code();
          self->context_.events.log(AdapterLogLevel::kWarning, "otp-failed",
                                    {{"office", office_no},
                                     {"code", code.empty() ? "garbled" : code},
                                     {"request_id", out.request_id}});
          if (code == "KW1004") {
            o->challenge_id.clear();
            if (o->state == kAwaitingOtp)
              self->set_state(*o, kLoginRequired, "the login expired or was replaced: start again");
          } else if (code != "KW1003") {
            self->login_refused(*o, a.errors, code);
          }
          self->finish_step(std::move(done), self->step_of(*o, code.empty() ? "garbled" : code));
          self->maybe_drained();
        });
  }

  // ---- sending (§6, §7.4) ---------------------------------------------------------------------

  void do_send(gateway::OutboundUnit unit, std::function<void(SendResult)> done) {
    if (stopping_) return post(std::move(done), retry("stopping", "adapter stopping"));
    Office* o = office(unit.sender.office_no);
    if (o == nullptr || o->state == kNoCredentials) {
      return post(std::move(done),
                  rejected("kaigoweb_no_credentials",
                           "office " + unit.sender.office_no +
                               " has not registered its Kaigo WEB credentials with the gateway"));
    }
    if (o->state != kActive) return post(std::move(done), hold(*o));
    std::vector<standard5::UnitFile> files;
    files.reserve(unit.files.size());
    for (const auto& f : unit.files) files.push_back({f.name, f.content});
    auto v5 = standard5::to_v5(files);
    if (!v5.ok()) {
      return post(std::move(done), rejected("kaigoweb_translation",
                                            "the unit cannot be translated to the 5.0 standard: " +
                                                describe_findings(v5.findings)));
    }
    auto job = std::make_shared<SendJob>();
    job->office_no = unit.sender.office_no;
    job->reference = sender_reference(unit.idempotency_key);
    job->recipient = unit.recipient;
    job->kind = unit.unit_kind;
    job->document = std::move(v5.document.json);
    job->target_month = target_month_of(job->document);
    job->done = std::move(done);
    const auto doubt = o->doubt.find(job->reference);
    const bool in_doubt = doubt != o->doubt.end();
    if (in_doubt) {
      const auto since = Clock::now() - doubt->second;
      if (since < config_.settle()) {
        SendResult r = retry("send_settling", "an earlier attempt may still be processed");
        r.retry_after = std::chrono::ceil<std::chrono::seconds>(config_.settle() - since);
        return finish(job, std::move(r));
      }
    }
    if (in_doubt || unit.attempt > 1) return check_sent(job);
    post_send(job);
  }

  struct SendJob {
    std::string office_no, reference, kind, target_month, document;
    gateway::OfficeRef recipient;
    std::function<void(SendResult)> done;
  };

  void finish(const std::shared_ptr<SendJob>& job, SendResult r) {
    auto done = std::move(job->done);
    post(std::move(done), std::move(r));
  }

  // §6.3: look for the reference among the office's sent items before sending again.
  void check_sent(const std::shared_ptr<SendJob>& job) {
    Office* o = office(job->office_no);
    const auto now = Clock::now();
    std::string from;
    if (!o->covered_from || *o->covered_from > now - config_.sent_check_window) {
      from = format_utc_ms(now - config_.sent_check_window);
    } else {
      from = format_utc_ms(o->high_water.value_or(now) - std::chrono::minutes(5));
    }
    search_page(job, from, format_utc_ms(now), "", now);
  }

  void search_page(const std::shared_ptr<SendJob>& job, std::string from, std::string to,
                   std::string page, Clock::time_point started) {
    api(job->office_no, "GET", sent_by_time_target(from, to, page, 100), "",
        [this, job, from, to, started](Reply reply) {
          if (reply.hold) return finish(job, std::move(*reply.hold));
          auto r = classify_system(job->office_no, reply.out);
          if (r) {
            if (r->status == SendResult::Status::kRejected) r->status = SendResult::Status::kRetry;
            context_.events.log(AdapterLogLevel::kWarning, "sent-check",
                                {{"office", job->office_no},
                                 {"reference", job->reference},
                                 {"outcome", "failed"},
                                 {"code", r->error_code}});
            return finish(job, std::move(*r));
          }
          const auto a = read_item_page(reply.out.response.body);
          if (!a.ok()) {
            if (a.kind == AnswerKind::kGarbled)
              garbled(job->office_no, "sent-search", reply.out, a.problem);
            return finish(job, retry(a.kind == AnswerKind::kNg ? "kaigoweb:" + a.first_code()
                                                               : "garbled_answer",
                                     "the sent-items check failed"));
          }
          Office* o = office(job->office_no);
          for (const auto& e : a.data.items) index_sent(*o, e);
          if (!a.data.next_page.empty())
            return search_page(job, from, to, a.data.next_page, started);
          if (!o->covered_from || *o->covered_from > parse_time(from).value_or(started))
            o->covered_from = parse_time(from);
          o->high_water = started;
          resolve_check(job);
        });
  }

  void index_sent(Office& o, const ItemEntry& e) {
    if (e.sender_reference.rfind(kReferencePrefix, 0) != 0) return;
    auto& list = o.sent_index[e.sender_reference];
    for (const auto& [at, id] : list) {
      if (id == e.item_id) return;
    }
    list.emplace_back(e.accepted_at, e.item_id);
    std::sort(list.begin(), list.end(), [](const auto& a, const auto& b) {
      return parse_time(a.first).value_or(Clock::time_point{}) <
             parse_time(b.first).value_or(Clock::time_point{});
    });
  }

  void resolve_check(const std::shared_ptr<SendJob>& job) {
    Office* o = office(job->office_no);
    const auto it = o->sent_index.find(job->reference);
    if (it == o->sent_index.end() || it->second.empty()) {
      context_.events.log(
          AdapterLogLevel::kInfo, "sent-check",
          {{"office", job->office_no}, {"reference", job->reference}, {"outcome", "not_found"}});
      return post_send(job);
    }
    if (it->second.size() > 1) {
      context_.events.log(AdapterLogLevel::kWarning, "sent-duplicate-found",
                          {{"office", job->office_no},
                           {"reference", job->reference},
                           {"items", std::to_string(it->second.size())}});
    }
    const std::string item_id = it->second.front().second;
    context_.events.log(AdapterLogLevel::kInfo, "sent-check",
                        {{"office", job->office_no},
                         {"reference", job->reference},
                         {"outcome", "found"},
                         {"item", item_id}});
    clear_doubt(job->office_no, job->reference);
    SendResult r;
    r.status = SendResult::Status::kAccepted;
    r.remote_id = job->office_no + ":" + item_id;
    r.message = "found among the office's sent items";
    r.sent_sha256 = sha256_hex(job->document);
    finish(job, std::move(r));
  }

  void post_send(const std::shared_ptr<SendJob>& job) {
    const auto started = Clock::now();
    api(job->office_no, "POST", std::string(kSentItemsPath),
        send_body(job->reference, job->recipient, job->kind, job->target_month, job->document),
        [this, job, started](Reply reply) {
          if (reply.hold) return finish(job, std::move(*reply.hold));
          const CallOutcome& out = reply.out;
          const bool answered = out.kind == CallOutcome::Kind::kAnswer;
          const int status = answered ? out.response.status : 0;
          if (!answered || status == 500 ||
              (status >= 200 && status < 300 &&
               read_envelope(out.response.body).kind == AnswerKind::kGarbled)) {
            // §6.2: the item may exist.
            if (answered && status != 500) {
              garbled(job->office_no, "send", out, read_envelope(out.response.body).problem);
            }
            return ambiguous(job, started, out);
          }
          if (status == 200) {
            const auto a = read_send_answer(out.response.body);
            if (a.ok()) {
              clear_doubt(job->office_no, job->reference);
              Office* o = office(job->office_no);
              ItemEntry e;
              e.item_id = a.data.item_id;
              e.sender_reference = job->reference;
              e.accepted_at = a.data.accepted_at;
              index_sent(*o, e);
              context_.events.log(AdapterLogLevel::kInfo, "send-accepted",
                                  {{"office", job->office_no},
                                   {"reference", job->reference},
                                   {"item", a.data.item_id},
                                   {"request_id", out.request_id}});
              SendResult r;
              r.status = SendResult::Status::kAccepted;
              r.remote_id = job->office_no + ":" + a.data.item_id;
              r.sent_sha256 = sha256_hex(job->document);
              return finish(job, std::move(r));
            }
            if (a.kind == AnswerKind::kGarbled) {
              garbled(job->office_no, "send", out, a.problem);
              return ambiguous(job, started, out);
            }
            // A complete NG: nothing was stored (§6.2).
            clear_doubt(job->office_no, job->reference);
            return finish(job, business_result(job, a.errors, out.request_id));
          }
          clear_doubt(job->office_no, job->reference);
          auto r = classify_system(job->office_no, out);
          finish(job, r ? std::move(*r) : retry("http_" + std::to_string(status), "unexpected"));
        });
  }

  void ambiguous(const std::shared_ptr<SendJob>& job, Clock::time_point started,
                 const CallOutcome& out) {
    Office* o = office(job->office_no);
    o->doubt.emplace(job->reference, started);  // keeps the first start if already in doubt
    vault_put_any(doubt_key(context_.name, job->office_no, job->reference),
                  format_utc_ms(o->doubt[job->reference]));
    context_.events.log(AdapterLogLevel::kWarning, "send-ambiguous",
                        {{"office", job->office_no},
                         {"reference", job->reference},
                         {"request_id", out.request_id},
                         {"cause", out.kind == CallOutcome::Kind::kAnswer
                                       ? "http_" + std::to_string(out.response.status)
                                       : out.ec.message()}});
    SendResult r = retry("send_ambiguous", "the send may have been stored; it is checked first");
    r.retry_after = std::chrono::ceil<std::chrono::seconds>(config_.settle());
    finish(job, std::move(r));
  }

  void clear_doubt(const std::string& office_no, const std::string& reference) {
    Office* o = office(office_no);
    if (o == nullptr || o->doubt.erase(reference) == 0) return;
    const std::string key = doubt_key(context_.name, office_no, reference);
    ++in_flight_;
    context_.vault->erase(key, [self = shared_from_this()](bool) {
      boost::asio::post(self->strand_, [self] {
        --self->in_flight_;
        self->maybe_drained();
      });
    });
  }

  // A 200 NG on a send, by the class of its first code (§4.2).
  SendResult business_result(const std::shared_ptr<SendJob>& job,
                             const std::vector<ApiError>& errors, const std::string& request_id) {
    const std::string code = errors.empty() ? std::string("unknown") : errors.front().code;
    const auto* info = ErrorCodes::builtin().find(code);
    if (info == nullptr) {
      context_.events.log(AdapterLogLevel::kWarning, "unknown-business-code",
                          {{"office", job->office_no}, {"code", code}});
    }
    if (info != nullptr && info->error_class == ErrorClass::kTransient) {
      SendResult r = retry("kaigoweb:" + code, describe_errors(errors));
      if (!errors.empty() && errors.front().retry_after) r.retry_after = errors.front().retry_after;
      return r;
    }
    if (info != nullptr &&
        (info->error_class == ErrorClass::kCredential || info->error_class == ErrorClass::kLogin)) {
      Office* o = office(job->office_no);
      drop_session(*o,
                   info->error_class == ErrorClass::kLogin ? kLoginRequired : kCredentialsInvalid,
                   code + " " + info->text);
      return hold(*o);
    }
    std::string fields;
    for (const auto& e : errors) {
      if (!e.field.empty()) fields += (fields.empty() ? "" : ",") + e.field;
    }
    context_.events.log(AdapterLogLevel::kWarning, "send-refused",
                        {{"office", job->office_no},
                         {"reference", job->reference},
                         {"codes", describe_codes(errors)},
                         {"fields", fields},
                         {"request_id", request_id}});
    return rejected("kaigoweb:" + code, "national service refused: " + describe_errors(errors));
  }

  static std::string describe_codes(const std::vector<ApiError>& errors) {
    std::string out;
    for (const auto& e : errors) out += (out.empty() ? "" : ",") + e.code;
    return out;
  }

  // A non-200 answer or a transport failure on any call, by §4.1; nullopt for a 200.
  std::optional<SendResult> classify_system(const std::string& office_no, const CallOutcome& out) {
    if (out.kind != CallOutcome::Kind::kAnswer) return retry("transport", out.ec.message());
    const int status = out.response.status;
    if (status == 200) return std::nullopt;
    const auto env = read_envelope(out.response.body);
    const std::string code =
        env.first_code().empty() ? "http_" + std::to_string(status) : env.first_code();
    const auto* info = ErrorCodes::builtin().find(code);
    if (status == 429 || status == 503 || (info && info->error_class == ErrorClass::kTransient) ||
        status >= 500) {
      SendResult r =
          retry("kaigoweb:" + code, info ? info->text : "HTTP " + std::to_string(status));
      r.retry_after = retry_after_of(out.response);
      return r;
    }
    if (info && info->error_class == ErrorClass::kCredential) {
      if (Office* o = office(office_no)) {
        drop_session(*o, kCredentialsInvalid, code + " " + info->text);
        return hold(*o);
      }
    }
    context_.events.log(
        AdapterLogLevel::kError, "call-refused",
        {{"office", office_no},
         {"code", code},
         {"request_id", out.request_id},
         {"fields", env.errors.empty() ? std::string() : env.errors.front().field}});
    return rejected("kaigoweb:" + code, "national service refused: " + describe_errors(env.errors));
  }

  // ---- receipts to the service (§5.5) ---------------------------------------------------------

  void do_send_receipt(gateway::OutboundReceipt receipt, std::function<void(SendResult)> done) {
    if (stopping_) return post(std::move(done), retry("stopping", "adapter stopping"));
    const auto colon = receipt.source_id.find(':');
    if (colon == std::string::npos) {
      return post(std::move(done),
                  rejected("bad_source_id", "not an <office_no>:<item_id> of this network"));
    }
    const std::string office_no = receipt.source_id.substr(0, colon);
    const std::string item_id = receipt.source_id.substr(colon + 1);
    const bool reject = receipt.state == gateway::ReceiptState::kRejected;
    api(office_no, "POST", ack_target(item_id),
        ack_body(reject ? "rejected" : "downloaded", receipt.reason),
        [this, office_no, item_id, done = std::move(done)](Reply reply) mutable {
          if (reply.hold) return post(std::move(done), std::move(*reply.hold));
          if (auto r = classify_system(office_no, reply.out)) return post(std::move(done), *r);
          const auto a = read_envelope(reply.out.response.body);
          SendResult r;
          if (a.ok()) {
            r.status = SendResult::Status::kAccepted;
            r.remote_id = office_no + ":" + item_id;
          } else if (a.first_code() == "KW2401") {
            context_.events.log(AdapterLogLevel::kInfo, "ack-already-given",
                                {{"office", office_no}, {"item", item_id}});
            r.status = SendResult::Status::kAccepted;
            r.remote_id = office_no + ":" + item_id;
            r.message = "acknowledged before with another result (KW2401): the first stands";
          } else if (a.kind == AnswerKind::kGarbled) {
            garbled(office_no, "ack", reply.out, a.problem);
            r = retry("garbled_answer", "the acknowledgement's answer was not readable");
          } else {
            const auto* info = ErrorCodes::builtin().find(a.first_code());
            r = info && info->error_class == ErrorClass::kTransient
                    ? retry("kaigoweb:" + a.first_code(), describe_errors(a.errors))
                    : rejected("kaigoweb:" + a.first_code(), describe_errors(a.errors));
          }
          post(std::move(done), std::move(r));
        });
  }

  // ---- office list (§5.6) ---------------------------------------------------------------------

  void directory_page(std::string through, std::string since, std::string cursor,
                      std::shared_ptr<gateway::DirectoryResult> result,
                      std::function<void(gateway::DirectoryResult)> done) {
    api(through, "GET", offices_target(since, cursor, 1000), "",
        [this, through, since, result, done = std::move(done)](Reply reply) mutable {
          auto fail = [&](SendResult r) {
            result->status = std::move(r);
            result->entries.clear();
            done(std::move(*result));
          };
          if (reply.hold) return fail(std::move(*reply.hold));
          if (auto r = classify_system(through, reply.out)) return fail(std::move(*r));
          auto a = read_office_page(reply.out.response.body);
          if (!a.ok()) {
            if (a.kind == AnswerKind::kGarbled) garbled(through, "offices", reply.out, a.problem);
            return fail(retry("garbled_answer", "the office list was not readable"));
          }
          if (result->next_changed_since.empty()) result->next_changed_since = a.data.as_of;
          for (auto& e : a.data.entries) result->entries.push_back(std::move(e));
          if (a.data.has_more && !a.data.next_cursor.empty())
            return directory_page(through, since, a.data.next_cursor, result, std::move(done));
          result->status.status = SendResult::Status::kAccepted;
          done(std::move(*result));
        });
  }

  // ---- the driver's upkeep and polling (§7.1, §7.2, §7.5) -------------------------------------

  void schedule(Ms after) {
    if (stopping_ || !running_) return;
    timer_.expires_after(after);
    timer_.async_wait([self = shared_from_this()](boost::system::error_code ec) {
      if (!ec && !self->stopping_) self->tick();
    });
  }

  void tick() {
    if (!driver()) return schedule(config_.poll_interval);
    upkeep();
    if (run_active_) return;  // the current run schedules the next tick when it ends
    start_run();
  }

  // Lapses, refreshes ahead of expiry, the login-due notice, locks and challenges that ran out.
  void upkeep() {
    const auto now = Clock::now();
    // Every 30 s, or 10 polls when polling is faster (tests).
    if (now - credentials_read_ >= std::min<Ms>(kCredentialReload, 10 * config_.poll_interval)) {
      credentials_read_ = now;
      reload_credentials();
    }
    for (auto& [no, o] : offices_) {
      check_certificate_expiry(o);
      if (o.state == kLocked && now >= o.locked_until)
        set_state(o, kLoginRequired, "the lock ended: a person must log in again");
      if (o.state == kAwaitingOtp && now >= o.challenge_expires) {
        o.challenge_id.clear();
        set_state(o, kLoginRequired, "the one-time password expired: start the login again");
      }
      if (o.state != kActive || !o.has_tokens()) continue;
      if (now >= o.refresh_expires) {
        context_.events.log(AdapterLogLevel::kWarning, "session-lapsed", {{"office", no}});
        drop_session(o, kLoginRequired,
                     "the Kaigo WEB session lapsed (8 hours): a person must log in again with a "
                     "one-time password");
        continue;
      }
      if (!o.login_due_logged && o.refresh_expires - now < config_.login_due_alert) {
        o.login_due_logged = true;
        context_.events.log(AdapterLogLevel::kWarning, "login-due",
                            {{"office", no}, {"at", format_utc_ms(o.refresh_expires)}});
      }
      if (o.access_expires - now < refresh_margin(o)) refresh(no, [](bool) {});
    }
  }

  void start_run() {
    if (!units_.window().restart() || !receipts_.window().restart()) {
      run_active_ = true;
      return end_run();
    }
    run_active_ = true;
    run_failed_ = false;
    units_listed_ = read_composite_cursor(unit_cursor_).value_or(CompositeCursor{});
    receipts_listed_ = read_composite_cursor(receipt_cursor_).value_or(CompositeCursor{});
    run_queue_.clear();
    std::vector<std::string> active;
    for (const auto& [no, o] : offices_) {
      if (o.state == kActive) active.push_back(no);
    }
    // Rotate the starting office from run to run, so no office is always first.
    if (!active.empty()) {
      const std::size_t first = rotation_++ % active.size();
      for (std::size_t i = 0; i < active.size(); ++i)
        run_queue_.push_back(active[(first + i) % active.size()]);
    }
    next_office();
  }

  void end_run() {
    // Hand nothing more over; the next tick comes once every answer is in.
    run_queue_.clear();
    units_.wait_until_drained([this] {
      receipts_.wait_until_drained([this] {
        run_active_ = false;
        if (!run_failed_) health_.succeeded();
        schedule(config_.poll_interval);
      });
    });
  }

  bool run_broken() const { return units_.window().failed() || receipts_.window().failed(); }

  void next_office() {
    if (stopping_) return;
    if (run_broken() || run_queue_.empty()) return end_run();
    const std::string no = run_queue_.front();
    run_queue_.pop_front();
    poll_received(no);
  }

  void poll_failed(const std::string& office_no, const char* call, const std::string& code) {
    run_failed_ = true;
    health_.failed(unit_cursor_, call, code, "office " + office_no);
  }

  void poll_received(const std::string& no) {
    api(no, "GET", received_list_target(units_listed_[no], config_.page_size), "",
        [this, no](Reply reply) {
          if (stopping_) return;
          if (reply.hold) return poll_sent(no, false);
          if (auto r = classify_system(no, reply.out)) {
            cursor_reset_if(no, reply.out, units_listed_);
            poll_failed(no, "received-items", r->error_code);
            return poll_sent(no, false);
          }
          auto a = read_item_page(reply.out.response.body);
          if (!a.ok()) {
            if (a.kind == AnswerKind::kGarbled) garbled(no, "received-items", reply.out, a.problem);
            poll_failed(no, "received-items", "garbled_answer");
            return poll_sent(no, false);
          }
          auto items =
              std::make_shared<std::deque<ItemEntry>>(std::make_move_iterator(a.data.items.begin()),
                                                      std::make_move_iterator(a.data.items.end()));
          next_received(no, items, a.data.has_more, 0);
        });
  }

  void cursor_reset_if(const std::string& no, const CallOutcome& out, CompositeCursor& listed) {
    if (out.kind != CallOutcome::Kind::kAnswer || out.response.status != 400) return;
    if (read_envelope(out.response.body).first_code() != "S4002" || listed[no].empty()) return;
    context_.events.log(AdapterLogLevel::kError, "cursor-reset",
                        {{"office", no}, {"request_id", out.request_id}});
    listed[no].clear();  // listed again from the beginning; the engine drops what comes again
  }

  void next_received(const std::string& no, std::shared_ptr<std::deque<ItemEntry>> items, bool more,
                     std::size_t before_receive_from) {
    if (stopping_) return;
    if (run_broken()) return end_run();
    if (units_.window().full())
      return units_.wait_for_room([this, no, items, more, before_receive_from] {
        next_received(no, items, more, before_receive_from);
      });
    Office* o = office(no);
    while (!items->empty()) {
      ItemEntry& e = items->front();
      const bool early = o->credentials && !o->credentials->receive_from.empty() &&
                         parse_time(e.delivered_at).value_or(Clock::time_point::max()) <
                             parse_time(o->credentials->receive_from).value_or(Clock::time_point{});
      if (!early) break;
      if (early) ++before_receive_from;
      if (!e.cursor.empty()) units_listed_[no] = e.cursor;
      items->pop_front();
    }
    if (items->empty()) {
      if (before_receive_from > 0) {
        context_.events.log(AdapterLogLevel::kInfo, "items-before-receive-from",
                            {{"office", no}, {"count", std::to_string(before_receive_from)}});
      }
      return poll_sent(no, more);
    }
    fetch(no, items, more, before_receive_from);
  }

  void fetch(const std::string& no, std::shared_ptr<std::deque<ItemEntry>> items, bool more,
             std::size_t before_receive_from) {
    const std::string item_id = items->front().item_id;
    api(no, "GET", received_item_target(item_id), "",
        [this, no, items, more, before_receive_from, item_id](Reply reply) {
          if (stopping_) return;
          if (run_broken()) return end_run();
          auto give_up = [&](const std::string& code) {
            poll_failed(no, "received-item", code);
            poll_sent(no, false);
          };
          if (reply.hold) return give_up(reply.hold->error_code);
          if (auto r = classify_system(no, reply.out)) {
            if (r->status == SendResult::Status::kRejected) {
              // Gone or not ours since it was listed: nothing to deliver.
              items->pop_front();
              return next_received(no, items, more, before_receive_from);
            }
            return give_up(r->error_code);
          }
          auto a = read_received_item(reply.out.response.body);
          if (!a.ok()) {
            if (a.kind == AnswerKind::kGarbled) garbled(no, "received-item", reply.out, a.problem);
            return give_up("garbled_answer");
          }
          ItemEntry entry = std::move(items->front());
          items->pop_front();
          hand_over_unit(no, entry, a.data, sha256_hex(reply.out.response.body));
          next_received(no, items, more, before_receive_from);
        });
  }

  void hand_over_unit(const std::string& no, const ItemEntry& listed, const ReceivedItem& item,
                      std::string fetched_sha256) {
    gateway::InboundUnit unit;
    unit.source_id = no + ":" + listed.item_id;
    unit.sender = item.entry.sender.office_no.empty() ? listed.sender : item.entry.sender;
    unit.recipient =
        item.entry.recipient.office_no.empty() ? listed.recipient : item.entry.recipient;
    unit.subject = item.entry.kind.empty() ? listed.kind : item.entry.kind;
    unit.origin_session = no;
    unit.origin_item = listed.item_id;
    unit.fetched_sha256 = std::move(fetched_sha256);
    const auto rendered = standard5::from_v5(item.document_json);
    if (rendered.ok()) {
      for (const auto& f : rendered.files) {
        gateway::SignedFile s;
        s.name = f.name;
        s.media_type = mapping::common::media_type_for(f.name);
        s.content = f.bytes;
        unit.files.push_back(std::move(s));  // no CMS: the engine signs as the proxy (issue 17)
      }
    } else {
      unit.unreadable =
          "the 5.0 document cannot be rendered as 4.1: " + describe_findings(rendered.findings);
      context_.events.report(
          &AdapterCounters::items_unreadable, AdapterLogLevel::kWarning, "item-unreadable",
          {{"office", no}, {"item", listed.item_id}, {"reason", unit.unreadable}});
    }
    if (!listed.cursor.empty()) units_listed_[no] = listed.cursor;
    unit.cursor = write_composite_cursor(units_listed_);
    const auto ticket = units_.window().hand_over(unit.cursor);
    ++sink_pending_;
    context_.sink->on_unit(std::move(unit), [self = shared_from_this(), ticket](bool accepted) {
      boost::asio::post(self->strand_, [self, ticket, accepted] {
        self->answered(self->units_, self->unit_cursor_, ticket, accepted);
      });
    });
  }

  void answered(Lane& lane, std::string& durable, Lane::Ticket ticket, bool accepted) {
    --sink_pending_;
    lane.window().answer(ticket, accepted,
                         [&](std::string cursor) { durable = std::move(cursor); });
    if (stopping_) return maybe_drained();
    lane.progress();
  }

  void poll_sent(const std::string& no, bool more_received) {
    if (stopping_) return;
    if (run_broken()) return end_run();
    api(no, "GET", sent_feed_target(receipts_listed_[no], config_.page_size), "",
        [this, no, more_received](Reply reply) {
          if (stopping_) return;
          auto next = [&](bool more) {
            if (more) run_queue_.push_back(no);  // to the back: one busy office starves no other
            next_office();
          };
          if (reply.hold) return next(false);
          if (auto r = classify_system(no, reply.out)) {
            cursor_reset_if(no, reply.out, receipts_listed_);
            poll_failed(no, "sent-items", r->error_code);
            return next(more_received);
          }
          auto a = read_item_page(reply.out.response.body);
          if (!a.ok()) {
            if (a.kind == AnswerKind::kGarbled) garbled(no, "sent-items", reply.out, a.problem);
            poll_failed(no, "sent-items", "garbled_answer");
            return next(more_received);
          }
          auto entries =
              std::make_shared<std::deque<ItemEntry>>(std::make_move_iterator(a.data.items.begin()),
                                                      std::make_move_iterator(a.data.items.end()));
          next_receipt(no, entries, more_received || a.data.has_more);
        });
  }

  void next_receipt(const std::string& no, std::shared_ptr<std::deque<ItemEntry>> entries,
                    bool more) {
    Office* o = office(no);
    while (!stopping_) {
      if (run_broken()) return end_run();
      if (receipts_.window().full())
        return receipts_.wait_for_room(
            [this, no, entries, more] { next_receipt(no, entries, more); });
      if (entries->empty()) {
        if (more) run_queue_.push_back(no);
        return next_office();
      }
      ItemEntry e = std::move(entries->front());
      entries->pop_front();
      if (!e.cursor.empty()) receipts_listed_[no] = e.cursor;
      if (e.sender_reference.rfind(kReferencePrefix, 0) != 0) {
        // Sent with the office's account by someone else (the browser): not the gateway's.
        context_.events.count(&AdapterCounters::items_skipped);
        continue;
      }
      index_sent(*o, e);
      gateway::InboundReceipt rc;
      if (e.status == "downloaded") {
        rc.state = gateway::ReceiptState::kDelivered;
      } else if (e.status == "rejected") {
        rc.state = gateway::ReceiptState::kRejected;
        rc.reason = e.reject_by + " " + e.reject_code + ": " + e.reject_reason;
      } else {
        continue;  // accepted / delivered: no receipt
      }
      rc.remote_id = no + ":" + e.item_id;
      rc.cursor = write_composite_cursor(receipts_listed_);
      const auto ticket = receipts_.window().hand_over(rc.cursor);
      ++sink_pending_;
      context_.sink->on_receipt(std::move(rc), [self = shared_from_this(), ticket](bool accepted) {
        boost::asio::post(self->strand_, [self, ticket, accepted] {
          self->answered(self->receipts_, self->receipt_cursor_, ticket, accepted);
        });
      });
    }
  }

  // ---- vault (answers come on the context's executor: back onto the strand) --------------------

  void vault_get(std::string key,
                 std::function<void(std::optional<gateway::VaultRecord>, bool)> done) {
    ++in_flight_;
    context_.vault->get(
        std::move(key), [self = shared_from_this(), done = std::move(done)](
                            std::optional<gateway::VaultRecord> rec, bool ok) mutable {
          boost::asio::post(self->strand_,
                            [self, done = std::move(done), rec = std::move(rec), ok]() mutable {
                              --self->in_flight_;
                              done(std::move(rec), ok);
                              self->maybe_drained();
                            });
        });
  }

  void vault_put(std::string key, std::string value, std::int64_t generation,
                 std::function<void(gateway::VaultWrite)> done) {
    ++in_flight_;
    context_.vault->put(
        std::move(key), std::move(value), generation,
        [self = shared_from_this(), done = std::move(done)](gateway::VaultWrite w) mutable {
          boost::asio::post(self->strand_, [self, done = std::move(done), w] {
            --self->in_flight_;
            done(w);
            self->maybe_drained();
          });
        });
  }

  // Writes `value` whatever is stored (the in-doubt records: one writer per reference).
  void vault_put_any(std::string key, std::string value) {
    vault_get(key, [this, key, value](std::optional<gateway::VaultRecord> rec, bool ok) {
      if (!ok) return;
      vault_put(key, value, rec ? rec->generation : 0, [](gateway::VaultWrite) {});
    });
  }

  void load_doubts(const std::string& office_no) {
    ++in_flight_;
    const std::string prefix = doubt_prefix(context_.name, office_no);
    context_.vault->list(prefix, [self = shared_from_this(), office_no, prefix](
                                     std::vector<std::string> keys, bool ok) {
      boost::asio::post(self->strand_, [self, office_no, prefix, keys = std::move(keys), ok] {
        --self->in_flight_;
        for (const auto& key : ok ? keys : std::vector<std::string>{}) {
          self->vault_get(key, [self, office_no, reference = key.substr(prefix.size())](
                                   std::optional<gateway::VaultRecord> rec, bool read) {
            Office* o = self->office(office_no);
            if (!read || !rec || o == nullptr) return;
            if (auto t = parse_time(rec->value)) o->doubt.emplace(reference, *t);
          });
        }
        self->maybe_drained();
      });
    });
  }

  template <class Result>
  void post(std::function<void(Result)> done, Result r) {
    boost::asio::post(strand_,
                      [done = std::move(done), r = std::move(r)]() mutable { done(std::move(r)); });
  }

  void maybe_drained() {
    if (!stopping_ || in_flight_ > 0 || sink_pending_ > 0 || !drained_) return;
    auto drained = std::move(drained_);
    drained_ = nullptr;
    boost::asio::post(strand_, std::move(drained));
  }

  KaigoWebConfig config_;
  gateway::AdapterContext context_;
  boost::asio::strand<boost::asio::any_io_executor> strand_;
  boost::asio::steady_timer timer_;
  std::map<std::string, Office> offices_;
  std::string unit_cursor_;  // durable composite cursors
  std::string receipt_cursor_;
  CompositeCursor units_listed_, receipts_listed_;  // ahead of the durable ones during a run
  Lane units_;
  Lane receipts_;
  std::deque<std::string> run_queue_;
  std::size_t rotation_ = 0;
  bool run_active_ = false;
  bool run_failed_ = false;
  bool loaded_ = false;
  bool running_ = false;
  bool stopping_ = false;
  int in_flight_ = 0;
  int sink_pending_ = 0;
  std::function<void()> drained_;
  adapters::PollHealth health_{context_.events};
  static constexpr std::chrono::seconds kCredentialReload{30};
  Clock::time_point credentials_read_ = Clock::now();
};

class KaigoWebAdapter final : public gateway::Adapter {
 public:
  explicit KaigoWebAdapter(std::shared_ptr<Impl> impl) : impl_(std::move(impl)) {}
  ~KaigoWebAdapter() override { impl_->shutdown(); }
  void start() override { impl_->start(); }
  void stop(std::function<void()> drained) override { impl_->stop(std::move(drained)); }
  void send(gateway::OutboundUnit unit, std::function<void(SendResult)> done) override {
    impl_->send(std::move(unit), std::move(done));
  }
  void send_receipt(gateway::OutboundReceipt receipt,
                    std::function<void(SendResult)> done) override {
    impl_->send_receipt(std::move(receipt), std::move(done));
  }
  void fetch_directory(std::string changed_since,
                       std::function<void(gateway::DirectoryResult)> done) override {
    impl_->fetch_directory(std::move(changed_since), std::move(done));
  }
  gateway::OfficeLogins* office_logins() override { return impl_.get(); }

 private:
  std::shared_ptr<Impl> impl_;
};

}  // namespace

std::unique_ptr<gateway::Adapter> make_kaigoweb_adapter(KaigoWebConfig config,
                                                        gateway::AdapterContext context) {
  if (context.sink == nullptr) throw std::invalid_argument("kaigoweb adapter: no sink");
  if (!context.vault)
    throw std::invalid_argument("kaigoweb adapter: no vault (session records live there)");
  return std::make_unique<KaigoWebAdapter>(
      std::make_shared<Impl>(std::move(config), std::move(context)));
}

}  // namespace kakehashi::adapters::kaigoweb
