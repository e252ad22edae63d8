#include "gateway/engine/group_committer.hpp"

#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include <boost/asio/post.hpp>

#include "gateway/engine/engine_core.hpp"
#include "gateway/engine/log.hpp"

namespace kakehashi::gateway::engine {

GroupCommitter::GroupCommitter(EngineCore& core) : core_(core) {}

void GroupCommitter::commit(std::function<void(store::Store&)> op, std::function<void(bool)> then,
                            CommitLane* lane) {
  commits_.push_back(Commit{std::move(op), std::move(then), lane});
  flush();
}

// One group at a time: what queues up while a group commits goes into the next one.
void GroupCommitter::flush() {
  if (committing_ || commits_.empty()) return;
  auto group = std::make_shared<std::vector<Commit>>();
  while (!commits_.empty() && group->size() < core_.options.group_commit_max) {
    Commit c = std::move(commits_.front());
    commits_.pop_front();
    if (c.lane != nullptr && c.lane->failed) {
      boost::asio::post(core_.io, [alive = core_.alive, then = std::move(c.then)] {
        if (*alive) then(false);
      });
      continue;
    }
    group->push_back(std::move(c));
  }
  if (group->empty()) return;
  committing_ = true;
  boost::asio::post(core_.pool, [this, alive = core_.alive, group] {
    auto ok = std::make_shared<std::vector<char>>(group->size(), 1);
    const auto error_of = [](auto&& run) -> std::optional<std::string> {
      try {
        run();
        return std::nullopt;
      } catch (const std::exception& e) {
        return std::string(e.what());
      }
    };
    auto& s = core_.worker_store();
    const auto error = error_of([&] {
      s.batch([&] {
        for (auto& c : *group) c.op(s);
      });
    });
    if (error) {
      log(LogLevel::kWarning, "group-commit-failed",
          {{"operations", std::to_string(group->size())}, {"error", *error}});
      std::set<const CommitLane*> failed_lanes;
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
    boost::asio::post(core_.io, [this, alive, group, ok, failed = error.has_value()] {
      if (!*alive) return;
      committing_ = false;
      ++core_.counters.commit_groups;
      core_.counters.commit_operations += static_cast<std::int64_t>(group->size());
      if (failed) ++core_.counters.commit_group_failures;
      for (std::size_t i = 0; i < group->size(); ++i) (*group)[i].then((*ok)[i] != 0);
      flush();
      core_.maybe_finish_stop();
    });
  });
}

}  // namespace kakehashi::gateway::engine
