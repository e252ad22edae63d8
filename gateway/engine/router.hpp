#pragma once
// Where a recipient lives, for the engine: the office registry (mapping/registry) fed with each
// adapter's directory listing, behind a reader-writer lock so admission workers resolve while
// the engine refreshes. Entries the gateway published itself are never taken as native (no relay
// loops); an office on several networks goes to one, by preference and per-office overrides.

#include <atomic>
#include <cstdint>
#include <functional>
#include <optional>
#include <set>
#include <shared_mutex>
#include <string>
#include <vector>

#include "gateway/adapter/adapter.hpp"
#include "gateway/engine/refusal.hpp"
#include "mapping/registry/registry.hpp"

namespace kakehashi::gateway::engine {

// Codes the router adds beside refusal.hpp's for recipients it can never route.
namespace route_codes {
inline constexpr const char* kRecipientInvalidNumber = "RECIPIENT_INVALID_OFFICE_NO";
inline constexpr const char* kRecipientOutOfScope = "RECIPIENT_OUT_OF_SCOPE";
}  // namespace route_codes

// Whether a unit's route can be decided now (Router::ready_for), and if not, which network's
// directory it waits for.
struct Readiness {
  bool ready = false;
  std::string waiting_for;  // a network that has not answered yet ("" when ready)
};

struct RouteDecision {
  std::optional<std::string> adapter;  // the destination, when routable
  std::optional<Refusal> refusal;      // why not, otherwise
  std::int64_t registry_version = 0;   // the registry sync the decision used (0: none recorded)
};

// DirectoryEntry (adapter API) ↔ registry entry.
mapping::registry::SourceEntry to_source_entry(const DirectoryEntry& e);
DirectoryEntry to_directory_entry(const mapping::registry::SourceEntry& e);

class Router {
 public:
  // Adapter names in order of preference, for an office present on several networks.
  explicit Router(std::vector<std::string> preference);

  // A network's complete directory listing (replaces the previous one); the network counts as
  // loaded from now on.
  void update(const std::string& adapter, const std::vector<DirectoryEntry>& entries);
  // The registry service (gateway/registry) works on the registry itself, under the write lock;
  // `fn` must not call back into the router.
  void with_registry(const std::function<void(mapping::registry::Registry&)>& fn);
  // A network whose directory this process has fetched (what ready() waits for): a listing
  // loaded from the store at start is routable only once the network answered once.
  void mark_loaded(const std::string& adapter);
  // The registry version (the last recorded sync's id) that routing decisions now use.
  void set_registry_version(std::int64_t version);
  std::int64_t registry_version() const;
  // Preference and per-office overrides (config/registry-overrides.json).
  void set_policy(mapping::registry::Policy policy);
  // The offices the gateway published to `adapter`: seen there again, they are its own echoes.
  void set_published(const std::string& adapter,
                     const std::vector<mapping::registry::OfficeKey>& offices);

  bool ready(const std::vector<std::string>& adapters) const;  // every listing loaded at least once
  // Whether a unit from `source` to `recipient` can be routed now, `networks` being every
  // configured network (README, "Office registry and routing"): the source must have answered;
  // a route to D needs D answered, the recipient active there, and every network that has not
  // answered ranked below D for this office (after D in the preference, named by no override);
  // a refusal made from the number alone (check digit, service type) needs nothing more; any
  // other refusal (unknown, closed, suspended, same network) needs every network answered, since
  // one that has not may list the office.
  Readiness ready_for(const OfficeRef& recipient, const std::string& source,
                      const std::vector<std::string>& networks) const;
  RouteDecision resolve(const OfficeRef& recipient, const std::string& source_adapter) const;
  // Whether a facility of `adapter` holds the office, active (regional sender authorization).
  // True when the adapter's directory names no facilities at all (nothing to check against).
  bool facility_holds(const std::string& adapter, const std::string& facility,
                      const OfficeRef& office) const;
  // A sender without a facility (national): an active office native to `adapter`.
  mapping::registry::SenderCheck authorize_sender(const std::string& adapter,
                                                  const std::string& facility,
                                                  const OfficeRef& office) const;
  // Admission's sender check for a sender without a facility (the national network, folders):
  // nullopt when the office is active and native to `adapter`, else a refusal
  // (SENDER_UNKNOWN: not a member there, or only the gateway's own publication; SENDER_NOT_ACTIVE).
  std::optional<Refusal> check_sender(const std::string& adapter, const OfficeRef& office) const;
  std::optional<DirectoryEntry> lookup(const std::string& adapter, const OfficeRef& office) const;
  std::optional<mapping::registry::Office> office(const OfficeRef& office) const;
  std::size_t size(const std::string& adapter) const;
  // Bumped by every change that can make a route decidable or change it (a listing, a network
  // answering, the policy, the published offices, the registry service's own work): the engine
  // looks again at units awaiting their route when it moves. Any thread.
  std::uint64_t generation() const { return generation_.load(); }

 private:
  std::atomic<std::uint64_t> generation_{0};
  mutable std::shared_mutex mutex_;
  mapping::registry::Registry registry_;
  std::set<std::string> loaded_;
  std::int64_t registry_version_ = 0;
};

}  // namespace kakehashi::gateway::engine
