#include "adapters/regional/regional_adapter.hpp"

#include <atomic>
#include <charconv>
#include <map>
#include <optional>
#include <stdexcept>
#include <utility>

#include "adapters/common/http/https_client.hpp"
#include "adapters/common/http/https_server.hpp"
#include "adapters/common/http/peer_pin.hpp"
#include "adapters/common/intake/intake_lane.hpp"
#include "adapters/common/intake/poll_health.hpp"
#include "adapters/regional/rhn_wire.hpp"
#include "gateway/pki/key_file.hpp"
#include "mapping/cms/content_converter.hpp"

namespace kakehashi::adapters::regional {

namespace asio = boost::asio;
using gateway::SendResult;

namespace {

std::int64_t parse_cursor(const std::string& text) {
  std::int64_t v = 0;
  const auto* end = text.data() + text.size();
  auto [p, ec] = std::from_chars(text.data(), end, v);
  if (ec != std::errc() || p != end || v < 0) return 0;
  return v;
}

std::optional<std::chrono::seconds> retry_after_of(const http::Response& r) {
  const auto* h = r.header("retry-after");
  if (h == nullptr) return std::nullopt;
  std::int64_t s = 0;
  auto [p, ec] = std::from_chars(h->data(), h->data() + h->size(), s);
  if (ec != std::errc() || p != h->data() + h->size() || s < 0) return std::nullopt;
  return std::chrono::seconds(s);
}

// The contract's answer classes (PROTOCOL.md §11): 2xx accepted; 429, 503, other 5xx, 408 and
// transport failures transient; other 4xx permanent.
SendResult classify(boost::system::error_code ec, const http::Response& r) {
  SendResult out;
  if (ec) {
    out.status = SendResult::Status::kRetry;
    out.error_code = ec == asio::error::timed_out ? "TIMEOUT" : "TRANSPORT";
    out.message = ec.message();
    return out;
  }
  if (r.status >= 200 && r.status < 300) {
    out.status = SendResult::Status::kAccepted;
    return out;
  }
  const RhnError e = decode_error(r.status, r.body);
  out.error_code = e.code;
  out.message = e.message;
  if (!e.field.empty()) out.message += " (" + e.field + ")";
  if (!e.reason.empty()) out.message += ": " + e.reason;
  const bool transient = r.status == 408 || r.status == 429 || r.status >= 500 || r.status < 400;
  out.status = transient ? SendResult::Status::kRetry : SendResult::Status::kRejected;
  out.retry_after = retry_after_of(r);
  return out;
}

SendResult malformed(std::string what) {
  SendResult out;
  out.status = SendResult::Status::kRetry;
  out.error_code = "MALFORMED_RESPONSE";
  out.message = std::move(what);
  return out;
}

http::TlsConfig parse_tls(const gateway::ConfigNode& node, bool server) {
  http::TlsConfig tls;
  node.reject_unknown({"ca_file", "cert_file", "key_file", "allow_tls12", "server_name"});
  tls.ca_file = node.string("ca_file");
  tls.cert_file = node.string("cert_file");
  tls.key_file = node.string("key_file");
  if (auto problem = gateway::pki::secret_file_problem(tls.key_file, "private key"))
    node.error("key_file", *problem);
  tls.allow_tls12 = node.boolean("allow_tls12", false);
  if (!server) tls.server_name = node.string("server_name", std::string());
  tls.require_peer_cert = true;
  return tls;
}

}  // namespace

RegionalAdapterConfig parse_regional_config(const gateway::ConfigNode& section) {
  RegionalAdapterConfig c;
  section.reject_unknown({"type", "host", "port", "tls", "facility_id", "poll_interval", "timeout",
                          "page_size", "max_connections", "push"});
  c.host = section.string("host", std::string("127.0.0.1"));
  c.port = static_cast<std::uint16_t>(section.integer("port", std::nullopt, 1, 65535));
  c.tls = parse_tls(section.child("tls"), false);
  c.facility_id = section.string("facility_id");
  if (!c.facility_id.empty() && !valid_facility_id(c.facility_id)) {
    section.error("facility_id", "must be 1-64 characters of A-Za-z0-9._:-");
  }
  c.poll_interval = section.duration("poll_interval", std::chrono::milliseconds(5000));
  if (c.poll_interval < std::chrono::milliseconds(10)) {
    section.error("poll_interval", "must be at least 10ms");
  }
  c.timeout = section.duration("timeout", std::chrono::milliseconds(15000));
  c.page_size = static_cast<int>(section.integer("page_size", 100, 1, kMaxPageLimit));
  c.max_connections = static_cast<int>(section.integer("max_connections", 4, 1, 64));
  const auto push = section.child("push");
  if (push.present()) {
    push.reject_unknown({"enabled", "listen_address", "port", "callback_host", "path", "tls",
                         "peer", "max_connections"});
    c.push.enabled = push.boolean("enabled", true);
    c.push.listen_address = push.string("listen_address", std::string("127.0.0.1"));
    c.push.port = static_cast<std::uint16_t>(push.integer("port", 0, 0, 65535));
    c.push.callback_host = push.string("callback_host", std::string("127.0.0.1"));
    c.push.path = push.string("path", std::string("/rhn/notice"));
    if (c.push.path.empty() || c.push.path.front() != '/') push.error("path", "must start with /");
    c.push.tls = parse_tls(push.child("tls"), true);
    c.push.max_connections = static_cast<int>(push.integer("max_connections", 4, 1, 64));
    const auto peer = push.child("peer");
    if (peer.present()) {
      peer.reject_unknown({"subject_cn", "sha256"});
      c.push.peer.subject_cn = peer.string("subject_cn", std::string());
      const std::string fingerprint = peer.string("sha256", std::string());
      if (!fingerprint.empty()) {
        if (auto normalised = http::normalise_sha256(fingerprint)) {
          c.push.peer.sha256 = *normalised;
        } else {
          peer.error("sha256", "must be 64 hex digits (colons allowed)");
        }
      }
    }
    if (c.push.enabled && c.push.peer.empty()) {
      push.error("peer", "name the network's push identity: subject_cn and/or sha256");
    }
  }
  return c;
}

struct RegionalAdapter::Impl : std::enable_shared_from_this<Impl> {
  Impl(RegionalAdapterConfig cfg, gateway::AdapterContext context)
      : config(std::move(cfg)),
        ctx(std::move(context)),
        strand(asio::make_strand(ctx.executor)),
        timer(strand),
        unit_cursor(parse_cursor(ctx.unit_cursor)),
        receipt_cursor(parse_cursor(ctx.receipt_cursor)),
        mailbox(ctx.intake_window),
        receipts(ctx.intake_window) {
    if (ctx.sink == nullptr) throw std::invalid_argument("regional adapter: context without sink");
    http::ClientOptions options;
    options.host = config.host;
    options.port = config.port;
    options.tls = config.tls;
    options.timeout = config.timeout;
    options.max_connections = static_cast<std::size_t>(config.max_connections);
    options.on_verify_failure = [events = ctx.events](const std::string& peer,
                                                      const std::string& reason) {
      events.report(&gateway::AdapterCounters::tls_verify_failures,
                    gateway::AdapterLogLevel::kError, "tls-verify-failed",
                    {{"peer", peer}, {"reason", reason}});
    };
    client = std::make_unique<http::HttpsClient>(strand, std::move(options));
    if (config.push.enabled && config.push.peer.empty()) {
      throw std::invalid_argument("regional adapter: push needs the network's identity (peer)");
    }
    if (config.push.enabled) {
      // HttpsServer listens on an io_context: the context's executor must be one's (checked at
      // construction, i.e. startup, so that start() never throws).
      const auto* io_executor = ctx.executor.target<asio::io_context::executor_type>();
      if (io_executor == nullptr) {
        throw std::invalid_argument("regional adapter: push needs an io_context executor");
      }
      push_io = &io_executor->context();
    }
  }

  RegionalAdapterConfig config;
  gateway::AdapterContext ctx;
  asio::strand<asio::any_io_executor> strand;
  asio::steady_timer timer;
  std::unique_ptr<http::HttpsClient> client;
  asio::io_context* push_io = nullptr;
  std::unique_ptr<http::HttpsServer> push_server;
  std::atomic<std::uint16_t> push_port{0};
  bool push_registered = false;
  bool push_registering = false;
  std::vector<std::function<void(bool)>> push_waiters;

  bool running = false;
  bool stopping = false;
  int in_flight = 0;
  std::vector<std::function<void()>> drained;

  // Durable positions: the highest sequence of the contiguous prefix answered true.
  std::int64_t unit_cursor = 0;
  std::int64_t receipt_cursor = 0;
  // Pipelined intake (AdapterSink): up to intake_window items of a kind at the sink.
  using Lane = adapters::IntakeLane<std::int64_t>;
  Lane mailbox;
  Lane receipts;
  bool mailbox_busy = false;  // a run is going on (listing, fetching or waiting for answers)
  bool mailbox_again = false;
  bool receipts_busy = false;
  bool receipts_again = false;
  // Degraded paths (issue 14): failures in a row, items already reported, cut answers per id.
  static constexpr int kCutAnswersBeforeRefusal = 3;
  adapters::PollHealth health{ctx.events};
  adapters::RecentIds reported;
  std::map<std::string, int> cut_answers;

  // --- in-flight accounting: every HTTP call and every sink hand-over counts.
  void begin() { ++in_flight; }
  void end() {
    --in_flight;
    maybe_drained();
  }
  void maybe_drained() {
    if (!stopping || in_flight != 0 || drained.empty()) return;
    auto callbacks = std::move(drained);
    drained.clear();
    for (auto& cb : callbacks) asio::post(strand, std::move(cb));
  }

  void call(std::string method, std::string target, std::string body,
            std::function<void(boost::system::error_code, http::Response)> done) {
    begin();
    http::Request req;
    req.method = std::move(method);
    req.target = std::move(target);
    req.headers = {{"content-type", "application/json"}, {"accept", "application/json"}};
    req.body = std::move(body);
    client->request(std::move(req), [self = shared_from_this(), done = std::move(done)](
                                        boost::system::error_code ec, http::Response resp) {
      // The client's executor is our strand, so this already runs on it.
      done(ec, std::move(resp));
      self->end();
    });
  }

  // --- lifecycle
  void start() {
    if (running) return;
    running = true;
    stopping = false;
    if (config.push.enabled) start_push();
    schedule(std::chrono::milliseconds(0));
  }

  void stop(std::function<void()> cb) {
    stopping = true;
    running = false;
    timer.cancel();
    // Outstanding items are still answered (in_flight counts them); each run ends once drained.
    if (push_server) {
      push_server->stop();
      push_server.reset();
      push_port = 0;
      push_registered = false;
    }
    if (cb) drained.push_back(std::move(cb));
    if (in_flight == 0) maybe_drained();
  }

  void schedule(std::chrono::milliseconds after) {
    timer.expires_after(after);
    timer.async_wait([self = shared_from_this()](boost::system::error_code ec) {
      if (ec || !self->running) return;
      self->tick();
    });
  }

  void tick() {
    if (config.push.enabled && !push_registered) register_push();
    poll();
    schedule(config.poll_interval);
  }

  void poll() {
    if (!running) return;
    if (mailbox_busy) {
      mailbox_again = true;
    } else {
      poll_mailbox();
    }
    if (receipts_busy) {
      receipts_again = true;
    } else {
      poll_receipts();
    }
  }

  // --- push notices
  void start_push() {
    auto* io = push_io;
    std::weak_ptr<Impl> weak = shared_from_this();
    const std::string path = config.push.path;
    http::ServerOptions options;
    options.max_body_bytes = kMaxPushNoticeBytes;
    options.max_header_bytes = 16 * 1024;
    options.read_timeout = std::chrono::seconds(10);
    options.max_connections = static_cast<std::size_t>(config.push.max_connections);
    options.accept_peer = [pin = config.push.peer](const std::string& der) {
      return http::peer_matches(pin, der);
    };
    // Refusals come from the listener's connections; the report is atomics plus the logger.
    options.on_refused = [events = ctx.events](const std::string& what) {
      events.report(&gateway::AdapterCounters::push_refused, gateway::AdapterLogLevel::kWarning,
                    "push-refused", {{"reason", what}});
    };
    push_server = std::make_unique<http::HttpsServer>(
        *io, config.push.tls,
        [weak, path](http::Request req, std::function<void(http::Response)> respond) {
          http::Response r;
          if (req.method == "POST" && req.target == path) {
            r.status = 204;
            if (auto self = weak.lock()) {
              asio::post(self->strand, [self] { self->poll(); });
            }
          } else {
            r.status = 404;
          }
          respond(std::move(r));
        },
        std::move(options));
    try {
      push_port = push_server->listen(config.push.listen_address, config.push.port);
    } catch (const std::exception&) {
      // No listener (port taken): polling alone still brings the mail; retried at next start.
      push_server.reset();
      push_port = 0;
    }
  }

  void register_push() {
    if (push_registering || push_port == 0) return;
    push_registering = true;
    const std::string url = "https://" + config.push.callback_host + ":" +
                            std::to_string(push_port.load()) + config.push.path;
    std::string body = "{\"url\":\"" + url + "\"}";
    call("PUT", "/rhn/v1/callback", std::move(body),
         [self = shared_from_this()](boost::system::error_code ec, http::Response r) {
           self->push_registering = false;
           self->push_registered = !ec && r.status >= 200 && r.status < 300;
           auto waiters = std::move(self->push_waiters);
           self->push_waiters.clear();
           for (auto& w : waiters) w(self->push_registered);
         });
  }

  // --- pipelined intake. A run lists from the durable cursor and goes on listing past the
  // highest sequence handed over while earlier items are outstanding; each answer true extends
  // the durable cursor over the contiguous prefix answered true. The first false, a failed call
  // or a stop ends the run: nothing more is handed over, and once every item is answered the
  // next poll (timer or push notice) starts over from the durable cursor.
  void answered(Lane& lane, std::int64_t& durable, Lane::Ticket ticket, bool accepted) {
    lane.window().answer(ticket, accepted,
                         [&](std::int64_t sequence) { durable = std::max(durable, sequence); });
    lane.progress();
  }

  // --- mailbox: pages by sequence, each item fetched in order and handed over.
  void poll_mailbox() {
    mailbox_busy = true;
    mailbox_again = false;
    mailbox.forget();
    if (!mailbox.window().restart()) return end_mailbox_run();  // cannot happen: busy till drained
    mailbox.listed = unit_cursor;
    list_mailbox();
  }

  void list_mailbox() {
    const std::string target = "/rhn/v1/mailbox?since=" + std::to_string(mailbox.listed) +
                               "&limit=" + std::to_string(config.page_size);
    call("GET", target, "",
         [self = shared_from_this()](boost::system::error_code ec, http::Response r) {
           if (ec || r.status != 200) {
             self->mailbox_failed("mailbox", classify(ec, r));
             return self->end_mailbox_run();
           }
           auto page = decode_mailbox_page(r.body);
           if (!page) {
             self->ctx.events.count(&gateway::AdapterCounters::malformed_answers);
             self->mailbox_failed("mailbox", malformed("mailbox page is not the contract's shape"));
             return self->end_mailbox_run();
           }
           for (const auto sequence : page->skipped_sequences) {
             if (!self->reported.first_time("sequence " + std::to_string(sequence))) continue;
             self->ctx.events.report(
                 &gateway::AdapterCounters::items_skipped, gateway::AdapterLogLevel::kWarning,
                 "mailbox-item-skipped",
                 {{"sequence", std::to_string(sequence)}, {"reason", "listed without an id"}});
           }
           if (page->skipped > page->skipped_sequences.size()) {
             self->ctx.events.report(&gateway::AdapterCounters::items_skipped,
                                     gateway::AdapterLogLevel::kWarning, "mailbox-item-skipped",
                                     {{"reason", "listed without a sequence"}});
           }
           auto items = std::make_shared<std::vector<RhnMailboxItem>>(std::move(page->items));
           self->next_item(items, 0, page->more);
         });
  }

  // Hands nothing more over; the run is over once every item handed over is answered.
  void end_mailbox_run() {
    mailbox.wait_until_drained([this] {
      mailbox_busy = false;
      if (running && mailbox_again) poll_mailbox();
    });
  }

  void next_item(std::shared_ptr<std::vector<RhnMailboxItem>> items, std::size_t index, bool more) {
    if (!running || mailbox.window().failed()) return end_mailbox_run();
    if (mailbox.window().full()) {
      return mailbox.wait_for_room([this, items, index, more] { next_item(items, index, more); });
    }
    if (index >= items->size()) {
      if (!more) health.succeeded();
      if (!more && !mailbox_again) return end_mailbox_run();
      mailbox_again = false;
      return list_mailbox();
    }
    const std::string id = (*items)[index].id;
    const std::int64_t sequence = (*items)[index].sequence;
    call("GET", "/rhn/v1/messages/" + id, "",
         [self = shared_from_this(), items, index, more, sequence](boost::system::error_code ec,
                                                                   http::Response r) {
           if (self->mailbox.window().failed()) return self->end_mailbox_run();
           const RhnMailboxItem& listed = (*items)[index];
           const SendResult result = classify(ec, r);
           if (result.status == SendResult::Status::kRetry) {
             self->mailbox_failed("message", result);
             return self->end_mailbox_run();
           }
           if (result.status == SendResult::Status::kRejected) {
             // A permanent answer for a message of our own mailbox: asking again cannot help.
             return self->hand_over_unreadable(
                 items, index, more, "message: the network answered " + result.error_code);
           }
           auto read = read_mailbox_message(r.body);
           if (const auto* problem = std::get_if<RhnItemProblem>(&read)) {
             // A 2xx that does not parse is transient (PROTOCOL §9), until the same message
             // came so kCutAnswersBeforeRefusal times in a row.
             if (problem->transient && ++self->cut_answers[listed.id] < kCutAnswersBeforeRefusal) {
               self->ctx.events.count(&gateway::AdapterCounters::malformed_answers);
               self->mailbox_failed("message", malformed(problem->reason));
               return self->end_mailbox_run();
             }
             return self->hand_over_unreadable(items, index, more, problem->reason);
           }
           self->cut_answers.erase(listed.id);
           auto item = std::get<RhnMailboxItem>(std::move(read));
           if (item.id != listed.id) {
             return self->hand_over_unreadable(items, index, more,
                                               "id: differs from the mailbox listing");
           }
           gateway::InboundUnit unit;
           unit.source_id = item.id;
           unit.sender = item.from.office;
           unit.recipient = item.to;
           unit.sender_facility = item.from.facility_id;
           unit.subject = item.subject;
           unit.message = item.body;
           unit.cursor = std::to_string(sequence);
           for (auto& d : item.documents) {
             gateway::SignedFile f;
             f.name = std::move(d.filename);
             f.media_type = std::move(d.media_type);
             f.content = std::move(d.content);
             f.cms = std::move(d.signature);
             f.attached = false;
             unit.files.push_back(std::move(f));
           }
           self->hand_over(std::move(unit), sequence);
           self->next_item(items, index + 1, more);
         });
  }

  void hand_over(gateway::InboundUnit unit, std::int64_t sequence) {
    const auto ticket = mailbox.window().hand_over(sequence);
    mailbox.listed = std::max(mailbox.listed, sequence);
    begin();
    ctx.sink->on_unit(std::move(unit), [self = shared_from_this(), ticket](bool accepted) {
      asio::post(self->strand, [self, ticket, accepted] {
        self->answered(self->mailbox, self->unit_cursor, ticket, accepted);
        self->end();
      });
    });
  }

  // A message that cannot be read (issue 14): handed over with its reason, so that the engine
  // refuses it (POST /messages/{id}/reject) and the cursor moves past it. Logged once per id.
  void hand_over_unreadable(std::shared_ptr<std::vector<RhnMailboxItem>> items, std::size_t index,
                            bool more, std::string reason) {
    const RhnMailboxItem& listed = (*items)[index];
    cut_answers.erase(listed.id);
    gateway::InboundUnit unit;
    unit.source_id = listed.id;
    unit.sender = listed.from.office;
    unit.recipient = listed.to;
    unit.sender_facility = listed.from.facility_id;
    unit.subject = listed.subject;
    unit.cursor = std::to_string(listed.sequence);
    unit.unreadable = reason;
    if (reported.first_time(listed.id)) {
      ctx.events.report(&gateway::AdapterCounters::items_unreadable,
                        gateway::AdapterLogLevel::kWarning, "item-unreadable",
                        {{"message", listed.id},
                         {"sequence", std::to_string(listed.sequence)},
                         {"reason", std::move(reason)}});
    }
    hand_over(std::move(unit), listed.sequence);
    next_item(items, index + 1, more);
  }

  void mailbox_failed(const char* call, const SendResult& r) {
    health.failed(std::to_string(unit_cursor), call, r.error_code, r.message);
  }

  // --- receipts for what the gateway sent
  void poll_receipts() {
    receipts_busy = true;
    receipts_again = false;
    receipts.forget();
    if (!receipts.window().restart()) return end_receipts_run();  // cannot happen (as above)
    receipts.listed = receipt_cursor;
    list_receipts();
  }

  void list_receipts() {
    const std::string target = "/rhn/v1/receipts?since=" + std::to_string(receipts.listed) +
                               "&limit=" + std::to_string(config.page_size);
    call("GET", target, "",
         [self = shared_from_this()](boost::system::error_code ec, http::Response r) {
           if (ec || r.status != 200) {
             self->ctx.events.count(&gateway::AdapterCounters::polls_failed);
             return self->end_receipts_run();
           }
           auto page = decode_receipt_page(r.body);
           if (!page) {
             self->ctx.events.count(&gateway::AdapterCounters::polls_failed);
             self->ctx.events.count(&gateway::AdapterCounters::malformed_answers);
             return self->end_receipts_run();
           }
           auto items = std::make_shared<std::vector<RhnReceipt>>(std::move(page->items));
           self->next_receipt(items, 0, page->more);
         });
  }

  void end_receipts_run() {
    receipts.wait_until_drained([this] {
      receipts_busy = false;
      if (running && receipts_again) poll_receipts();
    });
  }

  void next_receipt(std::shared_ptr<std::vector<RhnReceipt>> items, std::size_t index, bool more) {
    for (;; ++index) {
      if (!running || receipts.window().failed()) return end_receipts_run();
      if (receipts.window().full()) {
        return receipts.wait_for_room(
            [this, items, index, more] { next_receipt(items, index, more); });
      }
      if (index >= items->size()) {
        if (!more && !receipts_again) return end_receipts_run();
        receipts_again = false;
        return list_receipts();
      }
      const auto& item = (*items)[index];
      gateway::InboundReceipt receipt;
      receipt.remote_id = item.id;
      receipt.state =
          item.state == "READ" ? gateway::ReceiptState::kRead : gateway::ReceiptState::kRejected;
      receipt.reason = item.reason;
      receipt.cursor = std::to_string(item.sequence);
      const auto ticket = receipts.window().hand_over(item.sequence);
      receipts.listed = std::max(receipts.listed, item.sequence);
      begin();
      ctx.sink->on_receipt(std::move(receipt), [self = shared_from_this(), ticket](bool accepted) {
        asio::post(self->strand, [self, ticket, accepted] {
          self->answered(self->receipts, self->receipt_cursor, ticket, accepted);
          self->end();
        });
      });
    }
  }

  // --- outbound calls
  void send(gateway::OutboundUnit unit, std::function<void(SendResult)> done) {
    if (stopping) {
      SendResult r;
      r.error_code = "ADAPTER_STOPPED";
      r.message = "the adapter is stopping";
      return asio::post(strand, [done = std::move(done), r] { done(r); });
    }
    RhnMessage m;
    m.message_id = unit.idempotency_key;
    m.from.facility_id = config.facility_id;
    m.from.office = unit.sender;
    m.to = unit.recipient;
    m.subject = unit.subject;
    m.body = unit.message;
    for (auto& f : unit.files) {
      RhnDocument d;
      d.filename = f.name;
      d.media_type = f.media_type.empty() ? media_type_for(f.name) : f.media_type;
      if (f.attached) {
        // The regional contract carries detached signatures; conversion keeps the SignerInfo.
        const auto* p = reinterpret_cast<const std::uint8_t*>(f.cms.data());
        auto detached = mapping::cms::detach_content({p, f.cms.size()});
        if (!detached) {
          SendResult r;
          r.status = SendResult::Status::kRejected;
          r.error_code = "LOCAL_DETACH_FAILED";
          r.message = f.name + ": " + detached.error().detail;
          return asio::post(strand, [done = std::move(done), r] { done(r); });
        }
        d.content.assign(detached.value().content.begin(), detached.value().content.end());
        d.signature.assign(detached.value().signature.begin(), detached.value().signature.end());
      } else {
        d.content = std::move(f.content);
        d.signature = std::move(f.cms);
      }
      m.documents.push_back(std::move(d));
    }
    call("POST", "/rhn/v1/messages", encode_message(m),
         [done = std::move(done)](boost::system::error_code ec, http::Response r) {
           SendResult result = classify(ec, r);
           if (result.status == SendResult::Status::kAccepted) {
             auto answer = decode_send_answer(r.body);
             if (!answer) return done(malformed("send answer is not the contract's shape"));
             result.remote_id = answer->id;
           }
           done(std::move(result));
         });
  }

  void send_receipt(gateway::OutboundReceipt receipt, std::function<void(SendResult)> done) {
    if (stopping) {
      SendResult r;
      r.error_code = "ADAPTER_STOPPED";
      r.message = "the adapter is stopping";
      return asio::post(strand, [done = std::move(done), r] { done(r); });
    }
    std::string target = "/rhn/v1/messages/" + receipt.source_id;
    std::string body = "{}";
    if (receipt.state == gateway::ReceiptState::kRejected) {
      target += "/reject";
      std::string reason = receipt.reason.empty() ? "rejected by the gateway" : receipt.reason;
      if (reason.size() > kMaxReasonBytes) reason.resize(kMaxReasonBytes);
      body = encode_reason(reason);
    } else {
      target += "/read";
    }
    call("POST", target, std::move(body),
         [done = std::move(done)](boost::system::error_code ec, http::Response r) {
           done(classify(ec, r));
         });
  }

  // PROTOCOL.md §7a: the office's notice about itself. The engine's idempotency key is the
  // notice_id (hashed when it is not of the id charset), so a resend is the same notice.
  void send_notice(gateway::OfficeNotice notice, std::function<void(SendResult)> done) {
    if (stopping) {
      SendResult r;
      r.error_code = "ADAPTER_STOPPED";
      r.message = "the adapter is stopping";
      return asio::post(strand, [done = std::move(done), r] { done(r); });
    }
    RhnNotice n;
    n.notice_id = valid_message_id(notice.idempotency_key)
                      ? notice.idempotency_key
                      : "kh-notice-" + http::sha256_hex_of(notice.idempotency_key);
    n.to = notice.office;
    // Plain text within the contract: other control characters become spaces, then the cut.
    for (auto& c : notice.text) {
      const auto u = static_cast<unsigned char>(c);
      if ((u < 0x20 && c != '\n') || u == 0x7F) c = ' ';
    }
    n.text = cut_notice_text(std::move(notice.text));
    call("POST", "/rhn/v1/notices", encode_notice(n),
         [done = std::move(done)](boost::system::error_code ec, http::Response r) {
           SendResult result = classify(ec, r);
           if (result.status == SendResult::Status::kAccepted) {
             auto answer = decode_notice_answer(r.body);
             if (!answer) return done(malformed("notice answer is not the contract's shape"));
             result.remote_id = answer->id;
           }
           done(std::move(result));
         });
  }

  static std::string encode_reason(const std::string& reason) {
    std::string out = "{\"reason\":\"";
    for (char c : reason) {
      const auto u = static_cast<unsigned char>(c);
      if (c == '"' || c == '\\') {
        out += '\\';
        out += c;
      } else if (u < 0x20) {
        static const char kHex[] = "0123456789abcdef";
        out += "\\u00";
        out += kHex[u >> 4];
        out += kHex[u & 0xF];
      } else {
        out += c;
      }
    }
    out += "\"}";
    return out;
  }

  void fetch_directory(std::function<void(gateway::DirectoryResult)> done) {
    if (stopping) {
      gateway::DirectoryResult r;
      r.status.error_code = "ADAPTER_STOPPED";
      return asio::post(strand, [done = std::move(done), r] { done(r); });
    }
    call("GET", "/rhn/v1/directory", "",
         [done = std::move(done)](boost::system::error_code ec, http::Response r) {
           gateway::DirectoryResult result;
           result.status = classify(ec, r);
           if (result.status.status != SendResult::Status::kAccepted) return done(result);
           auto facilities = decode_directory(r.body);
           if (!facilities) {
             result.status = malformed("directory is not the contract's shape");
             return done(result);
           }
           for (const auto& fac : *facilities) {
             for (const auto& o : fac.offices) {
               gateway::DirectoryEntry e;
               e.office = o.office;
               e.name = o.name;
               e.kana = o.kana;
               e.facility_id = fac.facility_id;
               e.prefecture = o.prefecture;
               e.status = o.status;
               e.updated_at = o.updated_at;
               // External facilities hold what a gateway published: never native offices.
               e.published_by_gateway = fac.external;
               result.entries.push_back(std::move(e));
             }
           }
           done(std::move(result));
         });
  }

  void publish_directory(std::vector<gateway::DirectoryEntry> entries,
                         std::function<void(SendResult)> done) {
    if (stopping) {
      SendResult r;
      r.error_code = "ADAPTER_STOPPED";
      return asio::post(strand, [done = std::move(done), r] { done(r); });
    }
    std::vector<RhnOffice> offices;
    offices.reserve(entries.size());
    for (auto& e : entries) {
      RhnOffice o;
      o.office = std::move(e.office);
      o.name = std::move(e.name);
      o.kana = std::move(e.kana);
      o.prefecture = std::move(e.prefecture);
      o.status = e.status.empty() ? "ACTIVE" : std::move(e.status);
      offices.push_back(std::move(o));
    }
    call("PUT", "/rhn/v1/directory/external", encode_external_directory(offices),
         [done = std::move(done)](boost::system::error_code ec, http::Response r) {
           done(classify(ec, r));
         });
  }
};

RegionalAdapter::RegionalAdapter(RegionalAdapterConfig config, gateway::AdapterContext context)
    : impl_(std::make_shared<Impl>(std::move(config), std::move(context))) {}

RegionalAdapter::~RegionalAdapter() {
  // Pending handlers hold the Impl alive; make sure none of them restarts anything.
  auto impl = impl_;
  asio::dispatch(impl->strand, [impl] {
    impl->running = false;
    impl->stopping = true;
    impl->timer.cancel();
    if (impl->push_server) impl->push_server->stop();
  });
}

void RegionalAdapter::start() {
  asio::dispatch(impl_->strand, [impl = impl_] { impl->start(); });
}

void RegionalAdapter::stop(std::function<void()> drained) {
  asio::dispatch(impl_->strand, [impl = impl_, drained = std::move(drained)]() mutable {
    impl->stop(std::move(drained));
  });
}

void RegionalAdapter::send(gateway::OutboundUnit unit,
                           std::function<void(gateway::SendResult)> done) {
  asio::dispatch(impl_->strand,
                 [impl = impl_, unit = std::move(unit), done = std::move(done)]() mutable {
                   impl->send(std::move(unit), std::move(done));
                 });
}

void RegionalAdapter::send_receipt(gateway::OutboundReceipt receipt,
                                   std::function<void(gateway::SendResult)> done) {
  asio::dispatch(impl_->strand,
                 [impl = impl_, receipt = std::move(receipt), done = std::move(done)]() mutable {
                   impl->send_receipt(std::move(receipt), std::move(done));
                 });
}

void RegionalAdapter::send_notice(gateway::OfficeNotice notice,
                                  std::function<void(gateway::SendResult)> done) {
  asio::dispatch(impl_->strand,
                 [impl = impl_, notice = std::move(notice), done = std::move(done)]() mutable {
                   impl->send_notice(std::move(notice), std::move(done));
                 });
}

void RegionalAdapter::fetch_directory(std::string /*changed_since*/,
                                      std::function<void(gateway::DirectoryResult)> done) {
  // RHN v1 has no incremental directory: every fetch is complete.
  asio::dispatch(impl_->strand, [impl = impl_, done = std::move(done)]() mutable {
    impl->fetch_directory(std::move(done));
  });
}

void RegionalAdapter::publish_directory(std::vector<gateway::DirectoryEntry> entries,
                                        std::function<void(gateway::SendResult)> done) {
  asio::dispatch(impl_->strand,
                 [impl = impl_, entries = std::move(entries), done = std::move(done)]() mutable {
                   impl->publish_directory(std::move(entries), std::move(done));
                 });
}

void RegionalAdapter::poll_now() {
  asio::dispatch(impl_->strand, [impl = impl_] { impl->poll(); });
}

std::uint16_t RegionalAdapter::push_port() const {
  return impl_->push_port.load();
}

void RegionalAdapter::on_push_registered(std::function<void(bool ok)> on_ready) {
  asio::dispatch(impl_->strand, [impl = impl_, on_ready = std::move(on_ready)]() mutable {
    if (impl->push_registered) return on_ready(true);
    impl->push_waiters.push_back(std::move(on_ready));
  });
}

std::unique_ptr<gateway::Adapter> make_regional_adapter(RegionalAdapterConfig config,
                                                        gateway::AdapterContext context) {
  return std::make_unique<RegionalAdapter>(std::move(config), std::move(context));
}

}  // namespace kakehashi::adapters::regional
