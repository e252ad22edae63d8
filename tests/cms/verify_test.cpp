#define BOOST_TEST_DYN_LINK
#include <boost/test/unit_test.hpp>

#include <ctime>

#include "gateway/pki/key_file.hpp"
#include "mapping/cms/der_layout.hpp"
#include "mapping/cms/signer.hpp"
#include "mapping/cms/verify.hpp"
#include "tests/cms/test_support.hpp"

namespace cms = kakehashi::mapping::cms;
using cms::VerifyFailure;
using kakehashi::test::credential;
using kakehashi::test::domain;
using kakehashi::test::sample_content;

namespace {

cms::Bytes sign_with(const std::string& prefix, const cms::Bytes& content, bool detached) {
  auto signed_data = cms::sign(content, credential(prefix), {.detached = detached});
  BOOST_TEST_REQUIRE(signed_data.ok());
  return signed_data.value();
}

cms::Verification verify_detached(const cms::Bytes& sig, const cms::Bytes& content,
                                  const cms::TrustDomain& d, cms::VerifyOptions o = {}) {
  return cms::verify_signed_data(sig, cms::ByteView(content), d, o);
}

}  // namespace

BOOST_AUTO_TEST_SUITE(verify)

BOOST_AUTO_TEST_CASE(valid_signatures_name_the_signer_and_office) {
  const auto content = sample_content();
  const auto regional = domain("regional");
  for (const std::string prefix :
       {"offices/regional/3271500013", "offices/regional/3271500013-ec"}) {
    for (bool detached : {true, false}) {
      BOOST_TEST_CONTEXT(prefix << (detached ? " detached" : " attached")) {
        const auto sig = sign_with(prefix, content, detached);
        const auto v = detached ? verify_detached(sig, content, regional)
                                : cms::verify_signed_data(sig, std::nullopt, regional);
        BOOST_TEST(v.valid(), v.detail);
        BOOST_TEST(v.attached == !detached);
        BOOST_TEST_REQUIRE(v.signer.has_value());
        BOOST_TEST(v.signer->office_number.value_or("") == "3271500013");
        BOOST_TEST(v.signer->subject.find("serialNumber=3271500013") != std::string::npos);
        BOOST_TEST(!v.signer->serial.empty());
        BOOST_TEST(cms::signer_holds_office(*v.signer, "3271500013"));
        BOOST_TEST(!cms::signer_holds_office(*v.signer, "3271500021"));
        BOOST_TEST(v.crl == cms::CrlOutcome::kCurrent);
        BOOST_TEST(v.crl_policy == cms::CrlPolicy::kHardFail);
        BOOST_TEST_REQUIRE(v.signing_time.has_value());
        BOOST_TEST(std::abs(*v.signing_time - std::time(nullptr)) < 600);
      }
    }
  }
  BOOST_TEST(cms::verify_signed_data(sign_with("offices/regional/3271500013-ec", content, true),
                                     cms::ByteView(content), regional)
                 .signer->key_type == "EC-P-256");
}

BOOST_AUTO_TEST_CASE(each_certificate_defect_has_its_reason) {
  const auto content = sample_content();
  const auto regional = domain("regional");
  const std::pair<const char*, VerifyFailure> cases[] = {
      {"cases/expired", VerifyFailure::kExpired},
      {"cases/not-yet-valid", VerifyFailure::kNotYetValid},
      {"cases/revoked", VerifyFailure::kRevoked},
      {"cases/wrong-key-usage", VerifyFailure::kWrongKeyUsage},
      {"offices/national/1370100016", VerifyFailure::kUnknownCa},
  };
  for (const auto& [prefix, expected] : cases) {
    BOOST_TEST_CONTEXT(prefix) {
      const auto v = verify_detached(sign_with(prefix, content, true), content, regional);
      BOOST_TEST(!v.valid());
      BOOST_TEST(cms::to_string(v.failure) == cms::to_string(expected));
      BOOST_TEST(v.signer.has_value());
    }
  }
  const auto revoked =
      verify_detached(sign_with("cases/revoked", content, true), content, regional);
  BOOST_TEST(revoked.crl == cms::CrlOutcome::kRevoked);
  // A TLS client certificate (clientAuth only) must not sign care plans.
  auto tls = kakehashi::gateway::pki::load_credential(
      kakehashi::test::pki_dir() / "tls/regional-standin-client.cert.pem",
      kakehashi::test::pki_dir() / "tls/regional-standin-client.key.pem");
  const auto tls_sig = cms::sign(content, tls, {});
  BOOST_TEST_REQUIRE(tls_sig.ok());
  BOOST_TEST(cms::to_string(verify_detached(tls_sig.value(), content, regional).failure) ==
             "wrong-key-usage");
}

BOOST_AUTO_TEST_CASE(crl_policies) {
  const auto content = sample_content();
  const auto sig = sign_with("offices/regional/3271500021", content, true);

  auto no_crl = domain("regional");
  no_crl.crls.clear();
  auto v = verify_detached(sig, content, no_crl);
  BOOST_TEST(v.failure == VerifyFailure::kCrlMissing);
  BOOST_TEST(v.crl == cms::CrlOutcome::kMissing);
  no_crl.crl_policy = cms::CrlPolicy::kSoftFail;  // soft-fail still needs a cached CRL
  BOOST_TEST(verify_detached(sig, content, no_crl).failure == VerifyFailure::kCrlMissing);

  auto stale = domain("regional-stale");  // CRL issued 10 days ago, expired 3 days ago
  v = verify_detached(sig, content, stale);
  BOOST_TEST(v.failure == VerifyFailure::kCrlStale);
  BOOST_TEST(v.crl == cms::CrlOutcome::kStale);
  BOOST_TEST(v.crl_policy == cms::CrlPolicy::kHardFail);

  stale.crl_policy = cms::CrlPolicy::kSoftFail;
  stale.crl_max_age = std::chrono::hours(24 * 30);
  v = verify_detached(sig, content, stale);
  BOOST_TEST(v.valid(), v.detail);
  BOOST_TEST(v.crl == cms::CrlOutcome::kStaleAccepted);
  BOOST_TEST(v.crl_policy == cms::CrlPolicy::kSoftFail);

  stale.crl_max_age = std::chrono::hours(24 * 5);
  v = verify_detached(sig, content, stale);
  BOOST_TEST(v.failure == VerifyFailure::kCrlStale);
  BOOST_TEST(v.crl_policy == cms::CrlPolicy::kSoftFail);

  // Revocation wins over a soft-failing stale CRL: the stale CRL lists the revoked cert too.
  stale.crl_max_age = std::chrono::hours(24 * 30);
  const auto revoked_sig = sign_with("cases/revoked", content, true);
  BOOST_TEST(verify_detached(revoked_sig, content, stale).failure == VerifyFailure::kRevoked);
}

BOOST_AUTO_TEST_CASE(content_and_structure_failures) {
  const auto content = sample_content();
  const auto regional = domain("regional");
  const auto sig = sign_with("offices/regional/3271500039", content, true);
  auto other = content;
  other.push_back('\n');
  BOOST_TEST(verify_detached(sig, other, regional).failure == VerifyFailure::kContentMismatch);
  BOOST_TEST(cms::verify_signed_data(sig, std::nullopt, regional).failure ==
             VerifyFailure::kContentMissing);
  const auto attached = sign_with("offices/regional/3271500039", content, false);
  BOOST_TEST(verify_detached(attached, other, regional).failure == VerifyFailure::kContentMismatch);
  BOOST_TEST(verify_detached(attached, content, regional).valid());
  const cms::Bytes garbage = kakehashi::test::to_bytes("not a signature");
  BOOST_TEST(verify_detached(garbage, content, regional).failure == VerifyFailure::kMalformed);
  auto truncated = sig;
  truncated.pop_back();
  BOOST_TEST(verify_detached(truncated, content, regional).failure == VerifyFailure::kMalformed);
  BOOST_TEST(
      verify_detached(sig, content, regional, {.at = std::nullopt, .signer_index = 1}).failure ==
      VerifyFailure::kMalformed);
}

// A signature made without embedding the signer's certificate cannot be checked.
BOOST_AUTO_TEST_CASE(signer_certificate_missing) {
  namespace t = kakehashi::test;
  const auto dir = t::scratch_dir("nocerts");
  const auto content = sample_content();
  t::write_file(dir / "plan.csv", content);
  const auto office = (t::pki_dir() / "offices/regional/3271500013").string();
  const auto r =
      t::run("openssl cms -sign -binary -nocerts -outform DER -in " +
             t::quote((dir / "plan.csv").string()) + " -signer " + t::quote(office + ".cert.pem") +
             " -inkey " + t::quote(office + ".key.pem") + " -out " +
             t::quote((dir / "plan.p7s").string()));
  BOOST_TEST_REQUIRE(r.exit_code == 0, r.output);
  const auto v = verify_detached(t::read_bytes(dir / "plan.p7s"), content, domain("regional"));
  BOOST_TEST(v.failure == VerifyFailure::kSignerCertMissing);
}

// One flipped bit anywhere in the content, the signature value, the signed attributes or the
// signer's certificate must be caught.
BOOST_AUTO_TEST_CASE(any_single_byte_tamper_is_caught) {
  const auto content = sample_content();
  const auto regional = domain("regional");
  for (const std::string prefix :
       {"offices/regional/3271500047", "offices/regional/3271500013-ec"}) {
    const auto sig = sign_with(prefix, content, false);
    const auto layout = cms::locate_signed_data(sig);
    BOOST_TEST_REQUIRE(layout.has_value());
    BOOST_TEST_REQUIRE(layout->econtent.has_value());
    BOOST_TEST_REQUIRE(layout->signer_infos.size() == 1u);
    BOOST_TEST_REQUIRE(layout->signer_infos[0].signed_attrs.has_value());
    BOOST_TEST_REQUIRE(layout->certificates.size() == 1u);
    const std::pair<const char*, cms::DerSpan> regions[] = {
        {"content", *layout->econtent},
        {"signature", layout->signer_infos[0].signature},
        {"signed attributes", *layout->signer_infos[0].signed_attrs},
        {"certificate", layout->certificates[0]},
    };
    BOOST_TEST(cms::verify_signed_data(sig, std::nullopt, regional).valid());
    std::size_t checked = 0;
    for (const auto& [what, span] : regions) {
      for (std::size_t i = span.offset; i < span.offset + span.size; ++i) {
        auto tampered = sig;
        tampered[i] ^= 0x01;
        const auto v = cms::verify_signed_data(tampered, std::nullopt, regional);
        if (v.valid())
          BOOST_ERROR(prefix << ": tamper of " << what << " byte " << i << " not caught");
        ++checked;
      }
    }
    BOOST_TEST(checked > 1000u);
  }
  // Detached: every content byte.
  const auto sig = sign_with("offices/regional/3271500047", content, true);
  for (std::size_t i = 0; i < content.size(); ++i) {
    auto tampered = content;
    tampered[i] ^= 0x80;
    BOOST_TEST(verify_detached(sig, tampered, regional).failure == VerifyFailure::kContentMismatch);
  }
}

BOOST_AUTO_TEST_CASE(rollover_overlap_and_after) {
  const auto content = sample_content();
  auto regional = domain("regional");
  const auto old_sig = sign_with("cases/rollover-old", content, true);
  const auto new_sig = sign_with("cases/rollover-new", content, true);
  // During the overlap both generations verify.
  BOOST_TEST(verify_detached(old_sig, content, regional).valid());
  BOOST_TEST(verify_detached(new_sig, content, regional).valid());
  BOOST_TEST(verify_detached(old_sig, content, regional).anchor.find("G0") != std::string::npos);
  BOOST_TEST(verify_detached(new_sig, content, regional).anchor.find("G1") != std::string::npos);
  // After the retiring anchor's window (30 days), only the current one. The CRLs are past their
  // nextUpdate by then, so a soft-fail policy keeps the test about anchors, not revocation.
  regional.crl_policy = cms::CrlPolicy::kSoftFail;
  regional.crl_max_age = std::chrono::hours(24 * 365);
  const cms::VerifyOptions later{.at = std::time(nullptr) + 60 * 24 * 3600,
                                 .signer_index = std::nullopt};
  BOOST_TEST(verify_detached(new_sig, content, regional, later).valid());
  const auto v = verify_detached(old_sig, content, regional, later);
  BOOST_TEST(v.failure == VerifyFailure::kAnchorNotAccepted);
  // Before the new anchor's window opens, it is not accepted either.
  const cms::VerifyOptions earlier{.at = std::time(nullptr) - 3 * 24 * 3600,
                                   .signer_index = std::nullopt};
  BOOST_TEST(verify_detached(new_sig, content, regional, earlier).failure != VerifyFailure::kNone);
}

BOOST_AUTO_TEST_CASE(office_rule_by_regex) {
  const auto content = sample_content();
  auto regional = domain("regional");
  regional.office_rule = {cms::OfficeRule::Kind::kRegex, "CN", "^Office ([0-9A-Z]{10})$"};
  const auto v =
      verify_detached(sign_with("offices/regional/3271500054", content, true), content, regional);
  BOOST_TEST(v.valid());
  BOOST_TEST(v.signer->office_number.value_or("") == "3271500054");
  regional.office_rule = {cms::OfficeRule::Kind::kRegex, "OU", "^Office ([0-9]{10})$"};
  BOOST_TEST(
      !verify_detached(sign_with("offices/regional/3271500054", content, true), content, regional)
           .signer->office_number.has_value());
}

BOOST_AUTO_TEST_SUITE_END()
