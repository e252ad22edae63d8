#include "gateway/registry/registry_sync.hpp"

#include <atomic>
#include <memory>
#include <optional>
#include <set>
#include <unordered_set>

#include "gateway/engine/router.hpp"

namespace kakehashi::gateway::registry {

struct RegistrySync::Run {
  std::vector<SyncNetwork> networks;
  std::vector<std::string> since;  // per network, "" for a full listing
  std::vector<std::optional<DirectoryResult>> results;
  std::atomic<std::size_t> remaining{0};
  std::function<void(SyncReport)> done;
  SyncReport report;
  std::vector<ListingChange> listings;
  std::vector<std::string> failures;
  bool all_fetched = true;
};

RegistrySync::RegistrySync(reg::Registry& registry, RegistryStore& store, Clock clock)
    : RegistrySync([&registry](const std::function<void(reg::Registry&)>& fn) { fn(registry); },
                   store, std::move(clock), {}) {}

RegistrySync::RegistrySync(Access access, RegistryStore& store, Clock clock, Offload offload)
    : access_(std::move(access)),
      store_(store),
      clock_(std::move(clock)),
      offload_(offload ? std::move(offload) : Offload([](std::function<void()> fn) { fn(); })) {}

void RegistrySync::run(std::vector<SyncNetwork> networks, bool full,
                       std::function<void(SyncReport)> done) {
  auto run = std::make_shared<Run>();
  run->networks = std::move(networks);
  run->done = std::move(done);
  run->report.record.started_ms = clock_();
  run->results.resize(run->networks.size());
  for (const auto& n : run->networks) {
    // An incremental fetch needs a listing to apply it to: the first sync is always full.
    bool listed = false;
    access_([&](reg::Registry& registry) { listed = registry.has_network(n.name); });
    const bool incremental = n.incremental && !full && listed;
    run->since.push_back(incremental ? store_.cursor(n.name).value_or("") : "");
  }
  run->remaining = run->networks.size();
  if (run->networks.empty()) return reconcile(run);
  for (std::size_t i = 0; i < run->networks.size(); ++i) {
    run->networks[i].adapter->fetch_directory(run->since[i], [this, run, i](DirectoryResult r) {
      run->results[i] = std::move(r);
      if (--run->remaining == 0) offload_([this, run] { reconcile(run); });
    });
  }
}

void RegistrySync::reconcile(const std::shared_ptr<Run>& run) {
  access_([&](reg::Registry& registry) { reconcile_locked(run, registry); });
  if (!run->all_fetched)
    run->failures.push_back("publication skipped: a directory could not be fetched");
  publish_next(run, 0);
}

void RegistrySync::reconcile_locked(const std::shared_ptr<Run>& run, reg::Registry& registry) {
  bool any_incremental = false;
  std::string networks;
  for (std::size_t i = 0; i < run->networks.size(); ++i) {
    const auto& n = run->networks[i];
    auto& r = *run->results[i];
    if (r.status.status != SendResult::Status::kAccepted) {
      run->all_fetched = false;
      run->failures.push_back(n.name + ": directory fetch failed: " + r.status.error_code + " " +
                              r.status.message);
      continue;
    }
    const bool incremental = !run->since[i].empty();
    any_incremental |= incremental;
    run->report.fetched.push_back(n.name);
    networks += (networks.empty() ? "" : " ") + n.name + ":" +
                (incremental ? "incremental" : "full") + ":" + std::to_string(r.entries.size());
    std::vector<reg::SourceEntry> as_listed;
    as_listed.reserve(r.entries.size());
    for (const auto& e : r.entries) as_listed.push_back(engine::to_source_entry(e));
    // The stored listing and the registry keep the same entry of an office listed twice.
    const auto entries = reg::one_entry_per_office(as_listed);

    // What the stored listing must change, computed against the listing before this fetch.
    ListingChange change{n.name, {}, {}, std::nullopt};
    if (!r.next_changed_since.empty()) change.cursor = r.next_changed_since;
    const auto* before = registry.source(n.name);
    std::unordered_set<reg::OfficeKey, reg::OfficeKeyHash> listed;
    for (const auto& e : entries) {
      listed.insert(e.key);
      bool same = false;
      if (before) {
        const auto it = before->find(e.key);
        same = it != before->end() && it->second == e;
      }
      if (!same) change.upserts.push_back(e);
    }
    if (!incremental && before) {
      for (const auto& [k, e] : *before) {
        if (listed.count(k) == 0) change.deletes.push_back(k);
      }
    }
    run->report.diff.append(incremental ? registry.upsert(n.name, entries)
                                        : registry.replace(n.name, entries));
    run->listings.push_back(std::move(change));
  }
  run->report.record.mode = any_incremental ? "incremental" : "full";
  run->report.record.networks = networks;
}

void RegistrySync::publish_next(const std::shared_ptr<Run>& run, std::size_t index) {
  while (index < run->networks.size() && (!run->all_fetched || !run->networks[index].publish))
    ++index;
  if (index >= run->networks.size()) return finish(run);
  const auto& n = run->networks[index];
  std::vector<reg::SourceEntry> entries;
  std::set<reg::OfficeKey> flagged;  // what the network lists as the gateway's now
  access_([&](reg::Registry& registry) {
    entries = registry.publication_for(n.name, n.publish_active_only);
    if (const auto* listing = registry.source(n.name)) {
      for (const auto& [k, e] : *listing)
        if (e.published_by_gateway) flagged.insert(k);
    }
  });
  // The same publication is not sent again while the network still shows it.
  const auto last = last_published_.find(n.name);
  if (last != last_published_.end() && last->second == entries) {
    std::set<reg::OfficeKey> keys;
    for (const auto& e : entries) keys.insert(e.key);
    if (!n.listing_shows_publication || keys == flagged) return publish_next(run, index + 1);
  }
  std::vector<reg::OfficeKey> keys;
  keys.reserve(entries.size());
  for (const auto& e : entries) keys.push_back(e.key);
  auto sent = entries;
  n.publish(std::move(entries), [this, run, index, keys = std::move(keys),
                                 sent = std::move(sent)](SendResult r) mutable {
    offload_([this, run, index, keys = std::move(keys), sent = std::move(sent),
              r = std::move(r)]() mutable {
      const auto& net = run->networks[index];
      if (r.status == SendResult::Status::kAccepted) {
        // Only what the network took counts as ours there: its echoes are recognised from now on.
        store_.record_published(net.name, keys, net.listing_shows_publication);
        access_([&](reg::Registry& registry) {
          run->report.diff.append(
              registry.set_published(net.name, keys, net.listing_shows_publication));
        });
        run->report.published[net.name] = keys.size();
        last_published_[net.name] = std::move(sent);
      } else {
        run->failures.push_back(net.name + ": publication failed: " + r.error_code + " " +
                                r.message);
      }
      publish_next(run, index + 1);
    });
  });
}

void RegistrySync::finish(const std::shared_ptr<Run>& run) {
  auto& rec = run->report.record;
  rec.finished_ms = clock_();
  access_([&](reg::Registry& registry) {
    rec.conflicts = static_cast<std::int64_t>(registry.conflicts().size());
  });
  for (const auto& f : run->failures) rec.note += (rec.note.empty() ? "" : "; ") + f;
  rec.id = store_.record_sync(rec, run->listings, run->report.diff);
  if (auto stored = store_.sync(rec.id)) rec = *stored;
  run->done(std::move(run->report));
}

}  // namespace kakehashi::gateway::registry
