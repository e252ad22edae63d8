#include "gateway/cli/verify_command.hpp"

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <ctime>
#include <ostream>

#include "gateway/cli/args.hpp"
#include "gateway/pki/key_file.hpp"
#include "gateway/pki/trust_domain_loader.hpp"
#include "mapping/cms/parse.hpp"
#include "mapping/cms/verify.hpp"
#include "mapping/common/iso_time.hpp"

namespace kakehashi::gateway::cli {

namespace {

namespace cms = mapping::cms;

constexpr const char* kHelp =
    "Usage: kakehashi verify [--json] --trust DOMAIN_DIR [--content FILE] [--office NUMBER]\n"
    "                        [--signer INDEX] FILE\n"
    "\n"
    "Verify a CMS SignedData file (DER or PEM), attached or detached, against a trust domain\n"
    "directory (see mapping/cms/README.md) and show the signer and the verdict.\n"
    "\n"
    "Options:\n"
    "  --trust DOMAIN_DIR  trust domain: domain.conf, anchors, crls/ (required)\n"
    "  --content FILE      the signed content, for a detached signature\n"
    "  --office NUMBER     also require that the signer's certificate names this office\n"
    "  --signer INDEX      which SignerInfo to check (default: the first that verifies\n"
    "                      against the domain, e.g. the sender's beside a proxy co-signature)\n"
    "  --json              machine-readable output\n"
    "\n"
    "Exit status: 0 valid, 1 invalid (reason shown), 2 usage or I/O error.\n";

struct Verdict {
  std::string file;
  cms::Verification verification;
  std::optional<std::string> claimed_office;
  bool office_ok = true;
  bool valid() const { return verification.valid() && office_ok; }
  std::string reason() const {
    if (!verification.valid()) return std::string(cms::to_string(verification.failure));
    return office_ok ? "ok" : "office-mismatch";
  }
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
}

int run_verify(std::span<const std::string> argv, CommandIo io) {
  const Args args(argv, {"--json"}, {"--trust", "--content", "--office", "--signer"});
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
