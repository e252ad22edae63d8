#include "gateway/audit/evidence_verifier.hpp"

#include <openssl/cms.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <map>
#include <set>

#include "gateway/audit/delivery_status.hpp"
#include "gateway/audit/evidence_bundle.hpp"
#include "gateway/audit/evidence_report.hpp"
#include "mapping/cms/ossl.hpp"
#include "mapping/cms/translation_receipt.hpp"
#include "mapping/common/base64.hpp"

namespace kakehashi::gateway::audit {
namespace {

namespace cms = mapping::cms;

cms::ByteView bytes(const std::string& s) {
  return {reinterpret_cast<const std::uint8_t*>(s.data()), s.size()};
}

cms::X509Ptr pem_certificate(const std::string& pem) {
  cms::BioPtr bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  if (!bio) return nullptr;
  return cms::X509Ptr(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
}

std::string subject_of(X509* cert) {
  char buf[512];
  X509_NAME_oneline(X509_get_subject_name(cert), buf, sizeof buf);
  return buf;
}

std::string hex(const unsigned char* p, std::size_t n) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  for (std::size_t i = 0; i < n; ++i) {
    out += kDigits[p[i] >> 4];
    out += kDigits[p[i] & 0xf];
  }
  return out;
}

std::string fingerprint(X509* cert) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int n = 0;
  X509_digest(cert, EVP_sha256(), md, &n);
  return hex(md, n);
}

// The gateway's detached signature over the body, with the given certificate only.
std::string check_body_signature(const std::string& body, const std::string& signature,
                                 X509* gateway) {
  ERR_clear_error();
  const std::string der = mapping::common::base64_decode(signature).value_or(std::string());
  cms::CmsPtr parsed = der.empty() ? nullptr : cms::parse_cms_der(bytes(der));
  if (!parsed) return "is not base64 DER CMS SignedData";
  cms::CertStackPtr certs(sk_X509_new_null());
  sk_X509_push(certs.get(), cms::share(gateway).release());
  cms::BioPtr content(BIO_new_mem_buf(body.data(), static_cast<int>(body.size())));
  const unsigned flags = CMS_BINARY | CMS_NO_SIGNER_CERT_VERIFY | CMS_NOINTERN | CMS_DETACHED;
  if (CMS_verify(parsed.get(), certs.get(), nullptr, content.get(), nullptr, flags) != 1)
    return "does not verify with the gateway certificate (" + cms::take_openssl_errors() + ")";
  return {};
}

// A sender's detached signature checked without the content: the signature over the signed
// attributes with the signer certificate it carries, and its messageDigest against the file's
// SHA-256. Returns "" and the signer's subject, or the problem.
std::string check_file_signature(const EvidenceFile& f, std::string& signer) {
  ERR_clear_error();
  const std::string der = mapping::common::base64_decode(f.signature).value_or(std::string());
  cms::CmsPtr parsed = der.empty() ? nullptr : cms::parse_cms_der(bytes(der));
  if (!parsed || OBJ_obj2nid(CMS_get0_type(parsed.get())) != NID_pkcs7_signed)
    return "the signature is not base64 DER CMS SignedData";
  auto* infos = CMS_get0_SignerInfos(parsed.get());
  if (sk_CMS_SignerInfo_num(infos) < 1) return "the signature has no signer";
  CMS_SignerInfo* si = sk_CMS_SignerInfo_value(infos, 0);
  STACK_OF(X509)* certs = CMS_get1_certs(parsed.get());
  X509* cert = nullptr;
  for (int i = 0; certs != nullptr && i < sk_X509_num(certs); ++i) {
    if (CMS_SignerInfo_cert_cmp(si, sk_X509_value(certs, i)) == 0) cert = sk_X509_value(certs, i);
  }
  std::string problem;
  if (cert == nullptr) {
    problem = "the signature does not carry its signer certificate";
  } else {
    CMS_SignerInfo_set1_signer_cert(si, cert);
    signer = subject_of(cert);
    X509_ALGOR* digest = nullptr;
    CMS_SignerInfo_get0_algs(si, nullptr, nullptr, &digest, nullptr);
    const auto* md = static_cast<ASN1_OCTET_STRING*>(CMS_signed_get0_data_by_OBJ(
        si, OBJ_nid2obj(NID_pkcs9_messageDigest), -3, V_ASN1_OCTET_STRING));
    if (CMS_SignerInfo_verify(si) != 1) {
      problem = "the signature does not verify with its signer certificate";
    } else if (digest == nullptr || OBJ_obj2nid(digest->algorithm) != NID_sha256) {
      problem = "the signature's digest is not SHA-256: it cannot be tied to the listed digest";
    } else if (md == nullptr) {
      problem = "the signature has no message digest attribute";
    } else {
      const std::string signed_digest =
          hex(ASN1_STRING_get0_data(md), static_cast<std::size_t>(ASN1_STRING_length(md)));
      if (signed_digest != f.sha256)
        problem = "the signature signs digest " + signed_digest + ", not the listed one";
    }
  }
  sk_X509_pop_free(certs, X509_free);
  return problem;
}

std::string when(std::int64_t ms) {
  return ms == 0 ? std::string("(none)") : jst_time(ms) + " (" + std::to_string(ms) + ")";
}

}  // namespace

EvidenceCheck verify_evidence(const std::string& file) {
  EvidenceCheck out;
  auto& problems = out.problems;
  std::string error;
  const auto bundle = parse_bundle(file, error);
  if (!bundle) {
    problems.push_back("bundle: " + error);
    return out;
  }
  const auto body = parse_body(bundle->body, error);
  if (!body) {
    problems.push_back(error);
    return out;
  }
  out.office_no = body->office_no;
  out.month = body->month;
  out.units = body->units.size();
  out.records = body->records.size();
  out.checkpoints = body->checkpoints.size();

  // The gateway certificate and its chain (each signed by the next one).
  const auto gateway = pem_certificate(body->gateway_certificate);
  if (!gateway) {
    problems.push_back("gateway certificate: not a PEM certificate");
    return out;
  }
  out.gateway_subject = subject_of(gateway.get());
  X509* previous = gateway.get();
  std::vector<cms::X509Ptr> chain;
  for (std::size_t i = 0; i < body->chain.size(); ++i) {
    auto c = pem_certificate(body->chain[i]);
    if (!c) {
      problems.push_back("chain[" + std::to_string(i) + "]: not a PEM certificate");
      break;
    }
    EVP_PKEY* key = X509_get0_pubkey(c.get());
    if (key == nullptr || X509_verify(previous, key) != 1)
      problems.push_back("chain[" + std::to_string(i) + "]: does not sign " + subject_of(previous));
    previous = c.get();
    chain.push_back(std::move(c));
  }
  out.root_sha256 = fingerprint(previous);
  ERR_clear_error();

  if (const auto p = check_body_signature(bundle->body, bundle->signature, gateway.get());
      !p.empty()) {
    problems.push_back("bundle signature: " + p +
                       ": the body was changed after the gateway made it (a unit, record, file "
                       "or checkpoint changed, removed or added)");
  }

  // Records: hashes, links, order; consecutive runs end at a checkpoint.
  std::map<std::int64_t, const AuditRecord*> by_seq;
  std::map<std::int64_t, const Checkpoint*> checkpoint_at;
  std::set<std::int64_t> numbers;
  for (const auto& c : body->checkpoints) {
    if (!numbers.insert(c.number).second)
      problems.push_back("checkpoint " + std::to_string(c.number) + ": appears twice (added)");
    const auto v = verify_checkpoint(c, gateway.get());
    if (!v) {
      problems.push_back("checkpoint " + std::to_string(c.number) + " (record " +
                         std::to_string(c.seq) + "): " + v.error().detail);
    }
    checkpoint_at[c.seq] = &c;
  }
  const AuditRecord* prev = nullptr;
  std::int64_t run_start = 0;
  std::set<std::int64_t> sealed_checkpoints;
  const auto end_run = [&](const AuditRecord& last) {
    const auto c = checkpoint_at.find(*last.seq);
    if (c == checkpoint_at.end()) {
      problems.push_back("records " + std::to_string(run_start) + ".." + std::to_string(*last.seq) +
                         ": end at no checkpoint in the bundle (a record after " +
                         std::to_string(*last.seq) +
                         " was removed, or the checkpoint sealing them was removed)");
    } else if (c->second->hash != last.hash) {
      problems.push_back("record " + std::to_string(*last.seq) +
                         ": differs from the one checkpoint " + std::to_string(c->second->number) +
                         " sealed");
    } else {
      sealed_checkpoints.insert(c->second->number);
    }
  };
  for (const auto& r : body->records) {
    const std::int64_t seq = r.seq.value_or(0);
    const std::string name = "record " + std::to_string(seq) + " (" + r.kind + ")";
    if (prev != nullptr && seq <= *prev->seq) {
      problems.push_back(name + ": out of order or a second record at position " +
                         std::to_string(seq) + " (added)");
      continue;
    }
    if (!by_seq.emplace(seq, &r).second) continue;
    if (record_hash(seq, r.prev_hash, r) != r.hash)
      problems.push_back(name + ": changed: no longer matches its hash");
    if (prev != nullptr && *prev->seq + 1 == seq) {
      if (r.prev_hash != prev->hash)
        problems.push_back(name + ": does not link to record " + std::to_string(seq - 1) +
                           " (a record was changed, removed or added between them)");
    } else {
      if (prev != nullptr) end_run(*prev);
      run_start = seq;
    }
    prev = &r;
  }
  if (prev != nullptr) end_run(*prev);
  // The bundle holds every checkpoint inside a run of records: a gap in the numbers between two
  // checkpoints of one run is a checkpoint removed.
  std::map<std::int64_t, const Checkpoint*> by_number;
  for (const auto& c : body->checkpoints) by_number[c.number] = &c;
  const auto same_run = [&](std::int64_t from, std::int64_t to) {
    for (std::int64_t s = from; s <= to; ++s) {
      const auto r = by_seq.find(s);
      if (r == by_seq.end() || (s > from && r->second->prev_hash != by_seq[s - 1]->hash))
        return false;
    }
    return true;
  };
  for (auto it = by_number.begin(); it != by_number.end(); ++it) {
    const auto next = std::next(it);
    if (next == by_number.end() || next->first == it->first + 1) continue;
    if (it->second->seq < next->second->seq && same_run(it->second->seq, next->second->seq))
      problems.push_back(
          "checkpoints " + std::to_string(it->first + 1) + ".." + std::to_string(next->first - 1) +
          ": missing, yet the records they sealed (" + std::to_string(it->second->seq + 1) + ".." +
          std::to_string(next->second->seq) + ") are in the bundle (removed)");
  }
  for (const auto& c : body->checkpoints) {
    if (sealed_checkpoints.count(c.number) == 0 && by_seq.count(c.seq) == 0)
      problems.push_back("checkpoint " + std::to_string(c.number) + ": seals record " +
                         std::to_string(c.seq) + ", which is not in the bundle (added)");
  }

  // Units: their records, the facts the records give, receipts, files and signatures.
  std::map<std::int64_t, std::vector<const AuditRecord*>> of_transfer;
  for (const auto& [seq, r] : by_seq) of_transfer[r->transfer_id].push_back(r);
  for (const auto& u : body->units) {
    const std::string name = "unit " + std::to_string(u.transfer_id) + " (" + u.sequence + ")";
    const auto& self = u.role == "sent" ? u.sender : u.recipient;
    if ((u.role != "sent" && u.role != "received") || self.office_no != body->office_no)
      problems.push_back(name + ": role \"" + u.role + "\" does not name office " +
                         body->office_no);
    std::vector<AuditRecord> records;
    std::set<std::int64_t> listed;
    for (auto seq : u.records) {
      listed.insert(seq);
      const auto r = by_seq.find(seq);
      if (r == by_seq.end()) {
        problems.push_back(name + ": record " + std::to_string(seq) +
                           " is not in the bundle (removed)");
      } else if (r->second->transfer_id != u.transfer_id) {
        problems.push_back(name + ": record " + std::to_string(seq) + " is about transfer " +
                           std::to_string(r->second->transfer_id));
      } else {
        records.push_back(*r->second);
      }
    }
    for (const auto* r : of_transfer[u.transfer_id]) {
      if (listed.count(*r->seq) == 0)
        problems.push_back(name + ": record " + std::to_string(*r->seq) + " (" + r->kind +
                           ") is about this unit but the unit does not list it (removed)");
    }
    const auto h = history_of(records);
    const auto compare = [&](const char* label, const std::string& claimed,
                             const std::string& recorded) {
      if (claimed != recorded)
        problems.push_back(name + ": " + label + " says \"" + claimed +
                           "\" but its records say \"" + recorded + "\"");
    };
    compare("status", u.status, std::string(status_code(h.status)));
    compare("status_ja", u.status_ja, std::string(status_ja(h.status)));
    compare("送信日時 (accepted_at)", when(u.accepted_at), when(h.accepted_at));
    compare("配信日時 (delivered_at)", when(u.delivered_at), when(h.delivered_at));
    compare("受領/既読 (receipt_at)", when(u.receipt_at), when(h.receipt_at));
    compare("差し戻し (rejected_at)", when(u.rejected_at), when(h.rejected_at));
    compare("reason", u.reason, h.reason);

    bool refused = false;
    for (const auto& r : records) refused |= r.kind == "refused";
    // The intake record's file count, and the translation receipt's digests.
    std::map<std::string, std::string> receipt_digests;
    bool have_receipt = false;
    for (const auto& r : records) {
      if (r.kind == "accepted" || r.kind == "refused") {
        const auto comma = r.detail.find(", ");
        const auto files = r.detail.find(" files", comma == std::string::npos ? 0 : comma);
        if (comma != std::string::npos && files != std::string::npos) {
          const std::string count = r.detail.substr(comma + 2, files - comma - 2);
          if (count != std::to_string(u.files.size()))
            problems.push_back(name + ": its intake record says " + count +
                               " files, the bundle lists " + std::to_string(u.files.size()));
        }
      }
      if (r.kind != "translation-receipt") continue;
      const std::string der = mapping::common::base64_decode(r.detail).value_or(std::string());
      const auto receipt = cms::verify_receipt(bytes(der), gateway.get());
      if (!receipt) {
        problems.push_back(name + ": translation receipt (record " + std::to_string(*r.seq) +
                           "): " + receipt.error().detail);
        continue;
      }
      have_receipt = true;
      ++out.receipts;
      for (const auto& f : receipt.value().files) receipt_digests[f.name] = f.sha256;
    }
    for (const auto& f : u.files) {
      ++out.files;
      const std::string fname = name + ": file " + f.name;
      if (have_receipt) {
        const auto d = receipt_digests.find(f.name);
        if (d == receipt_digests.end()) {
          problems.push_back(fname + ": not in the unit's translation receipt (added)");
        } else if (d->second != f.sha256) {
          problems.push_back(fname + ": digest differs from the translation receipt's");
        }
      }
      if (f.signature.empty()) {
        out.notes.push_back(
            fname +
            ": no sender signature (payload purged before the bundle "
            "was made)" +
            std::string(have_receipt ? "; digest bound by the translation receipt" : ""));
        continue;
      }
      std::string signer;
      const auto p = check_file_signature(f, signer);
      if (!p.empty() && refused) {
        // What admission found: a unit refused at intake may carry a broken signature.
        out.notes.push_back(fname + ": " + p + " (the unit was refused at intake)");
      } else if (!p.empty()) {
        problems.push_back(fname + ": " + p);
      } else {
        ++out.signatures;
        if (!f.signer.empty() && f.signer.rfind(signer, 0) != 0)
          problems.push_back(fname + ": signer says \"" + f.signer + "\" but the certificate is " +
                             signer);
      }
    }
    if (have_receipt) {
      for (const auto& [fname, digest] : receipt_digests) {
        bool listed_file = false;
        for (const auto& f : u.files) listed_file |= f.name == fname;
        if (!listed_file)
          problems.push_back(name + ": file " + fname +
                             " is in the translation receipt but not in the bundle (removed)");
      }
    }
  }
  ERR_clear_error();

  if (render_report(*body) != bundle->report_html)
    problems.push_back("report_html: differs from the report the signed body gives (changed)");
  return out;
}

}  // namespace kakehashi::gateway::audit
