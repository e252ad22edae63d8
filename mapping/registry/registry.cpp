#include "mapping/registry/registry.hpp"

#include <algorithm>
#include <utility>

#include "mapping/careplan/check_digit.hpp"
#include "mapping/careplan/layout.hpp"
#include "mapping/registry/normalize.hpp"

namespace kakehashi::mapping::registry {

std::string_view to_string(ConflictKind kind) {
  switch (kind) {
    case ConflictKind::kOnBothNetworks:
      return "on_both_networks";
    case ConflictKind::kNameMismatch:
      return "name_mismatch";
    case ConflictKind::kStatusMismatch:
      return "status_mismatch";
    case ConflictKind::kUnknownServiceType:
      return "unknown_service_type";
    case ConflictKind::kInvalidCheckDigit:
      return "invalid_check_digit";
    case ConflictKind::kUnknownStatus:
      return "unknown_status";
  }
  return "?";
}

std::string_view to_string(Presence::Role role) {
  switch (role) {
    case Presence::Role::kNative:
      return "native";
    case Presence::Role::kPublished:
      return "published";
    case Presence::Role::kEcho:
      return "echo";
    case Presence::Role::kQuarantined:
      return "quarantined";
  }
  return "?";
}

std::string_view to_string(RouteRefusal refusal) {
  switch (refusal) {
    case RouteRefusal::kNone:
      return "none";
    case RouteRefusal::kUnknown:
      return "unknown";
    case RouteRefusal::kClosed:
      return "closed";
    case RouteRefusal::kSuspended:
      return "suspended";
    case RouteRefusal::kInvalidCheckDigit:
      return "invalid_check_digit";
    case RouteRefusal::kOutOfLinkScope:
      return "out_of_link_scope";
    case RouteRefusal::kSameNetwork:
      return "same_network";
    case RouteRefusal::kLoop:
      return "loop";
  }
  return "?";
}

std::string_view to_string(ChangeKind kind) {
  switch (kind) {
    case ChangeKind::kAdded:
      return "added";
    case ChangeKind::kRemoved:
      return "removed";
    case ChangeKind::kChanged:
      return "changed";
  }
  return "?";
}

std::size_t Diff::count(ChangeKind kind) const {
  return static_cast<std::size_t>(std::count_if(changes.begin(), changes.end(),
                                                [&](const Change& c) { return c.kind == kind; }));
}

namespace {

// `next` happened after `prev` to the same office within one sync: one change for both.
void merge_into(Change& prev, Change next) {
  const auto find = [](std::vector<FieldChange>& fields, const std::string& name) {
    return std::find_if(fields.begin(), fields.end(),
                        [&](const FieldChange& f) { return f.field == name; });
  };
  if (next.kind == ChangeKind::kRemoved) {
    if (prev.kind == ChangeKind::kAdded) {
      prev.fields.clear();  // came and went: no change at all
      prev.kind = ChangeKind::kChanged;
    } else {
      prev.kind = ChangeKind::kRemoved;
      prev.fields = std::move(next.fields);
    }
    return;
  }
  if (prev.kind == ChangeKind::kRemoved) {  // went and came back: what differs now
    prev.kind = ChangeKind::kChanged;
    for (auto& f : next.fields) {
      const auto was = find(prev.fields, f.field);
      f.before = was == prev.fields.end() ? "" : was->before;
    }
    prev.fields = std::move(next.fields);
  } else {
    for (auto& f : next.fields) {
      const auto was = find(prev.fields, f.field);
      if (was != prev.fields.end()) {
        was->after = f.after;
      } else if (prev.kind == ChangeKind::kChanged) {
        prev.fields.push_back(std::move(f));
      }
    }
  }
  if (prev.kind == ChangeKind::kChanged) {
    std::erase_if(prev.fields, [](const FieldChange& f) { return f.before == f.after; });
  }
}

}  // namespace

void Diff::append(Diff other) {
  std::map<OfficeKey, std::size_t> at;
  for (std::size_t i = 0; i < changes.size(); ++i) at.emplace(changes[i].key, i);
  for (auto& c : other.changes) {
    const auto it = at.find(c.key);
    if (it == at.end()) {
      at.emplace(c.key, changes.size());
      changes.push_back(std::move(c));
    } else {
      merge_into(changes[it->second], std::move(c));
    }
  }
  std::erase_if(changes,
                [](const Change& c) { return c.kind == ChangeKind::kChanged && c.fields.empty(); });
  std::stable_sort(changes.begin(), changes.end(),
                   [](const Change& a, const Change& b) { return a.key < b.key; });
}

namespace {

bool is_unflagged(Presence::Role r) {
  return r == Presence::Role::kNative || r == Presence::Role::kEcho;
}

std::string join(const std::vector<std::string>& parts, std::string_view sep) {
  std::string s;
  for (const auto& p : parts) {
    if (!s.empty()) s += sep;
    s += p;
  }
  return s;
}

}  // namespace

std::vector<std::pair<std::string, std::string>> office_fields(const Office& o) {
  std::vector<std::string> networks, versions, problems, conflicts;
  for (const auto& p : o.presences) {
    networks.push_back(p.network + ":" + std::string(to_string(p.role)));
    versions.push_back(p.network + "=" + p.entry.updated_at);
  }
  for (const auto p : o.problems) problems.emplace_back(to_string(p));
  for (const auto& c : o.conflicts) conflicts.emplace_back(to_string(c.kind));
  return {{"home", o.home},
          {"home_reason", o.home_reason},
          {"name", o.name},
          {"kana", o.kana},
          {"facility", o.facility_id},
          {"prefecture", o.prefecture},
          {"status", std::string(to_string(o.status))},
          {"networks", join(networks, " ")},
          {"versions", join(versions, " ")},
          {"problems", join(problems, ",")},
          {"conflicts", join(conflicts, ",")}};
}

Diff diff_offices(const std::optional<Office>& before, const std::optional<Office>& after) {
  Diff d;
  if (!before && !after) return d;
  // Added and removed offices carry the fields an operator reads first; the full record is one
  // `registry show` away. This keeps a first sync of 250,000 offices small.
  const auto brief = [](const Office& o, bool is_after) {
    std::vector<FieldChange> fields;
    for (auto& [k, v] : office_fields(o)) {
      if (k != "home" && k != "name" && k != "status" && k != "networks") continue;
      fields.push_back(is_after ? FieldChange{k, "", v} : FieldChange{k, v, ""});
    }
    return fields;
  };
  if (!before) {
    d.changes.push_back({ChangeKind::kAdded, after->key, brief(*after, true)});
  } else if (!after) {
    d.changes.push_back({ChangeKind::kRemoved, before->key, brief(*before, false)});
  } else {
    const auto b = office_fields(*before);
    const auto a = office_fields(*after);
    Change c{ChangeKind::kChanged, after->key, {}};
    for (std::size_t i = 0; i < a.size(); ++i) {
      if (a[i].second != b[i].second) c.fields.push_back({a[i].first, b[i].second, a[i].second});
    }
    if (!c.fields.empty()) d.changes.push_back(std::move(c));
  }
  return d;
}

Registry::Registry(Policy policy) : policy_(std::move(policy)) {}

std::vector<std::string> Registry::networks() const {
  std::vector<std::string> out;
  for (const auto& [n, t] : sources_) out.push_back(n);
  return out;
}

std::size_t Registry::size(const std::string& network) const {
  const auto it = sources_.find(network);
  return it == sources_.end() ? 0 : it->second.size();
}

const std::unordered_map<OfficeKey, SourceEntry, OfficeKeyHash>* Registry::source(
    const std::string& network) const {
  const auto it = sources_.find(network);
  return it == sources_.end() ? nullptr : &it->second;
}

bool Registry::lists_facilities(const std::string& network) const {
  const auto it = facility_entries_.find(network);
  return it != facility_entries_.end() && it->second > 0;
}

Presence::Role Registry::role_of(const std::string& network, const SourceEntry& e) const {
  if (!is_valid_office_number(e.key.office_no)) return Presence::Role::kQuarantined;
  if (e.published_by_gateway) return Presence::Role::kPublished;
  // The network flags what the gateway published: an unflagged entry is its own member.
  if (flagging_.count(network) != 0) return Presence::Role::kNative;
  const auto p = published_.find(network);
  if (p != published_.end() && p->second.count(e.key) != 0) return Presence::Role::kEcho;
  return Presence::Role::kNative;
}

std::optional<Office> Registry::build(const OfficeKey& key) const {
  Office o;
  o.key = key;
  for (const auto& [network, table] : sources_) {
    const auto it = table.find(key);
    if (it != table.end())
      o.presences.push_back({network, role_of(network, it->second), it->second});
  }
  if (o.presences.empty()) return std::nullopt;
  for (const auto p : validate(o.presences.front().entry)) {
    if (p != EntryProblem::kUnknownStatus) o.problems.push_back(p);
  }

  std::vector<const Presence*> native, unflagged, quarantined;
  for (const auto& p : o.presences) {
    if (p.role == Presence::Role::kNative) native.push_back(&p);
    if (is_unflagged(p.role)) unflagged.push_back(&p);
    if (p.role == Presence::Role::kQuarantined) quarantined.push_back(&p);
    if (p.role != Presence::Role::kQuarantined && p.entry.status == OfficeStatus::kUnknown &&
        std::find(o.problems.begin(), o.problems.end(), EntryProblem::kUnknownStatus) ==
            o.problems.end()) {
      o.problems.push_back(EntryProblem::kUnknownStatus);
    }
  }

  // The home: an operator's override when the office is native there; otherwise the preferred
  // network among those where it is active (closed on one side, active on the other: the
  // active side), or among all natives when it is active nowhere.
  const Presence* home = nullptr;
  if (const auto ov = policy_.overrides.find(key); ov != policy_.overrides.end()) {
    for (const auto* p : native) {
      if (p->network == ov->second.network) {
        home = p;
        o.home_reason = "override" + (ov->second.reason.empty() ? "" : ": " + ov->second.reason);
      }
    }
  }
  if (!home && !native.empty()) {
    std::vector<const Presence*> active;
    for (const auto* p : native) {
      if (p->entry.status == OfficeStatus::kActive) active.push_back(p);
    }
    const auto& candidates = active.empty() ? native : active;
    for (const auto& pref : policy_.preference) {
      for (const auto* p : candidates) {
        if (!home && p->network == pref) home = p;
      }
    }
    if (!home) home = candidates.front();
    o.home_reason = native.size() == 1                               ? "only network"
                    : (active.size() == 1 && candidates.size() == 1) ? "active side"
                                                                     : "preference";
  }
  const Presence& shown = home ? *home : o.presences.front();
  if (home) o.home = home->network;
  o.name = shown.entry.name;
  o.kana = shown.entry.kana;
  o.prefecture = shown.entry.prefecture;
  o.status = shown.entry.status;
  for (const auto* p : unflagged) {
    if (o.kana.empty()) o.kana = p->entry.kana;
    if (o.prefecture.empty()) o.prefecture = p->entry.prefecture;
    if (o.facility_id.empty()) o.facility_id = p->entry.facility_id;
  }

  // Conflicts: reported, never silently resolved.
  const auto networks_of = [](const std::vector<const Presence*>& ps) {
    std::vector<std::string> n;
    for (const auto* p : ps) n.push_back(p->network);
    return n;
  };
  // Only the office's own listings can disagree: an echo is the gateway's publication coming back
  // from the network it was published to, not a second membership (counted by echoes()).
  if (native.size() >= 2) {
    std::string detail = "native on " + join(networks_of(native), ", ");
    detail += home ? "; delivered to " + home->network + " (" + o.home_reason + ")" : "";
    Conflict both{ConflictKind::kOnBothNetworks, key, networks_of(native), detail, {}};
    both.params = {{"networks", join(networks_of(native), ",")},
                   {"home", home ? home->network : std::string()},
                   {"home_reason", o.home_reason}};
    o.conflicts.push_back(std::move(both));
    std::set<std::string> names;
    std::string spelled;
    std::vector<std::pair<std::string, std::string>> name_params;
    for (const auto* p : native) {
      if (p->entry.name.empty()) continue;
      names.insert(normalize_name(p->entry.name));
      spelled += (spelled.empty() ? "" : " / ") + p->network + ": " + p->entry.name;
      name_params.emplace_back("name." + p->network, p->entry.name);
    }
    if (names.size() > 1) {
      o.conflicts.push_back({ConflictKind::kNameMismatch, key, networks_of(native),
                             "names differ after normalisation: " + spelled,
                             std::move(name_params)});
    }
    std::set<OfficeStatus> statuses;
    std::string described;
    std::vector<std::pair<std::string, std::string>> status_params;
    for (const auto* p : native) {
      statuses.insert(p->entry.status);
      described += (described.empty() ? "" : ", ") + std::string(to_string(p->entry.status)) +
                   " on " + p->network;
      status_params.emplace_back("status." + p->network, std::string(to_string(p->entry.status)));
    }
    if (statuses.size() > 1) {
      o.conflicts.push_back({ConflictKind::kStatusMismatch, key, networks_of(native), described,
                             std::move(status_params)});
    }
  }
  if (!quarantined.empty()) {
    o.conflicts.push_back({ConflictKind::kInvalidCheckDigit,
                           key,
                           networks_of(quarantined),
                           "office number " + key.office_no + " fails its check digit: quarantined",
                           {{"office_no", key.office_no}}});
  }
  const auto has = [&](EntryProblem p) {
    return std::find(o.problems.begin(), o.problems.end(), p) != o.problems.end();
  };
  if (has(EntryProblem::kUnknownServiceType)) {
    std::vector<const Presence*> all;
    for (const auto& p : o.presences) all.push_back(&p);
    o.conflicts.push_back({ConflictKind::kUnknownServiceType,
                           key,
                           networks_of(all),
                           "service type " + key.service_type + " is not a code of the standard",
                           {{"service_type", key.service_type}}});
  }
  if (has(EntryProblem::kUnknownStatus)) {
    std::vector<const Presence*> odd;
    for (const auto* p : unflagged) {
      if (p->entry.status == OfficeStatus::kUnknown) odd.push_back(p);
    }
    o.conflicts.push_back({ConflictKind::kUnknownStatus,
                           key,
                           networks_of(odd),
                           "status is none of ACTIVE, SUSPENDED, CLOSED: treated as not receiving",
                           {{"networks", join(networks_of(odd), ",")}}});
  }
  return o;
}

std::map<OfficeKey, Office> Registry::snapshot(const std::vector<OfficeKey>& keys) const {
  std::map<OfficeKey, Office> out;
  for (const auto& k : keys) {
    if (records_.count(k) == 0) continue;
    if (auto o = build(k)) out.emplace(k, std::move(*o));
  }
  return out;
}

Diff Registry::refresh(std::vector<OfficeKey> touched, const std::map<OfficeKey, Office>& before) {
  std::sort(touched.begin(), touched.end());
  touched.erase(std::unique(touched.begin(), touched.end()), touched.end());
  Diff diff;
  for (const auto& k : touched) {
    auto after = build(k);
    if (after) {
      auto& r = records_[k];
      r.home = after->home;
      r.conflicted = !after->conflicts.empty();
      r.echoed = std::any_of(after->presences.begin(), after->presences.end(),
                             [](const Presence& p) { return p.role == Presence::Role::kEcho; });
    } else {
      records_.erase(k);
    }
    const auto b = before.find(k);
    auto d =
        diff_offices(b == before.end() ? std::nullopt : std::optional<Office>(b->second), after);
    for (auto& c : d.changes) diff.changes.push_back(std::move(c));
  }
  return diff;
}

std::vector<SourceEntry> one_entry_per_office(const std::vector<SourceEntry>& entries) {
  std::vector<SourceEntry> out;
  out.reserve(entries.size());
  std::unordered_map<OfficeKey, std::size_t, OfficeKeyHash> at;
  for (const auto& e : entries) {
    const auto [it, fresh] = at.emplace(e.key, out.size());
    if (fresh) {
      out.push_back(e);
    } else if (!(e.published_by_gateway && !out[it->second].published_by_gateway)) {
      out[it->second] = e;  // the last one, unless that would hide the network's own entry
    }
  }
  return out;
}

Diff Registry::replace(const std::string& network, const std::vector<SourceEntry>& listed) {
  const auto entries = one_entry_per_office(listed);
  auto& current = sources_[network];
  Table next;
  next.reserve(entries.size());
  for (const auto& e : entries) next.insert_or_assign(e.key, e);
  std::vector<OfficeKey> touched;
  for (const auto& [k, e] : next) {
    const auto it = current.find(k);
    if (it == current.end() || !(it->second == e)) touched.push_back(k);
  }
  for (const auto& [k, e] : current) {
    if (next.count(k) == 0) touched.push_back(k);
  }
  const auto before = snapshot(touched);
  current = std::move(next);
  std::size_t facilities = 0;
  for (const auto& [k, e] : current) facilities += e.facility_id.empty() ? 0 : 1;
  facility_entries_[network] = facilities;
  return refresh(std::move(touched), before);
}

Diff Registry::upsert(const std::string& network, const std::vector<SourceEntry>& listed) {
  const auto changed = one_entry_per_office(listed);
  auto& current = sources_[network];
  std::vector<OfficeKey> touched;
  for (const auto& e : changed) {
    const auto it = current.find(e.key);
    if (it == current.end() || !(it->second == e)) touched.push_back(e.key);
  }
  const auto before = snapshot(touched);
  auto& facilities = facility_entries_[network];
  for (const auto& e : changed) {
    const auto it = current.find(e.key);
    if (it != current.end() && !it->second.facility_id.empty()) --facilities;
    if (!e.facility_id.empty()) ++facilities;
    current.insert_or_assign(e.key, e);
  }
  return refresh(std::move(touched), before);
}

Diff Registry::set_published(const std::string& network, const std::vector<OfficeKey>& offices,
                             bool listing_flags_publication) {
  std::unordered_set<OfficeKey, OfficeKeyHash> next(offices.begin(), offices.end());
  auto& current = published_[network];
  std::vector<OfficeKey> touched;
  if (listing_flags_publication != (flagging_.count(network) != 0)) {
    // Every unflagged entry there may change role: echo ↔ native.
    if (const auto t = sources_.find(network); t != sources_.end()) {
      for (const auto& [k, e] : t->second) {
        if (!e.published_by_gateway && current.count(k) != 0) touched.push_back(k);
      }
    }
  }
  const auto before_flag = snapshot(touched);
  if (listing_flags_publication) {
    flagging_.insert(network);
  } else {
    flagging_.erase(network);
  }
  auto flag_diff = refresh(touched, before_flag);
  touched.clear();
  for (const auto& k : next) {
    if (current.count(k) == 0) touched.push_back(k);
  }
  for (const auto& k : current) {
    if (next.count(k) == 0) touched.push_back(k);
  }
  const auto before = snapshot(touched);
  current = std::move(next);
  flag_diff.append(refresh(std::move(touched), before));
  return flag_diff;
}

Diff Registry::set_policy(Policy policy) {
  // Only offices with an override or on several networks can change home.
  std::vector<OfficeKey> touched;
  for (const auto& [k, o] : policy_.overrides) touched.push_back(k);
  for (const auto& [k, o] : policy.overrides) touched.push_back(k);
  for (const auto& [k, r] : records_) {
    int n = 0;
    for (const auto& [net, table] : sources_) n += table.count(k) != 0 ? 1 : 0;
    if (n >= 2) touched.push_back(k);
  }
  const auto before = snapshot(touched);
  policy_ = std::move(policy);
  return refresh(std::move(touched), before);
}

std::optional<Office> Registry::find(const OfficeKey& key) const {
  return build(key);
}

std::vector<OfficeKey> Registry::keys_of(const std::string& office_no) const {
  std::vector<OfficeKey> out;
  for (const auto& [k, r] : records_) {
    if (k.office_no == office_no) out.push_back(k);
  }
  std::sort(out.begin(), out.end());
  return out;
}

std::vector<Conflict> Registry::conflicts() const {
  std::vector<OfficeKey> keys;
  for (const auto& [k, r] : records_) {
    if (r.conflicted) keys.push_back(k);
  }
  std::sort(keys.begin(), keys.end());
  std::vector<Conflict> out;
  for (const auto& k : keys) {
    if (auto o = build(k)) {
      for (auto& c : o->conflicts) out.push_back(std::move(c));
    }
  }
  return out;
}

std::size_t Registry::echoes() const {
  return static_cast<std::size_t>(std::count_if(records_.begin(), records_.end(),
                                                [](const auto& kv) { return kv.second.echoed; }));
}

Route Registry::route(const OfficeKey& recipient, const std::string& source) const {
  const auto refuse = [](RouteRefusal r, std::string detail) {
    return Route{std::nullopt, r, std::move(detail)};
  };
  const std::string who = "recipient " + recipient.str();
  if (!is_valid_office_number(recipient.office_no)) {
    return refuse(RouteRefusal::kInvalidCheckDigit,
                  who + ": the office number fails its check digit");
  }
  const auto& standard = CarePlanStandard::get();
  if (!standard.is_known_service_type(recipient.service_type)) {
    return refuse(RouteRefusal::kOutOfLinkScope, who + ": not a service type of the standard");
  }
  if (!in_link_scope(recipient.service_type)) {
    return refuse(RouteRefusal::kOutOfLinkScope,
                  who + ": service type outside the care-plan link scope");
  }
  const auto office = build(recipient);
  if (!office)
    return refuse(RouteRefusal::kUnknown, who + " is in no directory the gateway reaches");
  if (office->home.empty()) {
    for (const auto& p : office->presences) {
      if (p.role == Presence::Role::kEcho) {
        return refuse(RouteRefusal::kLoop, who + " is listed on " + p.network +
                                               " only because the gateway publishes it there");
      }
    }
    return refuse(RouteRefusal::kUnknown, who + " is listed only as the gateway's own publication");
  }
  if (office->home == source) {
    return refuse(RouteRefusal::kSameNetwork,
                  who + " is delivered on the sender's own network (" + source + ")");
  }
  switch (office->status) {
    case OfficeStatus::kActive:
      return Route{office->home, RouteRefusal::kNone, "via " + office->home};
    case OfficeStatus::kClosed:
      return refuse(RouteRefusal::kClosed, who + " is CLOSED on " + office->home);
    case OfficeStatus::kSuspended:
      return refuse(RouteRefusal::kSuspended, who + " is SUSPENDED on " + office->home);
    case OfficeStatus::kUnknown:
      break;
  }
  return refuse(RouteRefusal::kSuspended, who + " has an unknown status on " + office->home);
}

SenderCheck Registry::authorize_sender(const std::string& network, const std::string& facility,
                                       const OfficeKey& office) const {
  const std::string who = "office " + office.str();
  const auto t = sources_.find(network);
  const auto e = t == sources_.end() ? nullptr : [&]() -> const SourceEntry* {
    const auto it = t->second.find(office);
    return it == t->second.end() ? nullptr : &it->second;
  }();
  if (!e) return {false, who + " is not listed on " + network};
  const auto role = role_of(network, *e);
  if (role != Presence::Role::kNative) {
    return {false, who + " is " + std::string(to_string(role)) + " on " + network +
                       ", not a member there"};
  }
  if (!facility.empty() && e->facility_id != facility) {
    return {false, "facility " + facility + " does not hold " + who};
  }
  if (e->status != OfficeStatus::kActive) {
    return {false, who + " is " + std::string(to_string(e->status)) + " on " + network};
  }
  return {true, who + " is active on " + network +
                    (facility.empty() ? "" : " under facility " + facility)};
}

std::vector<SourceEntry> Registry::publication_for(const std::string& target,
                                                   bool active_only) const {
  const auto t = sources_.find(target);
  std::vector<SourceEntry> out;
  for (const auto& [k, r] : records_) {
    if (r.home.empty() || r.home == target || !in_link_scope(k.service_type)) continue;
    if (t != sources_.end()) {
      // A native listing on the target: its members reach it without the bridge. An unflagged
      // listing of what we already publish there stays ours (dropping it would make it look
      // native at the next sync, and publishing it again after that would oscillate).
      const auto there = t->second.find(k);
      if (there != t->second.end() && role_of(target, there->second) == Presence::Role::kNative)
        continue;
    }
    const auto& e = sources_.at(r.home).at(k);
    if (active_only && e.status != OfficeStatus::kActive) continue;
    SourceEntry p = e;
    p.published_by_gateway = true;
    out.push_back(std::move(p));
  }
  std::sort(out.begin(), out.end(),
            [](const SourceEntry& a, const SourceEntry& b) { return a.key < b.key; });
  return out;
}

}  // namespace kakehashi::mapping::registry
