// Kaigo WEB adapter: the driver's upkeep and the fair round-robin poll of every active office
// (PROTOCOL.md §7.2, §7.5).
#include "adapters/kaigoweb/kaigoweb_characters.hpp"
#include "adapters/kaigoweb/kaigoweb_impl.hpp"

namespace kakehashi::adapters::kaigoweb::detail {

void Impl::schedule(Ms after) {
  if (stopping_ || !running_) return;
  timer_.expires_after(after);
  timer_.async_wait([self = shared_from_this()](boost::system::error_code ec) {
    if (!ec && !self->stopping_) self->tick();
  });
}

void Impl::tick() {
  sync_sessions();
  // Another instance drives: this one only sends, and looks for its logins in the vault.
  if (!driver()) return schedule(std::min<Ms>(config_.poll_interval, kSessionSync));
  upkeep();
  if (run_active_) return;  // the current run schedules the next tick when it ends
  start_run();
}

// A login carried out by another instance (the one an operator's call reached, or the driver)
// is in the vault: offices waiting for one adopt it (§7.1, "one driver at a time").
void Impl::sync_sessions() {
  const auto now = Clock::now();
  if (now - sessions_synced_ < kSessionSync) return;
  sessions_synced_ = now;
  for (auto& [no, o] : offices_) {
    if (!o.credentials || o.state == kActive || o.state == kCredentialsInvalid ||
        o.state == kNoCredentials)
      continue;
    reread(no, [](bool) {});
  }
}

void Impl::upkeep() {
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

void Impl::start_run() {
  if (!units_.window().restart() || !receipts_.window().restart()) {
    run_active_ = true;
    return end_run();
  }
  run_active_ = true;
  run_failed_ = false;
  offices_polling_.clear();
  unit_room_.clear();
  receipt_room_.clear();
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

void Impl::end_run() {
  // Hand nothing more over; the next tick comes once every answer is in.
  run_queue_.clear();
  if (run_ending_) return;
  run_ending_ = true;
  units_.wait_until_drained([this] {
    receipts_.wait_until_drained([this] {
      run_active_ = false;
      run_ending_ = false;
      if (!run_failed_) health_.succeeded();
      schedule(config_.poll_interval);
    });
  });
}

// Starts offices from the queue while fewer than max_offices_in_flight are being polled; the run
// ends when the queue is empty (or the run broke) and the last office is done.
void Impl::next_office() {
  if (stopping_ || !run_active_ || run_ending_) return;
  if (run_broken()) run_queue_.clear();
  const auto limit = static_cast<std::size_t>(std::max(1, config_.max_offices_in_flight));
  while (offices_polling_.size() < limit && !run_queue_.empty()) {
    const std::string no = run_queue_.front();
    run_queue_.pop_front();
    if (!offices_polling_.insert(no).second) {
      run_queue_.push_back(no);  // still being polled (cannot happen: an office is queued once)
      break;
    }
    if (context_.events.counters)
      context_.events.counters->offices_polling = offices_polling_.size();
    poll_received(no);
  }
  if (offices_polling_.empty() && run_queue_.empty()) end_run();
}

// One office's page of each feed is done: it goes to the back of the queue when either had more
// (one busy office starves no other), and the next office starts.
void Impl::office_done(const std::string& no, bool more) {
  if (offices_polling_.erase(no) == 0) return;
  if (context_.events.counters) context_.events.counters->offices_polling = offices_polling_.size();
  if (more && !run_broken()) run_queue_.push_back(no);
  if (stopping_) return;
  next_office();
}

// Fetching of one office stops until the lane's window has room; every office waiting for it
// goes on when it has (the lane holds one continuation).
void Impl::wait_room(Lane& lane, std::vector<std::function<void()>>& waiting,
                     std::function<void()> next) {
  waiting.push_back(std::move(next));
  if (waiting.size() > 1) return;  // the lane already waits for all of them
  lane.wait_for_room([&waiting] {
    auto go = std::move(waiting);
    waiting.clear();
    for (auto& g : go) g();
  });
}

void Impl::poll_failed(const std::string& office_no, const char* call, const std::string& code) {
  run_failed_ = true;
  health_.failed(unit_cursor_, call, code, "office " + office_no);
}

void Impl::poll_received(const std::string& no) {
  metrics_.polls->add(no);
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
          metrics_.count_codes(a.errors);
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

void Impl::cursor_reset_if(const std::string& no, const CallOutcome& out, CompositeCursor& listed) {
  if (out.kind != CallOutcome::Kind::kAnswer || out.response.status != 400) return;
  if (read_envelope(out.response.body).first_code() != "S4002" || listed[no].empty()) return;
  context_.events.log(AdapterLogLevel::kError, "cursor-reset",
                      {{"office", no}, {"request_id", out.request_id}});
  listed[no].clear();  // listed again from the beginning; the engine drops what comes again
}

void Impl::next_received(const std::string& no, std::shared_ptr<std::deque<ItemEntry>> items,
                         bool more, std::size_t before_receive_from) {
  if (stopping_) return;
  if (run_broken()) return office_done(no, false);
  if (units_.window().full())
    return wait_room(units_, unit_room_, [this, no, items, more, before_receive_from] {
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

void Impl::fetch(const std::string& no, std::shared_ptr<std::deque<ItemEntry>> items, bool more,
                 std::size_t before_receive_from) {
  const std::string item_id = items->front().item_id;
  api(no, "GET", received_item_target(item_id), "",
      [this, no, items, more, before_receive_from, item_id](Reply reply) {
        if (stopping_) return;
        if (run_broken()) return office_done(no, false);
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
          metrics_.count_codes(a.errors);
          if (a.kind == AnswerKind::kGarbled) garbled(no, "received-item", reply.out, a.problem);
          return give_up("garbled_answer");
        }
        ItemEntry entry = std::move(items->front());
        items->pop_front();
        hand_over_unit(no, entry, a.data, sha256_hex(reply.out.response.body));
        next_received(no, items, more, before_receive_from);
      });
}

void Impl::hand_over_unit(const std::string& no, const ItemEntry& listed, const ReceivedItem& item,
                          std::string fetched_sha256) {
  gateway::InboundUnit unit;
  unit.source_id = no + ":" + listed.item_id;
  unit.sender = item.entry.sender.office_no.empty() ? listed.sender : item.entry.sender;
  unit.recipient = item.entry.recipient.office_no.empty() ? listed.recipient : item.entry.recipient;
  unit.subject = item.entry.kind.empty() ? listed.kind : item.entry.kind;
  unit.origin_session = no;
  unit.origin_item = listed.item_id;
  unit.fetched_sha256 = std::move(fetched_sha256);
  const auto rendered = standard5::from_v5(item.document_json, from_v5_options(config_));
  if (rendered.ok()) {
    // Characters substituted under the network's policy: said to the recipient and the audit.
    auto notes = substitution_notes(rendered.substitutions);
    unit.message = std::move(notes.cover_note);
    unit.audit_note = std::move(notes.audit_note);
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
    context_.events.report(&AdapterCounters::items_unreadable, AdapterLogLevel::kWarning,
                           "item-unreadable",
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

void Impl::answered(Lane& lane, std::string& durable, Lane::Ticket ticket, bool accepted) {
  --sink_pending_;
  lane.window().answer(ticket, accepted, [&](std::string cursor) { durable = std::move(cursor); });
  if (stopping_) return maybe_drained();
  lane.progress();
}

void Impl::poll_sent(const std::string& no, bool more_received) {
  if (stopping_) return;
  if (run_broken()) return office_done(no, false);
  api(no, "GET", sent_feed_target(receipts_listed_[no], config_.page_size), "",
      [this, no, more_received](Reply reply) {
        if (stopping_) return;
        auto next = [&](bool more) { office_done(no, more); };
        if (reply.hold) return next(false);
        if (auto r = classify_system(no, reply.out)) {
          cursor_reset_if(no, reply.out, receipts_listed_);
          poll_failed(no, "sent-items", r->error_code);
          return next(more_received);
        }
        auto a = read_item_page(reply.out.response.body);
        if (!a.ok()) {
          metrics_.count_codes(a.errors);
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

void Impl::next_receipt(const std::string& no, std::shared_ptr<std::deque<ItemEntry>> entries,
                        bool more) {
  Office* o = office(no);
  while (!stopping_) {
    if (run_broken()) return office_done(no, false);
    if (receipts_.window().full())
      return wait_room(receipts_, receipt_room_,
                       [this, no, entries, more] { next_receipt(no, entries, more); });
    if (entries->empty()) return office_done(no, more);
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

}  // namespace kakehashi::adapters::kaigoweb::detail
