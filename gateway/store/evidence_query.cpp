#include "gateway/store/evidence_query.hpp"

#include <openssl/pem.h>

#include <algorithm>
#include <map>

#include "gateway/audit/delivery_status.hpp"
#include "mapping/cms/ossl.hpp"
#include "mapping/cms/translation_receipt.hpp"
#include "mapping/common/base64.hpp"

namespace kakehashi::gateway::store {
namespace {

std::string col(const SqlRow& r, std::size_t i) {
  return r.at(i).value_or("");
}
std::int64_t num(const SqlRow& r, std::size_t i) {
  return r.at(i) ? std::stoll(*r.at(i)) : 0;
}

constexpr const char* kRecordColumns =
    "SELECT seq, transfer_id, at, kind, actor, detail, prev_hash, hash FROM kh_events ";

audit::AuditRecord record_from(const SqlRow& r) {
  audit::AuditRecord rec;
  rec.seq = num(r, 0);
  rec.transfer_id = num(r, 1);
  rec.at = num(r, 2);
  rec.kind = col(r, 3);
  rec.actor = col(r, 4);
  rec.detail = col(r, 5);
  rec.prev_hash = col(r, 6);
  rec.hash = col(r, 7);
  return rec;
}

// The registry's name for an office ("" when unknown or when the store has no registry).
class OfficeNames {
 public:
  explicit OfficeNames(SqlConnection& db) : db_(db) {}
  std::string operator()(const std::string& office_no, const std::string& type) {
    const std::string key = office_no + "/" + type;
    if (auto it = cache_.find(key); it != cache_.end()) return it->second;
    std::string name;
    if (available_) {
      try {
        // The entry of that service type, else any of the office number (one facility).
        auto rows = db_.query(
            "SELECT name FROM kh_registry_entry WHERE office_no = ? AND service_type = ? "
            "ORDER BY published_by_gateway, network LIMIT 1",
            {office_no, type});
        if (rows.empty())
          rows = db_.query(
              "SELECT name FROM kh_registry_entry WHERE office_no = ? "
              "ORDER BY published_by_gateway, service_type, network LIMIT 1",
              {office_no});
        if (!rows.empty()) name = col(rows[0], 0);
      } catch (const SqlError&) {
        available_ = false;  // a store without the registry tables: names stay unknown
      }
    }
    cache_[key] = name;
    return name;
  }

 private:
  SqlConnection& db_;
  bool available_ = true;
  std::map<std::string, std::string> cache_;
};

// Files named by the unit's translation receipt (verified with the gateway certificate).
std::vector<audit::EvidenceFile> receipt_files(const std::vector<audit::AuditRecord>& records,
                                               X509* gateway) {
  std::vector<audit::EvidenceFile> out;
  if (gateway == nullptr) return out;
  for (const auto& r : records) {
    if (r.kind != "translation-receipt") continue;
    const std::string der = mapping::common::base64_decode(r.detail).value_or(std::string());
    const auto receipt = mapping::cms::verify_receipt(
        {reinterpret_cast<const std::uint8_t*>(der.data()), der.size()}, gateway);
    if (!receipt) continue;
    out.clear();
    for (const auto& f : receipt.value().files) {
      audit::EvidenceFile e;
      e.name = f.name;
      e.sha256 = f.sha256;
      out.push_back(std::move(e));
    }
  }
  return out;
}

}  // namespace

audit::EvidenceBody collect_evidence(SqlConnection& db, const std::string& office_no,
                                     const std::string& yyyymm, const EvidenceSources& sources) {
  const auto range = audit::month_range(yyyymm);
  audit::EvidenceBody body;
  body.office_no = office_no;
  body.month = yyyymm;
  if (!range) return body;
  body.from_ms = range->first;
  body.to_ms = range->second;
  body.generated_at = sources.now;
  body.gateway_certificate = sources.gateway_certificate;
  body.chain = sources.chain;
  mapping::cms::X509Ptr gateway;
  {
    const auto& pem = sources.gateway_certificate;
    mapping::cms::BioPtr bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
    if (bio) gateway.reset(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
  }
  OfficeNames names(db);
  body.office_name = names(office_no, "");

  const auto transfers = db.query(
      "SELECT id, direction, sender_office, sender_type, recipient_office, recipient_type, "
      "sequence, unit_kind, payload FROM kh_transfers "
      "WHERE (sender_office = ? OR recipient_office = ?) AND created_at >= ? AND created_at < ? "
      "ORDER BY created_at, id",
      {office_no, office_no, range->first, range->second});
  std::vector<std::int64_t> unit_seqs;
  for (const auto& t : transfers) {
    audit::EvidenceUnit u;
    u.transfer_id = num(t, 0);
    u.path = col(t, 1);
    u.sender = {col(t, 2), col(t, 3), names(col(t, 2), col(t, 3))};
    u.recipient = {col(t, 4), col(t, 5), names(col(t, 4), col(t, 5))};
    u.role = u.sender.office_no == office_no ? "sent" : "received";
    u.sequence = col(t, 6);
    u.kind = col(t, 7);
    std::vector<audit::AuditRecord> records;
    for (const auto& r : db.query(
             std::string(kRecordColumns) + "WHERE transfer_id = ? AND seq IS NOT NULL ORDER BY seq",
             {u.transfer_id})) {
      records.push_back(record_from(r));
      u.records.push_back(*records.back().seq);
      unit_seqs.push_back(*records.back().seq);
    }
    const auto h = audit::history_of(records);
    u.status = std::string(audit::status_code(h.status));
    u.status_ja = std::string(audit::status_ja(h.status));
    u.accepted_at = h.accepted_at;
    u.delivered_at = h.delivered_at;
    u.receipt_at = h.receipt_at;
    u.rejected_at = h.rejected_at;
    u.reason = h.reason;
    std::optional<std::vector<audit::EvidenceFile>> files;
    if (t.at(8) && sources.open_payload)
      files = sources.open_payload(decode_blob(db.dialect(), *t.at(8)));
    u.files = files ? std::move(*files) : receipt_files(records, gateway.get());
    body.units.push_back(std::move(u));
  }

  // Each unit record's chain up to the first checkpoint at or after it; overlapping runs merge.
  std::sort(unit_seqs.begin(), unit_seqs.end());
  std::vector<std::pair<std::int64_t, std::int64_t>> runs;
  std::map<std::int64_t, audit::Checkpoint> checkpoints;  // by number
  for (const auto seq : unit_seqs) {
    if (!runs.empty() && seq <= runs.back().second) continue;
    const auto rows = db.query(
        "SELECT number, seq, hash, at, signature FROM kh_audit_checkpoints WHERE seq >= ? "
        "ORDER BY seq LIMIT 1",
        {seq});
    std::int64_t end = seq;
    if (rows.empty()) {
      // Not sealed yet: the run goes to the chain's end and the bundle says it is unsealed.
      const auto last = db.query("SELECT MAX(seq) FROM kh_events");
      end = last.empty() ? seq : std::max(seq, num(last[0], 0));
    } else {
      audit::Checkpoint c{num(rows[0], 0), num(rows[0], 1), col(rows[0], 2), num(rows[0], 3),
                          col(rows[0], 4)};
      end = c.seq;
      checkpoints[c.number] = std::move(c);
    }
    if (!runs.empty() && seq == runs.back().second + 1) {
      runs.back().second = end;
    } else {
      runs.emplace_back(seq, end);
    }
  }
  for (const auto& [first, last] : runs) {
    for (const auto& r :
         db.query(std::string(kRecordColumns) + "WHERE seq >= ? AND seq <= ? ORDER BY seq",
                  {first, last}))
      body.records.push_back(record_from(r));
    // Every checkpoint inside the run too: a checkpoint missing from a run is then a removal.
    for (const auto& r :
         db.query("SELECT number, seq, hash, at, signature FROM kh_audit_checkpoints "
                  "WHERE seq >= ? AND seq <= ? ORDER BY number",
                  {first, last})) {
      audit::Checkpoint c{num(r, 0), num(r, 1), col(r, 2), num(r, 3), col(r, 4)};
      checkpoints[c.number] = std::move(c);
    }
  }
  for (auto& [number, c] : checkpoints) body.checkpoints.push_back(std::move(c));
  return body;
}

}  // namespace kakehashi::gateway::store
