#pragma once
// Checks an evidence bundle with nothing but its bytes (gateway/audit/EVIDENCE-FORMAT.md): the
// gateway's signature over the body, every record's hash and link, that every record is sealed by
// a checkpoint whose signature verifies with the bundle's gateway certificate, that each unit's
// status and times are what its records say, each translation receipt's signature and digests,
// each sender signature against its file digest, the certificate chain, and that the report is
// the one the body gives. Names every problem found. Pure.

#include <cstddef>
#include <string>
#include <vector>

namespace kakehashi::gateway::audit {

struct EvidenceCheck {
  std::vector<std::string> problems;  // what is wrong, each naming the item ("record 12: ...")
  std::vector<std::string> notes;     // what could not be checked and why (e.g. purged payloads)
  std::string office_no, month;
  std::size_t units = 0, records = 0, checkpoints = 0, files = 0, signatures = 0, receipts = 0;
  std::string gateway_subject;
  std::string root_sha256;  // fingerprint of the chain's last certificate: compare out of band

  bool ok() const { return problems.empty(); }
};

EvidenceCheck verify_evidence(const std::string& bundle_file_bytes);

}  // namespace kakehashi::gateway::audit
