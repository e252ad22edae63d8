#include "gateway/engine/engine_vault.hpp"

#include <utility>

#include "gateway/engine/engine_core.hpp"
#include "gateway/engine/log.hpp"

namespace kakehashi::gateway::engine {

namespace {

std::string header(const std::string& adapter, const std::string& key) {
  return "kh-vault-v1\n" + std::to_string(adapter.size()) + ":" + adapter + "\n" +
         std::to_string(key.size()) + ":" + key + "\n";
}

// What a worker answers for get(): the record, whether the store answered, whether it opened.
struct GetAnswer {
  std::optional<VaultRecord> record;
  bool opened = true;
};

}  // namespace

std::string vault_plaintext(const std::string& adapter, const std::string& key,
                            const std::string& value) {
  return header(adapter, key) + value;
}

std::optional<std::string> vault_value(const std::string& plaintext, const std::string& adapter,
                                       const std::string& key) {
  const std::string h = header(adapter, key);
  if (plaintext.compare(0, h.size(), h) != 0) return std::nullopt;
  return plaintext.substr(h.size());
}

EngineVault::EngineVault(EngineCore& core, std::string adapter)
    : core_(core), adapter_(std::move(adapter)) {}

void EngineVault::get(std::string key, std::function<void(std::optional<VaultRecord>, bool)> done) {
  core_.on_worker(
      [core = &core_, adapter = adapter_, key](store::Store& s) {
        GetAnswer a;
        const auto row = s.vault_get(adapter, key);
        if (!row) return a;
        const auto plain = core->cipher.open(row->sealed);
        const auto value = plain ? vault_value(*plain, adapter, key) : std::nullopt;
        if (!value) {
          a.opened = false;
          return a;
        }
        a.record = VaultRecord{*value, row->generation};
        return a;
      },
      [adapter = adapter_, key, done = std::move(done)](bool ok, GetAnswer a) {
        if (ok && !a.opened)
          log(LogLevel::kError, "vault-record-unreadable", {{"adapter", adapter}, {"key", key}});
        done(std::move(a.record), ok && a.opened);
      });
}

void EngineVault::put(std::string key, std::string value, std::int64_t expected_generation,
                      std::function<void(VaultWrite)> done) {
  core_.on_worker(
      [core = &core_, adapter = adapter_, key, value = std::move(value),
       expected_generation](store::Store& s) {
        const std::string sealed = core->cipher.seal(vault_plaintext(adapter, key, value));
        return s.vault_put(adapter, key, sealed, expected_generation, core->now());
      },
      [done = std::move(done)](bool ok, bool written) {
        done(!ok ? VaultWrite::kFailed : written ? VaultWrite::kWritten : VaultWrite::kConflict);
      });
}

void EngineVault::erase(std::string key, std::function<void(bool)> done) {
  core_.on_worker(
      [adapter = adapter_, key](store::Store& s) {
        s.vault_erase(adapter, key);
        return true;
      },
      [done = std::move(done)](bool ok, bool) { done(ok); });
}

void EngineVault::list(std::string prefix,
                       std::function<void(std::vector<std::string>, bool)> done) {
  core_.on_worker(
      [adapter = adapter_, prefix](store::Store& s) { return s.vault_keys(adapter, prefix); },
      [done = std::move(done)](bool ok, std::vector<std::string> keys) {
        done(std::move(keys), ok);
      });
}

}  // namespace kakehashi::gateway::engine
