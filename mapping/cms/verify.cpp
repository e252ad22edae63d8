#include "mapping/cms/verify.hpp"

#include <openssl/err.h>
#include <openssl/x509v3.h>

#include <algorithm>
#include <mutex>
#include <vector>

#include "mapping/cms/certificate_cache.hpp"
#include "mapping/cms/signed_attributes.hpp"
#include "mapping/common/iso_time.hpp"

namespace kakehashi::mapping::cms {

std::string_view to_string(VerifyFailure failure) {
  switch (failure) {
    case VerifyFailure::kNone:
      return "ok";
    case VerifyFailure::kMalformed:
      return "malformed";
    case VerifyFailure::kWeakAlgorithm:
      return "weak-algorithm";
    case VerifyFailure::kContentMissing:
      return "content-missing";
    case VerifyFailure::kSignerCertMissing:
      return "signer-certificate-missing";
    case VerifyFailure::kBadSignature:
      return "bad-signature";
    case VerifyFailure::kContentMismatch:
      return "content-mismatch";
    case VerifyFailure::kUnknownCa:
      return "unknown-ca";
    case VerifyFailure::kAnchorNotAccepted:
      return "anchor-not-accepted";
    case VerifyFailure::kExpired:
      return "expired";
    case VerifyFailure::kNotYetValid:
      return "not-yet-valid";
    case VerifyFailure::kChainInvalid:
      return "chain-invalid";
    case VerifyFailure::kWrongKeyUsage:
      return "wrong-key-usage";
    case VerifyFailure::kRevoked:
      return "revoked";
    case VerifyFailure::kCrlMissing:
      return "crl-missing";
    case VerifyFailure::kCrlStale:
      return "crl-stale";
  }
  return "unknown";
}

std::string_view to_string(CrlOutcome outcome) {
  switch (outcome) {
    case CrlOutcome::kNotChecked:
      return "not-checked";
    case CrlOutcome::kCurrent:
      return "current";
    case CrlOutcome::kStaleAccepted:
      return "stale-accepted";
    case CrlOutcome::kStale:
      return "stale";
    case CrlOutcome::kMissing:
      return "missing";
    case CrlOutcome::kRevoked:
      return "revoked";
  }
  return "unknown";
}

std::string_view to_string(CrlPolicy policy) {
  return policy == CrlPolicy::kHardFail ? "hard-fail" : "soft-fail";
}

namespace {

Verification fail(Verification v, VerifyFailure reason, std::string detail) {
  v.failure = reason;
  v.detail = std::move(detail);
  return v;
}

VerifyFailure map_chain_error(int err) {
  switch (err) {
    case X509_V_ERR_CERT_HAS_EXPIRED:
      return VerifyFailure::kExpired;
    case X509_V_ERR_CERT_NOT_YET_VALID:
      return VerifyFailure::kNotYetValid;
    case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT:
    case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY:
    case X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT:
    case X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN:
    case X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE:
    case X509_V_ERR_CERT_UNTRUSTED:
      return VerifyFailure::kUnknownCa;
    case X509_V_ERR_CERT_SIGNATURE_FAILURE:
    case X509_V_ERR_UNABLE_TO_DECRYPT_CERT_SIGNATURE:
    case X509_V_ERR_UNABLE_TO_DECODE_ISSUER_PUBLIC_KEY:
      return VerifyFailure::kBadSignature;
    default:
      return VerifyFailure::kChainInvalid;
  }
}

bool signing_key_usage(X509* cert) {
  const uint32_t ku = X509_get_key_usage(cert);  // UINT32_MAX when the extension is absent
  if ((ku & (KU_DIGITAL_SIGNATURE | KU_NON_REPUDIATION)) == 0) return false;
  if ((X509_get_extension_flags(cert) & EXFLAG_XKUSAGE) != 0) {
    const uint32_t xku = X509_get_extended_key_usage(cert);
    if ((xku & (XKU_SMIME | XKU_ANYEKU)) == 0) return false;
  }
  return true;
}

// Which CRLs verified under which issuer certificate: every verification checks the same few
// domain CRLs against the same CA objects, and each check is a public-key operation. The result
// of X509_CRL_verify depends only on the two objects, which are not modified after loading; the
// entries hold references to both, so neither address can be reused for another object while it
// is a key. Only successes are kept (a failure is checked again next time).
class CrlSignatureCache {
 public:
  bool verified(X509_CRL* crl, X509* issuer) {
    {
      std::lock_guard lock(mutex_);
      for (const auto& e : entries_) {
        if (e.crl.get() == crl && e.issuer.get() == issuer) return true;
      }
    }
    EVP_PKEY* issuer_key = X509_get0_pubkey(issuer);
    if (issuer_key == nullptr || X509_CRL_verify(crl, issuer_key) != 1) return false;
    std::lock_guard lock(mutex_);
    if (entries_.size() >= kCapacity) entries_.clear();
    X509_CRL_up_ref(crl);
    entries_.push_back({X509CrlPtr(crl), share(issuer)});
    return true;
  }

 private:
  static constexpr std::size_t kCapacity = 64;
  struct Entry {
    X509CrlPtr crl;
    X509Ptr issuer;
  };
  std::mutex mutex_;
  std::vector<Entry> entries_;
};

CrlSignatureCache& crl_signatures() {
  static CrlSignatureCache cache;
  return cache;
}

// The freshest CRL in the domain issued (and signed) by `issuer`.
X509_CRL* find_crl(const TrustDomain& domain, X509* issuer) {
  X509_CRL* best = nullptr;
  for (const auto& crl : domain.crls) {
    if (X509_NAME_cmp(X509_CRL_get_issuer(crl.get()), X509_get_subject_name(issuer)) != 0) {
      continue;
    }
    if (!crl_signatures().verified(crl.get(), issuer)) continue;
    if (best == nullptr || ASN1_TIME_compare(X509_CRL_get0_lastUpdate(crl.get()),
                                             X509_CRL_get0_lastUpdate(best)) > 0) {
      best = crl.get();
    }
  }
  ERR_clear_error();
  return best;
}

// Revocation of the leaf under the domain's policy; kNone when acceptable.
VerifyFailure check_revocation(Verification& v, const TrustDomain& domain, X509* leaf, X509* issuer,
                               std::time_t at) {
  X509_CRL* crl = find_crl(domain, issuer);
  if (crl == nullptr) {
    v.crl = CrlOutcome::kMissing;
    v.detail = "no CRL from the signer's issuer in trust domain '" + domain.name + "'";
    return VerifyFailure::kCrlMissing;
  }
  X509_REVOKED* revoked = nullptr;
  if (X509_CRL_get0_by_cert(crl, &revoked, leaf) == 1 && revoked != nullptr) {
    const auto when = to_time_t(X509_REVOKED_get0_revocationDate(revoked));
    if (!when || *when <= at) {
      v.crl = CrlOutcome::kRevoked;
      v.detail = "certificate revoked" +
                 (when ? " at " + common::format_iso_seconds(*when) : std::string());
      return VerifyFailure::kRevoked;
    }
  }
  const auto next = to_time_t(X509_CRL_get0_nextUpdate(crl));
  if (next && at < *next) {
    v.crl = CrlOutcome::kCurrent;
    return VerifyFailure::kNone;
  }
  const auto last = to_time_t(X509_CRL_get0_lastUpdate(crl)).value_or(0);
  const std::string stale = "CRL past nextUpdate " +
                            (next ? common::format_iso_seconds(*next) : "(none)") + ", issued " +
                            common::format_iso_seconds(last);
  if (domain.crl_policy == CrlPolicy::kSoftFail && at - last <= domain.crl_max_age.count()) {
    v.crl = CrlOutcome::kStaleAccepted;
    v.detail = stale + "; accepted by soft-fail policy (max age " +
               std::to_string(domain.crl_max_age.count()) + "s)";
    return VerifyFailure::kNone;
  }
  v.crl = CrlOutcome::kStale;
  v.detail = stale + "; refused by " + std::string(to_string(domain.crl_policy)) + " policy";
  return VerifyFailure::kCrlStale;
}

}  // namespace

std::optional<Bytes> embedded_content(ByteView cms_der) {
  CmsPtr cms = parse_cms_der_cached(cms_der);
  if (!cms || OBJ_obj2nid(CMS_get0_type(cms.get())) != NID_pkcs7_signed) return std::nullopt;
  ASN1_OCTET_STRING** pos = CMS_get0_content(cms.get());
  if (pos == nullptr || *pos == nullptr) return std::nullopt;
  const auto* data = ASN1_STRING_get0_data(*pos);
  return Bytes(data, data + ASN1_STRING_length(*pos));
}

namespace {

// The message decoded once for every SignerInfo checked (each check only touches its own
// SignerInfo), or why it cannot be decoded.
struct ParsedMessage {
  CmsPtr cms;
  std::string error;
};

ParsedMessage parse_message(ByteView cms_der) {
  ERR_clear_error();
  ParsedMessage m{parse_cms_der_cached(cms_der), {}};
  if (!m.cms) m.error = take_openssl_errors();
  return m;
}

Verification verify_one(const ParsedMessage& message, std::optional<ByteView> detached_content,
                        const TrustDomain& domain, std::time_t at, std::size_t index) {
  Verification v;
  v.signer_index = index;
  v.crl_policy = domain.crl_policy;
  ERR_clear_error();

  CMS_ContentInfo* const cms = message.cms.get();
  if (cms == nullptr) return fail(v, VerifyFailure::kMalformed, "not DER CMS: " + message.error);
  if (OBJ_obj2nid(CMS_get0_type(cms)) != NID_pkcs7_signed) {
    return fail(v, VerifyFailure::kMalformed, "CMS content type is not SignedData");
  }
  // The content the signature is over: embedded, or supplied beside a detached signature.
  ByteView content;
  ASN1_OCTET_STRING** pos = CMS_get0_content(cms);
  if (pos != nullptr && *pos != nullptr) {
    v.attached = true;
    content =
        ByteView(ASN1_STRING_get0_data(*pos), static_cast<std::size_t>(ASN1_STRING_length(*pos)));
    if (detached_content && !std::equal(content.begin(), content.end(), detached_content->begin(),
                                        detached_content->end())) {
      return fail(v, VerifyFailure::kContentMismatch,
                  "supplied content differs from the content embedded in the signature");
    }
  } else if (detached_content) {
    content = *detached_content;
  } else {
    return fail(v, VerifyFailure::kContentMissing, "detached signature and no content given");
  }

  STACK_OF(CMS_SignerInfo)* infos = CMS_get0_SignerInfos(cms);
  v.signer_count = infos == nullptr ? 0 : static_cast<std::size_t>(sk_CMS_SignerInfo_num(infos));
  if (index >= v.signer_count) {
    return fail(v, VerifyFailure::kMalformed,
                "no SignerInfo #" + std::to_string(index) + " (message has " +
                    std::to_string(v.signer_count) + ")");
  }
  CMS_SignerInfo* si = sk_CMS_SignerInfo_value(infos, static_cast<int>(index));

  CertStackPtr certs(CMS_get1_certs(cms));
  X509* signer_cert = nullptr;
  for (int i = 0; certs && i < sk_X509_num(certs.get()); ++i) {
    if (CMS_SignerInfo_cert_cmp(si, sk_X509_value(certs.get(), i)) == 0) {
      signer_cert = sk_X509_value(certs.get(), i);
      break;
    }
  }
  if (signer_cert == nullptr) {
    return fail(v, VerifyFailure::kSignerCertMissing,
                "the message does not carry the signer's certificate");
  }
  v.signer = describe_signer(signer_cert, domain.office_rule);
  v.signing_time = signing_time(si);
  // Two OIDs compared: before any cryptography, so a weak signature costs nothing to refuse.
  if (auto refused = refused_algorithm(si, domain.algorithms)) {
    return fail(v, VerifyFailure::kWeakAlgorithm,
                *refused + " in trust domain '" + domain.name + "'");
  }

  if (CMS_signed_get_attr_count(si) <= 0) {
    return fail(v, VerifyFailure::kMalformed, "SignerInfo has no signed attributes");
  }
  CMS_SignerInfo_set1_signer_cert(si, signer_cert);
  if (CMS_SignerInfo_verify(si) != 1) {
    return fail(v, VerifyFailure::kBadSignature,
                "signature does not verify: " + take_openssl_errors());
  }
  const auto digest_check = check_message_digest(si, content);
  if (!digest_check.ok()) {
    return fail(v,
                digest_check.error().code == ErrorCode::kContentMismatch
                    ? VerifyFailure::kContentMismatch
                    : VerifyFailure::kMalformed,
                digest_check.error().detail);
  }

  // Chain to an anchor accepted at `at`.
  X509StorePtr store(X509_STORE_new());
  for (const auto& a : domain.anchors) {
    if (a.accepts(at)) X509_STORE_add_cert(store.get(), a.certificate.get());
  }
  CertStackPtr untrusted(sk_X509_new_null());
  for (int i = 0; certs && i < sk_X509_num(certs.get()); ++i) {
    sk_X509_push(untrusted.get(), share(sk_X509_value(certs.get(), i)).release());
  }
  for (const auto& c : domain.intermediates)
    sk_X509_push(untrusted.get(), share(c.get()).release());
  X509StoreCtxPtr ctx(X509_STORE_CTX_new());
  if (!store || !untrusted || !ctx ||
      X509_STORE_CTX_init(ctx.get(), store.get(), signer_cert, untrusted.get()) != 1) {
    return fail(v, VerifyFailure::kChainInvalid,
                "cannot set up chain check: " + take_openssl_errors());
  }
  X509_VERIFY_PARAM_set_time(X509_STORE_CTX_get0_param(ctx.get()), at);
  if (X509_verify_cert(ctx.get()) != 1) {
    const int err = X509_STORE_CTX_get_error(ctx.get());
    const int depth = X509_STORE_CTX_get_error_depth(ctx.get());
    VerifyFailure reason = map_chain_error(err);
    std::string detail =
        std::string(X509_verify_cert_error_string(err)) + " (depth " + std::to_string(depth) + ")";
    if (reason == VerifyFailure::kUnknownCa) {
      // Distinguish "never trusted" from "trusted once, now outside its window".
      STACK_OF(X509)* chain = X509_STORE_CTX_get0_chain(ctx.get());
      X509* top = chain != nullptr && sk_X509_num(chain) > 0
                      ? sk_X509_value(chain, sk_X509_num(chain) - 1)
                      : signer_cert;
      for (const auto& a : domain.anchors) {
        if (!a.accepts(at) && X509_check_issued(a.certificate.get(), top) == X509_V_OK) {
          reason = VerifyFailure::kAnchorNotAccepted;
          detail =
              "issuing CA is outside its acceptance window in trust domain '" + domain.name + "'";
        }
      }
    }
    ERR_clear_error();
    return fail(v, reason, detail);
  }
  STACK_OF(X509)* chain = X509_STORE_CTX_get0_chain(ctx.get());
  X509* anchor = sk_X509_value(chain, sk_X509_num(chain) - 1);
  v.anchor = subject_text(anchor);

  if (!signing_key_usage(signer_cert)) {
    return fail(v, VerifyFailure::kWrongKeyUsage,
                "signer certificate's key usage does not allow digital signatures");
  }
  if (sk_X509_num(chain) < 2) {
    return fail(v, VerifyFailure::kChainInvalid, "signer certificate is itself a trust anchor");
  }
  const VerifyFailure revocation =
      check_revocation(v, domain, signer_cert, sk_X509_value(chain, 1), at);
  if (revocation != VerifyFailure::kNone) return fail(v, revocation, v.detail);
  v.failure = VerifyFailure::kNone;
  return v;
}

}  // namespace

Verification verify_signed_data(ByteView cms_der, std::optional<ByteView> detached_content,
                                const TrustDomain& domain, const VerifyOptions& options) {
  const std::time_t at = options.at.value_or(std::time(nullptr));
  const ParsedMessage message = parse_message(cms_der);
  if (options.signer_index) {
    return verify_one(message, detached_content, domain, at, *options.signer_index);
  }
  Verification first = verify_one(message, detached_content, domain, at, 0);
  if (first.valid() || first.signer_count < 2) return first;
  std::optional<Verification> chained;
  if (first.failure != VerifyFailure::kUnknownCa) chained = first;
  for (std::size_t i = 1; i < first.signer_count; ++i) {
    Verification v = verify_one(message, detached_content, domain, at, i);
    if (v.valid()) return v;
    if (!chained && v.failure != VerifyFailure::kUnknownCa) chained = std::move(v);
  }
  return chained ? std::move(*chained) : first;
}

}  // namespace kakehashi::mapping::cms
