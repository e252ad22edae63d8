#pragma once
// Where a recipient lives: one directory snapshot per adapter (the national office master, the
// regional directory, a folder's own offices), and the routing decision made from them. Entries
// the gateway published itself are never taken as native (no relay loops). The full registry
// reconciliation (conflicts, overrides, sync history) builds on this.

#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "gateway/adapter/adapter.hpp"
#include "gateway/engine/refusal.hpp"

namespace kakehashi::gateway::engine {

struct RouteDecision {
  std::optional<std::string> adapter;  // the destination, when routable
  std::optional<Refusal> refusal;      // why not, otherwise
};

class Router {
 public:
  // Adapter names in order of preference, for an office present on several networks.
  explicit Router(std::vector<std::string> preference);

  void update(const std::string& adapter, const std::vector<DirectoryEntry>& entries);
  bool ready(const std::vector<std::string>& adapters) const;  // every snapshot loaded at least once
  RouteDecision resolve(const OfficeRef& recipient, const std::string& source_adapter) const;
  // Whether a facility of `adapter` holds the office (regional sender authorization). True when
  // the adapter's directory names no facilities at all (nothing to check against).
  bool facility_holds(const std::string& adapter, const std::string& facility,
                      const OfficeRef& office) const;
  std::optional<DirectoryEntry> lookup(const std::string& adapter, const OfficeRef& office) const;
  std::size_t size(const std::string& adapter) const;

 private:
  using Snapshot = std::map<std::string, std::map<std::string, DirectoryEntry>>;  // adapter → key
  std::shared_ptr<const Snapshot> snapshot() const;
  static std::string key(const OfficeRef& o) { return o.office_no + "/" + o.service_type; }

  std::vector<std::string> preference_;
  mutable std::mutex mutex_;
  std::shared_ptr<const Snapshot> snapshot_ = std::make_shared<Snapshot>();
};

}  // namespace kakehashi::gateway::engine
