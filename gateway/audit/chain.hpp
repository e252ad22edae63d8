#pragma once
// One record of the audit log and its place in the hash chain: each record's hash covers its
// position, the previous record's hash and every field an auditor reads. Pure: no I/O.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace kakehashi::gateway::audit {

// The hash the first record links to.
inline constexpr std::string_view kGenesisHash =
    "0000000000000000000000000000000000000000000000000000000000000000";

// transfer_id 0 marks a record about no single transfer (operator commands such as `relay list`).
struct AuditRecord {
  std::int64_t id = 0;             // storage row id (its order is the order to verify)
  std::optional<std::int64_t> seq; // chain position 1, 2, ...; unset when the row was never chained
  std::int64_t transfer_id = 0;
  std::int64_t at = 0;             // ms since the epoch
  std::string kind;
  std::string actor;               // "gateway:<instance>" or the operator
  std::string detail;              // no payload, no names, insured numbers only keyed-hashed
  std::string prev_hash;
  std::string hash;
};

// SHA-256 (lower-case hex) over a length-prefixed encoding of seq, prev_hash, transfer_id, at,
// kind, actor and detail. Not the row id: ids are storage detail, `seq` is the position.
std::string record_hash(std::int64_t seq, std::string_view prev_hash, const AuditRecord& record);

// Lower-case hex SHA-256 and HMAC-SHA256 (the primitives, shared with checkpoints and insured).
std::string sha256_hex(std::string_view bytes);
std::string hmac_sha256_hex(std::string_view key, std::string_view message);

}  // namespace kakehashi::gateway::audit
