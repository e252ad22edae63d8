// The decoded-certificate cache and the parser built on it: the same structure and bytes as a
// full parse, whatever the input, and verification verdicts that do not depend on what was
// verified before.

#define BOOST_TEST_DYN_LINK
#include <boost/test/unit_test.hpp>

#include <string>
#include <vector>

#include "gateway/pki/key_file.hpp"
#include "mapping/cms/certificate_cache.hpp"
#include "mapping/cms/content_converter.hpp"
#include "mapping/cms/der_layout.hpp"
#include "mapping/cms/signer.hpp"
#include "mapping/cms/translation_receipt.hpp"
#include "mapping/cms/verify.hpp"
#include "tests/cms/test_support.hpp"

namespace cms = kakehashi::mapping::cms;
namespace t = kakehashi::test;

namespace {

cms::Bytes der_of(X509* cert) {
  unsigned char* out = nullptr;
  const int len = i2d_X509(cert, &out);
  cms::Bytes der(out, out + (len > 0 ? len : 0));
  OPENSSL_free(out);
  return der;
}

cms::Bytes header(std::uint8_t tag, std::size_t length) {
  cms::Bytes out{tag};
  if (length < 0x80) {
    out.push_back(static_cast<std::uint8_t>(length));
    return out;
  }
  cms::Bytes n;
  for (std::size_t l = length; l != 0; l >>= 8) n.insert(n.begin(), static_cast<std::uint8_t>(l));
  out.push_back(static_cast<std::uint8_t>(0x80 | n.size()));
  out.insert(out.end(), n.begin(), n.end());
  return out;
}

// `der` with the value of its certificate set replaced (every enclosing length re-encoded).
cms::Bytes with_certificate_set(const cms::Bytes& der, const cms::Bytes& set_value) {
  const auto layout = cms::locate_signed_data(der);
  BOOST_TEST_REQUIRE(layout.has_value());
  BOOST_TEST_REQUIRE(layout->certificate_set.has_value());
  const auto& set = *layout->certificate_set;
  const auto& sd = layout->signed_data;
  const auto& ex = layout->explicit_content;
  const auto& ci = layout->content_info;
  const auto append = [&](cms::Bytes& out, std::size_t from, std::size_t to) {
    out.insert(out.end(), der.begin() + static_cast<long>(from),
               der.begin() + static_cast<long>(to));
  };
  const auto wrap = [](std::uint8_t tag, const cms::Bytes& value) {
    cms::Bytes out = header(tag, value.size());
    out.insert(out.end(), value.begin(), value.end());
    return out;
  };
  cms::Bytes sd_value;
  append(sd_value, sd.value_offset, set.offset);
  const auto set_tlv = wrap(der[set.offset], set_value);
  sd_value.insert(sd_value.end(), set_tlv.begin(), set_tlv.end());
  append(sd_value, set.offset + set.size, sd.value_offset + sd.value_size);
  cms::Bytes ci_value;
  append(ci_value, ci.value_offset, ex.offset);
  const auto ex_tlv = wrap(der[ex.offset], wrap(der[sd.offset], sd_value));
  ci_value.insert(ci_value.end(), ex_tlv.begin(), ex_tlv.end());
  return wrap(der[ci.offset], ci_value);
}

// Both parsers agree: both refuse, or both decode to structures with the same encoding and the
// same certificates in the same order.
void same_as_full_parse(const cms::Bytes& der) {
  cms::CmsPtr full = cms::parse_cms_der(der);
  cms::CmsPtr cached = cms::parse_cms_der_cached(der);
  BOOST_TEST(!full == !cached);
  if (!full || !cached) return;
  BOOST_TEST(cms::to_der(full.get()) == cms::to_der(cached.get()));
  if (OBJ_obj2nid(CMS_get0_type(full.get())) != NID_pkcs7_signed) return;
  cms::CertStackPtr a(CMS_get1_certs(full.get()));
  cms::CertStackPtr b(CMS_get1_certs(cached.get()));
  BOOST_TEST(!a == !b);
  if (!a || !b) return;
  BOOST_TEST_REQUIRE(sk_X509_num(a.get()) == sk_X509_num(b.get()));
  for (int i = 0; i < sk_X509_num(a.get()); ++i) {
    BOOST_TEST(der_of(sk_X509_value(a.get(), i)) == der_of(sk_X509_value(b.get(), i)));
  }
}

// An office credential that embeds its CA certificate too, as many office signers do.
cms::Credential office_with_chain(const std::string& prefix, const std::string& ca) {
  auto c = t::credential(prefix);
  c.chain.push_back(
      kakehashi::gateway::pki::load_certificate(t::pki_dir() / "ca" / ca / "cert.pem"));
  return c;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(certificate_cache)

BOOST_AUTO_TEST_CASE(decodes_each_certificate_once_and_stays_bounded) {
  cms::CertificateCache cache(2);
  const auto a = der_of(t::certificate("offices/regional/3271500013").get());
  const auto b = der_of(t::certificate("offices/regional/3271500021").get());
  const auto c = der_of(t::certificate("offices/regional/3271500039").get());
  cms::X509Ptr first = cache.get(a);
  BOOST_TEST_REQUIRE(first != nullptr);
  cms::X509Ptr again = cache.get(a);
  BOOST_TEST(first.get() == again.get());  // the same decoded object
  BOOST_TEST(cache.hits() == 1u);
  BOOST_TEST(cache.misses() == 1u);
  BOOST_TEST(der_of(again.get()) == a);
  BOOST_TEST(cache.get(b) != nullptr);
  BOOST_TEST(cache.get(a) != nullptr);  // a is now the most recently used
  BOOST_TEST(cache.get(c) != nullptr);  // b goes
  BOOST_TEST(cache.size() == 2u);
  const auto misses = cache.misses();
  BOOST_TEST(cache.get(a).get() == first.get());
  BOOST_TEST(cache.misses() == misses);
  BOOST_TEST(cache.get(b) != nullptr);
  BOOST_TEST(cache.misses() == misses + 1);
  // Not exactly one certificate: refused, not kept.
  auto trailing = a;
  trailing.push_back(0);
  BOOST_TEST(cache.get(trailing) == nullptr);
  auto cut = a;
  cut.pop_back();
  BOOST_TEST(cache.get(cut) == nullptr);
  BOOST_TEST(cache.get(cms::Bytes{}) == nullptr);
  BOOST_TEST(cache.size() == 2u);
}

BOOST_AUTO_TEST_CASE(cached_parse_matches_the_full_parse) {
  const auto content = t::sample_content();
  const auto office = office_with_chain("offices/regional/3271500013", "regional-ca");
  const auto detached = cms::sign(content, office, {.detached = true});
  const auto attached = cms::sign(content, office, {.detached = false});
  const auto single = cms::sign(content, t::credential("offices/regional/3271500013-ec"), {});
  BOOST_TEST_REQUIRE(detached.ok());
  BOOST_TEST_REQUIRE(attached.ok());
  BOOST_TEST_REQUIRE(single.ok());
  const auto cosigned =
      cms::add_cosigner(attached.value(), std::nullopt, t::credential("gateway/proxy-rsa"));
  BOOST_TEST_REQUIRE(cosigned.ok());
  cms::TranslationReceipt r;
  r.transfer_id = "t-1";
  r.created = 1700000000;
  r.inbound_sha256 = r.outbound_sha256 = std::string(64, 'a');
  const auto receipt = cms::sign_receipt(r, t::credential("gateway/proxy-ec"));
  BOOST_TEST_REQUIRE(receipt.ok());
  const auto layout = cms::locate_signed_data(detached.value());
  BOOST_TEST_REQUIRE(layout.has_value());
  BOOST_TEST_REQUIRE(layout->certificates.size() == 2u);
  const auto& set = *layout->certificate_set;
  const auto& first_cert = layout->certificates[0];
  const auto bytes = [&](std::size_t from, std::size_t size) {
    return cms::Bytes(detached.value().begin() + static_cast<long>(from),
                      detached.value().begin() + static_cast<long>(from + size));
  };
  cms::Bytes doubled = bytes(first_cert.offset, first_cert.size);
  const auto all = bytes(set.value_offset, set.value_size);
  doubled.insert(doubled.end(), all.begin(), all.end());
  const auto duplicate = with_certificate_set(detached.value(), doubled);
  BOOST_TEST(with_certificate_set(detached.value(), all) == detached.value());
  const auto empty_set = with_certificate_set(detached.value(), {});
  cms::Bytes attribute_cert = {0xA1, 0x03, 0x02, 0x01, 0x00};  // an [1] choice (v1AttrCert)
  attribute_cert.insert(attribute_cert.end(), all.begin(), all.end());
  const auto other_choice = with_certificate_set(detached.value(), attribute_cert);
  std::vector<std::pair<std::string, cms::Bytes>> inputs = {
      {"detached with chain", detached.value()},
      {"attached with chain", attached.value()},
      {"one certificate", single.value()},
      {"co-signed", cosigned.value()},
      {"receipt", receipt.value()},
      {"duplicate certificate", duplicate},
      {"empty certificate set", empty_set},
      {"another certificate choice", other_choice},
      {"garbage", t::to_bytes("not a signature")},
  };
  // Single-byte changes in the headers and the start of the certificate set.
  for (std::size_t i = 0; i < first_cert.offset + 64; i += 3) {
    auto tampered = detached.value();
    tampered[i] ^= 0x01;
    inputs.emplace_back("tampered byte " + std::to_string(i), tampered);
  }
  auto truncated = detached.value();
  truncated.pop_back();
  inputs.emplace_back("truncated", truncated);
  auto trailing = detached.value();
  trailing.push_back(0);
  inputs.emplace_back("trailing byte", trailing);
  for (const auto& [what, der] : inputs) {
    BOOST_TEST_CONTEXT(what) {
      same_as_full_parse(der);
    }
  }
  // The duplicate parses (with both copies) and still verifies as before.
  BOOST_TEST(
      cms::verify_signed_data(duplicate, cms::ByteView(content), t::domain("regional")).valid());
}

// Verdicts come from the message, the domain and the time given, never from an earlier call:
// the same signer verified against domains with different CRL states, one after the other.
BOOST_AUTO_TEST_CASE(revocation_verdicts_do_not_leak_between_domains) {
  const auto content = t::sample_content();
  const auto good = cms::sign(content, t::credential("offices/regional/3271500021"), {}).value();
  const auto revoked = cms::sign(content, t::credential("cases/revoked"), {}).value();
  const auto regional = t::domain("regional");
  auto no_crl = t::domain("regional");
  no_crl.crls.clear();
  const auto stale = t::domain("regional-stale");
  for (int round = 0; round < 2; ++round) {
    BOOST_TEST_CONTEXT("round " << round) {
      auto v = cms::verify_signed_data(good, cms::ByteView(content), regional);
      BOOST_TEST(v.valid(), v.detail);
      BOOST_TEST(v.crl == cms::CrlOutcome::kCurrent);
      BOOST_TEST(cms::verify_signed_data(good, cms::ByteView(content), no_crl).failure ==
                 cms::VerifyFailure::kCrlMissing);
      BOOST_TEST(cms::verify_signed_data(good, cms::ByteView(content), stale).failure ==
                 cms::VerifyFailure::kCrlStale);
      BOOST_TEST(cms::verify_signed_data(revoked, cms::ByteView(content), regional).failure ==
                 cms::VerifyFailure::kRevoked);
      BOOST_TEST(cms::verify_signed_data(revoked, cms::ByteView(content), no_crl).failure ==
                 cms::VerifyFailure::kCrlMissing);
      // Expiry is judged at the time given, with the certificate already decoded and cached.
      const cms::VerifyOptions far_future{.at = std::time(nullptr) + 20L * 365 * 24 * 3600,
                                          .signer_index = std::nullopt};
      BOOST_TEST(
          cms::verify_signed_data(good, cms::ByteView(content), regional, far_future).failure ==
          cms::VerifyFailure::kExpired);
    }
  }
}

BOOST_AUTO_TEST_SUITE_END()
