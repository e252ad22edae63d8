#pragma once
// The evidence bundle of one office and one month (gateway/audit/EVIDENCE-FORMAT.md): every unit
// the office sent or received, the audit records about them with their chain up to a signed
// checkpoint, the checkpoints, the gateway certificate and its chain, and a Japanese report, in
// one JSON document signed by the gateway. Checkable offline by anyone with the file alone.
// Pure: values in, bytes out, and back.

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "gateway/audit/chain.hpp"
#include "gateway/audit/checkpoint.hpp"
#include "mapping/cms/credential.hpp"

namespace kakehashi::gateway::audit {

inline constexpr const char* kEvidenceFormat = "kakehashi-evidence/1";

struct EvidenceOffice {
  std::string office_no, service_type;
  std::string name;  // from the office registry ("" when unknown)
};

struct EvidenceFile {
  std::string name;
  std::string sha256;      // of the exact bytes the sender signed
  std::int64_t size = -1;  // -1: unknown (payload purged)
  // The sender's detached CMS SignedData (base64 DER, no content, with the signer certificate).
  // "" when the payload was purged before the bundle was made: the digest then comes from the
  // gateway-signed translation receipt among the unit's records.
  std::string signature;
  std::string signer;  // the signing certificate's subject and serial ("" with no signature)
};

struct EvidenceUnit {
  std::int64_t transfer_id = 0;
  std::string role;  // "sent" (the office is the sender) or "received"
  EvidenceOffice sender, recipient;
  std::string path;  // "<source network>-><destination network>"
  std::string kind, sequence;
  // What the records say (history_of): status code and its Japanese word, times (ms), reason.
  std::string status, status_ja;
  std::int64_t accepted_at = 0, delivered_at = 0, receipt_at = 0, rejected_at = 0;
  std::string reason;
  std::vector<EvidenceFile> files;
  std::vector<std::int64_t> records;  // chain positions of this unit's audit records
};

struct EvidenceBody {
  std::string office_no;
  std::string office_name;
  std::string month;                    // YYYYMM
  std::int64_t from_ms = 0, to_ms = 0;  // the month in JST (UTC+9), to exclusive
  std::int64_t generated_at = 0;
  std::string gateway_certificate;  // PEM
  std::vector<std::string> chain;   // PEM, issuer of the previous one first
  std::vector<EvidenceUnit> units;
  std::vector<AuditRecord> records;  // by seq; id is not part of the evidence
  std::vector<Checkpoint> checkpoints;
};

struct EvidenceBundle {
  std::string body;       // the body as JSON text: what the signature covers, byte for byte
  std::string signature;  // base64 DER detached CMS SignedData over `body`, by the gateway
  std::string report_html;
};

std::string body_json(const EvidenceBody& body);
// Parses a body; nullopt with `error` naming the JSON path when it is not one.
std::optional<EvidenceBody> parse_body(const std::string& json, std::string& error);

// Signs `body` (detached CMS) and renders its report.
mapping::cms::Result<EvidenceBundle> seal_bundle(const EvidenceBody& body,
                                                 const mapping::cms::Credential& gateway);
std::string bundle_json(const EvidenceBundle& bundle);
std::optional<EvidenceBundle> parse_bundle(const std::string& json, std::string& error);

// A file as the bundle lists it: digest and size of `content`, the sender's detached signature
// (DER; its content is not kept) and its signer's subject and serial.
EvidenceFile evidence_file(const std::string& name, const std::string& content,
                           const std::string& detached_signature_der);

// "2025-06-01 09:00" in JST, "" for 0.
std::string jst_time(std::int64_t ms);
// The month YYYYMM as [from, to) in ms (JST); nullopt when not a month.
std::optional<std::pair<std::int64_t, std::int64_t>> month_range(const std::string& yyyymm);

}  // namespace kakehashi::gateway::audit
