// The hard cases of MS932 ⇄ UTF-8 (README.md "Characters"): each decision is asserted here.

#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <map>
#include <set>

#include "mapping/standard5/cp932.hpp"
#include "tests/mapping/standard5/support.hpp"

using namespace kakehashi;
using namespace kakehashi::testing::standard5;
namespace s5 = kakehashi::mapping::standard5;

namespace {

const s5::Cp932Codec& codec() {
  return s5::Model::builtin().codec();
}

std::string decode(std::string_view bytes) {
  std::string out;
  const auto bad = codec().decode(bytes, out, [](std::size_t, std::uint16_t) {});
  BOOST_TEST(!bad.has_value());
  return out;
}

std::string utf8(char32_t cp) {
  std::string s;
  s5::append_utf8(s, cp);
  return s;
}

// A K2 unit whose UPPLAN record 1 プラン担当者名 (field 7, free text) holds `ms932`.
testing::GeneratedUnit unit_with_name(std::string_view ms932) {
  testing::UnitGenerator gen(11);
  auto unit = gen.make("K2");
  testing::edit_records(testing::file_of(unit, "UPPLAN"),
                        [&](std::vector<testing::EditRecord>& records) {
                          records[0].fields[6].value = std::string(ms932);
                        });
  return unit;
}

// The 5.0 document of a K2 unit with `text` (UTF-8) as record 1's プラン担当者名.
std::string document_with_name(const std::string& text) {
  auto unit = unit_with_name("X");
  const auto v5 = s5::to_v5(as_unit_files(unit));
  BOOST_TEST_REQUIRE(v5.ok());
  std::string json = v5.document.json;
  const std::string marker = "\"プラン担当者名\":\"X\"";
  const auto at = json.find(marker);
  BOOST_TEST_REQUIRE(at != std::string::npos);
  json.replace(at, marker.size(), "\"プラン担当者名\":\"" + text + "\"");
  return json;
}

std::string upplan_field7(const s5::FromV5Result& r) {
  for (const auto& f : r.files) {
    if (f.name.rfind("UPPLAN_", 0) == 0) return testing::parse_records(f.bytes)[0].fields[6].value;
  }
  return "<no UPPLAN>";
}

}  // namespace

BOOST_AUTO_TEST_CASE(yen_and_overline_bytes_are_ascii_backslash_and_tilde) {
  BOOST_TEST(decode("\x5C\x7E") == "\\~");
  BOOST_TEST(*codec().encode(U'\\') == 0x5C);
  BOOST_TEST(*codec().encode(U'~') == 0x7E);
  // U+00A5 and U+203E are not MS932: refused unless substitution is on (then 0x5C / 0x7E).
  BOOST_TEST(!codec().encode(U'\u00A5').has_value());
  BOOST_TEST(!codec().encode(U'\u203E').has_value());
  BOOST_TEST(*codec().best_fit(U'\u00A5') == 0x5C);
  BOOST_TEST(*codec().best_fit(U'\u203E') == 0x7E);
  BOOST_TEST(round_trips(unit_with_name("C:\x5C"
                                        "dir\x7E"
                                        "a"),
                         "5C/7E"));
}

BOOST_AUTO_TEST_CASE(half_width_kana_stay_half_width) {
  BOOST_TEST(decode("\xB6\xC5") == "ｶﾅ");  // U+FF76 U+FF85, no NFKC folding
  for (unsigned b = 0xA1; b <= 0xDF; ++b) {
    BOOST_TEST(static_cast<unsigned>(codec().code_point(static_cast<std::uint16_t>(b))) ==
               0xFF61 + (b - 0xA1));
    BOOST_TEST(*codec().encode(0xFF61 + (b - 0xA1)) == b);
  }
  BOOST_TEST(round_trips(unit_with_name("\xB6\xC5\xDE\xDF"), "half-width kana"));
}

BOOST_AUTO_TEST_CASE(duplicates_come_back_as_microsofts_choice_and_originals_are_restored) {
  // Ⅰ: NEC 0x8754 (preferred) / IBM 0xFA4A; √: JIS 0x81E3 (preferred) / NEC 0x8795;
  // 纊: IBM 0xFA5C (preferred) / NEC-selected 0xED40; ¬: 0x81CA (preferred) / 0xEEF9 / 0xFA54.
  BOOST_TEST(*codec().encode(U'\u2160') == 0x8754);
  BOOST_TEST(*codec().encode(U'\u221A') == 0x81E3);
  BOOST_TEST(*codec().encode(U'\u7E8A') == 0xFA5C);
  BOOST_TEST(codec().is_preferred(0x8754));
  BOOST_TEST(!codec().is_preferred(0xFA4A));
  BOOST_TEST(!codec().is_preferred(0x8795));
  BOOST_TEST(!codec().is_preferred(0xED40));
  BOOST_TEST(!codec().is_preferred(0xEEF9));

  const std::string bytes = "\xFA\x4A\x87\x95\xED\x40\xEE\xF9\x87\x54";
  const auto unit = unit_with_name(bytes);
  const auto v5 = s5::to_v5(as_unit_files(unit));
  BOOST_TEST_REQUIRE(v5.ok());
  // Four non-preferred codes are carried (the last Ⅰ is already the preferred 0x8754).
  const auto& json = v5.document.json;
  BOOST_TEST(json.find("\"符号\":\"FA4A\"") != std::string::npos);
  BOOST_TEST(json.find("\"符号\":\"8795\"") != std::string::npos);
  BOOST_TEST(json.find("\"符号\":\"ED40\"") != std::string::npos);
  BOOST_TEST(json.find("\"符号\":\"EEF9\"") != std::string::npos);
  BOOST_TEST(json.find("\"符号\":\"8754\"") == std::string::npos);
  BOOST_TEST(json.find("ⅠⅠ") == std::string::npos);  // sanity: text is the characters
  BOOST_TEST(round_trips(unit, "NEC/IBM duplicates"));

  // Without the carried codes (e.g. the national side drops unknown items) the preferred codes
  // come back: same characters, other bytes.
  std::string stripped = json;
  const auto at = stripped.find(",\"原符号\":[");
  BOOST_TEST_REQUIRE(at != std::string::npos);
  const auto end = stripped.find(']', at);
  stripped.erase(at, end - at + 1);
  const auto back = s5::from_v5(stripped);
  BOOST_TEST_REQUIRE(back.ok(), findings_text(back.findings));
  BOOST_TEST(upplan_field7(back) == "\x87\x54\x81\xE3\xFA\x5C\x81\xCA\x87\x54");
}

BOOST_AUTO_TEST_CASE(original_code_that_does_not_fit_the_text_is_ignored_with_a_warning) {
  const auto unit = unit_with_name("\xFA\x4A");
  const auto v5 = s5::to_v5(as_unit_files(unit));
  BOOST_TEST_REQUIRE(v5.ok());
  std::string json = v5.document.json;
  // The national side changed the character: the hint no longer applies.
  const auto at = json.find("\"プラン担当者名\":\"Ⅰ\"");
  BOOST_TEST_REQUIRE(at != std::string::npos);
  json.replace(at, std::string("\"プラン担当者名\":\"Ⅰ\"").size(), "\"プラン担当者名\":\"Ⅱ\"");
  const auto back = s5::from_v5(json);
  BOOST_TEST_REQUIRE(back.ok(), findings_text(back.findings));
  const auto* w = find_code(back.findings, s5::codes::kOriginalCodeIgnored);
  BOOST_TEST_REQUIRE(w != nullptr);
  BOOST_TEST((w->severity == s5::Severity::kWarning));
  BOOST_TEST(w->json_path == "/帳票/サービス利用票第6表予定/原符号/0");
  BOOST_TEST(upplan_field7(back) == "\x87\x55");  // Ⅱ, preferred NEC code
}

BOOST_AUTO_TEST_CASE(jis_x_0208_mapping_variants_are_emitted_as_jis_x_0213_and_read_both_ways) {
  // 0x8160 WAVE DASH: CP932 says U+FF5E, JIS X 0213 U+301C. 5.0 text gets U+301C.
  BOOST_TEST(decode("\x81\x60") == utf8(U'\u301C'));
  BOOST_TEST(decode("\x81\x5C\x81\x61\x81\x7C\x81\x91\x81\x92\x81\xCA") ==
             utf8(U'\u2014') + utf8(U'\u2016') + utf8(U'\u2212') + utf8(U'\u00A2') +
                 utf8(U'\u00A3') + utf8(U'\u00AC'));
  BOOST_TEST(round_trips(unit_with_name("\x81\x60\x81\x5C\x81\x61\x81\x7C\x81\x91\x81\x92\x81\xCA"),
                         "JIS variants"));
  // Both Unicode forms from the national side become the one MS932 code.
  const auto a = s5::from_v5(document_with_name(utf8(U'\u301C') + utf8(U'\uFF5E')));
  BOOST_TEST_REQUIRE(a.ok(), findings_text(a.findings));
  BOOST_TEST(upplan_field7(a) == "\x81\x60\x81\x60");
  BOOST_TEST(a.substitutions.empty());
}

BOOST_AUTO_TEST_CASE(characters_ms932_cannot_hold_are_refused_by_default_naming_where) {
  // 𠮷 (U+20BB7, JIS X 0213 plane 2), ¥ and a private-use (外字) code point.
  const auto r = s5::from_v5(
      document_with_name("吉" + utf8(U'\U00020BB7') + "田" + utf8(U'\u00A5') + utf8(U'\uE000')));
  BOOST_TEST(!r.ok());
  BOOST_TEST(r.files.empty());
  std::vector<const s5::Finding*> found;
  for (const auto& f : r.findings) {
    if (f.code == s5::codes::kCharUnmappable) found.push_back(&f);
  }
  BOOST_TEST_REQUIRE(found.size() == 3u, findings_text(r.findings));
  const auto& f = *found[0];
  BOOST_TEST(f.file.rfind("UPPLAN_202", 0) == 0);
  BOOST_TEST(f.record == 1u);
  BOOST_TEST(f.field_no == 7);
  BOOST_TEST(f.field == "プラン担当者名");
  BOOST_TEST(f.json_path == "/帳票/サービス利用票第6表予定/レコード/0/プラン担当者名");
  BOOST_TEST(f.message.find("U+20BB7") != std::string::npos);
  BOOST_TEST(f.message.find("character 2") != std::string::npos);
  BOOST_TEST(found[1]->message.find("U+00A5") != std::string::npos);
  BOOST_TEST(found[2]->message.find("U+E000") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(substitution_writes_geta_or_best_fit_and_reports_each) {
  s5::FromV5Options options;
  options.characters.substitute = true;
  const auto r =
      s5::from_v5(document_with_name("吉" + utf8(U'\U00020BB7') + "田" + utf8(U'\u00A5')), options);
  BOOST_TEST_REQUIRE(r.ok(), findings_text(r.findings));
  BOOST_TEST(upplan_field7(r) == "\x8B\x67\x81\xAC\x93\x63\x5C");  // 吉〓田 + 0x5C
  BOOST_TEST_REQUIRE(r.substitutions.size() == 2u);
  const auto& s = r.substitutions[0];
  BOOST_TEST((s.original == U'\U00020BB7'));
  BOOST_TEST((s.replacement == U'\u3013'));
  BOOST_TEST(s.record == 1u);
  BOOST_TEST(s.field_no == 7);
  BOOST_TEST(s.json_path == "/帳票/サービス利用票第6表予定/レコード/0/プラン担当者名");
  BOOST_TEST((r.substitutions[1].replacement == U'\\'));
  BOOST_TEST(s5::describe(s).find("U+20BB7 → U+3013 in UPPLAN_") == 0u);
  // Each substitution is also a warning finding, so it reaches the cover note and the audit.
  std::size_t warnings = 0;
  for (const auto& f : r.findings) warnings += f.code == s5::codes::kCharSubstituted ? 1 : 0;
  BOOST_TEST(warnings == 2u);
}

BOOST_AUTO_TEST_CASE(control_characters_are_refused_even_with_substitution) {
  s5::FromV5Options options;
  options.characters.substitute = true;
  const auto r = s5::from_v5(document_with_name("a\\u0001b"), options);
  BOOST_TEST(!r.ok());
  BOOST_TEST(find_code(r.findings, s5::codes::kCharControl) != nullptr, findings_text(r.findings));
}

BOOST_AUTO_TEST_CASE(invalid_ms932_and_gaiji_in_a_41_unit_are_refused) {
  const auto gaiji = s5::to_v5(as_unit_files(unit_with_name("\xF0\x40")));
  BOOST_TEST(!gaiji.ok());
  const auto* f = find_code(gaiji.findings, s5::codes::kCsvEncoding);
  BOOST_TEST_REQUIRE(f != nullptr);
  BOOST_TEST(f->field_no == 7);
  BOOST_TEST(f->record == 1u);
  BOOST_TEST(f->message.find("外字") != std::string::npos);
  const auto cut = s5::to_v5(as_unit_files(unit_with_name("\x82")));
  BOOST_TEST(find_code(cut.findings, s5::codes::kCsvEncoding) != nullptr);
  // Control characters other than TAB, CR and LF are refused both ways.
  const auto control = s5::to_v5(as_unit_files(unit_with_name("a\x01")));
  const auto* c = find_code(control.findings, s5::codes::kCsvEncoding);
  BOOST_TEST_REQUIRE(c != nullptr);
  BOOST_TEST(c->message.find("control character") != std::string::npos);
  BOOST_TEST(s5::to_v5(as_unit_files(unit_with_name("a\tb"))).ok());
}

BOOST_AUTO_TEST_CASE(utf8_reader_refuses_overlong_and_surrogates) {
  std::size_t pos = 0;
  BOOST_TEST(!s5::next_utf8("\xC0\xAF", pos).has_value());
  pos = 0;
  BOOST_TEST(!s5::next_utf8("\xED\xA0\x80", pos).has_value());
  pos = 0;
  BOOST_TEST(static_cast<unsigned>(*s5::next_utf8("\xF0\xA0\xAE\xB7", pos)) == 0x20BB7u);
  BOOST_TEST(pos == 4u);
}

// The duplicate rule over the whole CP932 table (README "Characters", NEC/IBM duplicates): every
// code point with several codes has exactly one preferred code, it is the one `encode` writes,
// and it is the first in Microsoft's order (JIS X 0208 rows, NEC row 13, IBM 0xFA-0xFC, NEC-
// selected 0xED-0xEE); every other code is the same character. The groups are found from the
// table here, not counted by hand.
BOOST_AUTO_TEST_CASE(every_duplicate_of_the_table_has_one_preferred_code_in_microsofts_order) {
  const auto rank = [](std::uint16_t code) {
    const unsigned lead = code >> 8;
    if (lead == 0x87) return 1;
    if (lead >= 0xFA && lead <= 0xFC) return 2;
    if (lead == 0xED || lead == 0xEE) return 3;
    return 0;
  };
  std::map<char32_t, std::vector<std::uint16_t>> codes_of;
  for (unsigned code = 1; code <= 0xFFFF; ++code) {
    const auto cp = codec().code_point(static_cast<std::uint16_t>(code));
    if (cp != 0) codes_of[cp].push_back(static_cast<std::uint16_t>(code));
  }
  std::size_t groups = 0, by_lead[4] = {0, 0, 0, 0};
  for (const auto& [cp, codes] : codes_of) {
    const auto written = codec().encode(cp);
    BOOST_TEST_REQUIRE(written.has_value(), s5::code_point_name(cp));
    // The codes of this character: those decoding to it, and the one written for it (a JIS
    // X 0208 variant such as ¬ decodes as U+00AC while its IBM duplicates decode as U+FFE2).
    std::set<std::uint16_t> candidates(codes.begin(), codes.end());
    candidates.insert(*written);
    if (candidates.size() == 1) {
      BOOST_TEST(codec().is_preferred(*written), s5::code_point_name(cp));
      continue;
    }
    ++groups;
    int best = 3;
    std::size_t preferred = 0;
    for (const auto code : candidates) {
      best = std::min(best, rank(code));
      preferred += codec().is_preferred(code) ? 1 : 0;
      BOOST_TEST(codec().same_character(code, cp), s5::code_point_name(cp) << " " << code);
    }
    BOOST_TEST(preferred == 1u, s5::code_point_name(cp));
    BOOST_TEST(rank(*written) == best, s5::code_point_name(cp) << " written as " << *written);
    BOOST_TEST(codec().is_preferred(*written), s5::code_point_name(cp));
    ++by_lead[rank(*written)];
  }
  BOOST_TEST(groups > 0u);
  BOOST_TEST_MESSAGE("code points with several CP932 codes: " << groups << " (preferred in JIS "
                     << by_lead[0] << ", NEC row 13 " << by_lead[1] << ", IBM " << by_lead[2]
                     << ", NEC-selected " << by_lead[3] << ")");
  // Nothing is ever preferred in 0xED-0xEE: every NEC-selected IBM extension has an IBM code.
  BOOST_TEST(by_lead[3] == 0u);
}

// The replacement is the operator's choice (any MS932 character), reported as decoded.
BOOST_AUTO_TEST_CASE(substitution_uses_the_configured_replacement) {
  s5::FromV5Options options;
  options.characters.substitute = true;
  options.characters.replacement = U'\u25A0';  // ■ 0x81A1
  const auto r = s5::from_v5(document_with_name("吉" + utf8(U'\U00020BB7')), options);
  BOOST_TEST_REQUIRE(r.ok(), findings_text(r.findings));
  BOOST_TEST(upplan_field7(r) == "\x8B\x67\x81\xA1");
  BOOST_TEST_REQUIRE(r.substitutions.size() == 1u);
  BOOST_TEST((r.substitutions[0].replacement == U'\u25A0'));
  BOOST_TEST(s5::describe(r.substitutions[0]).find("U+20BB7 → U+25A0") == 0u);
}

// Half-width kana from the national side stay half-width, and full-width ones full-width: no
// width folding either way.
BOOST_AUTO_TEST_CASE(half_and_full_width_kana_from_5_0_are_kept_apart) {
  const auto r = s5::from_v5(document_with_name("ｶﾅカナ"));
  BOOST_TEST_REQUIRE(r.ok(), findings_text(r.findings));
  BOOST_TEST(upplan_field7(r) == "\xB6\xC5\x83\x4A\x83\x69");
  BOOST_TEST(r.substitutions.empty());
}
