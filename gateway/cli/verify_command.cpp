#include "gateway/cli/verify_command.hpp"

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <ctime>
#include <ostream>

#include "gateway/cli/args.hpp"
#include "gateway/pki/key_file.hpp"
#include "gateway/pki/trust_domain_loader.hpp"
#include "mapping/cms/gateway_attestation.hpp"
#include "mapping/cms/parse.hpp"
#include "mapping/cms/translation_receipt.hpp"
#include "mapping/cms/verify.hpp"
#include "mapping/common/iso_time.hpp"

namespace kakehashi::gateway::cli {

namespace {

namespace cms = mapping::cms;

constexpr const char* kHelp =
    "Usage: kakehashi verify [--json] --trust DOMAIN_DIR [--content FILE] [--office NUMBER]\n"
    "                        [--signer INDEX] FILE\n"
    "       kakehashi verify [--json] --receipt FILE --gateway-cert PEM [--document FILE]\n"
    "\n"
    "Verify a CMS SignedData file (DER or PEM), attached or detached, against a trust domain\n"
    "directory (see mapping/cms/README.md) and show the signer and the verdict. A file the\n"
    "gateway signed for a unit from the national side (which signs nothing) carries the\n"
    "gateway's attestation (adapters/regional/PROTOCOL.md §13): it is shown, and the signature\n"
    "is the gateway's, not the sender's.\n"
    "\n"
    "With --receipt, verify a translation receipt offline with the gateway's certificate alone\n"
    "and explain what it binds: the sender's signed files and SignerInfos to the document sent\n"
    "to the national side and the item id it got (version 2), or the envelopes (version 1).\n"
    "\n"
    "Options:\n"
    "  --trust DOMAIN_DIR  trust domain: domain.conf, anchors, crls/ (required)\n"
    "  --content FILE      the signed content, for a detached signature\n"
    "  --office NUMBER     also require that the signer's certificate names this office\n"
    "  --signer INDEX      which SignerInfo to check (default: the first that verifies\n"
    "                      against the domain, e.g. the sender's beside a proxy co-signature)\n"
    "  --receipt FILE      a translation receipt (DER) to verify instead of a signed file\n"
    "  --gateway-cert PEM  the gateway's receipt signer certificate (with --receipt)\n"
    "  --document FILE     with --receipt: also check that this is the document sent\n"
    "  --json              machine-readable output\n"
    "\n"
    "Exit status: 0 valid, 1 invalid (reason shown), 2 usage or I/O error.\n";

struct Verdict {
  std::string file;
  cms::Verification verification;
  std::optional<std::string> claimed_office;
  bool office_ok = true;
  // The gateway's attestation in the signed attributes (PROTOCOL.md §13 of adapters/regional).
  std::optional<cms::GatewayAttestation> attestation;
  std::string attestation_error;  // an attestation attribute that does not decode
  bool valid() const { return verification.valid() && office_ok && attestation_error.empty(); }
  std::string reason() const {
    if (!verification.valid()) return std::string(cms::to_string(verification.failure));
    if (!attestation_error.empty()) return "attestation-malformed";
    return office_ok ? "ok" : "office-mismatch";
  }
  // What the signature is: the gateway's attestation for a national unit, or a sender's.
  std::string kind() const { return attestation ? "gateway-attestation" : "sender"; }
};

void print_json(std::ostream& out, const Verdict& v) {
  rapidjson::StringBuffer buf;
  rapidjson::Writer<rapidjson::StringBuffer> w(buf);
  const auto& r = v.verification;
  auto str = [&w](const char* key, const std::string& value) {
    w.Key(key);
    w.String(value.c_str(), static_cast<rapidjson::SizeType>(value.size()));
  };
  w.StartObject();
  str("file", v.file);
  w.Key("valid");
  w.Bool(v.valid());
  str("reason", v.reason());
  str("detail", r.detail);
  w.Key("attached");
  w.Bool(r.attached);
  w.Key("signer_count");
  w.Uint64(r.signer_count);
  w.Key("signer_index");
  w.Uint64(r.signer_index);
  w.Key("signer");
  if (r.signer) {
    w.StartObject();
    str("subject", r.signer->subject);
    str("issuer", r.signer->issuer);
    str("serial", r.signer->serial);
    w.Key("office_number");
    if (r.signer->office_number) {
      w.String(r.signer->office_number->c_str());
    } else {
      w.Null();
    }
    str("key_type", r.signer->key_type);
    str("not_before", mapping::common::format_iso_seconds(r.signer->not_before));
    str("not_after", mapping::common::format_iso_seconds(r.signer->not_after));
    w.EndObject();
  } else {
    w.Null();
  }
  w.Key("signing_time");
  if (r.signing_time) {
    w.String(mapping::common::format_iso_seconds(*r.signing_time).c_str());
  } else {
    w.Null();
  }
  str("anchor", r.anchor);
  w.Key("crl");
  w.StartObject();
  str("policy", std::string(cms::to_string(r.crl_policy)));
  str("outcome", std::string(cms::to_string(r.crl)));
  w.EndObject();
  if (v.claimed_office) {
    str("claimed_office", *v.claimed_office);
    w.Key("office_match");
    w.Bool(v.office_ok);
  }
  str("signature_kind", v.kind());
  w.Key("attestation");
  if (v.attestation) {
    const auto& a = *v.attestation;
    w.StartObject();
    str("national_office", a.office_number);
    str("service_type", a.service_type);
    str("session", a.session);
    str("national_item", a.national_item);
    str("fetched_at", mapping::common::format_iso_seconds(a.fetched_at));
    str("fetched_sha256", a.fetched_sha256);
    w.EndObject();
  } else {
    w.Null();
  }
  if (!v.attestation_error.empty()) str("attestation_error", v.attestation_error);
  w.EndObject();
  out << buf.GetString() << "\n";
}

void print_text(std::ostream& out, const Verdict& v) {
  const auto& r = v.verification;
  out << v.file << ": " << (v.valid() ? "VALID" : "INVALID (" + v.reason() + ")") << "\n";
  if (!r.detail.empty()) out << "  detail:       " << r.detail << "\n";
  if (r.signer) {
    out << "  signer:       " << r.signer->subject << "\n"
        << "  issuer:       " << r.signer->issuer << "\n"
        << "  serial:       " << r.signer->serial << "\n"
        << "  office:       " << r.signer->office_number.value_or("(none)") << "\n"
        << "  key:          " << r.signer->key_type << "\n";
  }
  if (r.signing_time)
    out << "  signing time: " << mapping::common::format_iso_seconds(*r.signing_time) << "\n";
  if (!r.anchor.empty()) out << "  anchor:       " << r.anchor << "\n";
  out << "  revocation:   " << cms::to_string(r.crl) << " (policy " << cms::to_string(r.crl_policy)
      << ")\n"
      << "  form:         " << (r.attached ? "attached" : "detached") << ", " << r.signer_count
      << " signer(s), checked #" << r.signer_index << "\n";
  if (v.claimed_office) {
    out << "  claimed:      " << *v.claimed_office << (v.office_ok ? " (matches)" : " (MISMATCH)")
        << "\n";
  }
  if (v.attestation) {
    out << "  path:         attested-from-national: the signature is the gateway's, made for a\n"
           "                unit from the national side (which signs nothing), not the sender's\n"
        << "  attestation:  " << cms::describe(*v.attestation) << "\n";
  } else if (!v.attestation_error.empty()) {
    out << "  attestation:  MALFORMED: " << v.attestation_error << "\n";
  } else if (r.signer) {
    out << "  path:         signed by the sender\n";
  }
}

// `--receipt`: a translation receipt checked with the gateway's certificate alone.
int run_receipt(const Args& args, CommandIo io) {
  if (!args.positionals().empty()) throw UsageError{"--receipt takes no FILE"};
  const auto cert_path = args.option("--gateway-cert");
  if (!cert_path) throw UsageError{"--receipt needs --gateway-cert PEM"};
  const auto receipt_path = *args.option("--receipt");
  const auto cert = pki::load_certificate(*cert_path);
  const auto raw = pki::read_file(receipt_path);
  const auto der = cms::cms_der_from_pem_or_der(raw);
  auto r = der ? cms::verify_receipt(der.value(), cert.get())
               : cms::Result<cms::TranslationReceipt>(der.error());
  std::optional<bool> document_ok;
  std::string document_sha256;
  if (const auto d = args.option("--document"); d && r.ok()) {
    const auto bytes = pki::read_file(*d);
    document_sha256 = cms::sha256_hex(bytes);
    document_ok = r.value().version == 2 && document_sha256 == r.value().sent_sha256;
  }
  const bool valid = r.ok() && document_ok.value_or(true);
  if (args.flag("--json")) {
    rapidjson::StringBuffer buf;
    rapidjson::Writer<rapidjson::StringBuffer> w(buf);
    auto str = [&w](const char* key, const std::string& value) {
      w.Key(key);
      w.String(value.c_str(), static_cast<rapidjson::SizeType>(value.size()));
    };
    w.StartObject();
    str("receipt", receipt_path);
    w.Key("valid");
    w.Bool(valid);
    if (!r.ok()) {
      str("reason", std::string(cms::to_string(r.error().code)));
      str("detail", r.error().detail);
    } else {
      const auto& t = r.value();
      w.Key("version");
      w.Int(t.version);
      str("transfer", t.transfer_id);
      str("created", mapping::common::format_iso_seconds(t.created));
      str("inbound_envelope_sha256", t.inbound_sha256);
      w.Key("files");
      w.StartArray();
      for (const auto& f : t.files) {
        w.StartObject();
        str("name", f.name);
        str("sha256", f.sha256);
        w.EndObject();
      }
      w.EndArray();
      w.Key("signer_infos");
      w.StartArray();
      for (const auto& d : t.signers) {
        w.StartObject();
        str("file", d.file);
        str("sha256", d.signer_info_sha256);
        str("signer", d.signer);
        w.EndObject();
      }
      w.EndArray();
      str("outbound_envelope_sha256", t.outbound_sha256);
      if (t.version == 2) {
        str("sent_document_sha256", t.sent_sha256);
        str("national_item", t.national_item);
      }
      if (document_ok) {
        w.Key("document_match");
        w.Bool(*document_ok);
      }
    }
    w.EndObject();
    io.out << buf.GetString() << "\n";
    return valid ? kExitOk : kExitRejected;
  }
  if (!r.ok()) {
    io.out << receipt_path << ": INVALID (" << cms::to_string(r.error().code) << ")\n"
           << "  detail:       " << r.error().detail << "\n";
    return kExitRejected;
  }
  const auto& t = r.value();
  io.out << receipt_path << ": " << (valid ? "VALID" : "INVALID (document-mismatch)")
         << ", translation receipt version " << t.version << ", signed by the gateway\n"
         << "  transfer:     " << t.transfer_id << "\n"
         << "  created:      " << mapping::common::format_iso_seconds(t.created) << "\n"
         << "  inbound:      envelope sha256 " << t.inbound_sha256 << "\n";
  for (const auto& f : t.files)
    io.out << "  signed file:  " << f.name << " sha256 " << f.sha256 << "\n";
  for (const auto& d : t.signers)
    io.out << "  signer info:  " << d.file << " sha256 " << d.signer_info_sha256 << "\n"
           << "                signed by " << d.signer << "\n";
  io.out << "  outbound:     envelope sha256 " << t.outbound_sha256 << "\n";
  if (t.version == 2) {
    io.out << "  path:         translated-to-national: the sender's signed files above (each\n"
              "                SignerInfo verified at intake) were translated; the national side\n"
              "                took the document below and named it by the item id\n"
           << "  sent:         document sha256 " << t.sent_sha256 << "\n"
           << "  item:         " << t.national_item << "\n";
  } else {
    io.out << "  path:         signed: the files were relayed untouched\n";
  }
  if (document_ok) {
    io.out << "  document:     sha256 " << document_sha256
           << (*document_ok ? " (the document sent)" : " (MISMATCH: not the document sent)")
           << "\n";
  }
  return valid ? kExitOk : kExitRejected;
}

int run_verify(std::span<const std::string> argv, CommandIo io) {
  const Args args(argv, {"--json"},
                  {"--trust", "--content", "--office", "--signer", "--receipt", "--gateway-cert",
                   "--document"});
  if (args.option("--receipt")) return run_receipt(args, io);
  if (args.option("--gateway-cert") || args.option("--document"))
    throw UsageError{"--gateway-cert and --document go with --receipt"};
  if (args.positionals().size() != 1) throw UsageError{"expected exactly one FILE"};
  const auto trust = args.option("--trust");
  if (!trust) throw UsageError{"--trust DOMAIN_DIR is required"};
  cms::VerifyOptions options;
  if (const auto s = args.option("--signer")) {
    if (s->empty() || s->find_first_not_of("0123456789") != std::string::npos || s->size() > 3) {
      throw UsageError{"--signer takes a small non-negative number"};
    }
    options.signer_index = std::stoul(*s);
  }
  const auto domain = pki::load_trust_domain(*trust);
  Verdict v;
  v.file = args.positionals().front();
  const auto raw = pki::read_file(v.file);
  std::optional<cms::Bytes> content;
  if (const auto c = args.option("--content")) content = pki::read_file(*c);
  const auto der = cms::cms_der_from_pem_or_der(raw);
  if (!der) {
    v.verification.failure = cms::VerifyFailure::kMalformed;
    v.verification.detail = der.error().detail;
  } else {
    v.verification = cms::verify_signed_data(
        der.value(), content ? std::optional<cms::ByteView>(*content) : std::nullopt, domain,
        options);
  }
  if (der) {
    auto a = cms::read_attestation(der.value());
    if (!a) {
      v.attestation_error = a.error().detail;
    } else {
      v.attestation = std::move(a.value());
    }
  }
  v.claimed_office = args.option("--office");
  if (v.claimed_office) {
    v.office_ok = v.verification.signer &&
                  cms::signer_holds_office(*v.verification.signer, *v.claimed_office);
  }
  if (args.flag("--json")) {
    print_json(io.out, v);
  } else {
    print_text(io.out, v);
  }
  return v.valid() ? kExitOk : kExitRejected;
}

}  // namespace

Command verify_command() {
  return {"verify", "verify a signed file against a trust domain and show its signer", kHelp,
          run_verify};
}

}  // namespace kakehashi::gateway::cli
