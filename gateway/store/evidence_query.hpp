#pragma once
// The store's side of an evidence bundle (gateway/audit/evidence_bundle.hpp): the units an office
// sent or received in a month (by intake time, JST), their audit records, the chain from each up
// to the checkpoint that seals it, those checkpoints, and the partner offices' names from the
// registry. Read-only; blocking (a worker thread or the command line). Throws SqlError.

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "gateway/audit/evidence_bundle.hpp"
#include "gateway/store/sql_connection.hpp"

namespace kakehashi::gateway::store {

struct EvidenceSources {
  std::string gateway_certificate;  // PEM: checks translation receipts, goes into the bundle
  std::vector<std::string> chain;   // PEM, the gateway certificate's issuers
  // The files of a sealed payload (names, digests, sender signatures); nullopt when it cannot be
  // opened. Unset: files come from the translation receipts only.
  std::function<std::optional<std::vector<audit::EvidenceFile>>(const std::string& sealed)>
      open_payload;
  std::int64_t now = 0;
};

// The body for office `office_no` and month `yyyymm` (already validated with month_range).
audit::EvidenceBody collect_evidence(SqlConnection& db, const std::string& office_no,
                                     const std::string& yyyymm, const EvidenceSources& sources);

}  // namespace kakehashi::gateway::store
