#include "gateway/engine/router.hpp"

#include <algorithm>

namespace kakehashi::gateway::engine {

Router::Router(std::vector<std::string> preference) : preference_(std::move(preference)) {}

std::shared_ptr<const Router::Snapshot> Router::snapshot() const {
  std::lock_guard lock(mutex_);
  return snapshot_;
}

void Router::update(const std::string& adapter, const std::vector<DirectoryEntry>& entries) {
  auto next = std::make_shared<Snapshot>(*snapshot());
  auto& table = (*next)[adapter];
  table.clear();
  for (const auto& e : entries) table[key(e.office)] = e;
  std::lock_guard lock(mutex_);
  snapshot_ = std::move(next);
}

bool Router::ready(const std::vector<std::string>& adapters) const {
  const auto s = snapshot();
  return std::all_of(adapters.begin(), adapters.end(),
                     [&](const std::string& a) { return s->count(a) != 0; });
}

RouteDecision Router::resolve(const OfficeRef& recipient, const std::string& source) const {
  const auto s = snapshot();
  std::vector<std::string> order = preference_;
  for (const auto& [name, table] : *s) {
    if (std::find(order.begin(), order.end(), name) == order.end()) order.push_back(name);
  }
  std::optional<DirectoryEntry> inactive;
  bool native_to_source = false;
  for (const auto& name : order) {
    const auto t = s->find(name);
    if (t == s->end()) continue;
    const auto e = t->second.find(key(recipient));
    if (e == t->second.end() || e->second.published_by_gateway) continue;
    if (name == source) {
      native_to_source = true;
      continue;
    }
    if (e->second.status == "ACTIVE") return {name, std::nullopt};
    inactive = e->second;
  }
  Refusal r;
  r.field = "送信先事業所";
  if (inactive) {
    r.code = refusal_codes::kRecipientNotActive;
    r.detail = "recipient " + key(recipient) + " is " + inactive->status;
  } else if (native_to_source) {
    r.code = refusal_codes::kRecipientSameNetwork;
    r.detail = "recipient " + key(recipient) + " is on the sender's own network";
  } else {
    r.code = refusal_codes::kRecipientUnknown;
    r.detail = "recipient " + key(recipient) + " is in no directory the gateway reaches";
  }
  return {std::nullopt, r};
}

bool Router::facility_holds(const std::string& adapter, const std::string& facility,
                            const OfficeRef& office) const {
  const auto s = snapshot();
  const auto t = s->find(adapter);
  if (t == s->end()) return false;
  const bool any_facility = std::any_of(t->second.begin(), t->second.end(), [](const auto& kv) {
    return !kv.second.facility_id.empty();
  });
  if (!any_facility) return true;
  const auto e = t->second.find(key(office));
  return e != t->second.end() && !e->second.published_by_gateway && e->second.facility_id == facility;
}

std::optional<DirectoryEntry> Router::lookup(const std::string& adapter, const OfficeRef& office) const {
  const auto s = snapshot();
  const auto t = s->find(adapter);
  if (t == s->end()) return std::nullopt;
  const auto e = t->second.find(key(office));
  if (e == t->second.end()) return std::nullopt;
  return e->second;
}

std::size_t Router::size(const std::string& adapter) const {
  const auto s = snapshot();
  const auto t = s->find(adapter);
  return t == s->end() ? 0 : t->second.size();
}

}  // namespace kakehashi::gateway::engine
