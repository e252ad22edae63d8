#include "gateway/audit/verifier.hpp"

#include <map>
#include <unordered_map>

namespace kakehashi::gateway::audit {

std::string_view to_string(Breakage b) {
  switch (b) {
    case Breakage::kNone: return "intact";
    case Breakage::kChanged: return "changed";
    case Breakage::kDeleted: return "deleted";
    case Breakage::kInserted: return "inserted";
    case Breakage::kReordered: return "reordered";
    case Breakage::kTruncated: return "truncated";
    case Breakage::kCheckpointForged: return "checkpoint-forged";
    case Breakage::kCheckpointDeleted: return "checkpoint-deleted";
  }
  return "unknown";
}

namespace {

VerifyReport& broken(VerifyReport& r, Breakage b, std::int64_t id, std::int64_t seq,
                     std::string detail) {
  r.breakage = b;
  r.record_id = id;
  r.record_seq = seq;
  r.detail = std::move(detail);
  return r;
}

std::string at_row(const AuditRecord& rec) {
  return "record " + std::to_string(rec.seq.value_or(0)) + " (row id " + std::to_string(rec.id) + ")";
}

}  // namespace

VerifyReport verify_chain(const std::vector<AuditRecord>& records,
                          const std::vector<Checkpoint>& checkpoints,
                          const std::optional<ChainHead>& head, X509* gateway_certificate,
                          std::int64_t known_seq) {
  VerifyReport r;
  r.records = records.size();
  r.checkpoints = checkpoints.size();
  std::unordered_map<std::int64_t, std::size_t> seen;  // seq -> how many rows claim it
  for (const auto& rec : records) {
    if (rec.seq) ++seen[*rec.seq];
  }
  std::unordered_map<std::int64_t, std::string> hash_at;
  std::int64_t expected = 1;
  std::string prev(kGenesisHash);
  for (const auto& rec : records) {
    if (!rec.seq || rec.hash.empty()) {
      return broken(r, Breakage::kInserted, rec.id, 0,
                    "row id " + std::to_string(rec.id) + " (" + rec.kind +
                        ") has no chain position: it was not written by the gateway");
    }
    const std::int64_t seq = *rec.seq;
    if (record_hash(seq, rec.prev_hash, rec) != rec.hash) {
      return broken(r, Breakage::kChanged, rec.id, seq,
                    at_row(rec) + " (" + rec.kind + ") no longer matches its hash");
    }
    if (seq < expected) {
      if (seen[seq] > 1) {
        return broken(r, Breakage::kInserted, rec.id, seq,
                      at_row(rec) + " is a second record at position " + std::to_string(seq));
      }
      return broken(r, Breakage::kReordered, rec.id, seq,
                    at_row(rec) + " is stored after record " + std::to_string(expected - 1));
    }
    if (seq > expected) {
      if (seen.count(expected) != 0) {
        return broken(r, Breakage::kReordered, rec.id, seq,
                      at_row(rec) + " is stored before record " + std::to_string(expected));
      }
      std::int64_t last_missing = expected;
      while (last_missing + 1 < seq && seen.count(last_missing + 1) == 0) ++last_missing;
      return broken(r, Breakage::kDeleted, rec.id, expected,
                    "record" + (last_missing == expected
                                    ? " " + std::to_string(expected) + " is"
                                    : "s " + std::to_string(expected) + ".." +
                                          std::to_string(last_missing) + " are") +
                        " missing before " + at_row(rec));
    }
    if (rec.prev_hash != prev) {
      return broken(r, Breakage::kInserted, rec.id, seq,
                    at_row(rec) + " does not link to record " + std::to_string(seq - 1) +
                        ": a record was forged or replaced at this position");
    }
    prev = rec.hash;
    hash_at[seq] = rec.hash;
    ++expected;
  }
  r.last_seq = expected - 1;

  std::int64_t number = 1;
  for (const auto& c : checkpoints) {
    if (c.number != number) {
      r.checkpoint = number;
      return broken(r, Breakage::kCheckpointDeleted, 0, 0,
                    "checkpoint " + std::to_string(number) + " is missing (next is " +
                        std::to_string(c.number) + ")");
    }
    ++number;
    r.checkpoint = c.number;
    if (gateway_certificate == nullptr) {
      return broken(r, Breakage::kCheckpointForged, 0, c.seq,
                    "no gateway certificate to check checkpoint " + std::to_string(c.number));
    }
    const auto v = verify_checkpoint(c, gateway_certificate);
    if (!v) {
      return broken(r, Breakage::kCheckpointForged, 0, c.seq,
                    "checkpoint " + std::to_string(c.number) + ": " + v.error().detail);
    }
    if (c.seq > r.last_seq) {
      return broken(r, Breakage::kTruncated, 0, r.last_seq + 1,
                    "checkpoint " + std::to_string(c.number) + " seals record " +
                        std::to_string(c.seq) + " but the log ends at record " +
                        std::to_string(r.last_seq));
    }
    if (c.seq > 0 && hash_at[c.seq] != c.hash) {
      return broken(r, Breakage::kChanged, 0, c.seq,
                    "record " + std::to_string(c.seq) + " differs from the one checkpoint " +
                        std::to_string(c.number) + " sealed: the chain was rewritten");
    }
    r.last_checkpoint_seq = c.seq;
  }
  r.checkpoint = 0;

  if (known_seq > r.last_seq) {
    return broken(r, Breakage::kTruncated, 0, r.last_seq + 1,
                  "an earlier verification saw record " + std::to_string(known_seq) +
                      " but the log ends at record " + std::to_string(r.last_seq));
  }
  if (head) {
    if (head->seq > r.last_seq) {
      return broken(r, Breakage::kTruncated, 0, r.last_seq + 1,
                    "the chain head says " + std::to_string(head->seq) +
                        " records but the log ends at record " + std::to_string(r.last_seq) +
                        " (truncated after checkpoint position " +
                        std::to_string(r.last_checkpoint_seq) + ")");
    }
    if (head->seq < r.last_seq) {
      return broken(r, Breakage::kInserted, 0, head->seq + 1,
                    "records after " + std::to_string(head->seq) +
                        " were appended behind the gateway's back");
    }
    if (head->seq > 0 && head->hash != prev) {
      return broken(r, Breakage::kChanged, 0, head->seq,
                    "record " + std::to_string(head->seq) + " differs from the chain head");
    }
  }
  return r;
}

}  // namespace kakehashi::gateway::audit
