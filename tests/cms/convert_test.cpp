#define BOOST_TEST_DYN_LINK
#include <boost/test/unit_test.hpp>

#include <algorithm>

#include "gateway/pki/key_file.hpp"
#include "mapping/cms/content_converter.hpp"
#include "mapping/cms/der_layout.hpp"
#include "mapping/cms/signer.hpp"
#include "mapping/cms/verify.hpp"
#include "tests/cms/test_support.hpp"

namespace cms = kakehashi::mapping::cms;
namespace t = kakehashi::test;

BOOST_AUTO_TEST_SUITE(convert)

BOOST_AUTO_TEST_CASE(detached_to_attached_and_back_keeps_signer_info) {
  const auto content = t::sample_content();
  const auto regional = t::domain("regional");
  for (const std::string prefix :
       {"offices/regional/3271500013", "offices/regional/3271500013-ec"}) {
    BOOST_TEST_CONTEXT(prefix) {
      auto detached = cms::sign(content, t::credential(prefix), {.detached = true});
      BOOST_TEST_REQUIRE(detached.ok());
      const auto original = cms::signer_info_bytes(detached.value());
      BOOST_TEST_REQUIRE(original.size() == 1u);

      auto attached = cms::attach_content(detached.value(), content);
      BOOST_TEST_REQUIRE(attached.ok(), kakehashi::test::why(attached));
      BOOST_TEST(cms::signer_info_bytes(attached.value()) == original);
      BOOST_TEST(cms::embedded_content(attached.value()) == std::optional<cms::Bytes>(content));
      const auto v = cms::verify_signed_data(attached.value(), std::nullopt, regional);
      BOOST_TEST(v.valid(), v.detail);
      BOOST_TEST(v.attached);

      auto back = cms::detach_content(attached.value());
      BOOST_TEST_REQUIRE(back.ok());
      BOOST_TEST(back.value().content == content);
      BOOST_TEST(cms::signer_info_bytes(back.value().signature) == original);
      BOOST_TEST(back.value().signature == detached.value());  // the whole structure round-trips
      BOOST_TEST(cms::verify_signed_data(back.value().signature, cms::ByteView(content), regional)
                     .valid());
    }
  }
}

BOOST_AUTO_TEST_CASE(attach_refuses_wrong_content_and_double_conversion) {
  const auto content = t::sample_content();
  auto detached = cms::sign(content, t::credential("offices/regional/3271500021"), {});
  BOOST_TEST_REQUIRE(detached.ok());
  auto wrong = content;
  wrong[0] ^= 1;
  const auto r = cms::attach_content(detached.value(), wrong);
  BOOST_TEST_REQUIRE(!r.ok());
  BOOST_TEST(r.error().code == cms::ErrorCode::kContentMismatch);
  BOOST_TEST(cms::detach_content(detached.value()).error().code == cms::ErrorCode::kContentMissing);
  auto attached = cms::attach_content(detached.value(), content);
  BOOST_TEST_REQUIRE(attached.ok());
  BOOST_TEST(cms::attach_content(attached.value(), content).error().code ==
             cms::ErrorCode::kInvalidArgument);
  BOOST_TEST(cms::detach_content(t::to_bytes("junk")).error().code == cms::ErrorCode::kUnsupported);
}

// A signature made by another implementation (the openssl CLI) converts just the same.
BOOST_AUTO_TEST_CASE(openssl_cli_signature_converts) {
  const auto dir = t::scratch_dir("convert-cli");
  const auto content = t::sample_content();
  t::write_file(dir / "plan.csv", content);
  const auto office = t::pki_dir() / "offices/national/1371100452";
  const auto r = t::run("openssl cms -sign -binary -nodetach -outform DER -in " +
                        t::quote((dir / "plan.csv").string()) + " -signer " +
                        t::quote(office.string() + ".cert.pem") + " -inkey " +
                        t::quote(office.string() + ".key.pem") + " -out " +
                        t::quote((dir / "plan.p7m").string()));
  BOOST_TEST_REQUIRE(r.exit_code == 0, r.output);
  const auto attached = t::read_bytes(dir / "plan.p7m");
  const auto national = t::domain("national");
  BOOST_TEST(cms::verify_signed_data(attached, std::nullopt, national).valid());
  auto detached = cms::detach_content(attached);
  BOOST_TEST_REQUIRE(detached.ok());
  BOOST_TEST(cms::signer_info_bytes(detached.value().signature) ==
             cms::signer_info_bytes(attached));
  const auto v =
      cms::verify_signed_data(detached.value().signature, cms::ByteView(content), national);
  BOOST_TEST(v.valid(), v.detail);
  BOOST_TEST(v.signer->office_number.value_or("") == "1371100452");
}

BOOST_AUTO_TEST_CASE(proxy_cosignature_leaves_sender_intact) {
  const auto content = t::sample_content();
  const auto regional = t::domain("regional");
  const auto national = t::domain("national");
  for (const std::string proxy : {"gateway/proxy-rsa", "gateway/proxy-ec"}) {
    BOOST_TEST_CONTEXT(proxy) {
      auto detached = cms::sign(content, t::credential("offices/regional/3271500062"), {});
      BOOST_TEST_REQUIRE(detached.ok());
      const auto sender = cms::signer_info_bytes(detached.value());
      auto attached = cms::attach_content(detached.value(), content);
      BOOST_TEST_REQUIRE(attached.ok());
      auto cosigned = cms::add_cosigner(attached.value(), std::nullopt, t::credential(proxy));
      BOOST_TEST_REQUIRE(cosigned.ok(), kakehashi::test::why(cosigned));
      const auto after = cms::signer_info_bytes(cosigned.value());
      BOOST_TEST_REQUIRE(after.size() == 2u);
      const auto sender_at = std::find(after.begin(), after.end(), sender[0]);
      BOOST_TEST_REQUIRE((sender_at != after.end()));
      const auto sender_index = static_cast<std::size_t>(sender_at - after.begin());
      const auto s = cms::verify_signed_data(cosigned.value(), std::nullopt, regional);
      BOOST_TEST(s.valid(), s.detail);
      BOOST_TEST(s.signer_count == 2u);
      BOOST_TEST(s.signer->office_number.value_or("") == "3271500062");
      BOOST_TEST(s.signer_index == sender_index);
      const auto g = cms::verify_signed_data(cosigned.value(), std::nullopt, national);
      BOOST_TEST(g.valid(), g.detail);
      BOOST_TEST(g.signer->subject.find("Kakehashi gateway proxy") != std::string::npos);
      BOOST_TEST(g.signer_index == 1 - sender_index);
      // The sender's signature does not chain to the national CA, nor the proxy's to regional.
      BOOST_TEST(cms::verify_signed_data(cosigned.value(), std::nullopt, national,
                                         {.at = std::nullopt, .signer_index = sender_index})
                     .failure == cms::VerifyFailure::kUnknownCa);
      BOOST_TEST(cms::verify_signed_data(cosigned.value(), std::nullopt, regional,
                                         {.at = std::nullopt, .signer_index = 1 - sender_index})
                     .failure == cms::VerifyFailure::kUnknownCa);
      // Detaching the co-signed message keeps both SignerInfos.
      auto split = cms::detach_content(cosigned.value());
      BOOST_TEST_REQUIRE(split.ok());
      BOOST_TEST(cms::signer_info_bytes(split.value().signature) == after);
    }
  }
}

BOOST_AUTO_TEST_CASE(cosigning_refuses_content_that_does_not_match) {
  const auto content = t::sample_content();
  auto detached = cms::sign(content, t::credential("offices/regional/3271500062"), {});
  BOOST_TEST_REQUIRE(detached.ok());
  auto wrong = content;
  wrong.back() ^= 1;
  const auto proxy = t::credential("gateway/proxy-rsa");
  BOOST_TEST(cms::add_cosigner(detached.value(), cms::ByteView(wrong), proxy).error().code ==
             cms::ErrorCode::kContentMismatch);
  BOOST_TEST(cms::add_cosigner(detached.value(), std::nullopt, proxy).error().code ==
             cms::ErrorCode::kContentMissing);
  auto ok = cms::add_cosigner(detached.value(), cms::ByteView(content), proxy);
  BOOST_TEST_REQUIRE(ok.ok());
  BOOST_TEST(
      cms::verify_signed_data(ok.value(), cms::ByteView(content), t::domain("national")).valid());
}

// The translator's one pass gives what the two steps give: the same bytes when both are signed
// in the same second (RSA PKCS#1 v1.5 is deterministic), the same refusals.
BOOST_AUTO_TEST_CASE(attach_and_cosign_equals_attach_then_cosign) {
  const auto content = t::sample_content();
  auto office = t::credential("offices/regional/3271500062");
  office.chain.push_back(
      kakehashi::gateway::pki::load_certificate(t::pki_dir() / "ca/regional-ca/cert.pem"));
  const auto detached = cms::sign(content, office, {});
  BOOST_TEST_REQUIRE(detached.ok());
  const auto proxy = t::credential("gateway/proxy-rsa");
  bool same = false;
  for (int attempt = 0; attempt < 5 && !same; ++attempt) {
    const auto attached = cms::attach_content(detached.value(), content);
    BOOST_TEST_REQUIRE(attached.ok());
    const auto two_steps = cms::add_cosigner(attached.value(), std::nullopt, proxy);
    const auto one_pass = cms::attach_and_cosign(detached.value(), content, proxy);
    BOOST_TEST_REQUIRE(two_steps.ok());
    BOOST_TEST_REQUIRE(one_pass.ok(), t::why(one_pass));
    same = one_pass.value() == two_steps.value();  // differs only across a second boundary
  }
  BOOST_TEST(same);
  const auto ec =
      cms::attach_and_cosign(detached.value(), content, t::credential("gateway/proxy-ec"));
  BOOST_TEST_REQUIRE(ec.ok());
  BOOST_TEST(cms::signer_info_bytes(ec.value()).size() == 2u);
  BOOST_TEST(cms::verify_signed_data(ec.value(), std::nullopt, t::domain("regional")).valid());
  BOOST_TEST(cms::verify_signed_data(ec.value(), std::nullopt, t::domain("national")).valid());

  auto wrong = content;
  wrong.back() ^= 1;
  BOOST_TEST(cms::attach_and_cosign(detached.value(), wrong, proxy).error().code ==
             cms::ErrorCode::kContentMismatch);
  const auto attached = cms::attach_content(detached.value(), content);
  BOOST_TEST(cms::attach_and_cosign(attached.value(), content, proxy).error().code ==
             cms::ErrorCode::kInvalidArgument);
  BOOST_TEST(cms::attach_and_cosign(t::to_bytes("not a signature"), content, proxy).error().code ==
             cms::attach_content(t::to_bytes("not a signature"), content).error().code);
  BOOST_TEST(cms::attach_and_cosign(detached.value(), content, cms::Credential{}).error().code ==
             cms::ErrorCode::kInvalidArgument);
}

BOOST_AUTO_TEST_SUITE_END()
