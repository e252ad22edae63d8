#pragma once
// The relay engine: takes units from every adapter (intake → admission → durable accept → ack),
// delivers them to the destination network (route → translate → deliver → confirm) with retry,
// backoff, a circuit breaker per network and parking, and sends receipts and rejections back to
// the sender's network. All network calls run on the one io_context; admission, crypto and store
// work run on a worker pool, each worker with its own store connection.
//
// Pipeline. Adapters hand over up to `intake_window` items per network and kind at once
// (AdapterSink). Each unit's admission (signatures, CSV checks, routing) and each claimed
// transfer's translation (co-signature, translation receipt) is its own worker task, so both
// cores work. What must become durable goes through one group committer: whatever the workers
// made ready while the previous group was committing is written in one transaction (one fsync).
// Intake stays in hand-over order per network and kind (an intake lane): a unit is committed
// only after the ones handed over before it, with its cursor, and answered in that order.
//
// This class is the lifecycle and the wiring; each step has its own internal file beside it
// (intake_pipeline, group_committer, delivery, notice_sender; README.md has the map).

#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <iterator>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/thread_pool.hpp>

#include "gateway/adapter/adapter.hpp"
#include "gateway/engine/office_holds.hpp"
#include "gateway/engine/router.hpp"
#include "gateway/engine/translator.hpp"
#include "gateway/engine/unit_codec.hpp"
#include "gateway/store/store.hpp"
#include "mapping/careplan/inspector.hpp"
#include "mapping/cms/credential.hpp"
#include "mapping/cms/trust_domain.hpp"

namespace kakehashi::gateway::engine {

struct EngineOptions {
  std::string instance_id = "kakehashi";
  std::size_t workers = 2;
  std::size_t max_in_flight = 64;
  std::size_t intake_window = 32;      // items per network and kind handed over at once
  std::size_t group_commit_max = 256;  // operations per group-commit transaction at most
  std::int64_t max_attempts = 8;
  std::chrono::milliseconds backoff_initial{1000};
  std::chrono::milliseconds backoff_max{300000};
  std::int64_t breaker_failures = 5;
  std::chrono::milliseconds breaker_cooldown{30000};
  // Units held for their sender office (SendResult::hold_office) are offered again this often
  // while no "active" report comes (office_holds.hpp).
  std::chrono::milliseconds office_recheck{300000};
  std::chrono::milliseconds lease{300000};
  std::chrono::milliseconds tick{250};
  std::chrono::milliseconds directory_refresh{300000};
  // false: the engine never fetches directories itself; a registry service (gateway/registry)
  // feeds the router (`kakehashi run`).
  bool refresh_directories = true;
  std::chrono::milliseconds retention{std::chrono::hours(24 * 30)};
  // Evidence (the signed originals of a unit translated for the national side, its receipt) is
  // kept this long, apart from payloads (relay.evidence_retention, 3653 days).
  std::chrono::milliseconds evidence_retention{std::chrono::hours(24 * 3653)};
  mapping::InspectOptions inspect;
};

// One network the engine talks to through an adapter.
struct NetworkBinding {
  std::string name;  // the adapter instance name (config key)
  std::function<std::unique_ptr<Adapter>(AdapterContext)> make_adapter;
  EnvelopeForm outbound_form = EnvelopeForm::kDetached;
  std::shared_ptr<const mapping::cms::TrustDomain> trust;    // verifies what this network sends
  std::shared_ptr<const mapping::cms::Credential> cosigner;  // proxy co-signature (attached form)
  // Senders without a facility must be active offices native to this network (national).
  bool senders_must_be_members = false;
  // false: this network's units carry no signature (AdapterTraits::inbound_signed): admission
  // demands none and the engine signs the admitted files with `cosigner` (the proxy credential
  // the network section names) and records the gateway's attestation (README.md).
  bool inbound_signed = true;
};

using StoreFactory = std::function<std::unique_ptr<store::Store>()>;
using Clock = std::function<std::int64_t()>;  // milliseconds since the epoch

// Counters for progress displays and tests (read on the io thread or after stop).
struct EngineCounters {
  std::int64_t accepted = 0, refused = 0, duplicates = 0, delivered = 0, destination_refused = 0;
  std::int64_t retries = 0, released = 0, parked = 0, receipts = 0, notices_sent = 0;
  // Units put back because their sender office must wait (hold_office); offices' state reports;
  // notices to offices about themselves queued, and those their network could not take.
  std::int64_t held_for_office = 0, office_reports = 0, office_notices = 0,
               office_notices_refused = 0;
  // Units taken in awaiting their route (a directory had not answered), those routed later
  // (refused later ones count under `refused`), and the looks at them that completed.
  std::int64_t awaiting_route = 0, routed_later = 0, awaiting_route_looks = 0;
  // Group commit: transactions, the operations they carried, and groups that failed as a whole.
  std::int64_t commit_groups = 0, commit_operations = 0, commit_group_failures = 0;
};

// One network as the admin listener sees it (read on the io thread).
struct NetworkStatus {
  std::string name;
  std::int64_t failures = 0;      // consecutive failed deliveries
  std::int64_t open_until = 0;    // breaker open (deliveries paused) until, ms; 0 = closed
  std::int64_t last_success = 0;  // last time it answered a delivery, ms; 0 = never
  std::int64_t last_failure = 0;
  std::int64_t failing_since = 0;  // first failure since the last success; 0 = not failing
  bool directory_loaded = false;
  // Units this network refused for a reason the sender cannot fix (refusal.hpp needs_operator):
  // how many since start, the last one's time (ms, 0 = none) and its code and detail.
  std::int64_t operator_refusals = 0;
  std::int64_t last_operator_refusal = 0;
  std::string last_operator_refusal_reason;
};

// Accept → delivered latency, cumulative buckets in seconds (Prometheus histogram).
struct LatencyHistogram {
  static constexpr double kBounds[] = {1, 5, 15, 30, 60, 300, 900, 1800, 3600, 4 * 3600, 24 * 3600};
  std::uint64_t buckets[std::size(kBounds)] = {};  // count of observations <= each bound
  std::uint64_t count = 0;
  double sum = 0;
  void observe(double seconds);
};

struct EngineCore;
class GroupCommitter;
class IntakePipeline;
class Delivery;
class NoticeSender;
class AwaitingRoutes;

class Engine {
 public:
  Engine(boost::asio::io_context& io, EngineOptions options, StoreFactory stores,
         PayloadCipher cipher, std::shared_ptr<const mapping::cms::Credential> receipt_signer,
         std::vector<std::string> route_preference, Clock clock = {});
  ~Engine();
  Engine(const Engine&) = delete;
  Engine& operator=(const Engine&) = delete;

  void add_network(NetworkBinding binding);  // before start()
  void start();
  // Stops intake, lets in-flight deliveries finish, stops every adapter, then calls `stopped`.
  void stop(std::function<void()> stopped);

  // What each adapter's sink forwards to (on the io thread), with the adapter's name.
  void on_unit(const std::string& network, InboundUnit unit, std::function<void(bool)> done);
  void on_receipt(const std::string& network, InboundReceipt receipt,
                  std::function<void(bool)> done);

  // Swaps a network's trust domain and co-signing credential (SIGHUP: certificates rolled over).
  void reload_credentials(const std::string& network,
                          std::shared_ptr<const mapping::cms::TrustDomain> trust,
                          std::shared_ptr<const mapping::cms::Credential> cosigner);
  void reload_receipt_signer(std::shared_ptr<const mapping::cms::Credential> signer);

  const EngineCounters& counters() const;
  // For the admin listener (io thread): each network's breaker and reachability, and the relay
  // latency per direction since start.
  std::vector<NetworkStatus> network_status() const;
  const std::map<std::string, LatencyHistogram>& latency() const;
  Router& router();
  // The latest state each adapter reported for each of its offices (AdapterContext::office_state),
  // for the dashboard (io thread). The operator side of logins is each adapter's office_logins().
  std::vector<OfficeState> office_states() const;
  // An adapter's office report (what AdapterContext::office_state calls, on the io thread): logged,
  // kept, the office told on its own network when it enters a holding state, its outbound units
  // on `network` held, or released at once on "active".
  void on_office_state(const std::string& network, OfficeStateReport report);
  // A network's adapter once started (nullptr before start() or for an unknown name).
  Adapter* adapter(const std::string& network);
  // Refreshes every directory now (also runs periodically); `done` when all have answered.
  void refresh_directories(std::function<void()> done = {});

 private:
  void schedule_tick();
  void maybe_finish_stop();
  void renew_poll_leases();
  void tell_office(const std::string& network, const std::string& office);

  // The pipeline's parts (internal headers beside this one); the parts hold references to the
  // core, so they are declared after it (destroyed first).
  std::unique_ptr<EngineCore> core_;
  std::unique_ptr<GroupCommitter> committer_;
  std::unique_ptr<IntakePipeline> intake_;
  std::unique_ptr<Delivery> delivery_;
  std::unique_ptr<NoticeSender> notices_;
  std::unique_ptr<AwaitingRoutes> awaiting_;
  boost::asio::steady_timer tick_timer_;
  bool started_ = false;
  std::function<void()> stopped_;
  std::chrono::steady_clock::time_point last_directory_refresh_{};
  std::chrono::steady_clock::time_point last_purge_{};
  std::int64_t last_lease_renewal_ms_ = 0;
};

}  // namespace kakehashi::gateway::engine
