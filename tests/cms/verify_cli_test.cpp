#define BOOST_TEST_DYN_LINK
#include <boost/test/unit_test.hpp>

#include <rapidjson/document.h>

#include "mapping/cms/gateway_attestation.hpp"
#include "mapping/cms/signer.hpp"
#include "mapping/cms/translation_receipt.hpp"
#include "tests/cms/test_support.hpp"

namespace cms = kakehashi::mapping::cms;
namespace t = kakehashi::test;

namespace {

t::RunResult run_verify(const std::string& args) {
  return t::run(t::quote(KAKEHASHI_BIN) + " verify " + args);
}

}  // namespace

BOOST_AUTO_TEST_SUITE(verify_cli)

BOOST_AUTO_TEST_CASE(exit_codes_and_output) {
  const auto dir = t::scratch_dir("cli");
  const auto content = t::sample_content();
  t::write_file(dir / "plan.csv", content);
  const auto good = cms::sign(content, t::credential("offices/regional/3271500013"), {});
  const auto revoked = cms::sign(content, t::credential("cases/revoked"), {});
  BOOST_TEST_REQUIRE((good.ok() && revoked.ok()));
  t::write_file(dir / "good.p7s", good.value());
  t::write_file(dir / "revoked.p7s", revoked.value());
  const auto trust = " --trust " + t::quote((t::pki_dir() / "regional").string());
  const auto with_content = " --content " + t::quote((dir / "plan.csv").string()) + " ";
  const auto good_file = t::quote((dir / "good.p7s").string());

  auto r = run_verify(trust + with_content + good_file);
  BOOST_TEST(r.exit_code == 0, r.output);
  BOOST_TEST(r.output.find("VALID") != std::string::npos);
  BOOST_TEST(r.output.find("3271500013") != std::string::npos);

  r = run_verify("--json" + trust + with_content + good_file);
  BOOST_TEST_REQUIRE(r.exit_code == 0, r.output);
  rapidjson::Document doc;
  doc.Parse(r.output.c_str());
  BOOST_TEST_REQUIRE(!doc.HasParseError(), r.output);
  BOOST_TEST(doc["valid"].GetBool());
  BOOST_TEST(std::string(doc["signer"]["office_number"].GetString()) == "3271500013");
  BOOST_TEST(std::string(doc["crl"]["policy"].GetString()) == "hard-fail");

  r = run_verify("--json" + trust + with_content + t::quote((dir / "revoked.p7s").string()));
  BOOST_TEST(r.exit_code == 1, r.output);
  doc.Parse(r.output.c_str());
  BOOST_TEST_REQUIRE(!doc.HasParseError(), r.output);
  BOOST_TEST(std::string(doc["reason"].GetString()) == "revoked");

  // The signer is valid but not the claimed sender office.
  r = run_verify(trust + " --office 3271500021" + with_content + good_file);
  BOOST_TEST(r.exit_code == 1, r.output);
  BOOST_TEST(r.output.find("office-mismatch") != std::string::npos);
  r = run_verify(trust + " --office 3271500013" + with_content + good_file);
  BOOST_TEST(r.exit_code == 0, r.output);

  // PEM input is accepted as well as DER.
  r = t::run("openssl cms -cmsout -inform DER -outform PEM -in " + good_file + " -out " +
             t::quote((dir / "good.pem").string()));
  BOOST_TEST_REQUIRE(r.exit_code == 0, r.output);
  r = run_verify(trust + with_content + t::quote((dir / "good.pem").string()));
  BOOST_TEST(r.exit_code == 0, r.output);

  // Missing content for a detached signature: invalid, not a usage error.
  BOOST_TEST(run_verify(trust + " " + good_file).exit_code == 1);
  // Usage and I/O errors.
  BOOST_TEST(run_verify(with_content + good_file).exit_code == 2);  // no --trust
  BOOST_TEST(run_verify(trust).exit_code == 2);                     // no FILE
  BOOST_TEST(run_verify(trust + " " + t::quote((dir / "missing.p7s").string())).exit_code == 2);
  BOOST_TEST(
      run_verify(" --trust " + t::quote(dir.string()) + with_content + good_file).exit_code == 2);
  BOOST_TEST(run_verify("--bogus" + trust + " " + good_file).exit_code == 2);
  r = run_verify("--help");
  BOOST_TEST(r.exit_code == 0);
  BOOST_TEST(r.output.find("--trust DOMAIN_DIR") != std::string::npos);
}

// Issue 17: a file the gateway signed for a national unit says so, with its attestation; a
// sender's signature says it is the sender's.
BOOST_AUTO_TEST_CASE(verify_explains_a_gateway_attestation) {
  const auto dir = t::scratch_dir("cli-attest");
  const auto content = t::sample_content();
  t::write_file(dir / "plan.csv", content);
  cms::GatewayAttestation a;
  a.office_number = "1371100452";
  a.service_type = "43";
  a.session = "3271500013/g2";
  a.national_item = "KW-000777";
  a.fetched_at = 1742867285;
  a.fetched_sha256 = cms::sha256_hex(t::to_bytes("answer"));
  const auto attested = cms::sign_with_attestation(content, t::credential("gateway/proxy-rsa"), a);
  BOOST_TEST_REQUIRE(attested.ok());
  t::write_file(dir / "attested.p7s", attested.value());
  const auto trust = " --trust " + t::quote((t::pki_dir() / "national").string());
  const auto with_content = " --content " + t::quote((dir / "plan.csv").string()) + " ";
  const auto file = t::quote((dir / "attested.p7s").string());

  auto r = run_verify(trust + with_content + file);
  BOOST_TEST(r.exit_code == 0, r.output);
  BOOST_TEST(r.output.find("attested-from-national") != std::string::npos, r.output);
  BOOST_TEST(r.output.find(cms::describe(a)) != std::string::npos, r.output);
  r = run_verify("--json" + trust + with_content + file);
  BOOST_TEST_REQUIRE(r.exit_code == 0, r.output);
  rapidjson::Document doc;
  doc.Parse(r.output.c_str());
  BOOST_TEST_REQUIRE(!doc.HasParseError(), r.output);
  BOOST_TEST(std::string(doc["signature_kind"].GetString()) == "gateway-attestation");
  BOOST_TEST(std::string(doc["attestation"]["national_office"].GetString()) == "1371100452");
  BOOST_TEST(std::string(doc["attestation"]["national_item"].GetString()) == "KW-000777");
  BOOST_TEST(std::string(doc["attestation"]["session"].GetString()) == "3271500013/g2");
  BOOST_TEST(std::string(doc["attestation"]["fetched_at"].GetString()) == "2025-03-25T01:48:05Z");

  // A sender's own signature: no attestation.
  const auto sender = cms::sign(content, t::credential("offices/regional/3271500013"), {});
  BOOST_TEST_REQUIRE(sender.ok());
  t::write_file(dir / "sender.p7s", sender.value());
  r = run_verify("--json --trust " + t::quote((t::pki_dir() / "regional").string()) + with_content +
                 t::quote((dir / "sender.p7s").string()));
  BOOST_TEST_REQUIRE(r.exit_code == 0, r.output);
  doc.Parse(r.output.c_str());
  BOOST_TEST_REQUIRE(!doc.HasParseError(), r.output);
  BOOST_TEST(std::string(doc["signature_kind"].GetString()) == "sender");
  BOOST_TEST(doc["attestation"].IsNull());
}

// `--receipt`: a translation receipt checked offline with the gateway certificate alone.
BOOST_AUTO_TEST_CASE(verify_explains_a_translation_receipt_offline) {
  const auto dir = t::scratch_dir("cli-receipt");
  const std::string json = "{\"careplan\":\"5.0\"}";
  t::write_file(dir / "sent.json", t::to_bytes(json));
  t::write_file(dir / "other.json", t::to_bytes(json + " "));
  const auto content = t::sample_content();
  const auto sender = cms::sign(content, t::credential("offices/regional/3271500013"), {});
  BOOST_TEST_REQUIRE(sender.ok());
  cms::TranslationReceipt v2;
  v2.version = 2;
  v2.transfer_id = "42";
  v2.created = 1742867285;
  v2.inbound_sha256 = cms::sha256_hex(t::to_bytes("in"));
  v2.outbound_sha256 = cms::sha256_hex(t::to_bytes("out"));
  v2.files = {{"UPPLAN.CSV", cms::sha256_hex(content)}};
  v2.signers = cms::signer_digests("UPPLAN.CSV", sender.value()).value();
  v2.sent_sha256 = cms::sha256_hex(t::to_bytes(json));
  v2.national_item = "1371100452:KW-000042";
  auto v1 = v2;
  v1.version = 1;
  v1.signers.clear();
  v1.sent_sha256.clear();
  v1.national_item.clear();
  const auto gw = t::credential("gateway/proxy-rsa");
  t::write_file(dir / "v2.p7m", cms::sign_receipt(v2, gw).value());
  t::write_file(dir / "v1.p7m", cms::sign_receipt(v1, gw).value());
  const auto cert =
      " --gateway-cert " + t::quote((t::pki_dir() / "gateway" / "proxy-rsa.cert.pem").string());
  const auto receipt = [&](const char* name) {
    return " --receipt " + t::quote((dir / name).string());
  };

  auto r = run_verify(receipt("v2.p7m") + cert);
  BOOST_TEST(r.exit_code == 0, r.output);
  BOOST_TEST(r.output.find("version 2") != std::string::npos, r.output);
  BOOST_TEST(r.output.find("translated-to-national") != std::string::npos, r.output);
  BOOST_TEST(r.output.find("1371100452:KW-000042") != std::string::npos, r.output);
  BOOST_TEST(r.output.find(v2.signers[0].signer_info_sha256) != std::string::npos, r.output);
  r = run_verify(receipt("v2.p7m") + cert + " --document " +
                 t::quote((dir / "sent.json").string()));
  BOOST_TEST(r.exit_code == 0, r.output);
  BOOST_TEST(r.output.find("(the document sent)") != std::string::npos, r.output);
  r = run_verify("--json" + receipt("v2.p7m") + cert + " --document " +
                 t::quote((dir / "other.json").string()));
  BOOST_TEST(r.exit_code == 1, r.output);
  rapidjson::Document doc;
  doc.Parse(r.output.c_str());
  BOOST_TEST_REQUIRE(!doc.HasParseError(), r.output);
  BOOST_TEST(!doc["valid"].GetBool());
  BOOST_TEST(!doc["document_match"].GetBool());
  BOOST_TEST(doc["version"].GetInt() == 2);
  BOOST_TEST(std::string(doc["national_item"].GetString()) == "1371100452:KW-000042");
  BOOST_TEST(std::string(doc["signer_infos"][0]["sha256"].GetString()) ==
             v2.signers[0].signer_info_sha256);

  // Version 1 receipts stay verifiable.
  r = run_verify(receipt("v1.p7m") + cert);
  BOOST_TEST(r.exit_code == 0, r.output);
  BOOST_TEST(r.output.find("version 1") != std::string::npos, r.output);
  // Another certificate: refused, with the reason.
  r = run_verify(receipt("v2.p7m") + " --gateway-cert " +
                 t::quote((t::pki_dir() / "gateway" / "member-rsa.cert.pem").string()));
  BOOST_TEST(r.exit_code == 1, r.output);
  BOOST_TEST(r.output.find("bad-signature") != std::string::npos, r.output);
  // Usage: --receipt needs the certificate; --document needs --receipt.
  BOOST_TEST(run_verify(receipt("v2.p7m")).exit_code == 2);
  BOOST_TEST(run_verify(" --document x --trust y z").exit_code == 2);
}

BOOST_AUTO_TEST_SUITE_END()
