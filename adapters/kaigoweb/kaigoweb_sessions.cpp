// Kaigo WEB adapter: credentials, office states, sessions, logins and authenticated calls
// (PROTOCOL.md §3, §7.1–§7.3).
#include "adapters/kaigoweb/kaigoweb_impl.hpp"

namespace kakehashi::adapters::kaigoweb::detail {

void Impl::begin_login(std::string office_no, std::function<void(gateway::LoginStep)> done) {
  boost::asio::dispatch(strand_, [self = shared_from_this(), office_no = std::move(office_no),
                                  done = std::move(done)]() mutable {
    // Another instance drives the office's session: it carries the step out (§7.3).
    if (!self->driver() && self->office(office_no) != nullptr)
      return self->hand_off(office_no, "begin", "", std::move(done));
    self->do_begin_login(office_no, std::move(done));
  });
}

void Impl::submit_otp(std::string office_no, std::string otp,
                      std::function<void(gateway::LoginStep)> done) {
  boost::asio::dispatch(strand_, [self = shared_from_this(), office_no = std::move(office_no),
                                  otp = std::move(otp), done = std::move(done)]() mutable {
    if (!self->driver() && self->office(office_no) != nullptr)
      return self->hand_off(office_no, "otp", std::move(otp), std::move(done));
    self->do_submit_otp(office_no, std::move(otp), std::move(done));
  });
}

void Impl::office_states(std::function<void(std::vector<gateway::OfficeSessionView>)> done) {
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

Office* Impl::office(const std::string& office_no) {
  const auto it = offices_.find(office_no);
  return it == offices_.end() ? nullptr : &it->second;
}

void Impl::load_offices() {
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

bool Impl::read_credentials(Office& o) {
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

void Impl::reload_credentials() {
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

void Impl::check_certificate_expiry(Office& o) {
  if (!o.credentials) return;
  const auto now = Clock::now();
  if (now - o.certificate_alerted < std::chrono::hours(24)) return;
  const auto left = std::chrono::duration_cast<std::chrono::hours>(o.credentials->not_after - now);
  if (left < std::chrono::hours(24 * config_.certificate_alert_days)) {
    o.certificate_alerted = now;
    context_.events.log(AdapterLogLevel::kWarning, "certificate-expiring",
                        {{"office", o.office_no},
                         {"not_after", format_utc_ms(o.credentials->not_after)},
                         {"days_left", std::to_string(left.count() / 24)}});
  }
}

void Impl::set_state(Office& o, const std::string& state, std::string detail, std::string until) {
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

SendResult Impl::hold(const Office& o) const {
  SendResult r = retry(o.state, "office " + o.office_no + " cannot send now (" + o.state +
                                    (o.detail.empty() ? std::string() : ": " + o.detail) + ")");
  r.hold_office = true;
  return r;
}

void Impl::adopt(Office& o, const SessionRecord& r, std::int64_t generation) {
  o.session = r;
  o.generation = generation;
  o.access_expires = parse_time(r.access_expires_at).value_or(Clock::time_point{});
  o.refresh_expires = parse_time(r.refresh_expires_at).value_or(Clock::time_point{});
  // The token's lifetime as written (the record is written when the token is issued), for the
  // refresh margin.
  if (const auto written = parse_time(r.updated_at); written && *written < o.access_expires)
    o.access_lifetime = std::chrono::duration_cast<Ms>(o.access_expires - *written);
  o.login_due_logged = false;
}

bool Impl::usable(const Office& o, const SessionRecord& r) const {
  return o.credentials && r.state == kActive && !r.access_token.empty() &&
         r.certificate_sha256 == o.credentials->certificate_sha256 &&
         parse_time(r.refresh_expires_at).value_or(Clock::time_point{}) > Clock::now();
}

void Impl::load_session(const std::string& office_no) {
  ++sessions_loading_;
  vault_get(session_key(context_.name, office_no),
            [this, office_no](std::optional<gateway::VaultRecord> rec, bool ok) {
              loaded_one();
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

// One session record read; sends that came before every office's record was read go on (at the
// end of this turn, after the record's state is set).
void Impl::loaded_one() {
  if (--sessions_loading_ > 0) return;
  auto waiting = std::move(after_load_);
  after_load_.clear();
  for (auto& go : waiting) boost::asio::post(strand_, std::move(go));
}

void Impl::drop_session(Office& o, const char* state, std::string detail, std::string until) {
  o.session.access_token.clear();
  o.session.refresh_token.clear();
  o.session.state = kLoginRequired;
  o.access_expires = o.refresh_expires = Clock::time_point{};
  set_state(o, state, std::move(detail), std::move(until));
}

Ms Impl::refresh_margin(const Office& o) const {
  if (config_.refresh_margin) return *config_.refresh_margin;
  return std::min<Ms>(std::chrono::minutes(5), o.access_lifetime / 4);
}

void Impl::persist(const std::string& office_no, bool login) {
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
              vault_get(session_key(context_.name, office_no),
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

void Impl::reread(const std::string& office_no, std::function<void(bool)> done) {
  vault_get(
      session_key(context_.name, office_no),
      [this, office_no, done = std::move(done)](std::optional<gateway::VaultRecord> rec, bool ok) {
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

void Impl::refresh(const std::string& office_no, std::function<void(bool)> done) {
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
        std::string_view outcome = "failed";
        if (out.kind == CallOutcome::Kind::kCertificateRefused) {
          self->certificate_refused(*o, out);
        } else if (out.kind == CallOutcome::Kind::kAnswer) {
          const auto a = read_tokens(out.response.body, false);
          self->metrics_.count_codes(a.errors);
          if (a.ok() && out.response.status == 200) {
            outcome = "ok";
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
            outcome = "lapsed";
            self->context_.events.log(AdapterLogLevel::kWarning, "session-lapsed",
                                      {{"office", office_no}, {"code", a.first_code()}});
            self->drop_session(*o, kLoginRequired,
                               a.first_code() == "KW1006"
                                   ? "the Kaigo WEB session lapsed (8 hours): a person must "
                                     "log in again with a one-time password"
                                   : "the Kaigo WEB session was revoked (a login elsewhere?): "
                                     "a person must log in again");
          } else if (a.first_code() == "S4031") {
            outcome = "lapsed";
            self->drop_session(*o, kLoginRequired, "the session belongs to another certificate");
          } else if (a.kind == AnswerKind::kGarbled) {
            self->garbled(office_no, "refresh", out, a.problem);
          }
        }
        self->metrics_.refreshes->add(outcome);
        o->refreshing = false;
        auto waiters = std::move(o->after_refresh);
        o->after_refresh.clear();
        for (auto& w : waiters) w(ok);
        self->maybe_drained();
      });
}

void Impl::certificate_refused(Office& o, const CallOutcome& out) {
  context_.events.report(&AdapterCounters::tls_verify_failures, AdapterLogLevel::kError,
                         "certificate-refused", {{"office", o.office_no}, {"alert", out.alert}});
  drop_session(o, kCredentialsInvalid,
               "the Kaigo WEB Service refused the office's certificate (TLS alert " + out.alert +
                   "): check it with `kakehashi kaigoweb credentials check`");
}

void Impl::garbled(const std::string& office_no, const char* call, const CallOutcome& out,
                   const std::string& problem) {
  context_.events.report(&AdapterCounters::malformed_answers, AdapterLogLevel::kWarning,
                         "garbled-answer",
                         {{"office", office_no},
                          {"call", call},
                          {"request_id", out.request_id},
                          {"status", std::to_string(out.response.status)},
                          {"path", problem}});
}

void Impl::api(const std::string& office_no, std::string method, std::string target,
               std::string body, std::function<void(Reply)> done, bool repeated) {
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
      api(office_no, std::move(method), std::move(target), std::move(body), std::move(done), true);
    };
    if (driver()) return refresh(office_no, std::move(again));
    return reread(office_no, std::move(again));
  }
  ++in_flight_;
  const std::string token = of->session.access_token;
  of->client->call(
      method, target, body, token,
      [self = shared_from_this(), office_no, method, target, body, done = std::move(done), repeated,
       token](CallOutcome out) mutable {
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
          const auto env = read_envelope(out.response.body);
          const std::string code = env.first_code();
          const bool same = o->session.access_token == token;
          // Handled here (else the caller's classify_system counts them).
          if (status == 401 || code == "S4031" || code == "S4033")
            self->metrics_.count_codes(env.errors);
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
              auto again = [self, office_no, method = std::move(method), target = std::move(target),
                            body = std::move(body), done = std::move(done)](bool) mutable {
                self->api(office_no, std::move(method), std::move(target), std::move(body),
                          std::move(done), true);
              };
              self->context_.events.count(&AdapterCounters::relogins);
              if (!same) {
                again(true);  // a newer token came meanwhile
              } else if (code == "S4013" && self->driver()) {
                self->refresh(office_no, std::move(again));
              } else {
                self->reread(office_no,
                             [self, office_no, code, again = std::move(again)](bool newer) mutable {
                               Office* cur = self->office(office_no);
                               if (!newer && cur != nullptr && code != "S4013") {
                                 self->drop_session(*cur, kLoginRequired,
                                                    "the Kaigo WEB session is no longer valid (" +
                                                        code + "): a person must log in again");
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

gateway::LoginStep Impl::step_of(const Office& o, std::string error, std::string message) {
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

void Impl::finish_step(std::function<void(gateway::LoginStep)> done, gateway::LoginStep step) {
  boost::asio::post(strand_, [done = std::move(done), step = std::move(step)]() mutable {
    done(std::move(step));
  });
}

void Impl::do_begin_login(const std::string& office_no,
                          std::function<void(gateway::LoginStep)> done) {
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
          self->metrics_.logins->add("unreachable");
          self->certificate_refused(*o, out);
          self->finish_step(std::move(done), self->step_of(*o, "certificate_refused"));
          return self->maybe_drained();
        }
        if (out.kind == CallOutcome::Kind::kTransport) {
          self->metrics_.logins->add("unreachable");
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
        self->metrics_.count_codes(a.errors);
        self->metrics_.logins->add(code == "KW1002" ? "locked" : "failed");
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

void Impl::login_refused(Office& o, const std::vector<ApiError>& errors, const std::string& code) {
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

void Impl::do_submit_otp(const std::string& office_no, std::string otp,
                         std::function<void(gateway::LoginStep)> done) {
  Office* of = office(office_no);
  if (of == nullptr) {
    gateway::LoginStep s;
    s.state = "unknown_office";
    return finish_step(std::move(done), std::move(s));
  }
  if (of->challenge_id.empty() || Clock::now() >= of->challenge_expires || !of->client) {
    of->challenge_id.clear();
    if (of->state == kAwaitingOtp) set_state(*of, kLoginRequired, "the login expired: start again");
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
          self->metrics_.logins->add("unreachable");
          self->certificate_refused(*o, out);
          self->finish_step(std::move(done), self->step_of(*o, "certificate_refused"));
          return self->maybe_drained();
        }
        if (out.kind == CallOutcome::Kind::kTransport) {
          self->metrics_.logins->add("unreachable");
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
          self->metrics_.logins->add("ok");
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
        self->metrics_.count_codes(a.errors);
        self->metrics_.logins->add(code == "KW1002" ? "locked" : "otp_failed");
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

}  // namespace kakehashi::adapters::kaigoweb::detail
