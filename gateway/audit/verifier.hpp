#pragma once
// Offline verification of the audit log: the chain read from the store (in storage order), its
// signed checkpoints and the chain head, checked with the gateway certificate alone. Names the
// first broken record and how it was broken. Pure: the caller reads the rows.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <openssl/x509.h>

#include "gateway/audit/chain.hpp"
#include "gateway/audit/checkpoint.hpp"

namespace kakehashi::gateway::audit {

enum class Breakage {
  kNone,
  kChanged,            // a record's fields no longer match its hash, or differ from a checkpoint
  kDeleted,            // positions are missing from the chain
  kInserted,           // a record without a chain position, a second one at a position, or one
                       // that does not link to its predecessor
  kReordered,          // records are stored out of chain order
  kTruncated,          // the log ends before a checkpoint or the chain head says it should
  kCheckpointForged,   // a checkpoint's signature does not verify with the gateway certificate
  kCheckpointDeleted,  // checkpoint numbers have a gap
};

std::string_view to_string(Breakage breakage);

// Where the store says the chain ends (kh_meta), written with every record.
struct ChainHead {
  std::int64_t seq = 0;
  std::string hash;
};

struct VerifyReport {
  Breakage breakage = Breakage::kNone;
  std::int64_t record_id = 0;   // the first broken record's row id (0: none or a checkpoint)
  std::int64_t record_seq = 0;  // its chain position (or the missing one)
  std::int64_t checkpoint = 0;  // the checkpoint involved, if any
  std::string detail;
  std::size_t records = 0;
  std::int64_t last_seq = 0;
  std::size_t checkpoints = 0;
  std::int64_t last_checkpoint_seq = 0;  // records after it are chained but not yet signed

  bool intact() const { return breakage == Breakage::kNone; }
};

// records: every row of the log in storage (row id) order. checkpoints: by number.
// gateway_certificate may be null only when there are no checkpoints to check. known_seq: a
// position an auditor saw in an earlier run (`verify --json` last_seq); a log that now ends
// before it was truncated, even if whoever truncated it also rewrote the head.
VerifyReport verify_chain(const std::vector<AuditRecord>& records,
                          const std::vector<Checkpoint>& checkpoints,
                          const std::optional<ChainHead>& head, X509* gateway_certificate,
                          std::int64_t known_seq = 0);

}  // namespace kakehashi::gateway::audit
