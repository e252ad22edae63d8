#define BOOST_TEST_DYN_LINK
#include <boost/test/unit_test.hpp>

#include <sys/stat.h>

#include <fstream>

#include "gateway/pki/key_file.hpp"
#include "gateway/pki/pki_error.hpp"
#include "gateway/pki/trust_domain_loader.hpp"
#include "tests/cms/test_support.hpp"

namespace fs = std::filesystem;
namespace t = kakehashi::test;
using kakehashi::gateway::pki::PkiError;

BOOST_AUTO_TEST_SUITE(pki)

BOOST_AUTO_TEST_CASE(key_files_readable_by_others_are_refused) {
  const auto dir = t::scratch_dir("keys");
  const auto key = dir / "gateway.key.pem";
  fs::copy_file(t::pki_dir() / "gateway/proxy-rsa.key.pem", key);
  const auto key_text = t::read_bytes(key);
  for (const auto mode : {0644, 0640, 0604, 0660}) {
    BOOST_TEST_CONTEXT("mode " << std::oct << mode) {
      BOOST_TEST_REQUIRE(::chmod(key.c_str(), static_cast<mode_t>(mode)) == 0);
      try {
        kakehashi::gateway::pki::load_private_key(key);
        BOOST_ERROR("key with group/other access was accepted");
      } catch (const PkiError& e) {
        const std::string msg = e.what();
        BOOST_TEST(msg.find("chmod 600") != std::string::npos);
        BOOST_TEST(msg.find(key.string()) != std::string::npos);
        BOOST_TEST(msg.find("PRIVATE KEY") == std::string::npos);  // no key material
      }
    }
  }
  BOOST_TEST_REQUIRE(::chmod(key.c_str(), 0600) == 0);
  BOOST_TEST(kakehashi::gateway::pki::load_private_key(key) != nullptr);
  BOOST_TEST_REQUIRE(::chmod(key.c_str(), 0400) == 0);
  BOOST_TEST(kakehashi::gateway::pki::load_private_key(key) != nullptr);
  // A key that does not belong to the certificate is refused.
  BOOST_CHECK_THROW(
      kakehashi::gateway::pki::load_credential(t::pki_dir() / "gateway/proxy-ec.cert.pem", key),
      PkiError);
  BOOST_CHECK_THROW(kakehashi::gateway::pki::load_private_key(dir / "missing.pem"), PkiError);
}

BOOST_AUTO_TEST_CASE(pki_script_layout_and_modes) {
  const auto& p = t::pki_dir();
  for (const auto* f :
       {"gateway/proxy-rsa.key.pem", "gateway/proxy-ec.key.pem", "gateway/member-rsa.key.pem",
        "gateway/member-ec.key.pem", "ca/national-ca/key.pem",
        "offices/national/1370100016.key.pem", "tls/gateway-national-server-rsa.key.pem"}) {
    struct stat st {};
    BOOST_TEST_REQUIRE(::stat((p / f).c_str(), &st) == 0, f);
    BOOST_TEST((st.st_mode & 0777) == 0600u, f);
  }
  const auto server = t::run("openssl x509 -noout -ext subjectAltName -in " +
                             t::quote((p / "tls/gateway-regional-server-ec.cert.pem").string()));
  BOOST_TEST(server.output.find("IP Address:127.0.0.1") != std::string::npos, server.output);
  BOOST_TEST(server.output.find("DNS:localhost") != std::string::npos);
  // Office numbers carry valid check digits (re-checked by the shared reference script).
  const fs::path checker = KAKEHASHI_CHECK_DIGITS;
  if (fs::exists(checker)) {
    for (const auto& e : fs::directory_iterator(p / "offices/regional")) {
      const auto name = e.path().filename().string();
      const auto no = name.substr(0, 10);
      const auto r = t::run("python3 " + t::quote(checker.string()) + " " + no);
      BOOST_TEST(r.output.find("office valid") != std::string::npos, no << ": " << r.output);
    }
  }
  // Re-running keeps every existing file byte for byte.
  const auto before = t::read_bytes(p / "gateway/proxy-rsa.cert.pem");
  const auto conf_before = t::read_bytes(p / "regional/domain.conf");
  const auto r = t::run(t::quote(KAKEHASHI_PKI_SCRIPT) + " " + t::quote(p.string()));
  BOOST_TEST_REQUIRE(r.exit_code == 0, r.output);
  BOOST_TEST(t::read_bytes(p / "gateway/proxy-rsa.cert.pem") == before);
  BOOST_TEST(t::read_bytes(p / "regional/domain.conf") == conf_before);
}

BOOST_AUTO_TEST_CASE(trust_domain_loading) {
  const auto regional = t::domain("regional");
  BOOST_TEST(regional.name == "regional");
  BOOST_TEST(regional.anchors.size() == 2u);
  BOOST_TEST(regional.crls.size() == 2u);
  BOOST_TEST(regional.anchors[0].accept_from.has_value());
  BOOST_TEST(regional.anchors[1].accept_until.has_value());
  BOOST_TEST(!regional.anchors[1].accept_from.has_value());

  const auto dir = t::scratch_dir("bad-domain");
  fs::create_directories(dir / "anchors");
  fs::copy_file(t::pki_dir() / "national/anchors/national-ca.pem", dir / "anchors/ca.pem");
  auto write_conf = [&](const std::string& text) { std::ofstream(dir / "domain.conf") << text; };
  write_conf("anchor = anchors/ca.pem\ncrl_policy = maybe\n");
  BOOST_CHECK_THROW(kakehashi::gateway::pki::load_trust_domain(dir), PkiError);
  write_conf("anchor = anchors/ca.pem 2026-13-01 -\n");
  BOOST_CHECK_THROW(kakehashi::gateway::pki::load_trust_domain(dir), PkiError);
  write_conf("office_rule = regex CN no-group\nanchor = anchors/ca.pem\n");
  BOOST_CHECK_THROW(kakehashi::gateway::pki::load_trust_domain(dir), PkiError);
  write_conf(
      "crl_policy = soft-fail\ncrl_max_age = 3600\n"
      "office_rule = regex CN ^Office ([0-9]{10})$\nanchor = anchors/ca.pem\n");
  const auto d = kakehashi::gateway::pki::load_trust_domain(dir);
  BOOST_TEST(d.crl_max_age.count() == 3600);
  BOOST_TEST(d.office_rule.pattern == "^Office ([0-9]{10})$");
  BOOST_CHECK_THROW(kakehashi::gateway::pki::load_trust_domain(dir / "nope"), PkiError);
}

BOOST_AUTO_TEST_SUITE_END()
