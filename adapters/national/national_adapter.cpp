#include "adapters/national/national_adapter.hpp"

#include <algorithm>
#include <deque>
#include <fstream>
#include <map>
#include <optional>
#include <sstream>
#include <stdexcept>

#include <openssl/crypto.h>
#include <openssl/x509.h>
#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include "adapters/common/http/https_client.hpp"
#include "adapters/common/intake/intake_lane.hpp"
#include "adapters/common/intake/poll_health.hpp"
#include "adapters/national/ncp_answers.hpp"
#include "adapters/national/ncp_codec.hpp"
#include "gateway/pki/key_file.hpp"
#include "mapping/cms/content_converter.hpp"
#include "mapping/cms/envelope.hpp"
#include "mapping/cms/verify.hpp"
#include "mapping/common/media_type.hpp"

namespace kakehashi::adapters::national {
namespace {

namespace cms = mapping::cms;
using gateway::SendResult;
using Writer = rapidjson::Writer<rapidjson::StringBuffer>;

cms::ByteView view(std::string_view s) {
  return {reinterpret_cast<const std::uint8_t*>(s.data()), s.size()};
}
std::string to_string(const cms::Bytes& b) {
  return {b.begin(), b.end()};
}

void put(Writer& w, const char* key, std::string_view value) {
  w.Key(key);
  w.String(value.data(), static_cast<rapidjson::SizeType>(value.size()));
}

void put_office(Writer& w, const char* key, const gateway::OfficeRef& o) {
  w.Key(key);
  w.StartObject();
  put(w, "office_no", o.office_no);
  put(w, "service_type", o.service_type);
  w.EndObject();
}

SendResult retry(std::string code, std::string message) {
  SendResult r;
  r.status = SendResult::Status::kRetry;
  r.error_code = std::move(code);
  r.message = std::move(message);
  return r;
}

// Maps a transport outcome and HTTP answer to the engine's three outcomes (PROTOCOL §2).
SendResult classify(boost::system::error_code ec, const http::Response& resp) {
  if (ec) return retry("transport", ec.message());
  SendResult r;
  if (resp.status >= 200 && resp.status < 300) {
    r.status = SendResult::Status::kAccepted;
    return r;
  }
  r.error_code = error_code_of(resp.body);
  if (r.error_code.empty()) r.error_code = "http_" + std::to_string(resp.status);
  r.message = "HTTP " + std::to_string(resp.status);
  if (resp.status == 401 || resp.status == 408 || resp.status == 429 || resp.status >= 500) {
    r.status = SendResult::Status::kRetry;
    if (const std::string* h = resp.header("retry-after")) {
      try {
        r.retry_after = std::chrono::seconds(std::stoll(*h));
      } catch (const std::exception&) {
        // An HTTP-date or garbage: fall back to the engine's own backoff.
      }
    }
  } else {
    r.status = SendResult::Status::kRejected;
  }
  return r;
}

std::string read_secret(const std::string& path) {
  // Refused when group/world-readable, like every secret (gateway/pki/key_file.hpp).
  const auto bytes = gateway::pki::read_secret_file(path, "password file");
  std::string line(bytes.begin(), bytes.end());
  line = line.substr(0, line.find('\n'));
  while (!line.empty() && (line.back() == '\r' || line.back() == ' ')) line.pop_back();
  if (line.empty()) throw std::runtime_error("password file " + path + " is empty");
  return line;
}

// AdapterContext::may_poll (several instances, one polls): honoured when the engine's header
// has it, so this adapter builds against either version of the header.
template <class Context>
bool may_poll_now(const Context& c) {
  if constexpr (requires { c.may_poll; }) {
    return !c.may_poll || c.may_poll();
  } else {
    return true;
  }
}

using InboxItem = NcpInboxItem;

http::ClientOptions client_options(const NationalAdapterConfig& config,
                                   const gateway::AdapterEvents& events) {
  http::ClientOptions o;
  o.host = config.host;
  o.port = config.port;
  o.tls = config.tls;
  o.timeout = config.request_timeout;
  o.max_connections = 4;
  o.max_body_bytes = 64ull * 1024 * 1024;
  o.on_verify_failure = [events](const std::string& peer, const std::string& reason) {
    events.report(&gateway::AdapterCounters::tls_verify_failures, gateway::AdapterLogLevel::kError,
                  "tls-verify-failed", {{"peer", peer}, {"reason", reason}});
  };
  return o;
}

class Impl : public std::enable_shared_from_this<Impl> {
 public:
  using Done = std::function<void(SendResult, const http::Response&)>;
  using Lane = adapters::IntakeLane<std::string>;

  Impl(NationalAdapterConfig config, gateway::AdapterContext context, std::string password,
       cms::Credential credential, std::string document_cert_der)
      : config_(std::move(config)),
        context_(std::move(context)),
        strand_(boost::asio::make_strand(context_.executor)),
        password_(std::move(password)),
        credential_(std::move(credential)),
        document_cert_der_(std::move(document_cert_der)),
        client_(strand_, client_options(config_, context_.events)),
        timer_(strand_),
        unit_cursor_(context_.unit_cursor),
        receipt_cursor_(context_.receipt_cursor),
        units_(context_.intake_window),
        receipts_(context_.intake_window) {}

  void start() {
    boost::asio::dispatch(strand_, [self = shared_from_this()] {
      if (self->running_) return;
      self->running_ = true;
      self->stopping_ = false;
      self->drained_ = nullptr;
      if (!self->config_.represented_offices.empty() && !self->declared_) {
        self->declare(self->config_.represented_offices, [self](SendResult r) {
          self->declared_ = r.status == SendResult::Status::kAccepted;
          self->poll();
        });
      } else {
        self->poll();
      }
    });
  }

  void stop(std::function<void()> drained) {
    boost::asio::dispatch(strand_,
                          [self = shared_from_this(), drained = std::move(drained)]() mutable {
                            self->stopping_ = true;
                            self->running_ = false;
                            self->drained_ = std::move(drained);
                            self->timer_.cancel();
                            // Outstanding items are still answered; nothing resumes fetching.
                            self->units_.forget();
                            self->receipts_.forget();
                            self->maybe_drained();
                          });
  }

  void shutdown() {
    // Destruction: nothing may call back into the engine afterwards.
    boost::asio::dispatch(strand_, [self = shared_from_this()] {
      self->stopping_ = true;
      self->timer_.cancel();
      self->units_.forget();
      self->receipts_.forget();
      self->client_.close();
    });
  }

  void send(gateway::OutboundUnit unit, std::function<void(SendResult)> done) {
    boost::asio::dispatch(strand_, [self = shared_from_this(), unit = std::move(unit),
                                    done = std::move(done)]() mutable {
      if (self->stopping_)
        return self->post(std::move(done), retry("stopping", "adapter stopping"));
      rapidjson::StringBuffer b;
      Writer w(b);
      w.StartObject();
      put_office(w, "sender", unit.sender);
      put_office(w, "recipient", unit.recipient);
      put(w, "unit_kind", unit.unit_kind);
      put(w, "message", unit.message);
      w.Key("files");
      w.StartArray();
      for (const auto& f : unit.files) {
        std::string der = f.cms;
        if (!f.attached) {
          auto attached = cms::attach_content(view(f.cms), view(f.content));
          if (!attached.ok()) {
            SendResult r;
            r.status = SendResult::Status::kRejected;
            r.error_code = "invalid_signature";
            r.message = "cannot attach content to " + f.name;
            return self->post(std::move(done), r);
          }
          der = to_string(attached.value());
        }
        w.StartObject();
        put(w, "name", f.name);
        put(w, "signed_data", base64_encode(der));
        w.EndObject();
      }
      w.EndArray();
      w.EndObject();
      http::Request req{"POST",
                        "/ncp/v1/transmissions",
                        {{"idempotency-key", unit.idempotency_key}},
                        b.GetString(),
                        {},
                        {}};
      self->call(std::move(req),
                 [done = std::move(done)](SendResult r, const http::Response& resp) {
                   if (r.status == SendResult::Status::kAccepted) {
                     r.remote_id = answer_string(resp.body, "transmission_id");
                     if (r.remote_id.empty())
                       r = retry("malformed_response", "no transmission_id in the answer");
                   } else if (r.status == SendResult::Status::kRejected &&
                              r.error_code == "idempotency_conflict") {
                     // The key (the source unit's identity) was accepted before with other
                     // bytes (a co-signature made again): the unit is there (PROTOCOL.md §13).
                     if (auto first = conflict_transmission_id(resp.body); !first.empty()) {
                       r.status = SendResult::Status::kAccepted;
                       r.remote_id = std::move(first);
                       r.error_code.clear();
                       r.message = "accepted before under the same key (idempotency_conflict)";
                     }
                   }
                   done(std::move(r));
                 });
    });
  }

  void send_receipt(gateway::OutboundReceipt receipt, std::function<void(SendResult)> done) {
    boost::asio::dispatch(strand_, [self = shared_from_this(), receipt = std::move(receipt),
                                    done = std::move(done)]() mutable {
      if (self->stopping_)
        return self->post(std::move(done), retry("stopping", "adapter stopping"));
      rapidjson::StringBuffer b;
      Writer w(b);
      w.StartObject();
      put(w, "state",
          receipt.state == gateway::ReceiptState::kRejected ? "REJECTED" : "DOWNLOADED");
      put(w, "reason", receipt.reason);
      w.EndObject();
      http::Request req{
          "POST", "/ncp/v1/transmissions/" + url_encode(receipt.source_id) + "/receipt",
          {},     b.GetString(),
          {},     {}};
      if (!receipt.idempotency_key.empty())
        req.headers.emplace_back("idempotency-key", receipt.idempotency_key);
      self->call(std::move(req), [done = std::move(done)](SendResult r, const http::Response&) {
        done(std::move(r));
      });
    });
  }

  void withdraw(std::string id, std::function<void(SendResult)> done) {
    boost::asio::dispatch(strand_, [self = shared_from_this(), id = std::move(id),
                                    done = std::move(done)]() mutable {
      http::Request req{"DELETE", "/ncp/v1/transmissions/" + url_encode(id), {}, {}, {}, {}};
      self->call(std::move(req), [done = std::move(done), id](SendResult r, const http::Response&) {
        if (r.status == SendResult::Status::kAccepted) r.remote_id = id;
        done(std::move(r));
      });
    });
  }

  void declare(std::vector<gateway::OfficeRef> offices, std::function<void(SendResult)> done) {
    rapidjson::StringBuffer b;
    Writer w(b);
    w.StartObject();
    w.Key("offices");
    w.StartArray();
    for (const auto& o : offices) {
      w.StartObject();
      put(w, "office_no", o.office_no);
      put(w, "service_type", o.service_type);
      w.EndObject();
    }
    w.EndArray();
    w.EndObject();
    http::Request req{"PUT", "/ncp/v1/proxy/offices", {}, b.GetString(), {}, {}};
    call(std::move(req),
         [done = std::move(done)](SendResult r, const http::Response&) { done(std::move(r)); });
  }

  void declare_represented(std::vector<gateway::OfficeRef> offices,
                           std::function<void(SendResult)> done) {
    boost::asio::dispatch(strand_, [self = shared_from_this(), offices = std::move(offices),
                                    done = std::move(done)]() mutable {
      self->declare(std::move(offices), std::move(done));
    });
  }

  void fetch_directory(std::string changed_since,
                       std::function<void(gateway::DirectoryResult)> done) {
    boost::asio::dispatch(strand_, [self = shared_from_this(), since = std::move(changed_since),
                                    done = std::move(done)]() mutable {
      auto result = std::make_shared<gateway::DirectoryResult>();
      self->directory_page(std::move(since), "", result, std::move(done));
    });
  }

 private:
  // ---- calls ----------------------------------------------------------------------------

  void post(std::function<void(SendResult)> done, SendResult r) {
    boost::asio::post(strand_,
                      [done = std::move(done), r = std::move(r)]() mutable { done(std::move(r)); });
  }

  // One API call with the session token; a 401 leads to one fresh login and one repeat.
  void call(http::Request req, Done done) {
    ++in_flight_;
    auto finish = [self = shared_from_this(), done = std::move(done)](SendResult r,
                                                                      const http::Response& resp) {
      done(std::move(r), resp);
      --self->in_flight_;
      self->maybe_drained();
    };
    attempt(std::move(req), true, std::move(finish));
  }

  void attempt(http::Request req, bool may_relogin, Done done) {
    with_session([self = shared_from_this(), req = std::move(req), may_relogin,
                  done = std::move(done)](std::optional<SendResult> failed) mutable {
      if (failed) return done(std::move(*failed), http::Response{});
      const std::string used = self->token_;
      http::Request sent = req;
      sent.headers.emplace_back("authorization", "Bearer " + used);
      if (!sent.body.empty()) sent.headers.emplace_back("content-type", "application/json");
      self->client_.request(
          std::move(sent), [self, req = std::move(req), may_relogin, used, done = std::move(done)](
                               boost::system::error_code ec, http::Response resp) mutable {
            if (!ec && resp.status == 401 && may_relogin) {
              if (self->token_ == used) {
                self->token_.clear();  // expired: log in again, once
                self->context_.events.report(&gateway::AdapterCounters::relogins,
                                             gateway::AdapterLogLevel::kInfo, "session-renewed",
                                             {{"code", error_code_of(resp.body)}});
              }
              return self->attempt(std::move(req), false, std::move(done));
            }
            done(classify(ec, resp), resp);
          });
    });
  }

  void with_session(std::function<void(std::optional<SendResult>)> next) {
    if (!token_.empty()) return next(std::nullopt);
    waiting_.push_back(std::move(next));
    if (logging_in_) return;
    logging_in_ = true;
    rapidjson::StringBuffer b;
    Writer w(b);
    w.StartObject();
    put(w, "user_id", config_.user_id);
    put(w, "password", password_);
    put(w, "encryption_certificate", base64_encode(document_cert_der_));
    w.EndObject();
    http::Request req{
        "POST", "/ncp/v1/sessions", {{"content-type", "application/json"}}, b.GetString(), {}, {}};
    client_.request(std::move(req),
                    [self = shared_from_this()](boost::system::error_code ec, http::Response resp) {
                      std::optional<SendResult> failed;
                      SendResult r = classify(ec, resp);
                      if (r.status == SendResult::Status::kAccepted) {
                        self->token_ = answer_string(resp.body, "token");
                        if (self->token_.empty())
                          failed = retry("malformed_response", "login answer without a token");
                      } else {
                        // Bad credentials are our configuration, not the unit's fault: never reject
                        // a unit for it.
                        r.status = SendResult::Status::kRetry;
                        failed = r;
                      }
                      self->logging_in_ = false;
                      auto waiting = std::move(self->waiting_);
                      self->waiting_.clear();
                      for (auto& waiter : waiting) waiter(failed);
                    });
  }

  void maybe_drained() {
    if (!stopping_ || in_flight_ > 0 || sink_pending_ > 0 || !drained_) return;
    auto drained = std::move(drained_);
    drained_ = nullptr;
    boost::asio::post(strand_, std::move(drained));
  }

  // ---- polling --------------------------------------------------------------------------

  void schedule(std::chrono::milliseconds after) {
    if (stopping_) return;
    timer_.expires_after(after);
    timer_.async_wait([self = shared_from_this()](boost::system::error_code ec) {
      if (!ec && !self->stopping_) self->poll();
    });
  }

  std::chrono::milliseconds pause_after(const SendResult& r) const {
    if (r.retry_after)
      return std::max<std::chrono::milliseconds>(*r.retry_after, config_.poll_interval);
    return config_.poll_interval;
  }

  void poll() {
    if (stopping_) return;
    if (!may_poll_now(context_)) return schedule(config_.poll_interval);
    if (!begin_run(units_, unit_cursor_)) return;
    poll_inbox();
  }

  // ---- pipelined intake (AdapterSink): up to intake_window items of a kind at the sink ------
  //
  // A run lists from the durable cursor and goes on listing past the last item handed over;
  // each answer true extends the durable cursor over the contiguous prefix answered true. The
  // first false or a failed call ends the run: nothing more is handed over, and once every item
  // is answered the next poll starts over from the durable cursor. An item that cannot be read
  // (a file that cannot be decrypted or carries no content, a permanent 4xx on a download, a
  // listing entry that is not the contract's) is handed over as unreadable instead: the engine
  // refuses it to its sender and the run goes on. Units are all answered before the outbox updates
  // are polled, as with one at a time.

  // A fresh listing from the durable position; false when an old run still waits for answers
  // (it then ends like a failed run).
  bool begin_run(Lane& lane, const std::string& durable) {
    lane.forget();
    if (!lane.window().restart()) {
      end_run(lane, config_.poll_interval);
      return false;
    }
    lane.listed = durable;
    return true;
  }

  // Hands nothing more over; polls again `pause` after the last answer.
  void end_run(Lane& lane, std::chrono::milliseconds pause) {
    lane.wait_until_drained([this, pause] { schedule(pause); });
  }

  void answered(Lane& lane, std::string& durable, Lane::Ticket ticket, bool accepted) {
    --sink_pending_;
    lane.window().answer(ticket, accepted,
                         [&](std::string cursor) { durable = std::move(cursor); });
    if (stopping_) return maybe_drained();
    lane.progress();
  }

  void poll_inbox() {
    http::Request req{"GET",
                      "/ncp/v1/inbox?cursor=" + url_encode(units_.listed) +
                          "&limit=" + std::to_string(config_.page_limit),
                      {},
                      {},
                      {},
                      {}};
    call(std::move(req), [self = shared_from_this()](SendResult r, const http::Response& resp) {
      if (self->stopping_) return;
      if (r.status != SendResult::Status::kAccepted) {
        self->poll_failed("inbox", r);
        return self->end_run(self->units_, self->pause_after(r));
      }
      auto items = std::make_shared<std::deque<InboxItem>>();
      bool more = false;
      if (!self->parse_inbox(resp.body, *items, more)) {
        // Malformed answer: try again later.
        self->context_.events.count(&gateway::AdapterCounters::malformed_answers);
        self->poll_failed("inbox", retry("malformed_response", "inbox page"));
        return self->end_run(self->units_, self->config_.poll_interval);
      }
      self->next_item(items, more);
    });
  }

  bool parse_inbox(const std::string& body, std::deque<InboxItem>& items, bool& more) {
    auto page = parse_inbox_page(body);
    if (!page) return false;
    more = page->more;
    if (page->skipped > 0) {
      context_.events.report(&gateway::AdapterCounters::items_skipped,
                             gateway::AdapterLogLevel::kWarning, "inbox-item-skipped",
                             {{"count", std::to_string(page->skipped)},
                              {"reason", "listed without transmission_id or cursor"}});
    }
    for (auto& item : page->items) items.push_back(std::move(item));
    return true;
  }

  void next_item(std::shared_ptr<std::deque<InboxItem>> items, bool more) {
    if (stopping_) return;
    if (units_.window().failed()) return end_run(units_, config_.poll_interval);
    if (units_.window().full())
      return units_.wait_for_room([this, items, more] { next_item(items, more); });
    if (items->empty()) {
      if (more) return poll_inbox();
      poll_succeeded();
      return units_.wait_until_drained([this] {
        if (units_.window().failed()) return schedule(config_.poll_interval);
        if (begin_run(receipts_, receipt_cursor_)) poll_updates();
      });
    }
    if (!items->front().problem.empty())
      return hand_over_unreadable(items, more, items->front().problem);
    download(items, 0, more);
  }

  void download(std::shared_ptr<std::deque<InboxItem>> items, std::size_t file, bool more) {
    InboxItem& item = items->front();
    if (file == item.names.size()) return hand_over(items, more);
    http::Request req{
        "GET",
        "/ncp/v1/transmissions/" + url_encode(item.id) + "/files/" + url_encode(item.names[file]),
        {},
        {},
        {},
        {}};
    call(std::move(req),
         [self = shared_from_this(), items, file, more](SendResult r, const http::Response& resp) {
           if (self->stopping_) return;
           if (self->units_.window().failed())
             return self->end_run(self->units_, self->config_.poll_interval);
           if (r.status == SendResult::Status::kRejected &&
               (r.error_code == "withdrawn" || r.error_code == "not_found")) {
             items->pop_front();  // withdrawn since it was listed: nothing to deliver
             return self->next_item(items, more);
           }
           const std::string& name = items->front().names[file];
           if (r.status == SendResult::Status::kRejected) {
             // A permanent answer for a file of our own inbox: retrying cannot help.
             return self->hand_over_unreadable(
                 items, more, "file " + name + ": the network answered " + r.error_code);
           }
           if (r.status != SendResult::Status::kAccepted) {
             self->poll_failed("download", r);
             return self->end_run(self->units_, self->pause_after(r));
           }
           // Decrypting a few files is quick enough to do on the executor (PROTOCOL/README).
           auto inner = cms::decrypt(view(resp.body), self->credential_);
           const std::string& id = items->front().id;
           // A body that is not CMS at all may be a cut or garbled answer (PROTOCOL §2: an
           // unparseable answer is transient): asked again, refused the third time in a row.
           if (!inner.ok() && inner.error().code == cms::ErrorCode::kMalformed &&
               ++self->garbled_[id] < kGarbledBeforeRefusal) {
             self->context_.events.count(&gateway::AdapterCounters::malformed_answers);
             self->poll_failed("download", retry("malformed_response", "download is not CMS"));
             return self->end_run(self->units_, self->config_.poll_interval);
           }
           self->garbled_.erase(id);
           if (!inner.ok()) {
             return self->hand_over_unreadable(items, more,
                                               "file " + name + ": cannot be decrypted (" +
                                                   std::string(cms::to_string(inner.error().code)) +
                                                   ")");
           }
           std::optional<cms::Bytes> content = cms::embedded_content(inner.value());
           if (!content) {
             return self->hand_over_unreadable(
                 items, more, "file " + name + ": the signed data carries no content");
           }
           InboxItem& current = items->front();
           gateway::SignedFile f;
           f.name = current.names[file];
           f.media_type = mapping::common::media_type_for(f.name);
           f.content = to_string(*content);
           f.cms = to_string(inner.value());
           f.attached = true;
           current.unit.files.push_back(std::move(f));
           self->download(items, file + 1, more);
         });
  }

  // An item that cannot be read (issue 14): handed over with its reason, so that the engine
  // refuses it back to its sender (receipt REJECTED) and the cursor moves past it. Logged once
  // per transmission id, counted.
  void hand_over_unreadable(std::shared_ptr<std::deque<InboxItem>> items, bool more,
                            std::string reason) {
    InboxItem& item = items->front();
    item.unit.files.clear();
    item.unit.unreadable = reason;
    if (reported_.first_time(item.id)) {
      context_.events.report(&gateway::AdapterCounters::items_unreadable,
                             gateway::AdapterLogLevel::kWarning, "item-unreadable",
                             {{"transmission", item.id}, {"reason", std::move(reason)}});
    }
    hand_over(items, more);
  }

  void poll_failed(const char* what, const SendResult& r) {
    health_.failed(unit_cursor_, what, r.error_code, r.message);
  }
  void poll_succeeded() { health_.succeeded(); }

  void hand_over(std::shared_ptr<std::deque<InboxItem>> items, bool more) {
    InboxItem item = std::move(items->front());
    items->pop_front();
    const auto ticket = units_.window().hand_over(item.cursor);
    units_.listed = item.cursor;
    ++sink_pending_;
    context_.sink->on_unit(std::move(item.unit),
                           [self = shared_from_this(), ticket](bool accepted) {
                             boost::asio::post(self->strand_, [self, ticket, accepted] {
                               self->answered(self->units_, self->unit_cursor_, ticket, accepted);
                             });
                           });
    next_item(items, more);
  }

  void poll_updates() {
    http::Request req{"GET",
                      "/ncp/v1/outbox/updates?cursor=" + url_encode(receipts_.listed) +
                          "&limit=" + std::to_string(config_.page_limit),
                      {},
                      {},
                      {},
                      {}};
    call(std::move(req), [self = shared_from_this()](SendResult r, const http::Response& resp) {
      if (self->stopping_) return;
      if (r.status != SendResult::Status::kAccepted) {
        self->context_.events.count(&gateway::AdapterCounters::polls_failed);
        return self->end_run(self->receipts_, self->pause_after(r));
      }
      auto page = parse_updates_page(resp.body);
      if (!page) {
        self->context_.events.count(&gateway::AdapterCounters::polls_failed);
        self->context_.events.count(&gateway::AdapterCounters::malformed_answers);
        return self->end_run(self->receipts_, self->config_.poll_interval);
      }
      auto receipts = std::make_shared<std::deque<gateway::InboundReceipt>>(
          std::make_move_iterator(page->receipts.begin()),
          std::make_move_iterator(page->receipts.end()));
      self->next_receipt(receipts, page->more);
    });
  }

  void next_receipt(std::shared_ptr<std::deque<gateway::InboundReceipt>> receipts, bool more) {
    while (!stopping_) {
      if (receipts_.window().failed()) return end_run(receipts_, config_.poll_interval);
      if (receipts_.window().full())
        return receipts_.wait_for_room([this, receipts, more] { next_receipt(receipts, more); });
      if (receipts->empty()) {
        if (more) return poll_updates();
        return end_run(receipts_, config_.poll_interval);
      }
      gateway::InboundReceipt rc = std::move(receipts->front());
      receipts->pop_front();
      const auto ticket = receipts_.window().hand_over(rc.cursor);
      receipts_.listed = rc.cursor;
      ++sink_pending_;
      context_.sink->on_receipt(std::move(rc), [self = shared_from_this(), ticket](bool accepted) {
        boost::asio::post(self->strand_, [self, ticket, accepted] {
          self->answered(self->receipts_, self->receipt_cursor_, ticket, accepted);
        });
      });
    }
  }

  // ---- office master --------------------------------------------------------------------

  void directory_page(std::string since, std::string cursor,
                      std::shared_ptr<gateway::DirectoryResult> result,
                      std::function<void(gateway::DirectoryResult)> done) {
    http::Request req{
        "GET",
        "/ncp/v1/offices?changed_since=" + url_encode(since) + "&cursor=" + url_encode(cursor),
        {},
        {},
        {},
        {}};
    call(std::move(req), [self = shared_from_this(), since, result, done = std::move(done)](
                             SendResult r, const http::Response& resp) mutable {
      if (r.status != SendResult::Status::kAccepted) {
        result->status = r;
        result->entries.clear();
        return done(std::move(*result));
      }
      auto page = parse_office_page(resp.body);
      if (!page) {
        result->status = retry("malformed_response", "office master answer is not the contract's");
        result->entries.clear();
        return done(std::move(*result));
      }
      if (result->next_changed_since.empty()) result->next_changed_since = page->as_of;
      for (auto& e : page->entries) result->entries.push_back(std::move(e));
      if (page->more)
        return self->directory_page(since, page->next_cursor, result, std::move(done));
      result->status.status = SendResult::Status::kAccepted;
      done(std::move(*result));
    });
  }

  NationalAdapterConfig config_;
  gateway::AdapterContext context_;
  boost::asio::strand<boost::asio::any_io_executor> strand_;
  std::string password_;
  cms::Credential credential_;
  std::string document_cert_der_;
  http::HttpsClient client_;
  boost::asio::steady_timer timer_;
  std::string token_;
  bool logging_in_ = false;
  std::vector<std::function<void(std::optional<SendResult>)>> waiting_;
  std::string unit_cursor_;  // durable positions: the contiguous prefix answered true
  std::string receipt_cursor_;
  Lane units_;
  Lane receipts_;
  bool running_ = false;
  bool stopping_ = false;
  bool declared_ = false;
  int in_flight_ = 0;
  int sink_pending_ = 0;
  std::function<void()> drained_;
  adapters::RecentIds reported_;  // transmission ids logged as unreadable lately
  static constexpr int kGarbledBeforeRefusal = 3;
  std::map<std::string, int> garbled_;  // downloads in a row that were not CMS, by transmission
  adapters::PollHealth health_{context_.events};
};

class NationalAdapterImpl final : public NationalAdapter {
 public:
  explicit NationalAdapterImpl(std::shared_ptr<Impl> impl) : impl_(std::move(impl)) {}
  ~NationalAdapterImpl() override { impl_->shutdown(); }
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
  void withdraw(std::string transmission_id, std::function<void(SendResult)> done) override {
    impl_->withdraw(std::move(transmission_id), std::move(done));
  }
  void declare_represented(std::vector<gateway::OfficeRef> offices,
                           std::function<void(SendResult)> done) override {
    impl_->declare_represented(std::move(offices), std::move(done));
  }
  // The registry's publication to the national side is the proxy's represented offices: every
  // entry's office, whatever its status (suspended and closed ones stay recognised as ours).
  void publish_directory(std::vector<gateway::DirectoryEntry> entries,
                         std::function<void(SendResult)> done) override {
    std::vector<gateway::OfficeRef> offices;
    offices.reserve(entries.size());
    for (auto& e : entries) offices.push_back(std::move(e.office));
    impl_->declare_represented(std::move(offices), std::move(done));
  }

 private:
  std::shared_ptr<Impl> impl_;
};

}  // namespace

NationalAdapterConfig parse_national_config(const gateway::ConfigNode& section) {
  NationalAdapterConfig c;
  section.reject_unknown({"host", "port", "tls", "user_id", "password_file", "document_cert_file",
                          "document_key_file", "poll_interval", "request_timeout", "page_limit",
                          "represented_offices"});
  c.host = section.string("host", std::string("127.0.0.1"));
  c.port = static_cast<std::uint16_t>(section.integer("port", std::nullopt, 1, 65535));
  const auto tls = section.child("tls");
  tls.reject_unknown({"ca_file", "cert_file", "key_file", "allow_tls12", "server_name"});
  c.tls.ca_file = tls.string("ca_file");
  c.tls.cert_file = tls.string("cert_file");
  c.tls.key_file = tls.string("key_file");
  c.tls.allow_tls12 = tls.boolean("allow_tls12", false);
  c.tls.server_name = tls.string("server_name", std::string());
  c.user_id = section.string("user_id");
  if (c.user_id.size() != 14 || c.user_id.rfind("KJ", 0) != 0 ||
      c.user_id.find_first_not_of("0123456789", 2) != std::string::npos) {
    section.error("user_id", "must be KJ followed by 12 digits");
  }
  c.password_file = section.string("password_file");
  c.document_cert_file = section.string("document_cert_file");
  c.document_key_file = section.string("document_key_file");
  // Secrets readable by group or others are refused by `config check` and `run` alike.
  if (auto problem = gateway::pki::secret_file_problem(c.password_file, "password file"))
    section.error("password_file", *problem);
  if (auto problem = gateway::pki::secret_file_problem(c.document_key_file, "private key"))
    section.error("document_key_file", *problem);
  if (auto problem = gateway::pki::secret_file_problem(c.tls.key_file, "private key"))
    tls.error("key_file", *problem);
  c.poll_interval = section.duration("poll_interval", std::chrono::milliseconds(5000));
  c.request_timeout = section.duration("request_timeout", std::chrono::milliseconds(15000));
  c.page_limit = static_cast<int>(section.integer("page_limit", 50, 1, 200));
  for (const auto& o : section.array("represented_offices")) {
    gateway::OfficeRef ref{o.string("office_no"), o.string("service_type")};
    if (ref.office_no.size() != 10) o.error("office_no", "must be 10 characters");
    if (ref.service_type.size() != 2) o.error("service_type", "must be 2 characters");
    c.represented_offices.push_back(std::move(ref));
  }
  return c;
}

std::unique_ptr<gateway::Adapter> make_national_adapter(NationalAdapterConfig config,
                                                        gateway::AdapterContext context) {
  if (context.sink == nullptr) throw std::invalid_argument("national adapter: no sink");
  std::string password = read_secret(config.password_file);
  cms::Credential credential =
      gateway::pki::load_credential(config.document_cert_file, config.document_key_file);
  // The document certificate goes to the server in DER (PROTOCOL §3).
  unsigned char* der = nullptr;
  const int n = i2d_X509(credential.certificate.get(), &der);
  if (n <= 0) throw std::runtime_error("cannot encode " + config.document_cert_file);
  std::string cert_der(reinterpret_cast<const char*>(der), static_cast<std::size_t>(n));
  OPENSSL_free(der);
  auto impl = std::make_shared<Impl>(std::move(config), std::move(context), std::move(password),
                                     std::move(credential), std::move(cert_der));
  return std::make_unique<NationalAdapterImpl>(std::move(impl));
}

}  // namespace kakehashi::adapters::national
