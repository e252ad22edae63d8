#pragma once
// An in-memory AdapterVault for the Kaigo WEB adapter's tests
// (gateway/adapter/office_sessions.hpp): the same compare-and-set on generation as the store's,
// answers posted to an executor as the gateway's are. Thread-safe; tests may read and tamper with
// records directly.

#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/post.hpp>

#include "gateway/adapter/office_sessions.hpp"

namespace kakehashi::testing {

class MemoryVault final : public gateway::AdapterVault {
 public:
  explicit MemoryVault(boost::asio::any_io_executor executor) : executor_(std::move(executor)) {}

  void get(std::string key,
           std::function<void(std::optional<gateway::VaultRecord>, bool ok)> done) override {
    std::optional<gateway::VaultRecord> rec;
    {
      std::lock_guard lock(mutex_);
      if (const auto it = records_.find(key); it != records_.end()) rec = it->second;
    }
    boost::asio::post(executor_, [done = std::move(done), rec = std::move(rec)]() mutable {
      done(std::move(rec), true);
    });
  }

  void put(std::string key, std::string value, std::int64_t expected_generation,
           std::function<void(gateway::VaultWrite)> done) override {
    gateway::VaultWrite w = gateway::VaultWrite::kWritten;
    {
      std::lock_guard lock(mutex_);
      const auto it = records_.find(key);
      const std::int64_t stored = it == records_.end() ? 0 : it->second.generation;
      if (stored != expected_generation) {
        w = gateway::VaultWrite::kConflict;
      } else {
        records_[key] = {std::move(value), stored + 1};
        ++writes_;
      }
    }
    boost::asio::post(executor_, [done = std::move(done), w] { done(w); });
  }

  void erase(std::string key, std::function<void(bool ok)> done) override {
    {
      std::lock_guard lock(mutex_);
      records_.erase(key);
    }
    boost::asio::post(executor_, [done = std::move(done)] { done(true); });
  }

  void list(std::string prefix,
            std::function<void(std::vector<std::string>, bool ok)> done) override {
    std::vector<std::string> keys;
    {
      std::lock_guard lock(mutex_);
      for (auto it = records_.lower_bound(prefix);
           it != records_.end() && it->first.compare(0, prefix.size(), prefix) == 0; ++it)
        keys.push_back(it->first);
    }
    boost::asio::post(executor_, [done = std::move(done), keys = std::move(keys)]() mutable {
      done(std::move(keys), true);
    });
  }

  // Stores `value` as if written once (a record another instance or an earlier run left).
  void seed(const std::string& key, std::string value) {
    std::lock_guard lock(mutex_);
    records_[key] = {std::move(value), 1};
  }

  std::optional<gateway::VaultRecord> record(const std::string& key) const {
    std::lock_guard lock(mutex_);
    const auto it = records_.find(key);
    if (it == records_.end()) return std::nullopt;
    return it->second;
  }
  std::vector<std::string> keys() const {
    std::lock_guard lock(mutex_);
    std::vector<std::string> out;
    for (const auto& [k, v] : records_) out.push_back(k);
    return out;
  }
  std::vector<std::string> values() const {
    std::lock_guard lock(mutex_);
    std::vector<std::string> out;
    for (const auto& [k, v] : records_) out.push_back(v.value);
    return out;
  }

 private:
  boost::asio::any_io_executor executor_;
  mutable std::mutex mutex_;
  std::map<std::string, gateway::VaultRecord> records_;
  std::size_t writes_ = 0;
};

}  // namespace kakehashi::testing
