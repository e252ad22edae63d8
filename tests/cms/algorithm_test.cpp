// Accepted digest and signature algorithms per trust domain (issue 14): MD5 and SHA-1 refused by
// default with the algorithm named, a domain may list what it accepts, and the proxy
// co-signature is SHA-256 whatever digest the sender used.

#define BOOST_TEST_DYN_LINK
#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <fstream>

#include "gateway/pki/pki_error.hpp"
#include "gateway/pki/trust_domain_loader.hpp"
#include "mapping/cms/content_converter.hpp"
#include "mapping/cms/der_layout.hpp"
#include "mapping/cms/signer.hpp"
#include "mapping/cms/verify.hpp"
#include "tests/cms/signing_support.hpp"
#include "tests/cms/test_support.hpp"

namespace cms = kakehashi::mapping::cms;
namespace t = kakehashi::test;

BOOST_AUTO_TEST_SUITE(algorithms)

BOOST_AUTO_TEST_CASE(md5_and_sha1_are_refused_by_default_naming_the_algorithm) {
  const auto content = t::sample_content();
  const auto regional = t::domain("regional");
  for (const std::string prefix :
       {"offices/regional/3271500013", "offices/regional/3271500013-ec"}) {
    for (const char* digest : {"md5", "sha1"}) {
      if (prefix.ends_with("-ec") && std::string(digest) == "md5") continue;  // no ECDSA-MD5
      BOOST_TEST_CONTEXT(prefix << " " << digest) {
        const auto sig = t::sign_with_digest(content, t::credential(prefix), digest);
        BOOST_TEST(t::signer_digests(sig) == std::vector<std::string>{digest});
        const auto v = cms::verify_signed_data(sig, cms::ByteView(content), regional);
        BOOST_TEST(v.failure == cms::VerifyFailure::kWeakAlgorithm);
        BOOST_TEST(v.detail.find(std::string("digest algorithm ") + digest + " is not accepted") !=
                       std::string::npos,
                   v.detail);
        BOOST_TEST(v.detail.find("regional") != std::string::npos, v.detail);
        // Attached, the same.
        const auto att = t::sign_with_digest(content, t::credential(prefix), digest, false);
        BOOST_TEST(cms::verify_signed_data(att, std::nullopt, regional).failure ==
                   cms::VerifyFailure::kWeakAlgorithm);
      }
    }
  }
}

BOOST_AUTO_TEST_CASE(sha384_and_sha512_are_accepted_by_default) {
  const auto content = t::sample_content();
  const auto regional = t::domain("regional");
  for (const char* digest : {"sha256", "sha384", "sha512"}) {
    BOOST_TEST_CONTEXT(digest) {
      const auto sig =
          t::sign_with_digest(content, t::credential("offices/regional/3271500021"), digest);
      const auto v = cms::verify_signed_data(sig, cms::ByteView(content), regional);
      BOOST_TEST(v.valid(), v.detail);
    }
  }
}

namespace {

// A copy of the regional trust domain with extra domain.conf lines.
std::filesystem::path domain_with(const std::string& name, const std::string& extra) {
  const auto dir = t::scratch_dir(name);
  std::filesystem::copy(t::pki_dir() / "regional", dir / "regional",
                        std::filesystem::copy_options::recursive);
  std::ofstream(dir / "regional" / "domain.conf", std::ios::app) << extra;
  return dir / "regional";
}

}  // namespace

BOOST_AUTO_TEST_CASE(a_domain_lists_what_it_accepts) {
  const auto content = t::sample_content();
  const auto office = t::credential("offices/regional/3271500039");
  // A legacy domain that still takes SHA-1 (and RSA only).
  const auto legacy = kakehashi::gateway::pki::load_trust_domain(
      domain_with("alg-legacy", "digest_algorithms = sha256 sha1\nsignature_algorithms = rsa\n"));
  BOOST_TEST(cms::digest_names(legacy.algorithms) == "sha256 sha1");
  BOOST_TEST(cms::signature_key_names(legacy.algorithms) == "rsa");
  const auto sha1 = t::sign_with_digest(content, office, "sha1");
  const auto v1 = cms::verify_signed_data(sha1, cms::ByteView(content), legacy);
  BOOST_TEST(v1.valid(), v1.detail);
  const auto md5 = t::sign_with_digest(content, office, "md5");
  BOOST_TEST(cms::verify_signed_data(md5, cms::ByteView(content), legacy).failure ==
             cms::VerifyFailure::kWeakAlgorithm);
  const auto sha384 = t::sign_with_digest(content, office, "sha384");
  const auto v384 = cms::verify_signed_data(sha384, cms::ByteView(content), legacy);
  BOOST_TEST(v384.failure == cms::VerifyFailure::kWeakAlgorithm);
  BOOST_TEST(v384.detail.find("sha384") != std::string::npos, v384.detail);
  // ECDSA is not listed: refused, naming the signature algorithm.
  const auto ec = cms::sign(content, t::credential("offices/regional/3271500013-ec"), {});
  BOOST_TEST_REQUIRE(ec.ok());
  const auto vec = cms::verify_signed_data(ec.value(), cms::ByteView(content), legacy);
  BOOST_TEST(vec.failure == cms::VerifyFailure::kWeakAlgorithm);
  BOOST_TEST(vec.detail.find("signature algorithm ecdsa is not accepted") != std::string::npos,
             vec.detail);
}

BOOST_AUTO_TEST_CASE(an_unknown_algorithm_name_is_refused_at_load_with_its_line) {
  for (const std::string line : {"digest_algorithms = sha256 sha-nope\n",
                                 "signature_algorithms = rsa dsa\n", "digest_algorithms =\n"}) {
    BOOST_TEST_CONTEXT(line) {
      const auto dir = domain_with("alg-bad", line);
      try {
        kakehashi::gateway::pki::load_trust_domain(dir);
        BOOST_FAIL("loaded");
      } catch (const kakehashi::gateway::pki::PkiError& e) {
        const std::string what = e.what();
        BOOST_TEST(what.find("domain.conf:") != std::string::npos, what);
        BOOST_TEST(what.find(line.substr(0, line.find(' '))) != std::string::npos, what);
      }
    }
  }
}

// The gateway never signs a weak digest: its co-signature is SHA-256 even beside an SHA-1 or
// SHA-512 sender (a domain that accepts them), and the sender's SignerInfo is untouched.
BOOST_AUTO_TEST_CASE(cosignature_is_sha256_whatever_the_sender_used) {
  const auto content = t::sample_content();
  const auto legacy = kakehashi::gateway::pki::load_trust_domain(
      domain_with("alg-cosign", "digest_algorithms = sha1 sha256 sha512\n"));
  const auto national = t::domain("national");
  const auto office = t::credential("offices/regional/3271500047");
  for (const char* digest : {"sha1", "sha512", "sha256"}) {
    for (const std::string proxy : {"gateway/proxy-rsa", "gateway/proxy-ec"}) {
      BOOST_TEST_CONTEXT(digest << " " << proxy) {
        const auto detached = t::sign_with_digest(content, office, digest);
        const auto sender = cms::signer_info_bytes(detached);
        BOOST_TEST_REQUIRE(sender.size() == 1u);
        for (int way = 0; way < 2; ++way) {
          const auto out =
              way == 0 ? cms::attach_and_cosign(detached, content, t::credential(proxy))
                       : cms::add_cosigner(detached, cms::ByteView(content), t::credential(proxy));
          BOOST_TEST_REQUIRE(out.ok(), t::why(out));
          const auto after = cms::signer_info_bytes(out.value());
          BOOST_TEST_REQUIRE(after.size() == 2u);
          const auto at = std::find(after.begin(), after.end(), sender[0]);
          BOOST_TEST_REQUIRE((at != after.end()));
          const auto sender_index = static_cast<std::size_t>(at - after.begin());
          const auto digests = t::signer_digests(out.value());
          BOOST_TEST(digests[sender_index] == digest);
          BOOST_TEST(digests[1 - sender_index] == "sha256");
          const auto dc =
              way == 0 ? std::optional<cms::ByteView>() : std::optional<cms::ByteView>(content);
          const auto g = cms::verify_signed_data(
              out.value(), dc, national, {.at = std::nullopt, .signer_index = 1 - sender_index});
          BOOST_TEST(g.valid(), g.detail);
          const auto s = cms::verify_signed_data(
              out.value(), dc, legacy, {.at = std::nullopt, .signer_index = sender_index});
          BOOST_TEST(s.valid(), s.detail);
        }
      }
    }
  }
}

// A second SignerInfo whose digest covers other content: the gateway refuses to co-sign rather
// than copy a digest from either (the first SignerInfo is not necessarily the sender's).
BOOST_AUTO_TEST_CASE(cosigning_refuses_when_any_signer_digest_differs) {
  const auto content = t::sample_content();
  auto other = content;
  other.back() ^= 1;
  const auto a = t::credential("offices/regional/3271500013");
  const auto b = t::credential("offices/regional/3271500021");
  const auto proxy = t::credential("gateway/proxy-rsa");
  // Both assignments, so that the mismatching SignerInfo sorts second in one of them.
  for (int swap = 0; swap < 2; ++swap) {
    BOOST_TEST_CONTEXT("swap " << swap) {
      const auto both = t::sign_several({{&a, swap == 0 ? cms::ByteView(content) : other},
                                         {&b, swap == 0 ? cms::ByteView(other) : content}});
      BOOST_TEST_REQUIRE(cms::signer_info_bytes(both).size() == 2u);
      const auto cosigned = cms::add_cosigner(both, cms::ByteView(content), proxy);
      BOOST_TEST_REQUIRE(!cosigned.ok());
      BOOST_TEST(cosigned.error().code == cms::ErrorCode::kContentMismatch);
      BOOST_TEST(cms::attach_and_cosign(both, content, proxy).error().code ==
                 cms::ErrorCode::kContentMismatch);
    }
  }
}

BOOST_AUTO_TEST_SUITE_END()
