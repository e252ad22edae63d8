#include "gateway/engine/file_checks.hpp"

#include "mapping/cms/signer_identity.hpp"
#include "mapping/cms/verify.hpp"

namespace kakehashi::gateway::engine {
namespace {

namespace cms = mapping::cms;

Refusal file_refusal(const char* code, std::string detail, const std::string& name) {
  Refusal r;
  r.code = code;
  r.file = printable_file_name(name);
  r.detail = std::move(detail);
  return r;
}

}  // namespace

std::string printable_file_name(std::string_view name) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(name.size());
  for (const char c : name) {
    const auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u == 0x7f || c == '\\') {
      out += "\\x";
      out += kHex[u >> 4];
      out += kHex[u & 15];
    } else {
      out += c;
    }
  }
  return out;
}

std::optional<Refusal> check_file_name(const std::string& name) {
  const char* why = nullptr;
  if (name.empty() || name.size() > 255) {
    why = "the file name is empty or longer than 255 bytes";
  } else if (name.front() == '.') {
    why = "the file name starts with a dot";
  } else {
    for (const char c : name) {
      const auto u = static_cast<unsigned char>(c);
      if (u < 0x20 || u == 0x7f) {
        why = "the file name contains a control character (such as a line break)";
        break;
      }
      if (c == '/' || c == '\\') {
        why = "the file name contains a path separator";
        break;
      }
    }
  }
  if (why == nullptr) return std::nullopt;
  return file_refusal("NAME_UNRECOGNISED", why, name);
}

SignatureCheck check_file_signature(const SignedFile& f, bool was_attached,
                                    const std::string& sender_office, const cms::TrustDomain* trust,
                                    std::time_t now) {
  const auto view = [](const std::string& s) {
    return cms::ByteView(reinterpret_cast<const std::uint8_t*>(s.data()), s.size());
  };
  SignatureCheck out;
  if (f.cms.empty()) {
    out.refusal = file_refusal(refusal_codes::kSignatureInvalid, "file is not signed", f.name);
    return out;
  }
  if (trust == nullptr) {
    out.refusal = file_refusal(refusal_codes::kSignatureInvalid,
                               "no trust domain for the source network", f.name);
    return out;
  }
  cms::VerifyOptions options;
  if (now != 0) options.at = now;
  // The rule: one SignerInfo, the sender's. Only SignerInfo 0 is checked (no search among
  // several), and a message with more is refused whatever they hold.
  options.signer_index = 0;
  const auto v = cms::verify_signed_data(view(f.cms), view(f.content), *trust, options);
  if (v.attached && !was_attached) {
    out.refusal = file_refusal(refusal_codes::kSignatureInvalid,
                               "attached-signature: the signature embeds its content; this "
                               "network's files carry a detached signature",
                               f.name);
    return out;
  }
  if (v.signer_count > 1) {
    out.refusal =
        file_refusal(refusal_codes::kSignatureInvalid,
                     "several-signers: the signature holds " + std::to_string(v.signer_count) +
                         " SignerInfos; exactly one, the sending office's, is accepted",
                     f.name);
    return out;
  }
  if (!v.valid()) {
    out.refusal = file_refusal(refusal_codes::kSignatureInvalid,
                               std::string(cms::to_string(v.failure)) + ": " + v.detail, f.name);
    return out;
  }
  if (!v.signer || !cms::signer_holds_office(*v.signer, sender_office)) {
    out.refusal = file_refusal(refusal_codes::kSignerNotSender,
                               "the signing certificate names another office", f.name);
    return out;
  }
  out.signer = v.signer->subject + " serial " + v.signer->serial + " (" +
               std::string(cms::to_string(v.crl)) + ", " +
               std::string(cms::to_string(v.crl_policy)) + ")";
  return out;
}

}  // namespace kakehashi::gateway::engine
