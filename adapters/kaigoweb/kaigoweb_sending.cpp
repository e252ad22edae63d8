// Kaigo WEB adapter: sends with the exactly-once check, acknowledgements and the office list
// (PROTOCOL.md §5, §6, §7.4).
#include "adapters/kaigoweb/kaigoweb_impl.hpp"

namespace kakehashi::adapters::kaigoweb::detail {

void Impl::send(gateway::OutboundUnit unit, std::function<void(SendResult)> done) {
  boost::asio::dispatch(strand_, [self = shared_from_this(), unit = std::move(unit),
                                  done = std::move(done)]() mutable {
    // Counted until `done` ran, so that stop's `drained` comes after it.
    ++self->in_flight_;
    self->do_send(std::move(unit), [self, done = std::move(done)](SendResult r) {
      self->metrics_.sends->add(send_outcome(r));
      done(std::move(r));
      --self->in_flight_;
      self->maybe_drained();
    });
  });
}

void Impl::send_receipt(gateway::OutboundReceipt receipt, std::function<void(SendResult)> done) {
  boost::asio::dispatch(strand_, [self = shared_from_this(), receipt = std::move(receipt),
                                  done = std::move(done)]() mutable {
    // Counted until `done` ran, so that stop's `drained` comes after it.
    ++self->in_flight_;
    self->do_send_receipt(std::move(receipt), [self, done = std::move(done)](SendResult r) {
      done(std::move(r));
      --self->in_flight_;
      self->maybe_drained();
    });
  });
}

void Impl::fetch_directory(std::string changed_since,
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

void Impl::do_send(gateway::OutboundUnit unit, std::function<void(SendResult)> done) {
  if (stopping_) return post(std::move(done), retry("stopping", "adapter stopping"));
  if (sessions_loading_ > 0) {
    // Just started: the office's session is still being read from the vault.
    after_load_.push_back([this, unit = std::move(unit), done = std::move(done)]() mutable {
      do_send(std::move(unit), std::move(done));
    });
    return;
  }
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
  // Sent before (this instance's own send, or the sent feed): the first answer stands, no call.
  if (const auto known = o->sent_index.find(job->reference); known != o->sent_index.end() &&
                                                             !known->second.empty() &&
                                                             o->doubt.count(job->reference) == 0) {
    SendResult r;
    r.status = SendResult::Status::kAccepted;
    r.remote_id = job->office_no + ":" + known->second.front().second;
    r.message = "sent before under the same reference";
    r.sent_sha256 = sha256_hex(job->document);
    return finish(job, std::move(r));
  }
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

void Impl::finish(const std::shared_ptr<SendJob>& job, SendResult r) {
  auto done = std::move(job->done);
  post(std::move(done), std::move(r));
}

void Impl::check_sent(const std::shared_ptr<SendJob>& job) {
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

void Impl::search_page(const std::shared_ptr<SendJob>& job, std::string from, std::string to,
                       std::string page, Clock::time_point started) {
  api(job->office_no, "GET", sent_by_time_target(from, to, page, 100), "",
      [this, job, from, to, started](Reply reply) {
        if (reply.hold) return finish(job, std::move(*reply.hold));
        auto r = classify_system(job->office_no, reply.out);
        if (r) {
          if (r->status == SendResult::Status::kRejected) r->status = SendResult::Status::kRetry;
          metrics_.sent_checks->add("failed");
          context_.events.log(AdapterLogLevel::kWarning, "sent-check",
                              {{"office", job->office_no},
                               {"reference", job->reference},
                               {"outcome", "failed"},
                               {"code", r->error_code}});
          return finish(job, std::move(*r));
        }
        const auto a = read_item_page(reply.out.response.body);
        if (!a.ok()) {
          metrics_.sent_checks->add("failed");
          metrics_.count_codes(a.errors);
          if (a.kind == AnswerKind::kGarbled)
            garbled(job->office_no, "sent-search", reply.out, a.problem);
          return finish(job, retry(a.kind == AnswerKind::kNg ? "kaigoweb:" + a.first_code()
                                                             : "garbled_answer",
                                   "the sent-items check failed"));
        }
        Office* o = office(job->office_no);
        for (const auto& e : a.data.items) index_sent(*o, e);
        if (!a.data.next_page.empty()) return search_page(job, from, to, a.data.next_page, started);
        if (!o->covered_from || *o->covered_from > parse_time(from).value_or(started))
          o->covered_from = parse_time(from);
        o->high_water = started;
        resolve_check(job);
      });
}

void Impl::index_sent(Office& o, const ItemEntry& e) {
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

void Impl::resolve_check(const std::shared_ptr<SendJob>& job) {
  Office* o = office(job->office_no);
  const auto it = o->sent_index.find(job->reference);
  if (it == o->sent_index.end() || it->second.empty()) {
    metrics_.sent_checks->add("not_found");
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
  metrics_.sent_checks->add("found");
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

void Impl::post_send(const std::shared_ptr<SendJob>& job) {
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

void Impl::ambiguous(const std::shared_ptr<SendJob>& job, Clock::time_point started,
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

void Impl::clear_doubt(const std::string& office_no, const std::string& reference) {
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

SendResult Impl::business_result(const std::shared_ptr<SendJob>& job,
                                 const std::vector<ApiError>& errors,
                                 const std::string& request_id) {
  metrics_.count_codes(errors);
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
    drop_session(*o, info->error_class == ErrorClass::kLogin ? kLoginRequired : kCredentialsInvalid,
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

std::string Impl::describe_codes(const std::vector<ApiError>& errors) {
  std::string out;
  for (const auto& e : errors) out += (out.empty() ? "" : ",") + e.code;
  return out;
}

std::optional<SendResult> Impl::classify_system(const std::string& office_no,
                                                const CallOutcome& out) {
  if (out.kind != CallOutcome::Kind::kAnswer) return retry("transport", out.ec.message());
  const int status = out.response.status;
  if (status == 200) return std::nullopt;
  const auto env = read_envelope(out.response.body);
  metrics_.count_codes(env.errors);
  const std::string code =
      env.first_code().empty() ? "http_" + std::to_string(status) : env.first_code();
  const auto* info = ErrorCodes::builtin().find(code);
  if (status == 429 || status == 503 || (info && info->error_class == ErrorClass::kTransient) ||
      status >= 500) {
    SendResult r = retry("kaigoweb:" + code, info ? info->text : "HTTP " + std::to_string(status));
    r.retry_after = retry_after_of(out.response);
    return r;
  }
  if (info && info->error_class == ErrorClass::kCredential) {
    if (Office* o = office(office_no)) {
      drop_session(*o, kCredentialsInvalid, code + " " + info->text);
      return hold(*o);
    }
  }
  context_.events.log(AdapterLogLevel::kError, "call-refused",
                      {{"office", office_no},
                       {"code", code},
                       {"request_id", out.request_id},
                       {"fields", env.errors.empty() ? std::string() : env.errors.front().field}});
  return rejected("kaigoweb:" + code, "national service refused: " + describe_errors(env.errors));
}

void Impl::do_send_receipt(gateway::OutboundReceipt receipt, std::function<void(SendResult)> done) {
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
        metrics_.count_codes(a.errors);
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

void Impl::directory_page(std::string through, std::string since, std::string cursor,
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
          metrics_.count_codes(a.errors);
          if (a.kind == AnswerKind::kGarbled) garbled(through, "offices", reply.out, a.problem);
          return fail(retry("garbled_answer", "the office list was not readable"));
        }
        if (result->next_changed_since.empty()) result->next_changed_since = a.data.as_of;
        for (auto& e : a.data.entries) result->entries.push_back(std::move(e));
        if (a.data.has_more && !a.data.next_cursor.empty())
          return directory_page(through, since, a.data.next_cursor, result, std::move(done));
        // The offices the gateway acts for are regional offices with their own Kaigo WEB login:
        // their entries are the gateway's representation, not national members (§7.5).
        for (auto& e : result->entries) {
          e.published_by_gateway = offices_.count(e.office.office_no) != 0;
        }
        result->status.status = SendResult::Status::kAccepted;
        done(std::move(*result));
      });
}

}  // namespace kakehashi::adapters::kaigoweb::detail
