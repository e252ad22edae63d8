#include "mapping/careplan/layout.hpp"

#include <algorithm>
#include <stdexcept>

#include <rapidjson/document.h>

namespace kakehashi::mapping {
namespace detail {
extern const std::string_view kLayoutsJson;
}

namespace {

constexpr std::string_view kOfficePattern = "^[0-9]{2}[0-9A-HJ-NPR-Z][0-9]{7}$";

// The data is ours and tested; a malformed copy is a build defect, so fail loudly at startup.
[[noreturn]] void bad_data(const std::string& what) {
  throw std::logic_error("mapping/careplan/layouts.json: " + what);
}

const rapidjson::Value& member(const rapidjson::Value& v, const char* name) {
  if (!v.IsObject() || !v.HasMember(name)) bad_data(std::string("missing member ") + name);
  return v[name];
}

std::string str(const rapidjson::Value& v) {
  if (!v.IsString()) bad_data("expected a string");
  return {v.GetString(), v.GetStringLength()};
}

FieldKind parse_kind(const std::string& k) {
  if (k == "version") return FieldKind::kVersion;
  if (k == "code") return FieldKind::kCode;
  if (k == "digits") return FieldKind::kDigits;
  if (k == "date8") return FieldKind::kDate8;
  if (k == "month6") return FieldKind::kMonth6;
  if (k == "time4") return FieldKind::kTime4;
  if (k == "text") return FieldKind::kText;
  if (k == "number") return FieldKind::kNumber;
  if (k == "flags31") return FieldKind::kFlags31;
  if (k == "alnum") return FieldKind::kAlnum;
  bad_data("unknown field kind " + k);
}

FileKind kind_of(const std::string& prefix) {
  const auto k = file_kind_from_prefix(prefix);
  if (!k) bad_data("unknown file kind " + prefix);
  return *k;
}

SpecialCondition parse_condition(const rapidjson::Value& c) {
  SpecialCondition out;
  if (c.IsString() && str(c) == "always") {
    out.kind = SpecialCondition::Kind::kAlways;
  } else if (c.IsObject() && c.HasMember("name_month")) {
    const std::string m = str(c["name_month"]);
    if (m == "000000") {
      out.kind = SpecialCondition::Kind::kNameMonthZero;
    } else if (m == "service_month") {
      out.kind = SpecialCondition::Kind::kNameServiceMonth;
    } else {
      bad_data("unknown name_month condition " + m);
    }
  } else if (c.IsObject() && c.HasMember("field") && c.HasMember("equals")) {
    out.kind = SpecialCondition::Kind::kFieldEquals;
    out.field_no = member(c, "field").GetInt();
    out.value = str(member(c, "equals"));
  } else {
    bad_data("unknown special-value condition");
  }
  return out;
}

MonthTie parse_month_tie(const std::string& t) {
  if (t == "equals") return MonthTie::kEquals;
  if (t == "within") return MonthTie::kWithin;
  if (t == "days") return MonthTie::kDays;
  if (t == "day_count") return MonthTie::kDayCount;
  bad_data("unknown service_month tie " + t);
}

FieldSpec parse_field(FileKind kind, const rapidjson::Value& f,
                      const std::vector<FieldKind>& special_kinds) {
  FieldSpec s;
  s.no = member(f, "no").GetInt();
  s.name_ja = str(member(f, "name_ja"));
  s.kind = parse_kind(str(member(f, "kind")));
  if (f.HasMember("max_length") && f["max_length"].IsInt()) s.max_length = f["max_length"].GetInt();
  if (f.HasMember("required") && f["required"].IsBool()) s.required = f["required"].GetBool();
  s.free_text = f.HasMember("free_text") && f["free_text"].IsBool() && f["free_text"].GetBool();
  if (f.HasMember("pattern") && f["pattern"].IsString()) {
    s.pattern = Pattern::compile(str(f["pattern"]));
    if (!s.pattern) bad_data("pattern outside the supported subset: " + str(f["pattern"]));
  }
  if (f.HasMember("codes") && f["codes"].IsObject()) {
    for (auto it = f["codes"].MemberBegin(); it != f["codes"].MemberEnd(); ++it)
      s.codes.push_back(str(it->name));
  }
  if (f.HasMember("special_values") && f["special_values"].IsObject()) {
    for (auto it = f["special_values"].MemberBegin(); it != f["special_values"].MemberEnd(); ++it) {
      const std::string v = str(it->name);
      // "<type>AAAA" style entries describe a shape, not a literal; the pattern covers them.
      if (v.find('<') == std::string::npos) s.special_values.push_back(v);
    }
  }
  if (f.HasMember("special_value_rules")) {
    const auto& rules = f["special_value_rules"];
    if (!rules.IsObject()) bad_data("special_value_rules is not an object");
    for (auto it = rules.MemberBegin(); it != rules.MemberEnd(); ++it) {
      SpecialRule r;
      r.value = str(it->name);
      if (std::find(s.special_values.begin(), s.special_values.end(), r.value) ==
          s.special_values.end())
        bad_data("special_value_rules names " + r.value + ", which the field does not list");
      const auto& v = it->value;
      if (v.HasMember("allowed_when")) r.allowed_when = parse_condition(v["allowed_when"]);
      if (v.HasMember("required_when")) r.required_when = parse_condition(v["required_when"]);
      if (v.HasMember("if_misplaced")) r.if_misplaced = str(v["if_misplaced"]);
      if (v.HasMember("if_missing")) r.if_missing = str(v["if_missing"]);
      s.special_rules.push_back(std::move(r));
    }
  }
  if (f.HasMember("service_month")) s.month_tie = parse_month_tie(str(f["service_month"]));
  if (f.HasMember("on_total_rows")) {
    const std::string rule = str(f["on_total_rows"]);
    if (rule == "zero") {
      s.on_total_rows = TotalRowRule::kZero;
    } else if (rule == "empty") {
      s.on_total_rows = TotalRowRule::kEmpty;
    } else {
      bad_data("unknown on_total_rows rule " + rule);
    }
  }
  s.refuses_special_values =
      std::find(special_kinds.begin(), special_kinds.end(), s.kind) != special_kinds.end();
  if (s.pattern && s.pattern->source() == kOfficePattern) {
    s.role = FieldRole::kOfficeNumber;
  } else if (s.name_ja == "保険者番号") {
    s.role = FieldRole::kInsurerNumber;
  } else if (s.name_ja.ends_with("サービス種類コード")) {
    s.role = FieldRole::kServiceType;
  } else if (s.name_ja == "サービスコード") {
    s.role = FieldRole::kServiceCode;
  } else if (s.name_ja == "識別子") {
    s.role = FieldRole::kUnused;
  }
  (void)kind;
  return s;
}

void add_types(std::vector<std::string>& out, const rapidjson::Value& table) {
  for (auto it = table.MemberBegin(); it != table.MemberEnd(); ++it) out.push_back(str(it->name));
}

}  // namespace

const CarePlanStandard& CarePlanStandard::get() {
  static const CarePlanStandard standard;
  return standard;
}

CarePlanStandard::CarePlanStandard() {
  rapidjson::Document doc;
  doc.Parse(detail::kLayoutsJson.data(), detail::kLayoutsJson.size());
  if (doc.HasParseError()) bad_data("not valid JSON");

  const auto& special = member(member(doc, "csv_rules"), "special_values");
  for (auto it = member(special, "values").MemberBegin();
       it != member(special, "values").MemberEnd(); ++it) {
    special_values_.push_back(str(it->name));
    if (special_values_.back().empty()) bad_data("an empty special value");
    special_first_[static_cast<unsigned char>(special_values_.back().front())] = true;
  }
  std::vector<FieldKind> special_kinds;
  for (const auto& k : member(special, "checked_kinds").GetArray())
    special_kinds.push_back(parse_kind(str(k)));

  layouts_.resize(kCsvKindCount);
  const auto& kinds = member(doc, "file_kinds");
  for (auto it = kinds.MemberBegin(); it != kinds.MemberEnd(); ++it) {
    FileLayout layout;
    layout.kind = kind_of(str(it->name));
    layout.description_ja = str(member(it->value, "description_ja"));
    layout.field_count = static_cast<std::size_t>(member(it->value, "field_count").GetInt());
    for (const auto& f : member(it->value, "fields").GetArray())
      layout.fields.push_back(parse_field(layout.kind, f, special_kinds));
    if (it->value.HasMember("total_rows")) {
      const auto& t = it->value["total_rows"];
      layout.total_row_field = member(t, "field").GetInt();
      for (const auto& v : member(t, "values").GetArray())
        layout.total_row_values.push_back(str(v));
      for (const auto& v : member(t, "suffixes").GetArray())
        layout.total_row_suffixes.push_back(str(v));
      if (layout.total_row_field < 1 ||
          static_cast<std::size_t>(layout.total_row_field) > layout.field_count)
        bad_data("total_rows names a field the kind does not have");
    }
    if (layout.fields.size() != layout.field_count) bad_data("field_count disagrees with fields");
    for (std::size_t i = 0; i < layout.fields.size(); ++i) {
      const FieldSpec& spec = layout.fields[i];
      if (spec.no != static_cast<int>(i + 1)) bad_data("fields out of order");
      if (spec.month_tie == MonthTie::kEquals) {
        if (layout.month_field != 0 || spec.kind != FieldKind::kMonth6)
          bad_data("service_month equals: one YYYYMM field per kind");
        layout.month_field = spec.no;
      }
      if ((spec.month_tie == MonthTie::kWithin && spec.kind != FieldKind::kDate8) ||
          (spec.month_tie == MonthTie::kDays && spec.kind != FieldKind::kFlags31) ||
          (spec.month_tie == MonthTie::kDayCount && spec.kind != FieldKind::kNumber))
        bad_data("service_month within/days/day_count on a field of another kind");
      if (spec.on_total_rows != TotalRowRule::kNone && layout.total_row_field == 0)
        bad_data("on_total_rows in a kind without total_rows");
      for (const auto& r : spec.special_rules) {
        for (const auto* c : {&r.allowed_when, &r.required_when}) {
          if (c->kind == SpecialCondition::Kind::kFieldEquals &&
              (c->field_no < 1 || static_cast<std::size_t>(c->field_no) > layout.field_count))
            bad_data("special_value_rules refers to a field the kind does not have");
        }
      }
      if (!spec.special_rules.empty() || spec.month_tie != MonthTie::kNone ||
          spec.on_total_rows != TotalRowRule::kNone)
        layout.record_rule_fields.push_back(spec.no);
    }
    layouts_[static_cast<std::size_t>(layout.kind)] = std::move(layout);
  }
  for (std::size_t i = 0; i < kCsvKindCount; ++i) {
    if (layouts_[i].field_count == 0) bad_data("a file kind has no layout");
  }

  for (const auto& v : member(member(doc, "csv_rules"), "csv_versions").GetArray())
    versions_.push_back({str(member(v, "value")), str(member(v, "valid_from_service_month"))});

  const auto& types = member(member(doc, "code_tables"), "サービス種類コード");
  for (const char* t : {"in_scope_kyotaku", "in_scope_preventive", "in_scope_sogo_jigyo"})
    add_types(in_scope_, member(types, t));
  for (const char* t : {"out_of_scope_kyotaku", "out_of_scope_preventive"})
    add_types(out_of_scope_, member(types, t));
  add_types(care_management_, member(types, "care_management_types_in_file_names"));
  for (const char* t : {"in_scope_preventive", "in_scope_sogo_jigyo", "out_of_scope_preventive"})
    add_types(preventive_, member(types, t));
  // 59 and 81 appear on both sides; they say nothing about which side a unit belongs to.
  std::vector<std::string> kyotaku;
  for (const char* t : {"in_scope_kyotaku", "out_of_scope_kyotaku"})
    add_types(kyotaku, member(types, t));
  std::erase_if(preventive_, [&](const std::string& t) {
    return std::find(kyotaku.begin(), kyotaku.end(), t) != kyotaku.end();
  });
  preventive_.push_back("46");
  preventive_.push_back("AF");

  const auto& units = member(doc, "send_units");
  struct Group {
    const char* name;
    Direction direction;
    bool preventive;
  };
  for (const Group g :
       {Group{"care_manager_to_service", Direction::kCareManagerToService, false},
        Group{"service_to_care_manager", Direction::kServiceToCareManager, false},
        Group{"preventive_care_manager_to_service", Direction::kCareManagerToService, true},
        Group{"preventive_service_to_care_manager", Direction::kServiceToCareManager, true}}) {
    for (const auto& u : member(units, g.name).GetArray()) {
      UnitCombination c;
      c.id = str(member(u, "id"));
      c.name_ja = str(member(u, "name_ja"));
      c.direction = g.direction;
      c.preventive = g.preventive;
      std::vector<FileKind> optional;
      if (u.HasMember("optional_files")) {
        for (const auto& f : u["optional_files"].GetArray()) optional.push_back(kind_of(str(f)));
      }
      for (const auto& f : member(u, "files").GetArray()) {
        const FileKind k = kind_of(str(f));
        if (std::find(optional.begin(), optional.end(), k) == optional.end())
          c.required.push_back(k);
      }
      c.optional = std::move(optional);
      combinations_.push_back(std::move(c));
    }
  }

  for (const auto& l : member(doc, "link_keys").GetArray()) {
    LinkRule rule;
    rule.unit = str(member(l, "unit"));
    rule.parent = kind_of(str(member(l, "parent")));
    const auto& keys = member(l, "keys");
    std::vector<int> parent_fields;
    for (const auto& n : member(keys, file_kind_name(rule.parent).data()).GetArray())
      parent_fields.push_back(n.GetInt());
    rule.keys.emplace_back(rule.parent, std::move(parent_fields));
    for (auto it = keys.MemberBegin(); it != keys.MemberEnd(); ++it) {
      const FileKind k = kind_of(str(it->name));
      if (k == rule.parent) continue;
      std::vector<int> fields;
      for (const auto& n : it->value.GetArray()) fields.push_back(n.GetInt());
      rule.keys.emplace_back(k, std::move(fields));
    }
    link_rules_.push_back(std::move(rule));
  }
}

const FileLayout& CarePlanStandard::layout(FileKind kind) const {
  if (!is_csv_kind(kind)) throw std::logic_error("no layout for a non-CSV file kind");
  return layouts_[static_cast<std::size_t>(kind)];
}

bool CarePlanStandard::is_known_version(std::string_view value) const {
  return std::any_of(versions_.begin(), versions_.end(),
                     [&](const CsvVersion& v) { return v.value == value; });
}

bool FileLayout::is_total_row(std::string_view value) const {
  if (std::find(total_row_values.begin(), total_row_values.end(), value) != total_row_values.end())
    return true;
  // <type>AAAA: a 2-character service type, then the suffix.
  return std::any_of(total_row_suffixes.begin(), total_row_suffixes.end(),
                     [&](const std::string& suffix) {
                       return value.size() == 2 + suffix.size() && value.ends_with(suffix);
                     });
}

bool CarePlanStandard::is_special_value(std::string_view value) const {
  // Most values leave at the first character (the special values start with 9 or 0).
  if (value.empty() || !special_first_[static_cast<unsigned char>(value.front())]) return false;
  return std::find(special_values_.begin(), special_values_.end(), value) != special_values_.end();
}

std::vector<std::string_view> CarePlanStandard::versions_for_month(std::string_view month) const {
  std::string_view latest;
  for (const auto& v : versions_) {
    if (v.valid_from <= month && v.valid_from > latest) latest = v.valid_from;
  }
  std::vector<std::string_view> out;
  for (const auto& v : versions_) {
    if (!latest.empty() && v.valid_from == latest) out.push_back(v.value);
  }
  return out;
}

namespace {
bool contains(const std::vector<std::string>& v, std::string_view s) {
  return std::find(v.begin(), v.end(), s) != v.end();
}
}  // namespace

bool CarePlanStandard::is_known_service_type(std::string_view type) const {
  return contains(in_scope_, type) || contains(out_of_scope_, type) ||
         contains(care_management_, type);
}

bool CarePlanStandard::is_in_link_scope(std::string_view type) const {
  return contains(in_scope_, type);
}

bool CarePlanStandard::is_preventive_type(std::string_view type) const {
  return contains(preventive_, type);
}

bool CarePlanStandard::is_care_management_type(std::string_view type) const {
  return contains(care_management_, type);
}

}  // namespace kakehashi::mapping
