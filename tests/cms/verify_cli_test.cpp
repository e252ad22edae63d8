#define BOOST_TEST_DYN_LINK
#include <boost/test/unit_test.hpp>

#include <rapidjson/document.h>

#include "mapping/cms/signer.hpp"
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

BOOST_AUTO_TEST_SUITE_END()
