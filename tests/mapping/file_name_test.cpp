// File names: every kind parses and builds back, v3 and attachments are recognised, and the
// spec's own broken examples are refused for the right reason.

#include <boost/test/unit_test.hpp>

#include "mapping/careplan/file_name.hpp"
#include "mapping/careplan/finding_codes.hpp"

#include <ostream>

using namespace kakehashi::mapping;
namespace codes = kakehashi::mapping::codes;

namespace kakehashi::mapping {
std::ostream& operator<<(std::ostream& os, FileKind k) { return os << file_kind_name(k); }
std::ostream& operator<<(std::ostream& os, NameGeneration g) { return os << generation_name(g); }
std::ostream& operator<<(std::ostream& os, AttachmentType t) { return os << attachment_type_name(t); }
}  // namespace kakehashi::mapping

namespace {
bool has_code(const Findings& f, std::string_view code) {
  for (const auto& x : f) {
    if (x.code == code) return true;
  }
  return false;
}
}  // namespace

BOOST_AUTO_TEST_CASE(every_v41_kind_round_trips) {
  const std::string offices = "1370100016_43_27A1500013_11_20250325104805";
  const std::vector<std::string> names{
      "UPHOSOKU_000000_" + offices + ".CSV", "UPHOSOKU_202506_" + offices + ".CSV",
      "UP1KYO_" + offices + ".CSV",          "DLT1KYO_" + offices + ".CSV",
      "UP2KYO_" + offices + ".CSV",          "UP3KYO_" + offices + ".CSV",
      "UPPLAN_202506_" + offices + ".CSV",   "UPJSK_202506_" + offices + ".CSV",
      "DLTPLAN_202506_" + offices + ".CSV",  "DLTJSK_202506_" + offices + ".CSV",
      "UPSIKYU_202506_" + offices + ".CSV",  "UPKIHON_" + offices + ".CSV",
      "UPKIHON_SUB1_" + offices + ".CSV",    "UPKIHON_SUB2_" + offices + ".CSV",
      "DLTKIHON_" + offices + ".CSV",        "UPYOBO_" + offices + ".CSV",
      "UPYOBO_SUB_" + offices + ".CSV",      "DLTYOBO_" + offices + ".CSV",
      "UPKIHON_IMAGE_" + offices + "_0001.jpg"};
  for (const auto& n : names) {
    const auto parsed = parse_file_name(n);
    BOOST_TEST_REQUIRE(parsed.name.has_value(), n);
    BOOST_TEST(parsed.name->build() == n);
    BOOST_TEST(parsed.name->from.office_no == "1370100016");
    BOOST_TEST(parsed.name->to.service_type == "11");
    BOOST_TEST(parsed.name->sequence == "20250325104805");
    BOOST_TEST(parsed.name->generation == NameGeneration::kV4_1);
  }
  BOOST_TEST(parse_file_name("UPKIHON_SUB1_" + offices + ".CSV").name->kind == FileKind::UPKIHON_SUB1);
  BOOST_TEST(parse_file_name("UPYOBO_SUB_" + offices + ".CSV").name->kind == FileKind::UPYOBO_SUB);
  BOOST_TEST(parse_file_name("UPKIHON_" + offices + ".CSV").name->kind == FileKind::UPKIHON);
}

BOOST_AUTO_TEST_CASE(annex_examples) {
  // The annex's placeholders parse (their check digits fail, which is a finding, not a crash).
  const auto p = parse_file_name("UPPLAN_201912_0300000100_43_0300000005_11_20191025200201.CSV");
  BOOST_TEST_REQUIRE(p.name.has_value());
  BOOST_TEST(has_code(p.findings, codes::kNameOfficeCheckDigit));
  const auto img = parse_file_name("UPKIHON_IMAGE_0300000100_43_0300000005_11_20191025200201_0002.JPG");
  BOOST_TEST_REQUIRE(img.name.has_value());
  BOOST_TEST(img.name->branch == "0002");
  // The body's 9-digit office numbers and the UPKIHON month are spec typos: refused.
  BOOST_TEST(!parse_file_name("UP1KYO_123456789_43_2468135790_11_20191110102233.CSV").name);
  BOOST_TEST(!parse_file_name("UPKIHON_000000_1234567890_43_2468135790_11_20191110102233.CSV").name);
}

BOOST_AUTO_TEST_CASE(v3_names) {
  const auto p = parse_file_name("UPPLAN_201912_1370100016_27A1500013_20191025200201.CSV");
  BOOST_TEST_REQUIRE(p.name.has_value());
  BOOST_TEST(p.name->generation == NameGeneration::kV3);
  BOOST_TEST(p.name->from.service_type.empty());
  BOOST_TEST(has_code(p.findings, codes::kNameV3));
  BOOST_TEST(p.name->build() == "UPPLAN_201912_1370100016_27A1500013_20191025200201.CSV");
  // v3 had no table 3 and no preventive files.
  BOOST_TEST(!parse_file_name("UP3KYO_1370100016_27A1500013_20191025200201.CSV").name);
}

BOOST_AUTO_TEST_CASE(attachments) {
  const auto p = parse_file_name("hoken_sho_1370100016_43_27A1500013_11_20250325104805.PDF");
  BOOST_TEST_REQUIRE(p.name.has_value());
  BOOST_TEST(p.name->kind == FileKind::Attachment);
  BOOST_TEST(p.name->label == "hoken_sho");
  BOOST_TEST(p.name->attachment == AttachmentType::kPdf);
  BOOST_TEST(p.name->build() == "hoken_sho_1370100016_43_27A1500013_11_20250325104805.PDF");
  for (const char* ext : {"jpeg", "jpg", "png", "gif", "txt"}) {
    BOOST_TEST(parse_file_name(std::string("a_1370100016_43_27A1500013_11_20250325104805.") + ext).name.has_value(), ext);
  }
  BOOST_TEST(!parse_file_name("a_1370100016_43_27A1500013_11_20250325104805.docx").name);
  BOOST_TEST(!parse_file_name("_1370100016_43_27A1500013_11_20250325104805.pdf").name);
  BOOST_TEST(!parse_file_name("1370100016_43_27A1500013_11_20250325104805.pdf").name);
}

BOOST_AUTO_TEST_CASE(segment_findings) {
  const auto seq = parse_file_name("UP1KYO_1370100016_43_27A1500013_11_20250230104805.CSV");
  BOOST_TEST(has_code(seq.findings, codes::kNameSequence));
  const auto month = parse_file_name("UPPLAN_202513_1370100016_43_27A1500013_11_20250325104805.CSV");
  BOOST_TEST(has_code(month.findings, codes::kNameMonth));
  const auto zero = parse_file_name("UPPLAN_000000_1370100016_43_27A1500013_11_20250325104805.CSV");
  BOOST_TEST(has_code(zero.findings, codes::kNameMonth));
  const auto lower = parse_file_name("UP1KYO_1370100016_43_27A1500013_11_20250325104805.csv");
  BOOST_TEST_REQUIRE(lower.name.has_value());
  BOOST_TEST(has_code(lower.findings, codes::kNameExtensionCase));
  for (const char* bad : {"", ".CSV", "UPPLAN.CSV", "UPPLAN_202506_1370100016_43_27A1500013_11_2025032510480.CSV",
                          "UPPLAN_202506_1370100016_4_27A1500013_11_20250325104805.CSV",
                          "UPPLAN_202506_1370100016_43_27I1500013_11_20250325104805.CSV",
                          "UPPLAN_202506_1370100016_43_27A1500013_11_20250325104805.CSV.bak"}) {
    const auto r = parse_file_name(bad);
    BOOST_TEST(!r.name.has_value(), bad);
    BOOST_TEST(has_code(r.findings, codes::kNameUnrecognised), bad);
  }
}
