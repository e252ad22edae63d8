#pragma once
// Audit export for auditors: records of a period, an office or one transfer's lineage, as CSV
// (RFC 4180, header row) or JSON lines. Each row keeps seq, prev_hash and hash, so an export can
// be re-checked record by record. Pure: writes to the stream it is given.

#include <iosfwd>
#include <string>
#include <vector>

#include "gateway/audit/chain.hpp"

namespace kakehashi::gateway::audit {

struct ExportRow {
  AuditRecord record;
  std::string sender_office;  // of the record's transfer ("" for operator commands)
  std::string recipient_office;
  // Which path the record's transfer took: signed, translated-to-national,
  // attested-from-national ("" for operator commands and transfers from before schema 6).
  std::string path;
};

// Column order of both formats.
inline constexpr const char* kExportColumns[] = {
    "seq",  "at",     "at_ms",         "transfer_id",
    "kind", "actor",  "sender_office", "recipient_office",
    "path", "detail", "prev_hash",     "hash"};

void write_csv(const std::vector<ExportRow>& rows, std::ostream& out);
void write_jsonl(const std::vector<ExportRow>& rows, std::ostream& out);

}  // namespace kakehashi::gateway::audit
