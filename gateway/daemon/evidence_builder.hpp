#pragma once
// Makes the evidence bundle of one office and month from a gateway config, for `kakehashi audit
// evidence` and the admin listener's evidence download: the store's units and records
// (gateway/store/evidence_query.hpp), the sender signatures from payloads not yet purged (payload
// key), and the gateway's signature over it all (audit.signer, whose certificate file's further
// certificates are the chain). Blocking. Throws std::runtime_error or store::SqlError.

#include <cstdint>
#include <string>

#include "gateway/daemon/gateway_config.hpp"

namespace kakehashi::gateway::daemon {

struct EvidenceRequest {
  std::string office_no;  // 10 digits
  std::string month;      // YYYYMM
  std::int64_t now = 0;
  bool seal_first = false;  // sign a checkpoint over the tail first (operators only: it writes)
};

// The bundle file's bytes (JSON), and how many units it holds.
struct EvidenceResult {
  std::string file;
  std::size_t units = 0;
  std::string report_html;
};

// Checks the request's shape; "" when fine, else what is wrong.
std::string check_evidence_request(const EvidenceRequest& request);

EvidenceResult make_evidence_bundle(const GatewayConfig& config, const EvidenceRequest& request);

}  // namespace kakehashi::gateway::daemon
