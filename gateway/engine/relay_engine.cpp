#include "gateway/engine/relay_engine.hpp"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <limits>
#include <random>
#include <set>

#include <boost/asio/post.hpp>

#include "gateway/audit/insured.hpp"
#include "gateway/engine/admission.hpp"
#include "gateway/engine/log.hpp"
#include "gateway/engine/unit_identity.hpp"
#include "mapping/cms/translation_receipt.hpp"

namespace kakehashi::gateway::engine {
namespace {

std::string receipt_state_name(ReceiptState s) {
  switch (s) {
    case ReceiptState::kDelivered:
      return "delivered";
    case ReceiptState::kRead:
      return "read";
    case ReceiptState::kRejected:
      return "rejected";
  }
  return "delivered";
}

ReceiptState receipt_state_from(const std::string& s) {
  if (s == "read") return ReceiptState::kRead;
  if (s == "rejected") return ReceiptState::kRejected;
  return ReceiptState::kDelivered;
}

std::string base64(const std::string& in) {
  static constexpr char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  std::size_t i = 0;
  for (; i + 2 < in.size(); i += 3) {
    const unsigned v = (static_cast<unsigned char>(in[i]) << 16) |
                       (static_cast<unsigned char>(in[i + 1]) << 8) |
                       static_cast<unsigned char>(in[i + 2]);
    out += kAlphabet[(v >> 18) & 63];
    out += kAlphabet[(v >> 12) & 63];
    out += kAlphabet[(v >> 6) & 63];
    out += kAlphabet[v & 63];
  }
  if (i < in.size()) {
    unsigned v = static_cast<unsigned char>(in[i]) << 16;
    if (i + 1 < in.size()) v |= static_cast<unsigned char>(in[i + 1]) << 8;
    out += kAlphabet[(v >> 18) & 63];
    out += kAlphabet[(v >> 12) & 63];
    out += i + 1 < in.size() ? kAlphabet[(v >> 6) & 63] : '=';
    out += '=';
  }
  return out;
}

}  // namespace

// Each adapter gets its own sink, so the engine knows which network a unit came from.
class NetworkSink final : public AdapterSink {
 public:
  NetworkSink(Engine& engine, std::string name) : engine_(engine), name_(std::move(name)) {}
  void on_unit(InboundUnit unit, std::function<void(bool)> done) override {
    engine_.on_unit(name_, std::move(unit), std::move(done));
  }
  void on_receipt(InboundReceipt receipt, std::function<void(bool)> done) override {
    engine_.on_receipt(name_, std::move(receipt), std::move(done));
  }

 private:
  Engine& engine_;
  std::string name_;
};

// One item handed over by an adapter, from hand-over to its answer.
struct Engine::IntakeSlot {
  enum class State { kPending, kReady, kQueued, kDone } state = State::kPending;
  bool ok = false;
  std::function<void(store::Store&)> op;  // what to commit; empty once ready: answered false
  std::function<void(bool)> done;         // the adapter's answer
  std::function<void(bool)> after;        // the engine's own bookkeeping (counters, log)
};

// Items of one network and kind in hand-over order. `failed`: an item was answered false, so
// every later one is too until the lane is empty (AdapterSink contract).
struct Engine::IntakeLane {
  std::deque<std::shared_ptr<IntakeSlot>> slots;
  bool failed = false;
};

struct Engine::Network {
  NetworkBinding binding;
  IntakeLane units, receipts;
  // Set while this instance holds the network's poll lease (renewed on ticks).
  std::shared_ptr<std::atomic<bool>> may_poll = std::make_shared<std::atomic<bool>>(false);
  std::unique_ptr<NetworkSink> sink;
  std::unique_ptr<Adapter> adapter;
  bool directory_loaded = false;
};

struct Engine::Prepared {
  store::Transfer transfer;
  std::optional<Translation> translation;
  std::string sealed;   // a first translation, sealed, to keep before sending ("" on a retry)
  std::string failure;  // why it cannot be delivered at all (parked)
};

Engine::Engine(boost::asio::io_context& io, EngineOptions options, StoreFactory stores,
               PayloadCipher cipher, std::shared_ptr<const mapping::cms::Credential> receipt_signer,
               std::vector<std::string> route_preference, Clock clock)
    : io_(io),
      options_(std::move(options)),
      stores_(std::move(stores)),
      cipher_(std::move(cipher)),
      receipt_signer_(std::move(receipt_signer)),
      router_(std::move(route_preference)),
      clock_(clock ? std::move(clock) : Clock([] {
        return std::chrono::duration_cast<std::chrono::milliseconds>(
                   std::chrono::system_clock::now().time_since_epoch())
            .count();
      })),
      pool_(options_.workers),
      tick_timer_(io) {}

Engine::~Engine() {
  *alive_ = false;
  tick_timer_.cancel();
  pool_.join();
}

store::Store& Engine::worker_store() {
  thread_local std::map<const Engine*, std::unique_ptr<store::Store>> stores;
  auto& s = stores[this];
  if (!s) s = stores_();
  return *s;
}

template <typename Work, typename Then>
void Engine::on_worker(Work work, Then then) {
  using Result = decltype(work(std::declval<store::Store&>()));
  boost::asio::post(
      pool_, [this, alive = alive_, work = std::move(work), then = std::move(then)]() mutable {
        Result result{};
        bool ok = true;
        std::string error;
        try {
          result = work(worker_store());
        } catch (const std::exception& e) {
          ok = false;
          error = e.what();
        }
        if (!ok) log(LogLevel::kError, "worker-failed", {{"error", error}});
        boost::asio::post(
            io_, [alive, ok, result = std::move(result), then = std::move(then)]() mutable {
              if (*alive) then(ok, std::move(result));
            });
      });
}

void Engine::add_network(NetworkBinding binding) {
  auto n = std::make_unique<Network>();
  const std::string name = binding.name;
  n->binding = std::move(binding);
  networks_[name] = std::move(n);
}

void Engine::start() {
  if (started_) return;
  started_ = true;
  {
    auto s = stores_();
    s->migrate();
    for (auto& [name, n] : networks_) {
      AdapterContext ctx;
      ctx.executor = io_.get_executor();
      n->sink = std::make_unique<NetworkSink>(*this, name);
      ctx.sink = n->sink.get();
      ctx.name = name;
      ctx.intake_window = std::max<std::size_t>(1, options_.intake_window);
      ctx.unit_cursor = s->load_cursor(name, "units").value_or("");
      ctx.receipt_cursor = s->load_cursor(name, "receipts").value_or("");
      ctx.may_poll = [flag = n->may_poll] { return flag->load(); };
      n->adapter = n->binding.make_adapter(ctx);
      n->may_poll->store(
          s->try_lease("poll:" + name, options_.instance_id, now(), options_.lease.count()));
    }
    last_lease_renewal_ms_ = now();
  }
  for (auto& [name, n] : networks_) n->adapter->start();
  log(LogLevel::kInfo, "engine-started",
      {{"instance", options_.instance_id}, {"networks", std::to_string(networks_.size())}});
  if (options_.refresh_directories) refresh_directories();
  schedule_tick();
}

Adapter* Engine::adapter(const std::string& network) {
  const auto it = networks_.find(network);
  return it == networks_.end() ? nullptr : it->second->adapter.get();
}

void Engine::refresh_directories(std::function<void()> done) {
  last_directory_refresh_ = std::chrono::steady_clock::now();
  auto remaining = std::make_shared<std::size_t>(networks_.size());
  auto finished = std::make_shared<std::function<void()>>(std::move(done));
  if (networks_.empty() && *finished) (*finished)();
  for (auto& [name, n] : networks_) {
    Network* net = n.get();
    net->adapter->fetch_directory(
        "", [this, alive = alive_, net, remaining, finished](DirectoryResult r) {
          if (!*alive) return;
          if (r.status.status == SendResult::Status::kAccepted) {
            router_.update(net->binding.name, r.entries);
            net->directory_loaded = true;
            log(LogLevel::kInfo, "directory-loaded",
                {{"network", net->binding.name}, {"entries", std::to_string(r.entries.size())}});
          } else {
            log(LogLevel::kWarning, "directory-failed",
                {{"network", net->binding.name},
                 {"error", r.status.error_code + " " + r.status.message}});
          }
          if (--*remaining == 0 && *finished) (*finished)();
        });
  }
}

void Engine::schedule_tick() {
  tick_timer_.expires_after(options_.tick);
  tick_timer_.async_wait([this, alive = alive_](boost::system::error_code ec) {
    if (ec || !*alive || stopping_) return;
    const auto steady = std::chrono::steady_clock::now();
    bool all_loaded = true;
    for (auto& [name, n] : networks_) all_loaded &= n->directory_loaded;
    const auto refresh_every =
        all_loaded ? options_.directory_refresh : std::chrono::milliseconds(5000);
    if (options_.refresh_directories && steady - last_directory_refresh_ >= refresh_every)
      refresh_directories();
    if (steady - last_purge_ >= std::chrono::minutes(10)) {
      last_purge_ = steady;
      const std::int64_t before = now() - options_.retention.count();
      on_worker([before](store::Store& s) { return s.purge_payloads(before); },
                [](bool ok, std::int64_t n) {
                  if (ok && n > 0)
                    log(LogLevel::kInfo, "payloads-purged", {{"count", std::to_string(n)}});
                });
    }
    if (now() - last_lease_renewal_ms_ >= options_.lease.count() / 4) {
      last_lease_renewal_ms_ = now();
      renew_poll_leases();
    }
    pump_transfers();
    pump_notices();
    schedule_tick();
  });
}

// One instance at a time polls each network's inbox; the lease is renewed well before it ends
// and taken over when its holder stops renewing (dies).
void Engine::renew_poll_leases() {
  std::vector<std::pair<std::string, std::shared_ptr<std::atomic<bool>>>> flags;
  for (auto& [name, n] : networks_) flags.emplace_back(name, n->may_poll);
  on_worker(
      [this, flags](store::Store& s) {
        for (const auto& [name, flag] : flags)
          flag->store(
              s.try_lease("poll:" + name, options_.instance_id, now(), options_.lease.count()));
        return 0;
      },
      [](bool, int) {});
}

void Engine::reload_credentials(const std::string& network,
                                std::shared_ptr<const mapping::cms::TrustDomain> trust,
                                std::shared_ptr<const mapping::cms::Credential> cosigner) {
  const auto it = networks_.find(network);
  if (it == networks_.end()) return;
  std::lock_guard lock(credentials_mutex_);
  if (trust) it->second->binding.trust = std::move(trust);
  if (cosigner) it->second->binding.cosigner = std::move(cosigner);
}

void Engine::reload_receipt_signer(std::shared_ptr<const mapping::cms::Credential> signer) {
  std::lock_guard lock(credentials_mutex_);
  receipt_signer_ = std::move(signer);
}

// ---- intake ----------------------------------------------------------------------------------

void Engine::on_unit(const std::string& network, InboundUnit unit, std::function<void(bool)> done) {
  const auto it = networks_.find(network);
  if (it == networks_.end()) {
    done(false);
    return;
  }
  IntakeLane& lane = it->second->units;
  // Routing needs the directories this unit's route depends on (Router::ready_for); until they
  // have answered once, the source keeps the unit.
  std::vector<std::string> names;
  for (auto& [name, n] : networks_) names.push_back(name);
  if (stopping_ || !router_.ready_for(unit.recipient, network, names).ready) {
    if (lane.slots.empty()) {
      done(false);
      return;
    }
    open_slot(lane, std::move(done))->state = IntakeSlot::State::kReady;  // false at its turn
    advance(lane);
    return;
  }
  auto slot = open_slot(lane, std::move(done));
  std::shared_ptr<const mapping::cms::TrustDomain> trust;
  {
    std::lock_guard lock(credentials_mutex_);
    trust = it->second->binding.trust;
  }
  const std::string cursor = unit.cursor;
  const bool sender_must_be_member = it->second->binding.senders_must_be_members;
  // Admission on a worker: signatures, the standard's checks, routing. Nothing durable yet.
  on_worker(
      [this, network, trust, sender_must_be_member, unit = std::move(unit)](store::Store&) mutable {
        AdmissionContext ctx;
        ctx.source_adapter = network;
        ctx.trust = trust.get();
        ctx.router = &router_;
        ctx.sender_must_be_member = sender_must_be_member;
        ctx.inspect = options_.inspect;
        ctx.now = static_cast<std::time_t>(now() / 1000);
        const std::string source_id = unit.source_id;
        auto decision = admit(std::move(unit), ctx);
        auto t = std::make_shared<store::NewTransfer>();
        t->source_adapter = network;
        t->source_id = source_id;
        t->dest_adapter = decision.dest_adapter;
        // Refused units too are counted under the direction they were headed in (or
        // "<source>->unrouted" when the recipient resolved nowhere); the outcome is their state.
        t->direction =
            network + "->" + (decision.route.empty() ? std::string("unrouted") : decision.route);
        t->sender_office = decision.unit.sender.office_no;
        t->sender_type = decision.unit.sender.service_type;
        t->recipient_office = decision.unit.recipient.office_no;
        t->recipient_type = decision.unit.recipient.service_type;
        t->sequence = decision.sequence;
        t->unit_kind = decision.unit_kind;
        t->subject_key = decision.subject_key;
        if (decision.accepted) t->unit_digest = content_digest(decision.unit);
        t->state = decision.accepted ? store::kAccepted : store::kRejected;
        t->reason = decision.accepted ? "" : refusal_summary(decision.refusals);
        t->notice_text = decision.accepted ? "" : refusal_text_ja(decision.refusals);
        t->idempotency_key = idempotency_key_for(network, source_id);
        t->payload = cipher_.seal(serialize_unit(decision.unit));
        t->event_detail = decision.detail;
        for (const auto& f : decision.unit.files)  // the store records keyed hashes only
          audit::collect_insured_numbers(f.name, f.content, t->insured_numbers);
        return t;
      },
      [this, network, cursor, slot, &lane](bool ok, std::shared_ptr<store::NewTransfer> t) {
        slot->state = IntakeSlot::State::kReady;
        if (ok && t) {
          auto out = std::make_shared<store::AcceptOutcome>();
          std::optional<store::CursorUpdate> c;
          if (!cursor.empty()) c = store::CursorUpdate{network, "units", cursor};
          // The durable accept, with the source cursor, in the group's transaction.
          slot->op = [this, t, c, out](store::Store& s) { *out = s.accept(*t, c, now()); };
          slot->after = [this, network, t, out](bool committed) {
            if (!committed) return;  // not durable: the source keeps it and offers it again
            if (out->duplicate) {
              ++counters_.duplicates;
              log(LogLevel::kInfo, "unit-duplicate",
                  {{"network", network},
                   {"transfer", std::to_string(out->id)},
                   {"state", out->state},
                   {"found_by", out->same_unit ? "sequence-and-files" : "source-id"}});
            } else if (out->state != store::kAccepted) {
              ++counters_.refused;
              log(LogLevel::kInfo, "unit-refused",
                  {{"network", network},
                   {"transfer", std::to_string(out->id)},
                   {"reason", out->reason.empty() ? t->reason : out->reason}});
            } else {
              ++counters_.accepted;
              log(LogLevel::kInfo, "unit-accepted",
                  {{"network", network}, {"transfer", std::to_string(out->id)}});
            }
            pump_transfers();
            pump_notices();
          };
        }
        advance(lane);
      });
}

void Engine::on_receipt(const std::string& network, InboundReceipt receipt,
                        std::function<void(bool)> done) {
  const auto it = networks_.find(network);
  if (it == networks_.end()) {
    done(false);
    return;
  }
  IntakeLane& lane = it->second->receipts;
  auto slot = open_slot(lane, std::move(done));
  slot->state = IntakeSlot::State::kReady;
  if (!stopping_) {
    std::optional<store::CursorUpdate> c;
    if (!receipt.cursor.empty()) c = store::CursorUpdate{network, "receipts", receipt.cursor};
    auto id = std::make_shared<std::int64_t>(0);
    slot->op = [this, network, receipt = std::move(receipt), c, id](store::Store& s) {
      *id = s.record_receipt(network, receipt.remote_id, receipt_state_name(receipt.state),
                             receipt.reason, c, now())
                .value_or(0);
    };
    slot->after = [this, network, id](bool committed) {
      if (!committed) return;
      ++counters_.receipts;
      if (*id == 0) log(LogLevel::kWarning, "receipt-unknown-item", {{"network", network}});
      pump_notices();
    };
  }
  advance(lane);
}

std::shared_ptr<Engine::IntakeSlot> Engine::open_slot(IntakeLane& lane,
                                                      std::function<void(bool)> done) {
  auto slot = std::make_shared<IntakeSlot>();
  slot->done = std::move(done);
  lane.slots.push_back(slot);
  ++intake_in_flight_;
  return slot;
}

// Ready items go to the committer in hand-over order (never one before an earlier item that is
// still being admitted); answered items leave the lane from the front, so answers keep the order.
void Engine::advance(IntakeLane& lane) {
  bool earlier_queued = false;
  for (const auto& slot : lane.slots) {
    if (slot->state == IntakeSlot::State::kPending) break;
    earlier_queued |= slot->state == IntakeSlot::State::kQueued;
    if (slot->state != IntakeSlot::State::kReady) continue;
    // An item the source keeps (not ready to route) fails the lane from here on, but only once
    // the items before it are committed: failing the lane now would skip their queued commits
    // (a unit whose route is ready, followed by one whose route waits, must still be accepted).
    if (!lane.failed && !slot->op && earlier_queued) break;
    if (lane.failed || !slot->op) {
      slot->state = IntakeSlot::State::kDone;
      slot->ok = false;
      lane.failed = true;
      continue;
    }
    slot->state = IntakeSlot::State::kQueued;
    earlier_queued = true;
    commit(
        slot->op,
        [this, slot, &lane](bool ok) {
          slot->state = IntakeSlot::State::kDone;
          slot->ok = ok;
          if (!ok) lane.failed = true;
          advance(lane);
        },
        &lane);
  }
  while (!lane.slots.empty() && lane.slots.front()->state == IntakeSlot::State::kDone) {
    const auto slot = std::move(lane.slots.front());
    lane.slots.pop_front();
    --intake_in_flight_;
    if (slot->after) slot->after(slot->ok);
    slot->done(slot->ok);
  }
  if (lane.slots.empty()) lane.failed = false;
  maybe_finish_stop();
}

// ---- group commit -----------------------------------------------------------------------------

void Engine::commit(std::function<void(store::Store&)> op, std::function<void(bool)> then,
                    IntakeLane* lane) {
  commits_.push_back(Commit{std::move(op), std::move(then), lane});
  flush_commits();
}

// One group at a time: what queues up while a group commits goes into the next one, so under
// load a commit (and its fsync) carries many operations and when idle an operation waits for
// nothing. A group that fails is retried one operation at a time, so one bad operation fails
// alone (and, for intake, the items of its lane after it).
void Engine::flush_commits() {
  if (committing_ || commits_.empty()) return;
  auto group = std::make_shared<std::vector<Commit>>();
  while (!commits_.empty() && group->size() < options_.group_commit_max) {
    Commit c = std::move(commits_.front());
    commits_.pop_front();
    if (c.lane != nullptr && c.lane->failed) {
      boost::asio::post(io_, [alive = alive_, then = std::move(c.then)] {
        if (*alive) then(false);
      });
      continue;
    }
    group->push_back(std::move(c));
  }
  if (group->empty()) return;
  committing_ = true;
  boost::asio::post(pool_, [this, alive = alive_, group] {
    auto ok = std::make_shared<std::vector<char>>(group->size(), 1);
    const auto error_of = [](auto&& run) -> std::optional<std::string> {
      try {
        run();
        return std::nullopt;
      } catch (const std::exception& e) {
        return std::string(e.what());
      }
    };
    auto& s = worker_store();
    const auto error = error_of([&] {
      s.batch([&] {
        for (auto& c : *group) c.op(s);
      });
    });
    if (error) {
      log(LogLevel::kWarning, "group-commit-failed",
          {{"operations", std::to_string(group->size())}, {"error", *error}});
      std::set<const IntakeLane*> failed_lanes;
      for (std::size_t i = 0; i < group->size(); ++i) {
        auto& c = (*group)[i];
        if (c.lane != nullptr && failed_lanes.count(c.lane)) {
          (*ok)[i] = 0;
          continue;
        }
        if (const auto e = error_of([&] { s.batch([&] { c.op(s); }); })) {
          (*ok)[i] = 0;
          if (c.lane != nullptr) failed_lanes.insert(c.lane);
          log(LogLevel::kError, "worker-failed", {{"error", *e}});
        }
      }
    }
    boost::asio::post(io_, [this, alive, group, ok, failed = error.has_value()] {
      if (!*alive) return;
      committing_ = false;
      ++counters_.commit_groups;
      counters_.commit_operations += static_cast<std::int64_t>(group->size());
      if (failed) ++counters_.commit_group_failures;
      for (std::size_t i = 0; i < group->size(); ++i) (*group)[i].then((*ok)[i] != 0);
      flush_commits();
      maybe_finish_stop();
    });
  });
}

// ---- delivery ---------------------------------------------------------------------------------

void LatencyHistogram::observe(double seconds) {
  for (std::size_t i = 0; i < std::size(kBounds); ++i) {
    if (seconds <= kBounds[i]) ++buckets[i];
  }
  ++count;
  sum += seconds;
}

std::vector<NetworkStatus> Engine::network_status() const {
  std::vector<NetworkStatus> out;
  for (const auto& [name, n] : networks_) {
    NetworkStatus s;
    s.name = name;
    if (const auto b = breakers_.find(name); b != breakers_.end()) {
      s.failures = b->second.failures;
      s.open_until = b->second.open_until > now() ? b->second.open_until : 0;
      s.last_success = b->second.last_success;
      s.last_failure = b->second.last_failure;
      s.failing_since = b->second.failures > 0 ? b->second.failing_since : 0;
      s.operator_refusals = b->second.operator_refusals;
      s.last_operator_refusal = b->second.last_operator_refusal;
      s.last_operator_refusal_reason = b->second.last_operator_refusal_reason;
    }
    s.directory_loaded = router_.ready({name});
    out.push_back(std::move(s));
  }
  return out;
}

std::vector<std::string> Engine::paused_destinations() const {
  std::vector<std::string> paused;
  const auto t = now();
  for (const auto& [name, b] : breakers_) {
    if (b.open_until > t) paused.push_back(name);
  }
  return paused;
}

std::int64_t Engine::backoff(std::int64_t attempts) const {
  const double base = static_cast<double>(options_.backoff_initial.count());
  const double cap = static_cast<double>(options_.backoff_max.count());
  const double exp = std::min(
      cap, base * std::pow(2.0, static_cast<double>(std::min<std::int64_t>(attempts, 30))));
  thread_local std::mt19937_64 rng{std::random_device{}()};
  std::uniform_real_distribution<double> jitter(0.8, 1.2);  // spreads retries of a burst
  return static_cast<std::int64_t>(exp * jitter(rng));
}

void Engine::pump_transfers() {
  if (claiming_ || stopping_ || in_flight_ >= options_.max_in_flight) return;
  claiming_ = true;
  const std::size_t room = options_.max_in_flight - in_flight_;
  auto paused = paused_destinations();
  on_worker(
      [this, room, paused](store::Store& s) {
        return s.claim_transfers(options_.instance_id, now(), options_.lease.count(), room, paused);
      },
      [this, room](bool ok, std::vector<store::Transfer> claimed) {
        claiming_ = false;
        if (!ok) return maybe_finish_stop();
        std::map<std::string, std::shared_ptr<const mapping::cms::Credential>> cosigners;
        std::shared_ptr<const mapping::cms::Credential> receipt_signer;
        {
          std::lock_guard lock(credentials_mutex_);
          for (auto& [name, n] : networks_) cosigners[name] = n->binding.cosigner;
          receipt_signer = receipt_signer_;
        }
        const bool full = claimed.size() >= room;
        for (auto& t : claimed) {
          ++in_flight_;  // until its outcome is committed
          const auto cosigner = cosigners.find(t.dest_adapter);
          translate_claimed(std::move(t), cosigner == cosigners.end() ? nullptr : cosigner->second,
                            receipt_signer);
        }
        if (full) pump_transfers();
        maybe_finish_stop();
      });
}

// Each claimed transfer is translated by its own worker task (co-signature and receipt: the
// private-key work), then its first translation is kept before it is sent.
void Engine::translate_claimed(store::Transfer t,
                               std::shared_ptr<const mapping::cms::Credential> cosigner,
                               std::shared_ptr<const mapping::cms::Credential> receipt_signer) {
  const std::int64_t id = t.id;
  const auto net = networks_.find(t.dest_adapter);
  const std::optional<EnvelopeForm> form =
      net == networks_.end() ? std::nullopt : std::optional(net->second->binding.outbound_form);
  on_worker(
      [this, t = std::move(t), form, cosigner, receipt_signer](store::Store&) {
        Prepared p;
        p.transfer = t;
        p.transfer.payload.clear();
        p.transfer.outbound.clear();
        // A retry resends the translation made for the first attempt, byte for byte.
        if (!t.outbound.empty()) {
          const auto sealed = cipher_.open(t.outbound);
          const auto sent = sealed ? deserialize_translation(*sealed) : std::nullopt;
          if (sent) {
            p.translation = Translation{sent->unit, sent->receipt_der, sent->inbound_sha256,
                                        sent->outbound_sha256};
            return p;
          }
        }
        const auto plain = cipher_.open(t.payload);
        const auto unit = plain ? deserialize_unit(*plain) : std::nullopt;
        if (!unit) {
          p.failure = "stored payload cannot be opened (key changed or data damaged)";
        } else if (!form) {
          p.failure = "destination network " + t.dest_adapter + " is not configured";
        } else if (!receipt_signer) {
          p.failure = "no translation receipt signer is configured";
        } else {
          auto tr =
              translate(*unit, *form, std::to_string(t.id), t.idempotency_key, t.unit_kind,
                        cosigner.get(), *receipt_signer, static_cast<std::time_t>(now() / 1000));
          if (auto* ok = std::get_if<Translation>(&tr)) {
            p.translation = std::move(*ok);
            p.sealed = cipher_.seal(serialize_translation(
                {p.translation->unit, p.translation->receipt_der, p.translation->inbound_sha256,
                 p.translation->outbound_sha256}));
          } else {
            p.failure = "translation failed: " + std::get<TranslationError>(tr).message;
          }
        }
        return p;
      },
      [this, id](bool ok, Prepared p) {
        if (!ok) {
          // Lease kept: the transfer is claimed again when it ends.
          --in_flight_;
          log(LogLevel::kError, "translation-crashed", {{"transfer", std::to_string(id)}});
          return maybe_finish_stop();
        }
        if (!p.failure.empty()) {
          const std::string failure = p.failure;
          return commit(
              [this, id, failure](store::Store& s) { s.park(id, failure, "engine", now()); },
              [this, id, failure](bool committed) {
                --in_flight_;
                if (committed) {
                  ++counters_.parked;
                  log(LogLevel::kError, "transfer-parked",
                      {{"transfer", std::to_string(id)}, {"reason", failure}});
                }
                pump_transfers();
                maybe_finish_stop();
              });
        }
        if (p.sealed.empty()) return deliver(std::move(p));
        auto shared = std::make_shared<Prepared>(std::move(p));
        commit(
            [id, shared](store::Store& s) { s.save_outbound(id, shared->sealed); },
            [this, id, shared](bool committed) {
              if (!committed) {
                // Not sent: a retry must resend exactly what was kept. Claimed again later.
                --in_flight_;
                log(LogLevel::kError, "translation-not-kept", {{"transfer", std::to_string(id)}});
                return maybe_finish_stop();
              }
              shared->sealed.clear();
              deliver(std::move(*shared));
            });
      });
}

void Engine::deliver(Prepared p) {
  auto& net = *networks_.at(p.transfer.dest_adapter);
  OutboundUnit out = p.translation->unit;
  auto shared = std::make_shared<Prepared>(std::move(p));
  net.adapter->send(std::move(out), [this, alive = alive_, shared](SendResult r) {
    if (!*alive) return;
    finish_delivery(*shared, std::move(r));
  });
}

void Engine::finish_delivery(const Prepared& p, SendResult r) {
  const auto& t = p.transfer;
  auto& breaker = breakers_[t.dest_adapter];
  const std::int64_t at = now();
  enum class Action { kDelivered, kRefused, kRetry, kRelease, kPark };
  Action action = Action::kRetry;
  std::int64_t next = at;
  std::string error = r.error_code + (r.message.empty() ? "" : ": " + r.message);
  switch (r.status) {
    case SendResult::Status::kAccepted:
      breaker.failures = 0;  // closed again (what the network refused before stays counted)
      breaker.open_until = 0;
      breaker.failing_since = 0;
      breaker.last_success = at;
      action = Action::kDelivered;
      latency_[t.direction].observe(static_cast<double>(at - t.created_at) / 1000.0);
      break;
    case SendResult::Status::kRejected:
      breaker.failures = 0;
      breaker.last_success = at;
      action = Action::kRefused;
      break;
    case SendResult::Status::kRetry:
      if (breaker.failures == 0) breaker.failing_since = at;
      breaker.last_failure = at;
      ++breaker.failures;
      if (r.retry_after) {
        // Maintenance or rate limit: pause the whole network, do not burn an attempt.
        breaker.open_until = std::max(breaker.open_until, at + r.retry_after->count() * 1000);
        action = Action::kRelease;
        next = breaker.open_until;
      } else if (breaker.open_until > at) {
        action = Action::kRelease;
        next = breaker.open_until;
      } else {
        if (breaker.failures >= options_.breaker_failures) {
          breaker.open_until = at + options_.breaker_cooldown.count();
          log(LogLevel::kWarning, "circuit-open",
              {{"network", t.dest_adapter}, {"until_ms", std::to_string(breaker.open_until)}});
        }
        if (t.attempts + 1 >= options_.max_attempts) {
          action = Action::kPark;
          // Counted and parked in two commits: never claimable in between (a re-drive sets the
          // next attempt again).
          next = std::numeric_limits<std::int64_t>::max();
        } else {
          action = Action::kRetry;
          next = at + backoff(t.attempts);
        }
      }
      break;
  }
  auto held = std::make_shared<bool>(true);  // false: the lease was lost, nothing written
  commit(
      [this, t, action, next, error, at, held, r,
       receipt = p.translation ? base64(p.translation->receipt_der) : std::string(),
       digests = p.translation
                     ? p.translation->inbound_sha256 + " -> " + p.translation->outbound_sha256
                     : std::string()](store::Store& s) {
        switch (action) {
          case Action::kDelivered:
            *held = s.mark_delivered(
                t.id, options_.instance_id, r.remote_id,
                "to " + t.dest_adapter + " as " + r.remote_id + "; envelope " + digests, at,
                receipt);
            break;
          case Action::kRefused: {
            const Refusal refusal = destination_refusal(r.error_code, r.message);
            s.reject_at_destination(t.id, refusal_summary({refusal}),
                                    refusal_text_ja({refusal}) + "（" + error + "）\n", at);
            break;
          }
          case Action::kRetry:
            *held = s.retry_later(t.id, options_.instance_id, next, error, at);
            break;
          case Action::kRelease:
            s.release(t.id, options_.instance_id, next, "paused: " + error, at);
            break;
          case Action::kPark:
            // Counted and parked in one transaction.
            *held =
                s.retry_later(t.id, options_.instance_id, next, error, at) &&
                s.park(t.id, "failed " + std::to_string(t.attempts + 1) + " times; last: " + error,
                       "engine", at);
            break;
        }
      },
      [this, t, action, error, held, r](bool committed) {
        --in_flight_;
        if (committed && !*held) {
          log(LogLevel::kWarning, "transfer-lease-lost",
              {{"transfer", std::to_string(t.id)}, {"network", t.dest_adapter}});
        } else if (committed) {
          switch (action) {
            case Action::kDelivered:
              ++counters_.delivered;
              log(LogLevel::kInfo, "transfer-delivered",
                  {{"transfer", std::to_string(t.id)}, {"network", t.dest_adapter}});
              break;
            case Action::kRefused: {
              ++counters_.destination_refused;
              const Refusal refusal = destination_refusal(r.error_code, r.message);
              log(LogLevel::kWarning, "transfer-refused-by-destination",
                  {{"transfer", std::to_string(t.id)},
                   {"network", t.dest_adapter},
                   {"code", refusal.code},
                   {"error", error}});
              if (needs_operator(
                      refusal)) {  // an operator alert (admin api): the sender cannot act
                auto& b = breakers_[t.dest_adapter];
                ++b.operator_refusals;
                b.last_operator_refusal = now();
                b.last_operator_refusal_reason = refusal.code + " " + error;
              }
              break;
            }
            case Action::kRetry:
              ++counters_.retries;
              break;
            case Action::kRelease:
              ++counters_.released;
              break;
            case Action::kPark:
              ++counters_.parked;
              log(LogLevel::kError, "transfer-parked",
                  {{"transfer", std::to_string(t.id)}, {"reason", error}});
              break;
          }
        }
        pump_transfers();
        pump_notices();
        maybe_finish_stop();
      });
}

// ---- receipts and rejections back to the sender ---------------------------------------------

void Engine::pump_notices() {
  if (claiming_notices_ || stopping_ || notices_in_flight_ >= options_.max_in_flight) return;
  claiming_notices_ = true;
  const std::size_t room = options_.max_in_flight - notices_in_flight_;
  on_worker(
      [this, room](store::Store& s) {
        return s.claim_notices(options_.instance_id, now(), options_.lease.count(), room);
      },
      [this](bool ok, std::vector<store::Notice> notices) {
        claiming_notices_ = false;
        if (!ok) return;
        for (auto& n : notices) {
          const auto net = networks_.find(n.adapter);
          if (net == networks_.end()) continue;
          ++notices_in_flight_;
          OutboundReceipt r;
          r.source_id = n.source_id;
          r.state = receipt_state_from(n.state);
          r.reason = n.reason;
          r.idempotency_key = n.idempotency_key;
          net->second->adapter->send_receipt(
              std::move(r), [this, alive = alive_, n](SendResult result) {
                if (!*alive) return;
                const bool done = result.status != SendResult::Status::kRetry;
                const std::int64_t next =
                    now() +
                    (result.retry_after ? result.retry_after->count() * 1000 : backoff(n.attempts));
                const std::string error = result.error_code + " " + result.message;
                commit(
                    [this, n, done, next, error](store::Store& s) {
                      if (done) {
                        s.notice_sent(n.id, now());
                      } else {
                        s.notice_retry(n.id, next, error, now());
                      }
                    },
                    [this, done](bool committed) {
                      --notices_in_flight_;
                      if (done && committed) ++counters_.notices_sent;
                      pump_notices();
                      maybe_finish_stop();
                    });
              });
        }
        maybe_finish_stop();
      });
}

// ---- stop -------------------------------------------------------------------------------------

void Engine::stop(std::function<void()> stopped) {
  if (stopping_) return;
  stopping_ = true;
  stopped_ = std::move(stopped);
  tick_timer_.cancel();
  log(LogLevel::kInfo, "engine-stopping", {{"in_flight", std::to_string(in_flight_)}});
  maybe_finish_stop();
}

void Engine::maybe_finish_stop() {
  if (!stopping_ || !stopped_) return;
  if (in_flight_ > 0 || notices_in_flight_ > 0 || intake_in_flight_ > 0 || claiming_ ||
      claiming_notices_ || committing_ || !commits_.empty())
    return;
  auto stopped = std::move(stopped_);
  stopped_ = nullptr;
  auto remaining = std::make_shared<std::size_t>(networks_.size());
  auto done = std::make_shared<std::function<void()>>(std::move(stopped));
  if (networks_.empty()) {
    (*done)();
    return;
  }
  for (auto& [name, n] : networks_) {
    n->adapter->stop([this, remaining, done] {
      if (--*remaining == 0) {
        log(LogLevel::kInfo, "engine-stopped",
            {{"delivered", std::to_string(counters_.delivered)}});
        (*done)();
      }
    });
  }
}

}  // namespace kakehashi::gateway::engine
