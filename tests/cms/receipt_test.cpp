#define BOOST_TEST_DYN_LINK
#include <boost/test/unit_test.hpp>

#include "mapping/cms/der_layout.hpp"
#include "mapping/cms/translation_receipt.hpp"
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

BOOST_AUTO_TEST_SUITE_END()
