#define BOOST_TEST_DYN_LINK
#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <random>

#include "mapping/cms/gateway_attestation.hpp"
#include "mapping/cms/signer.hpp"
#include "mapping/cms/translation_receipt.hpp"
#include "mapping/cms/verify.hpp"
#include "tests/cms/test_support.hpp"

namespace cms = kakehashi::mapping::cms;
namespace t = kakehashi::test;

namespace {

cms::GatewayAttestation sample() {
  cms::GatewayAttestation a;
  a.office_number = "1371100452";
  a.service_type = "43";
  a.session = "3271500013/g7";
  a.national_item = "KW-000042";
  a.fetched_at = 1742867285;  // 2025-03-25T01:48:05Z
  a.fetched_sha256 = cms::sha256_hex(t::to_bytes("answer"));
  return a;
}

std::string hex(const cms::Bytes& b) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string s;
  for (auto c : b) {
    s += kHex[c >> 4];
    s += kHex[c & 0xF];
  }
  return s;
}

std::string ascii_hex(const std::string& s) {
  return hex(cms::Bytes(s.begin(), s.end()));
}

void check_equal(const cms::GatewayAttestation& a, const cms::GatewayAttestation& b) {
  BOOST_TEST(a.office_number == b.office_number);
  BOOST_TEST(a.service_type == b.service_type);
  BOOST_TEST(a.session == b.session);
  BOOST_TEST(a.national_item == b.national_item);
  BOOST_TEST(a.fetched_at == b.fetched_at);
  BOOST_TEST(a.fetched_sha256 == b.fetched_sha256);
}

}  // namespace

BOOST_AUTO_TEST_SUITE(gateway_attestation)

BOOST_AUTO_TEST_CASE(der_is_stable) {
  const auto der = cms::encode_attestation(sample());
  BOOST_TEST_REQUIRE(der.ok(), t::why(der));
  // SEQUENCE { INTEGER 1, SEQUENCE { PrintableString, PrintableString }, UTF8String,
  //            UTF8String, GeneralizedTime, OCTET STRING (32) }
  const std::string body =
      "020101"
      "3010"
      "130a" +
      ascii_hex("1371100452") + "1302" + ascii_hex("43") + "0c0d" + ascii_hex("3271500013/g7") +
      "0c09" + ascii_hex("KW-000042") + "180f" + ascii_hex("20250325014805Z") + "0420" +
      cms::sha256_hex(t::to_bytes("answer"));
  BOOST_TEST(hex(der.value()) == "30" + hex({static_cast<std::uint8_t>(body.size() / 2)}) + body);
  BOOST_TEST(std::string(cms::kGatewayAttestationOid) ==
             "2.25.240363377187960128800211444190995114616.1");
}

BOOST_AUTO_TEST_CASE(encoder_refuses_fields_it_cannot_represent) {
  const std::vector<std::pair<std::string, void (*)(cms::GatewayAttestation&)>> cases = {
      {"office_number", [](cms::GatewayAttestation& a) { a.office_number = "137110045"; }},
      {"office_number", [](cms::GatewayAttestation& a) { a.office_number = "13711004X2"; }},
      {"service_type", [](cms::GatewayAttestation& a) { a.service_type = "4"; }},
      {"session", [](cms::GatewayAttestation& a) { a.session = ""; }},
      {"session", [](cms::GatewayAttestation& a) { a.session = "a\nb"; }},
      {"national_item",
       [](cms::GatewayAttestation& a) { a.national_item = std::string(300, 'x'); }},
      {"fetched_at", [](cms::GatewayAttestation& a) { a.fetched_at = -1; }},
      {"fetched_sha256", [](cms::GatewayAttestation& a) { a.fetched_sha256 = "abc"; }},
  };
  for (const auto& [field, damage] : cases) {
    auto a = sample();
    damage(a);
    const auto r = cms::encode_attestation(a);
    BOOST_TEST_REQUIRE(!r.ok(), field);
    BOOST_TEST(r.error().code == cms::ErrorCode::kInvalidArgument);
    BOOST_TEST(r.error().detail.find(field) != std::string::npos, r.error().detail);
  }
  auto no_service = sample();
  no_service.service_type.clear();
  BOOST_TEST(cms::encode_attestation(no_service).ok());
}

// Property: random attestations decode to themselves; every truncation, every appended byte and
// every single-byte change that is not a re-encoding of valid content is refused.
BOOST_AUTO_TEST_CASE(decode_round_trips_and_refuses_damage) {
  std::mt19937 rng(17);
  for (int n = 0; n < 200; ++n) {
    auto a = sample();
    a.office_number.clear();
    for (int i = 0; i < 10; ++i) a.office_number += static_cast<char>('0' + rng() % 10);
    a.service_type = n % 5 == 0 ? "" : std::to_string(10 + rng() % 90);
    a.session = std::string(1 + rng() % 200, 'S') + "\xE3\x81\x82";  // UTF-8 kept as is
    a.national_item = "KW-" + std::to_string(rng());
    a.fetched_at = static_cast<std::time_t>(rng() % 4000000000u);
    a.fetched_sha256 = cms::sha256_hex(t::to_bytes(std::to_string(rng())));
    const auto der = cms::encode_attestation(a);
    BOOST_TEST_REQUIRE(der.ok(), t::why(der));
    const auto back = cms::decode_attestation(der.value());
    BOOST_TEST_REQUIRE(back.ok(), t::why(back));
    check_equal(back.value(), a);
    for (std::size_t len = 0; len < der.value().size(); len += 1 + rng() % 7) {
      const cms::ByteView cut(der.value().data(), len);
      BOOST_TEST(!cms::decode_attestation(cut).ok(), "truncated at " << len);
    }
    auto longer = der.value();
    longer.push_back(0);
    BOOST_TEST(!cms::decode_attestation(longer).ok());
    auto changed = der.value();
    const std::size_t at = rng() % changed.size();
    changed[at] ^= static_cast<std::uint8_t>(1 + rng() % 255);
    const auto r = cms::decode_attestation(changed);
    // A change inside a text field may still be a valid attestation: then it must differ.
    if (r.ok()) BOOST_TEST(cms::encode_attestation(r.value()).value() == changed);
  }
  // Non-minimal length and a wrong version are refused, naming what is wrong.
  auto der = cms::encode_attestation(sample()).value();
  auto wrong_version = der;
  wrong_version[4] = 0x02;
  const auto r = cms::decode_attestation(wrong_version);
  BOOST_TEST_REQUIRE(!r.ok());
  BOOST_TEST(r.error().detail.find("version") != std::string::npos);
  cms::Bytes long_form = {0x30, 0x81, der[1]};
  long_form.insert(long_form.end(), der.begin() + 2, der.end());
  BOOST_TEST(!cms::decode_attestation(long_form).ok());
}

BOOST_AUTO_TEST_CASE(signed_attribute_verifies_and_says_it_is_the_gateways) {
  const auto content = t::sample_content();
  const auto national = t::domain("national");
  for (const std::string gw : {"gateway/proxy-rsa", "gateway/proxy-ec"}) {
    BOOST_TEST_CONTEXT(gw) {
      const auto der = cms::sign_with_attestation(content, t::credential(gw), sample());
      BOOST_TEST_REQUIRE(der.ok(), t::why(der));
      const auto v = cms::verify_signed_data(der.value(), cms::ByteView(content), national);
      BOOST_TEST_REQUIRE(v.valid(), v.detail);
      const auto read = cms::read_attestation(der.value());
      BOOST_TEST_REQUIRE(read.ok(), t::why(read));
      BOOST_TEST_REQUIRE(read.value().has_value());
      check_equal(*read.value(), sample());
      BOOST_TEST(cms::describe(*read.value()) ==
                 "gateway attestation: from national office 1371100452/43, session "
                 "3271500013/g7, national item KW-000042, fetched 2025-03-25T01:48:05Z (answer "
                 "sha256 " +
                     sample().fetched_sha256 + ")");
      // An independent verifier (openssl cms) accepts the signature with the attribute in it.
      const auto dir = t::scratch_dir("attest-" + std::to_string(gw.size()));
      t::write_file(dir / "f.csv", content);
      t::write_file(dir / "f.p7s", der.value());
      const auto ossl = t::run("openssl cms -verify -binary -inform DER -in " +
                               t::quote((dir / "f.p7s").string()) + " -content " +
                               t::quote((dir / "f.csv").string()) + " -noverify -out /dev/null");
      BOOST_TEST(ossl.exit_code == 0, ossl.output);
      // The attribute is covered by the signature: change the item id and it no longer verifies.
      auto tampered = der.value();
      const std::string item = "KW-000042";
      const auto pos = std::search(tampered.begin(), tampered.end(), item.begin(), item.end());
      BOOST_TEST_REQUIRE((pos != tampered.end()));
      *(pos + 3) = '1';
      BOOST_TEST(!cms::verify_signed_data(tampered, cms::ByteView(content), national).valid());
    }
  }
  // A sender's own signature carries none.
  const auto plain = cms::sign(content, t::credential("gateway/proxy-rsa"));
  BOOST_TEST_REQUIRE(plain.ok());
  const auto none = cms::read_attestation(plain.value());
  BOOST_TEST_REQUIRE(none.ok());
  BOOST_TEST(!none.value().has_value());
  BOOST_TEST(!cms::read_attestation(t::to_bytes("not cms")).ok());
}

BOOST_AUTO_TEST_SUITE_END()
