// The model is data: the compiled-in files load, agree with layouts.json and with each other,
// and a changed data file (mandatory items, no attachments) changes behaviour without code.

#include <boost/test/unit_test.hpp>

#include <functional>

#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include "mapping/careplan/layout.hpp"
#include "tests/mapping/standard5/support.hpp"

using namespace kakehashi;
using namespace kakehashi::testing::standard5;
namespace s5 = kakehashi::mapping::standard5;

namespace {

std::string to_string(const rapidjson::Value& v) {
  rapidjson::StringBuffer b;
  rapidjson::Writer<rapidjson::StringBuffer> w(b);
  v.Accept(w);
  return {b.GetString(), b.GetSize()};
}

// The compiled-in model with `edit` applied to its JSON (and the schema as given).
std::unique_ptr<s5::Model> edited_model(
    const std::function<void(rapidjson::Document&)>& edit_model,
    const std::function<void(rapidjson::Document&)>& edit_schema = {}) {
  rapidjson::Document m;
  m.Parse(s5::builtin_model_json().data(), s5::builtin_model_json().size());
  rapidjson::Document s;
  s.Parse(s5::builtin_schema_json().data(), s5::builtin_schema_json().size());
  edit_model(m);
  if (edit_schema) edit_schema(s);
  auto parsed = s5::Model::parse(to_string(m), to_string(s));
  if (auto* e = std::get_if<std::string>(&parsed)) BOOST_FAIL("model refused: " << *e);
  return std::move(std::get<std::unique_ptr<s5::Model>>(parsed));
}

std::string parse_error(const std::function<void(rapidjson::Document&)>& edit) {
  rapidjson::Document m;
  m.Parse(s5::builtin_model_json().data(), s5::builtin_model_json().size());
  edit(m);
  auto parsed = s5::Model::parse(to_string(m), s5::builtin_schema_json());
  const auto* e = std::get_if<std::string>(&parsed);
  return e != nullptr ? *e : std::string();
}

}  // namespace

BOOST_AUTO_TEST_CASE(builtin_model_places_every_41_field_and_says_it_is_a_model) {
  const auto& model = s5::Model::builtin();
  BOOST_TEST(model.version() == "5.0");
  BOOST_TEST(model.kinds().size() == mapping::kCsvKindCount);
  for (const auto& k : model.kinds()) {
    const auto& layout = mapping::CarePlanStandard::get().layout(k.kind);
    BOOST_TEST(k.fields.size() == layout.field_count, k.key);
    for (const auto& f : k.fields) BOOST_TEST(f.name_ja == layout.field(f.no).name_ja);
  }
  BOOST_TEST(s5::builtin_model_json().find("OUR MODEL") != std::string_view::npos);
  BOOST_TEST(s5::builtin_schema_json().find("OUR MODEL") != std::string_view::npos);
}

// Every record item of the mapping has a schema property and vice versa, required flags follow
// layouts.json, so the two data files cannot drift apart.
BOOST_AUTO_TEST_CASE(schema_and_mapping_agree) {
  rapidjson::Document schema;
  schema.Parse(s5::builtin_schema_json().data(), s5::builtin_schema_json().size());
  BOOST_TEST_REQUIRE(!schema.HasParseError());
  const auto& defs = schema["$defs"];
  for (const auto& k : s5::Model::builtin().kinds()) {
    const std::string prefix(mapping::file_kind_name(k.kind));
    const auto& record = defs[(prefix + ".レコード").c_str()];
    const auto& form = defs[prefix.c_str()];
    const auto& layout = mapping::CarePlanStandard::get().layout(k.kind);
    std::size_t record_items = 0;
    for (const auto& f : k.fields) {
      const auto& props = f.file_scope ? form["properties"] : record["properties"];
      BOOST_TEST(props.HasMember(f.path.front().c_str()), prefix << " " << f.path.front());
      record_items += f.file_scope ? 0 : 1;
      const auto& req = f.file_scope ? form["required"] : record["required"];
      bool required = false;
      for (const auto& r : req.GetArray()) required = required || f.path.front() == r.GetString();
      // Required in 4.1, or a 4.1 field 5.0 makes mandatory (mandatory_in_5).
      bool mandatory_in_5 = false;
      for (const auto& m : k.mandatory_in_5) mandatory_in_5 |= m.field_no.value_or(0) == f.no;
      BOOST_TEST(required == (layout.field(f.no).required.value_or(false) || mandatory_in_5),
                 prefix << " " << f.no);
    }
    BOOST_TEST(record["properties"].MemberCount() == record_items, prefix);
  }
}

BOOST_AUTO_TEST_CASE(broken_model_data_is_refused_with_its_path) {
  BOOST_TEST(parse_error([](rapidjson::Document& m) {
               m["kinds"]["UPPLAN"]["fields"].Erase(m["kinds"]["UPPLAN"]["fields"].Begin() + 6);
             }).find("/kinds/UPPLAN/fields: 4.1 field 7 has no place") == 0u);
  BOOST_TEST(parse_error([](rapidjson::Document& m) {
               m["kinds"]["UPJSK"]["key"].SetString("サービス利用票第6表予定");
             }).find("/kinds/UPJSK/key") == 0u);
  BOOST_TEST(parse_error([](rapidjson::Document& m) {
               m["characters"]["jis_variants"][0]["emit"].SetString("U+FF5E");
             }).find("/characters/jis_variants/0") == 0u);
  auto schema = s5::Model::parse(s5::builtin_model_json(), R"({"type":"object","oneOf":[]})");
  BOOST_TEST_REQUIRE(std::holds_alternative<std::string>(schema));
  BOOST_TEST(std::get<std::string>(schema).find("'oneOf' is outside the supported subset") !=
             std::string::npos);
}

// Our model makes プラン担当者名 (optional in 4.1) mandatory in 5.0 (standard5.json says it is our
// choice): a unit that leaves it empty is refused naming file, record, line and item, and the
// national side's document without it is refused at its JSON path.
BOOST_AUTO_TEST_CASE(mandatory_item_from_a_41_field_refuses_units_that_leave_it_empty) {
  const auto& upplan = *s5::Model::builtin().kind(mapping::FileKind::UPPLAN);
  BOOST_TEST_REQUIRE(upplan.mandatory_in_5.size() == 1u);
  BOOST_TEST(upplan.mandatory_in_5[0].field_no.value_or(0) == 7);
  BOOST_TEST(upplan.mandatory_in_5[0].name == "プラン担当者名");
  BOOST_TEST(s5::builtin_model_json().find("our model, not the real annex") !=
             std::string_view::npos);

  testing::UnitGenerator gen(3);
  auto unit = gen.make("K2");
  BOOST_TEST(s5::to_v5(as_unit_files(unit)).ok());
  std::size_t line = 0;
  auto& upplan_file = testing::file_of(unit, "UPPLAN");
  testing::edit_records(upplan_file, [&](std::vector<testing::EditRecord>& r) {
    BOOST_TEST_REQUIRE(r.size() >= 2u);
    r[1].fields[6].value.clear();
  });
  line = testing::parse_records(upplan_file.bytes)[1].line;  // where the edited record starts
  const auto refused = s5::to_v5(as_unit_files(unit));
  BOOST_TEST(!refused.ok());
  BOOST_TEST(refused.document.json.empty());
  std::size_t missing = 0;
  for (const auto& f : refused.findings) missing += f.code == s5::codes::kMandatoryMissing;
  BOOST_TEST(missing == 1u, findings_text(refused.findings));
  const auto* f = find_code(refused.findings, s5::codes::kMandatoryMissing);
  BOOST_TEST_REQUIRE(f != nullptr);
  BOOST_TEST(f->file == upplan_file.name);
  BOOST_TEST(f->record == 2u);
  BOOST_TEST(f->line == line);
  BOOST_TEST(f->field_no == 7);
  BOOST_TEST(f->field == "プラン担当者名");
  BOOST_TEST(f->json_path == "/帳票/サービス利用票第6表予定/レコード/1/プラン担当者名");
  BOOST_TEST(f->message.find("5.0 makes プラン担当者名 mandatory") != std::string::npos);
  const auto text = s5::describe(*f);
  BOOST_TEST(text.find(upplan_file.name) != std::string::npos, text);
  BOOST_TEST(text.find("line " + std::to_string(line)) != std::string::npos, text);

  // A model without the item (the list emptied, the schema's required too): the same unit
  // translates, so the item is data, not code.
  const auto model = edited_model(
      [](rapidjson::Document& m) { m["kinds"]["UPPLAN"]["mandatory_in_5"].Clear(); },
      [](rapidjson::Document& sc) {
        auto& req = sc["$defs"]["UPPLAN.レコード"]["required"];
        for (auto it = req.Begin(); it != req.End(); ++it) {
          if (std::string_view(it->GetString()) == "プラン担当者名") {
            req.Erase(it);
            break;
          }
        }
      });
  s5::ToV5Options options;
  options.model = model.get();
  const auto sent = s5::to_v5(as_unit_files(unit), options);
  BOOST_TEST_REQUIRE(sent.ok(), findings_text(sent.findings));

  // From the national side a document without the item is refused at its JSON path.
  const auto back = s5::from_v5(sent.document.json);
  BOOST_TEST(!back.ok());
  const auto* schema = find_code(back.findings, s5::codes::kJsonSchema);
  BOOST_TEST_REQUIRE(schema != nullptr, findings_text(back.findings));
  BOOST_TEST(schema->json_path == "/帳票/サービス利用票第6表予定/レコード/1/プラン担当者名",
             schema->message);
  BOOST_TEST(schema->message.find("required item is missing") != std::string::npos,
             schema->message);
}

// 5.0 adds an item 4.1 has no column for: no 4.1 unit of that kind can be sent complete.
BOOST_AUTO_TEST_CASE(mandatory_item_new_in_5_refuses_every_41_unit_of_its_kind) {
  const auto model = edited_model(
      [](rapidjson::Document& m) {
        auto& a = m.GetAllocator();
        rapidjson::Value path(rapidjson::kArrayType);
        path.PushBack("利用者同意区分", a);
        rapidjson::Value item(rapidjson::kObjectType);
        item.AddMember("path", path, a);
        m["kinds"]["UPJSK"]["mandatory_in_5"].PushBack(item, a);
      },
      [](rapidjson::Document& s) {
        auto& a = s.GetAllocator();
        auto& rec = s["$defs"]["UPJSK.レコード"];
        rapidjson::Value prop(rapidjson::kObjectType);
        prop.AddMember("type", "string", a);
        rec["properties"].AddMember("利用者同意区分", prop, a);
        rec["required"].PushBack("利用者同意区分", a);
      });
  testing::UnitGenerator gen(5);
  const auto unit = gen.make("K5");
  s5::ToV5Options options;
  options.model = model.get();
  const auto refused = s5::to_v5(as_unit_files(unit), options);
  BOOST_TEST(!refused.ok());
  const auto* f = find_code(refused.findings, s5::codes::kMandatoryMissing);
  BOOST_TEST_REQUIRE(f != nullptr);
  BOOST_TEST(f->file.rfind("UPJSK_", 0) == 0u);
  BOOST_TEST(f->field == "利用者同意区分");
  BOOST_TEST(f->message.find("4.1 has no field for it") != std::string::npos);

  // From the national side the item is present; 4.1 cannot carry it: a warning names it.
  const auto v5 = s5::to_v5(as_unit_files(unit));
  BOOST_TEST_REQUIRE(v5.ok());
  const std::string json = testing::replace_all(v5.document.json, "{\"保険者番号\"",
                                                "{\"利用者同意区分\":\"1\",\"保険者番号\"");
  s5::FromV5Options from;
  from.model = model.get();
  const auto back = s5::from_v5(json, from);
  BOOST_TEST_REQUIRE(back.ok(), findings_text(back.findings));
  const auto* w = find_code(back.findings, s5::codes::kItemDropped);
  BOOST_TEST_REQUIRE(w != nullptr);
  BOOST_TEST(w->json_path == "/帳票/サービス利用票第6表実績/レコード/0/利用者同意区分");
  // The default model refuses that unknown item.
  const auto strict = s5::from_v5(json);
  BOOST_TEST(!strict.ok());
  BOOST_TEST(find_code(strict.findings, s5::codes::kJsonSchema)->json_path ==
             "/帳票/サービス利用票第6表実績/レコード/0/利用者同意区分");
}

BOOST_AUTO_TEST_CASE(attachments_travel_as_base64_or_are_refused_when_the_model_has_none) {
  testing::UnitGenerator gen(9);
  testing::UnitParams p;
  p.with_attachment = true;
  const auto unit = gen.make("K2", p);
  BOOST_TEST(round_trips(unit, "with attachment"));
  const auto v5 = s5::to_v5(as_unit_files(unit));
  BOOST_TEST(v5.document.attachments == 1u);
  BOOST_TEST(v5.document.json.find("\"メディアタイプ\":\"application/pdf\"") != std::string::npos);

  const auto model =
      edited_model([](rapidjson::Document& m) { m["attachments"]["carried"].SetBool(false); },
                   [](rapidjson::Document& s) { s["properties"].RemoveMember("添付ファイル"); });
  s5::ToV5Options options;
  options.model = model.get();
  const auto refused = s5::to_v5(as_unit_files(unit), options);
  BOOST_TEST(!refused.ok());
  const auto* f = find_code(refused.findings, s5::codes::kAttachmentNotCarried);
  BOOST_TEST_REQUIRE(f != nullptr);
  BOOST_TEST(f->file.rfind("hokensho_", 0) == 0u);
  BOOST_TEST(f->message.find("carries no attachments") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(nested_paths_in_the_model_build_nested_objects) {
  // A real annex may group items; moving 保険者番号/被保険者番号 under 被保険者 is a data change.
  const auto model = edited_model(
      [](rapidjson::Document& m) {
        auto& a = m.GetAllocator();
        for (auto& f : m["kinds"]["DLTPLAN"]["fields"].GetArray()) {
          const int no = f["no"].GetInt();
          if (no != 2 && no != 3) continue;
          rapidjson::Value path(rapidjson::kArrayType);
          path.PushBack("被保険者", a);
          path.PushBack(rapidjson::Value(f["path"][0], a), a);
          f["path"] = path;
        }
      },
      [](rapidjson::Document& s) {
        auto& a = s.GetAllocator();
        auto& rec = s["$defs"]["DLTPLAN.レコード"];
        rapidjson::Value inner(rapidjson::kObjectType);
        inner.AddMember("type", "object", a);
        rapidjson::Value props(rapidjson::kObjectType);
        props.AddMember("保険者番号", rapidjson::Value(rec["properties"]["保険者番号"], a), a);
        props.AddMember("被保険者番号", rapidjson::Value(rec["properties"]["被保険者番号"], a), a);
        inner.AddMember("properties", props, a);
        rec["properties"].RemoveMember("保険者番号");
        rec["properties"].RemoveMember("被保険者番号");
        rec["properties"].AddMember("被保険者", inner, a);
        rapidjson::Value req(rapidjson::kArrayType);
        for (const auto& r : rec["required"].GetArray()) {
          const std::string_view key(r.GetString());
          if (key != "保険者番号" && key != "被保険者番号") req.PushBack(rapidjson::Value(r, a), a);
        }
        req.PushBack("被保険者", a);
        rec["required"] = req;
      });
  testing::UnitGenerator gen(13);
  const auto unit = gen.make("K4");
  s5::ToV5Options to;
  to.model = model.get();
  const auto v5 = s5::to_v5(as_unit_files(unit), to);
  BOOST_TEST_REQUIRE(v5.ok(), findings_text(v5.findings));
  BOOST_TEST(v5.document.json.find("\"被保険者\":{\"保険者番号\":") != std::string::npos);
  s5::FromV5Options from;
  from.model = model.get();
  const auto back = s5::from_v5(v5.document.json, from);
  BOOST_TEST_REQUIRE(back.ok(), findings_text(back.findings));
  BOOST_TEST(back.files.front().bytes == unit.files.front().bytes);
}
