// Documents from the national side that are not valid 5.0 (as the model defines it) are refused
// with findings that name the JSON path; nothing is rendered.

#include <boost/test/unit_test.hpp>

#include "mapping/standard5/json_schema.hpp"
#include "tests/mapping/standard5/support.hpp"

using namespace kakehashi;
using namespace kakehashi::testing::standard5;
namespace s5 = kakehashi::mapping::standard5;

namespace {

std::string k2_document() {
  testing::UnitGenerator gen(21);
  const auto unit = gen.make("K2");
  const auto v5 = s5::to_v5(as_unit_files(unit));
  BOOST_TEST_REQUIRE(v5.ok());
  return v5.document.json;
}

// Replaces the first `from` at or after the UPPLAN form (or anywhere, for the frame).
std::string replaced(std::string s, const std::string& from, const std::string& to) {
  const auto form = s.find("\"サービス利用票第6表予定\"");
  auto at = s.find(from, form == std::string::npos ? 0 : form);
  if (at == std::string::npos) at = s.find(from);
  BOOST_TEST_REQUIRE(at != std::string::npos, from);
  s.replace(at, from.size(), to);
  return s;
}

// The single error finding of from_v5(json), which must refuse.
s5::Finding refused(const std::string& json, std::string_view code) {
  const auto r = s5::from_v5(json);
  BOOST_TEST_REQUIRE(!r.ok());
  BOOST_TEST(r.files.empty());
  const auto* f = find_code(r.findings, code);
  BOOST_TEST_REQUIRE(f != nullptr, findings_text(r.findings));
  return *f;
}

const std::string kRecord0 = "/帳票/サービス利用票第6表予定/レコード/0";

}  // namespace

BOOST_AUTO_TEST_CASE(not_json_names_the_byte) {
  const auto f = refused("{\"標準仕様\":", s5::codes::kJsonSyntax);
  BOOST_TEST(f.message.find("byte 17") != std::string::npos, f.message);  // after "{\"標準仕様\":"
  refused(k2_document() + " {}", s5::codes::kJsonSyntax);                 // trailing content
  refused("\"\xFF\"", s5::codes::kJsonSyntax);                            // not UTF-8
}

BOOST_AUTO_TEST_CASE(schema_violations_name_the_json_path) {
  const std::string doc = k2_document();
  BOOST_TEST(s5::validate_v5(doc).empty());

  auto f =
      refused(replaced(doc, "\"保険者番号\":\"", "\"保険者番号\":\"X"), s5::codes::kJsonSchema);
  BOOST_TEST(f.json_path == kRecord0 + "/保険者番号");
  BOOST_TEST(f.message == "7 characters; at most 6 allowed");
  f = refused(replaced(doc, "\"サービス利用日\":\"2", "\"サービス利用日\":\"X"),
              s5::codes::kJsonSchema);
  BOOST_TEST(f.json_path == kRecord0 + "/サービス利用日");
  BOOST_TEST(f.message == "does not match the format ^[0-9]{8}$");

  f = refused(replaced(doc, "\"サービス利用日\":\"", "\"サービス利用日\":1,\"x\":\""),
              s5::codes::kJsonSchema);
  BOOST_TEST(f.json_path == kRecord0 + "/サービス利用日");
  BOOST_TEST(f.message == "expected a string, found an integer");

  f = refused(replaced(doc, "\"ファイル連番\":\"", "\"ファイル連番\":\"1"), s5::codes::kJsonSchema);
  BOOST_TEST(f.json_path == "/ファイル連番");

  f = refused(replaced(doc, "\"仕様バージョン\":\"5.0\"", "\"仕様バージョン\":\"4.1\""),
              s5::codes::kJsonSchema);
  BOOST_TEST(f.json_path == "/仕様バージョン");

  // A required item left out, an unknown item, a wrong code, an empty string, an empty array.
  f = refused(replaced(doc, "\"３０日超区分\":\"0\",", ""), s5::codes::kJsonSchema);
  BOOST_TEST(f.json_path == kRecord0 + "/３０日超区分");
  BOOST_TEST(f.message == "required item is missing");
  f = refused(replaced(doc, "{\"保険者番号\"", "{\"備考\":\"x\",\"保険者番号\""),
              s5::codes::kJsonSchema);
  BOOST_TEST(f.json_path == kRecord0 + "/備考");
  f = refused(replaced(doc, "\"３０日超区分\":\"0\"", "\"３０日超区分\":\"2\""),
              s5::codes::kJsonSchema);
  BOOST_TEST(f.json_path == kRecord0 + "/３０日超区分");
  f = refused(replaced(doc, "\"単位数\":\"", "\"単位数\":\"\",\"y\":\""), s5::codes::kJsonSchema);
  BOOST_TEST(f.json_path == kRecord0 + "/単位数");
  f = refused(replaced(doc, "\"帳票\":{", "\"帳票\":{\"利用者補足情報X\":{},"),
              s5::codes::kJsonSchema);
  BOOST_TEST(f.json_path == "/帳票/利用者補足情報X");
  refused("[]", s5::codes::kJsonSchema);
}

BOOST_AUTO_TEST_CASE(values_that_break_41_rules_are_refused_with_the_json_path) {
  // Valid by the schema's formats, invalid as 4.1: a date that does not exist and an office
  // number whose check digit fails. The inspector over the rendered files names the item.
  const std::string doc = k2_document();
  const std::string key = "\"サービス利用日\":\"";
  const auto at = doc.find(key, doc.find("\"サービス利用票第6表予定\""));
  BOOST_TEST_REQUIRE(at != std::string::npos);
  std::string bad_date = doc;
  bad_date.replace(at + key.size(), 8, "20250631");
  const auto f = refused(bad_date, "FIELD_DATE");
  BOOST_TEST(f.json_path == kRecord0 + "/サービス利用日");
  BOOST_TEST(f.field_no == 10);
  BOOST_TEST(f.line == 1u);
}

BOOST_AUTO_TEST_CASE(attachment_with_a_foreign_name_or_bad_base64_is_refused) {
  testing::UnitGenerator gen(9);
  testing::UnitParams p;
  p.with_attachment = true;
  const auto v5 = s5::to_v5(as_unit_files(gen.make("K2", p)));
  BOOST_TEST_REQUIRE(v5.ok());
  const std::string doc = v5.document.json;
  auto f = refused(replaced(doc, "\"ファイル名\":\"hokensho_", "\"ファイル名\":\"../hokensho_"),
                   s5::codes::kAttachmentName);
  BOOST_TEST(f.json_path == "/添付ファイル/0/ファイル名");
  f = refused(replaced(doc, "_20250", "_20240"), s5::codes::kAttachmentName);  // other unit
  BOOST_TEST(f.json_path == "/添付ファイル/0/ファイル名");
  f = refused(replaced(doc, "\"内容\":\"", "\"内容\":\"*"), s5::codes::kJsonSchema);
  BOOST_TEST(f.json_path == "/添付ファイル/0/内容");
  f = refused(replaced(doc, "\"application/pdf\"", "\"image/png\""), s5::codes::kAttachmentContent);
  BOOST_TEST(f.json_path == "/添付ファイル/0/メディアタイプ");
}

BOOST_AUTO_TEST_CASE(schema_subset_validator) {
  auto compiled = s5::JsonSchema::compile(R"({
    "type":"object","required":["a"],"additionalProperties":false,
    "properties":{"a":{"type":"array","minItems":1,"maxItems":2,"items":{"$ref":"#/$defs/n"}},
                  "b":{"type":["string","null"],"maxLength":2}},
    "$defs":{"n":{"type":"integer","minimum":3}}})");
  BOOST_TEST_REQUIRE(std::holds_alternative<s5::JsonSchema>(compiled));
  const auto& schema = std::get<s5::JsonSchema>(compiled);
  const auto check = [&](const char* json) {
    rapidjson::Document d;
    d.Parse(json);
    s5::Findings out;
    schema.validate(d, out);
    std::string paths;
    for (const auto& f : out) paths += f.json_path + ";";
    return paths;
  };
  BOOST_TEST(check(R"({"a":[3,4]})") == "");
  BOOST_TEST(check(R"({"a":[3,4],"b":null})") == "");
  BOOST_TEST(check(R"({"a":[2,"x"]})") == "/a/0;/a/1;");
  BOOST_TEST(check(R"({"a":[],"b":"ｱｲｳ","c":1})") == "/a;/b;/c;");
  BOOST_TEST(check(R"({})") == "/a;");
  BOOST_TEST(check(R"({"a":[3,3,3]})") == "/a;");
  BOOST_TEST(check(R"({"a~/":[3]})") == "/a;/a~0~1;");
  BOOST_TEST(std::holds_alternative<std::string>(
      s5::JsonSchema::compile(R"({"$ref":"http://example.org/s"})")));
  BOOST_TEST(
      std::holds_alternative<std::string>(s5::JsonSchema::compile(R"J({"pattern":"(a)"})J")));
}

// A 4.1 unit whose values break the 5.0 schema (admission would have refused it; to_v5 checks
// its own output anyway) is refused in the sender's terms: file, record, line and field.
BOOST_AUTO_TEST_CASE(units_that_would_make_an_invalid_document_are_refused_naming_the_41_field) {
  testing::UnitGenerator gen(31);
  auto unit = gen.make("K2");
  testing::edit_records(testing::file_of(unit, "UPPLAN"), [](std::vector<testing::EditRecord>& r) {
    r[1].fields[1].value = "12345X";
  });
  const auto v5 = s5::to_v5(as_unit_files(unit));
  BOOST_TEST_REQUIRE(!v5.ok());
  BOOST_TEST(v5.document.json.empty());
  const auto* f = find_code(v5.findings, s5::codes::kJsonSchema);
  BOOST_TEST_REQUIRE(f != nullptr, findings_text(v5.findings));
  BOOST_TEST(f->file == testing::file_of(unit, "UPPLAN").name);
  BOOST_TEST(f->record == 2u);
  BOOST_TEST(f->line == testing::parse_records(testing::file_of(unit, "UPPLAN").bytes)[1].line);
  BOOST_TEST(f->field_no == 2);
  BOOST_TEST(f->field == "保険者番号");
  BOOST_TEST(f->json_path == kRecord0.substr(0, kRecord0.size() - 1) + "1/保険者番号");
}
