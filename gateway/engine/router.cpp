#include "gateway/engine/router.hpp"

#include <algorithm>
#include <mutex>

namespace kakehashi::gateway::engine {

namespace reg = mapping::registry;

reg::SourceEntry to_source_entry(const DirectoryEntry& e) {
  reg::SourceEntry s;
  s.key = {e.office.office_no, e.office.service_type};
  s.name = e.name;
  s.kana = e.kana;
  s.facility_id = e.facility_id;
  s.prefecture = e.prefecture;
  s.status = reg::parse_status(e.status);
  s.updated_at = e.updated_at;
  s.published_by_gateway = e.published_by_gateway;
  return s;
}

DirectoryEntry to_directory_entry(const reg::SourceEntry& s) {
  DirectoryEntry e;
  e.office = {s.key.office_no, s.key.service_type};
  e.name = s.name;
  e.kana = s.kana;
  e.facility_id = s.facility_id;
  e.prefecture = s.prefecture;
  e.status = std::string(reg::to_string(s.status));
  e.updated_at = s.updated_at;
  e.published_by_gateway = s.published_by_gateway;
  return e;
}

Router::Router(std::vector<std::string> preference)
    : registry_(reg::Policy{std::move(preference), {}}) {}

void Router::update(const std::string& adapter, const std::vector<DirectoryEntry>& entries) {
  std::vector<reg::SourceEntry> converted;
  converted.reserve(entries.size());
  for (const auto& e : entries) converted.push_back(to_source_entry(e));
  std::unique_lock lock(mutex_);
  (void)registry_.replace(adapter, converted);
  loaded_.insert(adapter);
  ++generation_;
}

void Router::with_registry(const std::function<void(reg::Registry&)>& fn) {
  std::unique_lock lock(mutex_);
  fn(registry_);
  ++generation_;
}

void Router::mark_loaded(const std::string& adapter) {
  std::unique_lock lock(mutex_);
  loaded_.insert(adapter);
  ++generation_;
}

void Router::set_registry_version(std::int64_t version) {
  std::unique_lock lock(mutex_);
  registry_version_ = version;
  ++generation_;
}

std::int64_t Router::registry_version() const {
  std::shared_lock lock(mutex_);
  return registry_version_;
}

void Router::set_policy(reg::Policy policy) {
  std::unique_lock lock(mutex_);
  (void)registry_.set_policy(std::move(policy));
  ++generation_;
}

void Router::set_published(const std::string& adapter, const std::vector<reg::OfficeKey>& offices) {
  std::unique_lock lock(mutex_);
  (void)registry_.set_published(adapter, offices);
  ++generation_;
}

bool Router::ready(const std::vector<std::string>& adapters) const {
  std::shared_lock lock(mutex_);
  for (const auto& a : adapters) {
    if (loaded_.count(a) == 0 || !registry_.has_network(a)) return false;
  }
  return true;
}

Readiness Router::ready_for(const OfficeRef& recipient, const std::string& source,
                            const std::vector<std::string>& networks) const {
  const reg::OfficeKey key{recipient.office_no, recipient.service_type};
  std::shared_lock lock(mutex_);
  const auto answered = [this](const std::string& n) {
    return loaded_.count(n) != 0 && registry_.has_network(n);
  };
  std::vector<std::string> waiting;
  for (const auto& n : networks) {
    if (!answered(n)) waiting.push_back(n);
  }
  if (waiting.empty()) return {true, ""};
  if (!answered(source)) return {false, source};
  const auto route = registry_.route(key, source);
  switch (route.refusal) {
    case reg::RouteRefusal::kInvalidCheckDigit:
    case reg::RouteRefusal::kOutOfLinkScope:
      return {true, ""};  // decided by the number alone
    case reg::RouteRefusal::kNone:
    case reg::RouteRefusal::kSameNetwork:
      break;
    default:
      return {false, waiting.front()};  // a network that has not answered may list it
  }
  // The network that delivers it now: the destination, or the source itself (same network).
  const std::string home = route.network ? *route.network : source;
  if (!answered(home)) return {false, home};
  const auto office = registry_.find(key);
  if (!office || office->status != reg::OfficeStatus::kActive) return {false, waiting.front()};
  // A network that has not answered takes the office from `home` only if the office is native
  // and active there and that network ranks above `home` for it: an override naming it, or an
  // earlier place in the preference (or `home` in no place at all).
  const auto& policy = registry_.policy();
  const auto ov = policy.overrides.find(key);
  const auto rank = [&](const std::string& n) {
    const auto it = std::find(policy.preference.begin(), policy.preference.end(), n);
    return static_cast<std::size_t>(it - policy.preference.begin());
  };
  const bool home_overridden = ov != policy.overrides.end() && ov->second.network == home;
  for (const auto& n : waiting) {
    if (home_overridden) break;
    const bool overridden = ov != policy.overrides.end() && ov->second.network == n;
    if (overridden || rank(home) == policy.preference.size() || rank(n) < rank(home))
      return {false, n};
  }
  return {true, ""};
}

RouteDecision Router::resolve(const OfficeRef& recipient, const std::string& source) const {
  reg::Route route;
  std::int64_t version = 0;
  {
    std::shared_lock lock(mutex_);
    route = registry_.route({recipient.office_no, recipient.service_type}, source);
    version = registry_version_;
  }
  if (route.network) return {route.network, std::nullopt, version};
  Refusal r;
  r.field = "送信先事業所";
  r.detail = route.detail;
  switch (route.refusal) {
    case reg::RouteRefusal::kClosed:
    case reg::RouteRefusal::kSuspended:
      r.code = refusal_codes::kRecipientNotActive;
      break;
    case reg::RouteRefusal::kSameNetwork:
      r.code = refusal_codes::kRecipientSameNetwork;
      break;
    case reg::RouteRefusal::kInvalidCheckDigit:
      r.code = route_codes::kRecipientInvalidNumber;
      break;
    case reg::RouteRefusal::kOutOfLinkScope:
      r.code = route_codes::kRecipientOutOfScope;
      break;
    // A loop is, for the sender, an office the gateway cannot reach.
    case reg::RouteRefusal::kLoop:
    case reg::RouteRefusal::kUnknown:
    case reg::RouteRefusal::kNone:
      r.code = refusal_codes::kRecipientUnknown;
      break;
  }
  return {std::nullopt, r, version};
}

bool Router::facility_holds(const std::string& adapter, const std::string& facility,
                            const OfficeRef& office) const {
  std::shared_lock lock(mutex_);
  if (!registry_.has_network(adapter)) return false;
  if (!registry_.lists_facilities(adapter)) return true;
  return registry_.authorize_sender(adapter, facility, {office.office_no, office.service_type})
      .allowed;
}

reg::SenderCheck Router::authorize_sender(const std::string& adapter, const std::string& facility,
                                          const OfficeRef& office) const {
  std::shared_lock lock(mutex_);
  return registry_.authorize_sender(adapter, facility, {office.office_no, office.service_type});
}

std::optional<Refusal> Router::check_sender(const std::string& adapter,
                                            const OfficeRef& office) const {
  const reg::OfficeKey key{office.office_no, office.service_type};
  reg::SenderCheck check;
  bool listed_native = false;
  {
    std::shared_lock lock(mutex_);
    check = registry_.authorize_sender(adapter, "", key);
    if (!check.allowed) {
      // Listed there as a member, but not active: a different refusal from "not a member".
      if (const auto o = registry_.find(key)) {
        for (const auto& p : o->presences)
          listed_native |= p.network == adapter && p.role == reg::Presence::Role::kNative;
      }
    }
  }
  if (check.allowed) return std::nullopt;
  Refusal r;
  r.code = listed_native ? refusal_codes::kSenderNotActive : refusal_codes::kSenderUnknown;
  r.field = "送信元事業所";
  r.detail = check.detail;
  return r;
}

std::optional<DirectoryEntry> Router::lookup(const std::string& adapter,
                                             const OfficeRef& office) const {
  std::shared_lock lock(mutex_);
  const auto* table = registry_.source(adapter);
  if (!table) return std::nullopt;
  const auto it = table->find({office.office_no, office.service_type});
  if (it == table->end()) return std::nullopt;
  return to_directory_entry(it->second);
}

std::optional<reg::Office> Router::office(const OfficeRef& office) const {
  std::shared_lock lock(mutex_);
  return registry_.find({office.office_no, office.service_type});
}

std::size_t Router::size(const std::string& adapter) const {
  std::shared_lock lock(mutex_);
  return registry_.size(adapter);
}

}  // namespace kakehashi::gateway::engine
