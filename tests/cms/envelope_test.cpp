#define BOOST_TEST_DYN_LINK
#include <boost/test/unit_test.hpp>

#include "mapping/cms/envelope.hpp"
#include "tests/cms/test_support.hpp"

namespace cms = kakehashi::mapping::cms;
namespace t = kakehashi::test;

BOOST_AUTO_TEST_SUITE(envelope)

BOOST_AUTO_TEST_CASE(encrypt_to_rsa_and_p256_recipients_and_decrypt) {
  const auto content = t::sample_content();
  std::vector<cms::X509Ptr> recipients;
  recipients.push_back(t::certificate("gateway/proxy-rsa"));
  recipients.push_back(t::certificate("gateway/proxy-ec"));
  auto env = cms::encrypt(content, recipients);
  BOOST_TEST_REQUIRE(env.ok(), kakehashi::test::why(env));
  for (const std::string who : {"gateway/proxy-rsa", "gateway/proxy-ec"}) {
    auto plain = cms::decrypt(env.value(), t::credential(who));
    BOOST_TEST_REQUIRE(plain.ok(), kakehashi::test::why(plain));
    BOOST_TEST(plain.value() == content);
  }
  // Not addressed to the member certificates.
  const auto r = cms::decrypt(env.value(), t::credential("gateway/member-rsa"));
  BOOST_TEST_REQUIRE(!r.ok());
  BOOST_TEST(r.error().code == cms::ErrorCode::kNotRecipient);
  BOOST_TEST(cms::encrypt(content, {}).error().code == cms::ErrorCode::kInvalidArgument);
  BOOST_TEST(cms::decrypt(content, t::credential("gateway/proxy-rsa")).error().code ==
             cms::ErrorCode::kMalformed);
}

// Standard CMS: the openssl CLI decrypts what we encrypt, for each key type.
BOOST_AUTO_TEST_CASE(openssl_cli_decrypts_our_envelopes) {
  const auto dir = t::scratch_dir("envelope-cli");
  const auto content = t::sample_content();
  for (const std::string who : {"gateway/member-rsa", "gateway/member-ec"}) {
    BOOST_TEST_CONTEXT(who) {
      std::vector<cms::X509Ptr> recipients;
      recipients.push_back(t::certificate(who));
      auto env = cms::encrypt(content, recipients);
      BOOST_TEST_REQUIRE(env.ok());
      t::write_file(dir / "env.der", env.value());
      const auto base = (t::pki_dir() / who).string();
      const auto r = t::run(
          "openssl cms -decrypt -binary -inform DER -in " + t::quote((dir / "env.der").string()) +
          " -recip " + t::quote(base + ".cert.pem") + " -inkey " + t::quote(base + ".key.pem") +
          " -out " + t::quote((dir / "plain").string()));
      BOOST_TEST_REQUIRE(r.exit_code == 0, r.output);
      BOOST_TEST(t::read_bytes(dir / "plain") == content);
      const auto info = t::run("openssl cms -cmsout -print -inform DER -in " +
                               t::quote((dir / "env.der").string()));
      BOOST_TEST(info.output.find("aes-256-cbc") != std::string::npos);
      if (who == "gateway/member-rsa") {
        BOOST_TEST(info.output.find("rsaesOaep") != std::string::npos);
      } else {
        BOOST_TEST(info.output.find("sha256kdf") != std::string::npos);
      }
    }
  }
}

// And we decrypt what the openssl CLI encrypts.
BOOST_AUTO_TEST_CASE(we_decrypt_openssl_cli_envelopes) {
  const auto dir = t::scratch_dir("envelope-cli-in");
  const auto content = t::sample_content();
  t::write_file(dir / "plain", content);
  const auto base = (t::pki_dir() / "gateway/proxy-ec").string();
  const auto r = t::run("openssl cms -encrypt -binary -aes256 -outform DER -in " +
                        t::quote((dir / "plain").string()) + " -out " +
                        t::quote((dir / "env.der").string()) + " " + t::quote(base + ".cert.pem"));
  BOOST_TEST_REQUIRE(r.exit_code == 0, r.output);
  auto plain = cms::decrypt(t::read_bytes(dir / "env.der"), t::credential("gateway/proxy-ec"));
  BOOST_TEST_REQUIRE(plain.ok(), kakehashi::test::why(plain));
  BOOST_TEST(plain.value() == content);
}

BOOST_AUTO_TEST_SUITE_END()
