#pragma once
// The engine's AdapterVault (gateway/adapter/office_sessions.hpp) for one adapter instance
// (internal to gateway/engine): records in the store's kh_adapter_vault under the adapter's name,
// sealed with the payload key (AES-256-GCM, PayloadCipher) on a worker, the SQL on the worker
// pool, every answer on the io thread (the adapters' executor). A record is sealed together with
// its adapter and key, so a row copied under another key does not open (it reads as a failure).

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "gateway/adapter/office_sessions.hpp"

namespace kakehashi::gateway::engine {

struct EngineCore;

class EngineVault final : public AdapterVault {
 public:
  EngineVault(EngineCore& core, std::string adapter);

  void get(std::string key, std::function<void(std::optional<VaultRecord>, bool ok)> done) override;
  void put(std::string key, std::string value, std::int64_t expected_generation,
           std::function<void(VaultWrite)> done) override;
  void erase(std::string key, std::function<void(bool ok)> done) override;
  void list(std::string prefix,
            std::function<void(std::vector<std::string>, bool ok)> done) override;

 private:
  EngineCore& core_;
  std::string adapter_;
};

// What is sealed for a record: its adapter, key and value, framed (the value follows the header).
std::string vault_plaintext(const std::string& adapter, const std::string& key,
                            const std::string& value);
// The value back, or nullopt when the plaintext is not the record of (adapter, key).
std::optional<std::string> vault_value(const std::string& plaintext, const std::string& adapter,
                                       const std::string& key);

}  // namespace kakehashi::gateway::engine
