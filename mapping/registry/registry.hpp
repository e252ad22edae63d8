#pragma once
// The office registry: every network's directory merged into one table keyed by (office number,
// service type), with the home network that delivers each office, the conflicts between the
// listings, the routing and sender-authorization decisions made from it, what the gateway
// publishes to each network, and the diff each update makes. Pure: no I/O, no clock.

#include <cstddef>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "mapping/registry/office.hpp"
#include "mapping/registry/policy.hpp"
#include "mapping/registry/validation.hpp"

namespace kakehashi::mapping::registry {

enum class ConflictKind {
  kOnBothNetworks,      // native on several networks (delivered once, to the home)
  kNameMismatch,        // the names differ after normalisation
  kStatusMismatch,      // e.g. CLOSED on one network, ACTIVE on the other
  kUnknownServiceType,  // not a service type of the standard
  kInvalidCheckDigit,   // quarantined: never routed
  kUnknownStatus,       // a status the registry does not know
};
std::string_view to_string(ConflictKind kind);

struct Conflict {
  ConflictKind kind;
  OfficeKey key;
  std::vector<std::string> networks;  // where the disagreeing entries come from
  std::string detail;                 // English, for the command line and logs
  // The detail as values, for a reader that words it in its own language (the console): per
  // kind, the keys README "Office registry" lists (e.g. home, home_reason, status.<network>).
  std::vector<std::pair<std::string, std::string>> params;
};

// How one network lists an office, and what the registry made of that listing.
struct Presence {
  enum class Role {
    kNative,       // the office itself is a member there
    kPublished,    // the network marks it as a gateway's publication (never native)
    kEcho,         // unmarked, but the gateway publishes this office to that network: a loop
    kQuarantined,  // invalid office number
  };
  std::string network;
  Role role;
  SourceEntry entry;
};
std::string_view to_string(Presence::Role role);

// One merged office, as `kakehashi registry show` presents it.
struct Office {
  OfficeKey key;
  std::string home;         // the network that delivers it ("" when none may)
  std::string home_reason;  // "only network", "preference", "active side", "override: ..."
  std::string name;         // as the home network spells it
  std::string kana;
  std::string facility_id;  // the regional facility holding it
  std::string prefecture;
  OfficeStatus status = OfficeStatus::kUnknown;
  std::vector<Presence> presences;  // by network name
  std::vector<EntryProblem> problems;
  std::vector<Conflict> conflicts;
};

enum class RouteRefusal {
  kNone,
  kUnknown,  // in no directory (or only as the gateway's own publication)
  kClosed,
  kSuspended,  // also an unknown status: not receiving
  kInvalidCheckDigit,
  kOutOfLinkScope,  // service type unknown or outside the care-plan exchange
  kSameNetwork,     // its home is the sender's own network
  kLoop,            // only reachable back across the bridge it would come from
};
std::string_view to_string(RouteRefusal refusal);

struct Route {
  std::optional<std::string> network;  // the destination, when routable
  RouteRefusal refusal = RouteRefusal::kNone;
  std::string detail;  // English, for operators
};

struct SenderCheck {
  bool allowed = false;
  std::string detail;
};

enum class ChangeKind { kAdded, kRemoved, kChanged };
std::string_view to_string(ChangeKind kind);

struct FieldChange {
  std::string field;
  std::string before;
  std::string after;
};

struct Change {
  ChangeKind kind;
  OfficeKey key;
  std::vector<FieldChange> fields;  // every field for added/removed, the changed ones otherwise
};

struct Diff {
  std::vector<Change> changes;  // ordered by key
  std::size_t count(ChangeKind kind) const;
  void append(Diff other);
};

class Registry {
 public:
  explicit Registry(Policy policy = {});

  // A network's complete listing (replaces what it listed before).
  Diff replace(const std::string& network, const std::vector<SourceEntry>& entries);
  // Entries a network reports as changed since its last listing (incremental sync).
  Diff upsert(const std::string& network, const std::vector<SourceEntry>& changed);
  // The offices the gateway published to `network`. `listing_flags_publication`: the network
  // lists them flagged as the gateway's (the regional external directory), so an unflagged entry
  // there is the network's own listing, native even for an office the gateway also publishes
  // (an office that joined that network). Otherwise (the national office master) an unflagged
  // entry of a published office is the gateway's own echo, never native.
  Diff set_published(const std::string& network, const std::vector<OfficeKey>& offices,
                     bool listing_flags_publication = false);
  bool flags_publication(const std::string& network) const { return flagging_.count(network) != 0; }
  Diff set_policy(Policy policy);

  bool has_network(const std::string& network) const { return sources_.count(network) != 0; }
  std::vector<std::string> networks() const;
  std::size_t size() const { return records_.size(); }
  std::size_t size(const std::string& network) const;
  const std::unordered_map<OfficeKey, SourceEntry, OfficeKeyHash>* source(
      const std::string& network) const;
  const Policy& policy() const { return policy_; }

  std::optional<Office> find(const OfficeKey& key) const;
  std::vector<OfficeKey> keys_of(const std::string& office_no) const;  // every service type
  std::vector<Conflict> conflicts() const;                             // ordered by key
  // Offices that a network lists only because the gateway published them there (unflagged
  // echoes of its own publication): never conflicts, counted here for one summary line.
  std::size_t echoes() const;

  // Where a unit from `source` to `recipient` goes: exactly one network, or a refusal.
  Route route(const OfficeKey& recipient, const std::string& source) const;
  // Whether a sender on `network` may send as `office`: with a facility (regional members),
  // only as an active office listed under that facility; without one (national senders), only
  // as an active office native to that network.
  SenderCheck authorize_sender(const std::string& network, const std::string& facility,
                               const OfficeKey& office) const;
  // Whether the network lists any facility (the folder and national listings do not).
  bool lists_facilities(const std::string& network) const;

  // What the gateway publishes to `target`: the offices it reaches elsewhere (home on another
  // network, not native on `target`, service type in link scope), in key order.
  std::vector<SourceEntry> publication_for(const std::string& target, bool active_only) const;

 private:
  struct Record {  // what listing and publishing need without rebuilding the office
    std::string home;
    bool conflicted = false;
    bool echoed = false;  // some network lists it as an echo of the gateway's publication
  };
  using Table = std::unordered_map<OfficeKey, SourceEntry, OfficeKeyHash>;

  // Re-derives the touched offices and returns what changed for them.
  Diff refresh(std::vector<OfficeKey> touched, const std::map<OfficeKey, Office>& before);
  std::optional<Office> build(const OfficeKey& key) const;
  Presence::Role role_of(const std::string& network, const SourceEntry& e) const;
  std::map<OfficeKey, Office> snapshot(const std::vector<OfficeKey>& keys) const;

  Policy policy_;
  std::map<std::string, Table> sources_;
  std::map<std::string, std::unordered_set<OfficeKey, OfficeKeyHash>> published_;
  std::set<std::string> flagging_;  // networks whose listing flags the gateway's publication
  std::unordered_map<OfficeKey, Record, OfficeKeyHash> records_;
  std::map<std::string, std::size_t> facility_entries_;
};

// One entry per office of a network's listing. A network may list an office twice, as its own
// member and as the gateway's publication (an office that joined it while the gateway still
// published it there): its own (unflagged) entry wins; otherwise the last one listed.
std::vector<SourceEntry> one_entry_per_office(const std::vector<SourceEntry>& entries);

// Field name → value of an office, as diffs compare them (home, name, kana, facility, ...).
std::vector<std::pair<std::string, std::string>> office_fields(const Office& office);
Diff diff_offices(const std::optional<Office>& before, const std::optional<Office>& after);

}  // namespace kakehashi::mapping::registry
