#include "gateway/daemon/evidence_builder.hpp"

#include <openssl/pem.h>

#include <filesystem>
#include <stdexcept>

#include "gateway/audit/evidence_bundle.hpp"
#include "gateway/engine/unit_codec.hpp"
#include "gateway/pki/key_file.hpp"
#include "gateway/store/evidence_query.hpp"
#include "mapping/cms/content_converter.hpp"
#include "mapping/cms/ossl.hpp"

namespace kakehashi::gateway::daemon {
namespace {

std::string pem(X509* cert) {
  mapping::cms::BioPtr bio(BIO_new(BIO_s_mem()));
  PEM_write_bio_X509(bio.get(), cert);
  const auto bytes = mapping::cms::bio_bytes(bio.get());
  return {bytes.begin(), bytes.end()};
}

}  // namespace

std::string check_evidence_request(const EvidenceRequest& r) {
  if (r.office_no.size() != 10 || r.office_no.find_first_not_of("0123456789") != std::string::npos)
    return "office: needs a 10-digit office number";
  if (!audit::month_range(r.month)) return "month: needs a month as YYYYMM (e.g. 202506)";
  return {};
}

EvidenceResult make_evidence_bundle(const GatewayConfig& config, const EvidenceRequest& request) {
  if (const auto problem = check_evidence_request(request); !problem.empty())
    throw std::runtime_error(problem);
  const auto& signer_paths = config.store.audit.signer;
  if (signer_paths.certificate_file.empty() || signer_paths.key_file.empty())
    throw std::runtime_error("the config has no audit.signer or receipt_signer to sign the bundle");
  const auto signer = pki::load_credential(signer_paths.certificate_file, signer_paths.key_file);

  store::EvidenceSources sources;
  sources.now = request.now;
  sources.gateway_certificate = pem(signer.certificate.get());
  const auto certificates = pki::load_certificates(signer_paths.certificate_file);
  for (std::size_t i = 1; i < certificates.size(); ++i)
    sources.chain.push_back(pem(certificates[i].get()));
  if (!config.payload_key_file.empty() && std::filesystem::exists(config.payload_key_file)) {
    auto cipher = std::make_shared<engine::PayloadCipher>(
        engine::PayloadCipher::from_key_file(config.payload_key_file));
    sources.open_payload =
        [cipher](const std::string& sealed) -> std::optional<std::vector<audit::EvidenceFile>> {
      const auto plain = cipher->open(sealed);
      const auto unit = plain ? engine::deserialize_unit(*plain) : std::nullopt;
      if (!unit) return std::nullopt;
      std::vector<audit::EvidenceFile> files;
      for (const auto& f : unit->files) {
        std::string content = f.content;
        std::string signature = f.cms;
        if (f.attached) {
          const auto detached = mapping::cms::detach_content(
              {reinterpret_cast<const std::uint8_t*>(f.cms.data()), f.cms.size()});
          if (!detached) return std::nullopt;
          content.assign(detached.value().content.begin(), detached.value().content.end());
          signature.assign(detached.value().signature.begin(), detached.value().signature.end());
        }
        files.push_back(audit::evidence_file(f.name, content, signature));
      }
      return files;
    };
  }
  if (request.seal_first) open_store(config.store)->checkpoint(request.now);
  auto db = config.store.type == "postgres" ? store::open_postgres(config.store.dsn)
                                            : store::open_sqlite(config.store.path);
  const auto body = store::collect_evidence(*db, request.office_no, request.month, sources);
  auto bundle = audit::seal_bundle(body, signer);
  if (!bundle) throw std::runtime_error("cannot sign the bundle: " + bundle.error().detail);
  EvidenceResult out;
  out.file = audit::bundle_json(bundle.value());
  out.units = body.units.size();
  out.report_html = bundle.value().report_html;
  return out;
}

}  // namespace kakehashi::gateway::daemon
