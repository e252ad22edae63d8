#define BOOST_TEST_DYN_LINK
#include <boost/test/unit_test.hpp>

#include <random>

#include "mapping/cms/der_layout.hpp"
#include "mapping/cms/signer.hpp"
#include "mapping/cms/signer_identity.hpp"
#include "mapping/cms/translation_receipt.hpp"
#include "tests/cms/signing_support.hpp"
#include "tests/cms/test_support.hpp"

namespace cms = kakehashi::mapping::cms;
namespace t = kakehashi::test;

namespace {

cms::TranslationReceipt sample_receipt() {
  cms::TranslationReceipt r;
  r.transfer_id = "T-20250325-0001";
  r.created = 1742867285;  // 2025-03-25T01:48:05Z
  r.inbound_sha256 = cms::sha256_hex(t::to_bytes("inbound"));
  r.files = {{"UPPLAN_202504_3271500013_43_1371100452_11_20250325104805.CSV",
              cms::sha256_hex(t::sample_content())}};
  r.outbound_sha256 = cms::sha256_hex(t::to_bytes("outbound"));
  return r;
}

constexpr const char* kFileName = "UPPLAN_202504_3271500013_43_1371100452_11_20250325104805.CSV";

// A version 2 receipt over a real sender signature on the sample file.
cms::TranslationReceipt sample_receipt_v2() {
  auto r = sample_receipt();
  r.version = 2;
  const auto sig = cms::sign(t::sample_content(), t::credential("offices/regional/3271500013"),
                             cms::SignOptions{.detached = true});
  BOOST_TEST_REQUIRE(sig.ok());
  auto signers = cms::signer_digests(kFileName, sig.value());
  BOOST_TEST_REQUIRE(signers.ok());
  r.signers = signers.value();
  r.sent_sha256 = cms::sha256_hex(t::to_bytes("{\"document\":1}"));
  r.national_item = "1371100452:KW-000042";
  return r;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(receipt)

BOOST_AUTO_TEST_CASE(text_format_is_stable) {
  const auto text = cms::receipt_text(sample_receipt());
  BOOST_TEST_REQUIRE(text.ok());
  BOOST_TEST(text.value() ==
             "Kakehashi-Translation-Receipt: 1\n"
             "Transfer: T-20250325-0001\n"
             "Created: 2025-03-25T01:48:05Z\n"
             "Inbound-Envelope-SHA256: " +
                 cms::sha256_hex(t::to_bytes("inbound")) +
                 "\n"
                 "File-SHA256: " +
                 cms::sha256_hex(t::sample_content()) +
                 " UPPLAN_202504_3271500013_43_1371100452_11_20250325104805.CSV\n"
                 "Outbound-Envelope-SHA256: " +
                 cms::sha256_hex(t::to_bytes("outbound")) + "\n");
  BOOST_TEST(cms::sha256_hex({}) ==
             "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  auto bad = sample_receipt();
  bad.files[0].name = "two\nlines";
  BOOST_TEST(!cms::receipt_text(bad).ok());
}

BOOST_AUTO_TEST_CASE(signed_receipt_verifies_with_the_gateway_certificate_alone) {
  for (const std::string gw : {"gateway/proxy-rsa", "gateway/proxy-ec"}) {
    BOOST_TEST_CONTEXT(gw) {
      const auto signed_receipt = cms::sign_receipt(sample_receipt(), t::credential(gw));
      BOOST_TEST_REQUIRE(signed_receipt.ok());
      const auto cert = t::certificate(gw);
      auto back = cms::verify_receipt(signed_receipt.value(), cert.get());
      BOOST_TEST_REQUIRE(back.ok(), kakehashi::test::why(back));
      const auto expected = sample_receipt();
      BOOST_TEST(back.value().transfer_id == expected.transfer_id);
      BOOST_TEST(back.value().created == expected.created);
      BOOST_TEST(back.value().inbound_sha256 == expected.inbound_sha256);
      BOOST_TEST(back.value().outbound_sha256 == expected.outbound_sha256);
      BOOST_TEST_REQUIRE(back.value().files.size() == 1u);
      BOOST_TEST(back.value().files[0].name == expected.files[0].name);
      BOOST_TEST(back.value().files[0].sha256 == expected.files[0].sha256);

      // Another certificate does not verify it.
      const auto other = t::certificate("gateway/member-rsa");
      BOOST_TEST(cms::verify_receipt(signed_receipt.value(), other.get()).error().code ==
                 cms::ErrorCode::kBadSignature);
      // Any byte of the record changed is caught.
      const auto layout = cms::locate_signed_data(signed_receipt.value());
      BOOST_TEST_REQUIRE(layout->econtent.has_value());
      for (std::size_t i = layout->econtent->value_offset;
           i < layout->econtent->value_offset + layout->econtent->value_size; i += 7) {
        auto tampered = signed_receipt.value();
        tampered[i] ^= 0x01;
        BOOST_TEST(!cms::verify_receipt(tampered, cert.get()).ok());
      }
    }
  }
}

BOOST_AUTO_TEST_CASE(version_2_text_format_is_stable) {
  auto r = sample_receipt();
  r.version = 2;
  r.signers = {{kFileName, std::string(64, 'a'), "serial 1F issuer CN=Regional CA,O=Test"}};
  r.sent_sha256 = std::string(64, 'b');
  r.national_item = "1371100452:KW-000042";
  const auto text = cms::receipt_text(r);
  BOOST_TEST_REQUIRE(text.ok());
  BOOST_TEST(text.value() ==
             "Kakehashi-Translation-Receipt: 2\n"
             "Transfer: T-20250325-0001\n"
             "Created: 2025-03-25T01:48:05Z\n"
             "Inbound-Envelope-SHA256: " +
                 cms::sha256_hex(t::to_bytes("inbound")) +
                 "\n"
                 "File-SHA256: " +
                 cms::sha256_hex(t::sample_content()) + " " + kFileName +
                 "\n"
                 "Signer-Info-SHA256: " +
                 std::string(64, 'a') + " " + kFileName +
                 "\n"
                 "Signer: serial 1F issuer CN=Regional CA,O=Test\n"
                 "Outbound-Envelope-SHA256: " +
                 cms::sha256_hex(t::to_bytes("outbound")) +
                 "\n"
                 "Sent-Document-SHA256: " +
                 std::string(64, 'b') +
                 "\n"
                 "National-Item: 1371100452:KW-000042\n");
  // Version 2 needs what it binds; version 1 carries none of it.
  auto no_item = r;
  no_item.national_item.clear();
  BOOST_TEST(!cms::receipt_text(no_item).ok());
  auto no_sent = r;
  no_sent.sent_sha256 = "abc";
  BOOST_TEST(!cms::receipt_text(no_sent).ok());
  auto v1_with_item = r;
  v1_with_item.version = 1;
  BOOST_TEST(!cms::receipt_text(v1_with_item).ok());
  auto v3 = r;
  v3.version = 3;
  BOOST_TEST(!cms::receipt_text(v3).ok());
}

BOOST_AUTO_TEST_CASE(signer_digests_name_each_signer_info) {
  const auto a = t::credential("offices/regional/3271500013");
  const auto b = t::credential("gateway/proxy-ec");
  const auto content = t::sample_content();
  const auto der = t::sign_several({{&a, content}, {&b, content}});
  const auto digests = cms::signer_digests(kFileName, der);
  BOOST_TEST_REQUIRE(digests.ok(), t::why(digests));
  const auto infos = cms::signer_info_bytes(der);
  BOOST_TEST_REQUIRE(digests.value().size() == 2u);
  BOOST_TEST_REQUIRE(infos.size() == 2u);
  std::vector<std::string> serials;
  for (std::size_t i = 0; i < 2; ++i) {
    BOOST_TEST(digests.value()[i].file == kFileName);
    BOOST_TEST(digests.value()[i].signer_info_sha256 == cms::sha256_hex(infos[i]));
    serials.push_back(digests.value()[i].signer);
  }
  // Each names its certificate by serial and issuer.
  for (const auto* cred : {&a, &b}) {
    const auto id = cms::describe_signer(cred->certificate.get(), {});
    bool found = false;
    for (const auto& s : serials)
      found = found || (s.rfind("serial " + id.serial + " issuer ", 0) == 0 &&
                        s.find(id.issuer) != std::string::npos);
    BOOST_TEST(found, id.serial);
  }
  BOOST_TEST(cms::signer_digests(kFileName, t::to_bytes("not cms")).error().code ==
             cms::ErrorCode::kMalformed);
}

BOOST_AUTO_TEST_CASE(version_2_binds_signers_to_the_document_sent_and_the_item) {
  const auto expected = sample_receipt_v2();
  const auto cert = t::certificate("gateway/proxy-rsa");
  const auto signed_receipt = cms::sign_receipt(expected, t::credential("gateway/proxy-rsa"));
  BOOST_TEST_REQUIRE(signed_receipt.ok(), t::why(signed_receipt));
  const auto back = cms::verify_receipt(signed_receipt.value(), cert.get());
  BOOST_TEST_REQUIRE(back.ok(), t::why(back));
  BOOST_TEST(back.value().version == 2);
  BOOST_TEST(back.value().sent_sha256 == expected.sent_sha256);
  BOOST_TEST(back.value().national_item == expected.national_item);
  BOOST_TEST_REQUIRE(back.value().signers.size() == 1u);
  BOOST_TEST(back.value().signers[0].signer_info_sha256 == expected.signers[0].signer_info_sha256);
  BOOST_TEST(back.value().signers[0].signer == expected.signers[0].signer);
  BOOST_TEST(cms::receipt_text(back.value()).value() == cms::receipt_text(expected).value());
  // Any byte of the record changed is caught.
  const auto layout = cms::locate_signed_data(signed_receipt.value());
  BOOST_TEST_REQUIRE(layout->econtent.has_value());
  for (std::size_t i = layout->econtent->value_offset;
       i < layout->econtent->value_offset + layout->econtent->value_size; i += 5) {
    auto tampered = signed_receipt.value();
    tampered[i] ^= 0x01;
    BOOST_TEST(!cms::verify_receipt(tampered, cert.get()).ok());
  }
}

// Property: every receipt the generator makes (either version) reads back equal from its text,
// and any single line dropped, doubled or altered is refused.
BOOST_AUTO_TEST_CASE(receipt_text_round_trips_and_refuses_damage) {
  std::mt19937 rng(20251206);
  auto hex = [&] {
    std::string s;
    for (int i = 0; i < 64; ++i) s += "0123456789abcdef"[rng() % 16];
    return s;
  };
  auto name = [&] {
    std::string s = "F";
    for (int n = 1 + static_cast<int>(rng() % 30); n > 0; --n) s += "ABCZ019_ .-:=,"[rng() % 14];
    return s;
  };
  for (int seed = 0; seed < 400; ++seed) {
    cms::TranslationReceipt r;
    r.version = 1 + static_cast<int>(rng() % 2);
    r.transfer_id = std::to_string(rng());
    r.created = static_cast<std::time_t>(rng() % 4000000000u);
    r.inbound_sha256 = hex();
    r.outbound_sha256 = hex();
    for (int n = static_cast<int>(rng() % 4); n > 0; --n) r.files.push_back({name(), hex()});
    if (r.version == 2) {
      for (int n = static_cast<int>(rng() % 4); n > 0; --n)
        r.signers.push_back(
            {name(), hex(), "serial " + std::to_string(rng()) + " issuer " + name()});
      r.sent_sha256 = hex();
      r.national_item = name();
    }
    const auto text = cms::receipt_text(r);
    BOOST_TEST_REQUIRE(text.ok());
    const auto back = cms::parse_receipt_text(text.value());
    BOOST_TEST_REQUIRE(back.ok(), text.value());
    BOOST_TEST(cms::receipt_text(back.value()).value() == text.value());
    BOOST_TEST(back.value().version == r.version);
    BOOST_TEST(back.value().signers.size() == r.signers.size());
    BOOST_TEST(back.value().national_item == r.national_item);
    // Damage: drop, double or change one line.
    std::vector<std::string> lines;
    for (std::size_t at = 0; at < text.value().size();) {
      const auto nl = text.value().find('\n', at);
      lines.push_back(text.value().substr(at, nl - at + 1));
      at = nl + 1;
    }
    // File lines are a list (none, one or several are all well formed): damage another line.
    std::size_t k = rng() % lines.size();
    while (lines[k].rfind("File-SHA256: ", 0) == 0) k = rng() % lines.size();
    auto join = [&](std::size_t skip, std::size_t twice, std::size_t change) {
      std::string s;
      for (std::size_t i = 0; i < lines.size(); ++i) {
        if (i == skip) continue;
        std::string l = lines[i];
        if (i == change) l.insert(0, "X");
        s += l;
        if (i == twice) s += l;
      }
      return s;
    };
    const std::size_t none = lines.size();
    BOOST_TEST(!cms::parse_receipt_text(join(k, none, none)).ok(), "dropped line " << k);
    BOOST_TEST(!cms::parse_receipt_text(join(none, k, none)).ok(), "doubled line " << k);
    BOOST_TEST(!cms::parse_receipt_text(join(none, none, k)).ok(), "changed line " << k);
  }
}

BOOST_AUTO_TEST_SUITE_END()
