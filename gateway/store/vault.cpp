// The adapter vault (kh_adapter_vault): sealed records per (adapter, key), written with
// compare-and-set on a generation so no instance overwrites a newer record.

#include <algorithm>

#include "gateway/store/store_internal.hpp"

namespace kakehashi::gateway::store {

std::optional<Store::VaultRow> Store::vault_get(const std::string& adapter,
                                                const std::string& key) {
  const auto rows =
      db_->query("SELECT value, generation FROM kh_adapter_vault WHERE adapter = ? AND key = ?",
                 {adapter, key});
  if (rows.empty()) return std::nullopt;
  VaultRow row;
  if (rows[0][0]) row.sealed = decode_blob(db_->dialect(), *rows[0][0]);
  row.generation = to_i64(rows[0][1]);
  return row;
}

bool Store::vault_put(const std::string& adapter, const std::string& key, const std::string& sealed,
                      std::int64_t expected_generation, std::int64_t now) {
  return transaction([&] {
    if (expected_generation == 0) {
      return !db_->query(
                     "INSERT INTO kh_adapter_vault (adapter, key, value, generation, updated_at) "
                     "VALUES (?, ?, ?, 1, ?) ON CONFLICT (adapter, key) DO NOTHING "
                     "RETURNING generation",
                     {adapter, key, Blob{sealed}, now})
                  .empty();
    }
    return !db_->query(
                   "UPDATE kh_adapter_vault SET value = ?, generation = generation + 1, "
                   "updated_at = ? WHERE adapter = ? AND key = ? AND generation = ? "
                   "RETURNING generation",
                   {Blob{sealed}, now, adapter, key, expected_generation})
                .empty();
  });
}

void Store::vault_erase(const std::string& adapter, const std::string& key) {
  db_->query("DELETE FROM kh_adapter_vault WHERE adapter = ? AND key = ?", {adapter, key});
}

std::vector<std::string> Store::vault_keys(const std::string& adapter, const std::string& prefix) {
  // Filtered here: LIKE would need escaping, and the databases' collations order differently.
  std::vector<std::string> keys;
  for (const auto& r :
       db_->query("SELECT key FROM kh_adapter_vault WHERE adapter = ?", {adapter})) {
    std::string k = to_s(r[0]);
    if (k.compare(0, prefix.size(), prefix) == 0) keys.push_back(std::move(k));
  }
  std::sort(keys.begin(), keys.end());
  return keys;
}

}  // namespace kakehashi::gateway::store
