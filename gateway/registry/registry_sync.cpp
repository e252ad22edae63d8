#include "gateway/registry/registry_sync.hpp"

#include <atomic>
#include <memory>
#include <optional>
#include <unordered_set>

#include "gateway/engine/router.hpp"

namespace kakehashi::gateway::registry {

struct RegistrySync::Run {
  std::vector<SyncNetwork> networks;
  std::vector<std::string> since;                 // per network, "" for a full listing
  std::vector<std::optional<DirectoryResult>> results;
  std::atomic<std::size_t> remaining{0};
  std::function<void(SyncReport)> done;
  SyncReport report;
  std::vector<ListingChange> listings;
  std::vector<std::string> failures;
  bool all_fetched = true;
};

RegistrySync::RegistrySync(reg::Registry& registry, RegistryStore& store, Clock clock)
    : registry_(registry), store_(store), clock_(std::move(clock)) {}

void RegistrySync::run(std::vector<SyncNetwork> networks, bool full, std::function<void(SyncReport)> done) {
  auto run = std::make_shared<Run>();
  run->networks = std::move(networks);
  run->done = std::move(done);
  run->report.record.started_ms = clock_();
  run->results.resize(run->networks.size());
  for (const auto& n : run->networks) {
    // An incremental fetch needs a listing to apply it to: the first sync is always full.
    const bool incremental = n.incremental && !full && registry_.has_network(n.name);
    run->since.push_back(incremental ? store_.cursor(n.name).value_or("") : "");
  }
  run->remaining = run->networks.size();
  if (run->networks.empty()) return reconcile(run);
  for (std::size_t i = 0; i < run->networks.size(); ++i) {
    run->networks[i].adapter->fetch_directory(run->since[i], [this, run, i](DirectoryResult r) {
      run->results[i] = std::move(r);
      if (--run->remaining == 0) reconcile(run);
    });
  }
}

void RegistrySync::reconcile(const std::shared_ptr<Run>& run) {
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
    networks += (networks.empty() ? "" : " ") + n.name + ":" + (incremental ? "incremental" : "full") + ":" +
                std::to_string(r.entries.size());
    std::vector<reg::SourceEntry> entries;
    entries.reserve(r.entries.size());
    for (const auto& e : r.entries) entries.push_back(engine::to_source_entry(e));

    // What the stored listing must change, computed against the listing before this fetch.
    ListingChange change{n.name, {}, {}, std::nullopt};
    if (!r.next_changed_since.empty()) change.cursor = r.next_changed_since;
    const auto* before = registry_.source(n.name);
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
    run->report.diff.append(incremental ? registry_.upsert(n.name, entries) : registry_.replace(n.name, entries));
    run->listings.push_back(std::move(change));
  }
  run->report.record.mode = any_incremental ? "incremental" : "full";
  run->report.record.networks = networks;
  if (!run->all_fetched) run->failures.push_back("publication skipped: a directory could not be fetched");
  publish_next(run, 0);
}

void RegistrySync::publish_next(const std::shared_ptr<Run>& run, std::size_t index) {
  while (index < run->networks.size() && (!run->all_fetched || !run->networks[index].publish)) ++index;
  if (index >= run->networks.size()) return finish(run);
  const auto& n = run->networks[index];
  auto entries = registry_.publication_for(n.name, n.publish_active_only);
  std::vector<reg::OfficeKey> keys;
  keys.reserve(entries.size());
  for (const auto& e : entries) keys.push_back(e.key);
  n.publish(std::move(entries), [this, run, index, keys = std::move(keys)](SendResult r) mutable {
    const auto& net = run->networks[index];
    if (r.status == SendResult::Status::kAccepted) {
      // Only what the network took counts as ours there: its echoes are recognised from now on.
      store_.record_published(net.name, keys);
      run->report.diff.append(registry_.set_published(net.name, keys));
      run->report.published[net.name] = keys.size();
    } else {
      run->failures.push_back(net.name + ": publication failed: " + r.error_code + " " + r.message);
    }
    publish_next(run, index + 1);
  });
}

void RegistrySync::finish(const std::shared_ptr<Run>& run) {
  auto& rec = run->report.record;
  rec.finished_ms = clock_();
  rec.conflicts = static_cast<std::int64_t>(registry_.conflicts().size());
  for (const auto& f : run->failures) rec.note += (rec.note.empty() ? "" : "; ") + f;
  rec.id = store_.record_sync(rec, run->listings, run->report.diff);
  if (auto stored = store_.sync(rec.id)) rec = *stored;
  run->done(std::move(run->report));
}

}  // namespace kakehashi::gateway::registry
