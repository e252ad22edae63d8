#include "mapping/standard5/model.hpp"

#include <algorithm>
#include <cctype>
#include <set>
#include <stdexcept>

#include <rapidjson/document.h>
#include <rapidjson/error/en.h>

#include "mapping/careplan/layout.hpp"

namespace kakehashi::mapping::standard5 {

namespace detail {
extern const std::string_view kStandard5ModelJson;
extern const std::string_view kStandard5SchemaJson;
}  // namespace detail

std::string_view builtin_model_json() {
  return detail::kStandard5ModelJson;
}
std::string_view builtin_schema_json() {
  return detail::kStandard5SchemaJson;
}

std::optional<std::string_view> AttachmentPlace::media_type_for(std::string_view extension) const {
  std::string lower(extension);
  for (char& c : lower) c = static_cast<char>(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
  for (const auto& [ext, type] : media_types) {
    if (ext == lower) return type;
  }
  return std::nullopt;
}

class ModelParser {
 public:
  std::string error;

  std::unique_ptr<Model> run(std::string_view model_json, std::string_view schema_json) {
    rapidjson::Document doc;
    doc.Parse<rapidjson::kParseValidateEncodingFlag>(model_json.data(), model_json.size());
    if (doc.HasParseError()) {
      fail("", std::string("not JSON at byte ") + std::to_string(doc.GetErrorOffset()) + ": " +
                   rapidjson::GetParseError_En(doc.GetParseError()));
      return nullptr;
    }
    auto schema = JsonSchema::compile(schema_json);
    if (auto* e = std::get_if<std::string>(&schema)) {
      fail("schema.json", *e);
      return nullptr;
    }
    std::unique_ptr<Model> m(new Model());
    m->schema_.emplace(std::move(std::get<JsonSchema>(schema)));
    if (!doc.IsObject()) return fail("", "not an object");
    const auto* model = object(doc, "model", "/model");
    const auto* d = object(doc, "document", "/document");
    const auto* chars = object(doc, "characters", "/characters");
    const auto* att = object(doc, "attachments", "/attachments");
    const auto* kinds = object(doc, "kinds", "/kinds");
    if (!model || !d || !chars || !att || !kinds) return nullptr;
    if (!str(*model, "id", "/model", m->id_) || !str(*model, "standard", "/model", m->standard_) ||
        !str(*model, "version", "/model", m->version_))
      return nullptr;
    auto& k = m->keys_;
    for (auto [name, target] : std::initializer_list<std::pair<const char*, std::string*>>{
             {"standard", &k.standard},
             {"version", &k.version},
             {"model", &k.model},
             {"sender", &k.sender},
             {"recipient", &k.recipient},
             {"office_no", &k.office_no},
             {"service_type", &k.service_type},
             {"sequence", &k.sequence},
             {"forms", &k.forms},
             {"attachments", &k.attachments},
             {"name_month", &k.name_month},
             {"records", &k.records},
             {"original_codes", &k.original_codes},
             {"original_code_record", &k.original_code_record},
             {"original_code_field", &k.original_code_field},
             {"original_code_position", &k.original_code_position},
             {"original_code_value", &k.original_code_value}}) {
      if (!str(*d, name, "/document", *target)) return nullptr;
    }
    CharacterRules rules;
    if (!characters(*chars, rules)) return nullptr;
    m->carry_original_codes_ = rules.carry_original_codes;
    m->codec_.emplace(rules);
    if (!attachments(*att, m->attachments_)) return nullptr;
    if (!kind_places(*kinds, *m)) return nullptr;
    return m;
  }

 private:
  std::nullptr_t fail(const std::string& where, const std::string& what) {
    error = (where.empty() ? "/" : where) + ": " + what;
    return nullptr;
  }

  const rapidjson::Value* object(const rapidjson::Value& v, const char* key,
                                 const std::string& where) {
    if (!v.HasMember(key) || !v[key].IsObject()) {
      fail(where, "missing object");
      return nullptr;
    }
    return &v[key];
  }

  bool str(const rapidjson::Value& v, const char* key, const std::string& where, std::string& out) {
    if (!v.HasMember(key) || !v[key].IsString() || v[key].GetStringLength() == 0) {
      fail(where + "/" + key, "missing or empty string");
      return false;
    }
    out.assign(v[key].GetString(), v[key].GetStringLength());
    return true;
  }

  bool code_point(const rapidjson::Value& v, const char* key, const std::string& where,
                  char32_t& out) {
    std::string s;
    if (!str(v, key, where, s)) return false;
    if (s.size() < 6 || s.size() > 8 || s.substr(0, 2) != "U+" ||
        s.find_first_not_of("0123456789ABCDEF", 2) != std::string::npos)
      return fail(where + "/" + key, "not U+XXXX"), false;
    const unsigned long cp = std::stoul(s.substr(2), nullptr, 16);
    if (cp > 0x10FFFF) return fail(where + "/" + key, "not a code point"), false;
    out = static_cast<char32_t>(cp);
    return true;
  }

  bool hex_code(const rapidjson::Value& v, const char* key, const std::string& where,
                std::uint16_t& out) {
    std::string s;
    if (!str(v, key, where, s)) return false;
    if (s.size() != 2 && s.size() != 4)
      return fail(where + "/" + key, "not 2 or 4 hex digits"), false;
    for (char c : s) {
      if (!std::isxdigit(static_cast<unsigned char>(c)))
        return fail(where + "/" + key, "not hex"), false;
    }
    out = static_cast<std::uint16_t>(std::stoul(s, nullptr, 16));
    return true;
  }

  bool characters(const rapidjson::Value& c, CharacterRules& rules) {
    if (!c.HasMember("carry_original_codes") || !c["carry_original_codes"].IsBool())
      return fail("/characters/carry_original_codes", "missing boolean"), false;
    rules.carry_original_codes = c["carry_original_codes"].GetBool();
    for (const char* list : {"jis_variants", "best_fit"}) {
      if (!c.HasMember(list) || !c[list].IsArray())
        return fail(std::string("/characters/") + list, "missing array"), false;
    }
    std::size_t i = 0;
    for (const auto& v : c["jis_variants"].GetArray()) {
      const std::string where = "/characters/jis_variants/" + std::to_string(i++);
      if (!v.IsObject()) return fail(where, "not an object"), false;
      JisVariant jv;
      if (!hex_code(v, "cp932", where, jv.cp932) ||
          !code_point(v, "cp932_unicode", where, jv.cp932_unicode) ||
          !code_point(v, "emit", where, jv.emit))
        return false;
      rules.jis_variants.push_back(jv);
    }
    i = 0;
    for (const auto& v : c["best_fit"].GetArray()) {
      const std::string where = "/characters/best_fit/" + std::to_string(i++);
      if (!v.IsObject()) return fail(where, "not an object"), false;
      BestFit b;
      if (!code_point(v, "unicode", where, b.unicode) || !hex_code(v, "cp932", where, b.cp932))
        return false;
      rules.best_fit.push_back(b);
    }
    // Each variant must be a bijection or the round trip would lose a character.
    const Cp932Codec plain(CharacterRules{});
    i = 0;
    for (const auto& jv : rules.jis_variants) {
      const std::string where = "/characters/jis_variants/" + std::to_string(i++);
      if (plain.code_point(jv.cp932) != jv.cp932_unicode)
        return fail(where, "CP932 does not decode cp932 as cp932_unicode"), false;
      if (plain.encode(jv.emit)) return fail(where, "emit is itself an MS932 character"), false;
    }
    return true;
  }

  bool attachments(const rapidjson::Value& a, AttachmentPlace& out) {
    if (!a.HasMember("carried") || !a["carried"].IsBool())
      return fail("/attachments/carried", "missing boolean"), false;
    out.carried = a["carried"].GetBool();
    if (!out.carried) return true;
    if (!str(a, "name", "/attachments", out.name) ||
        !str(a, "media_type", "/attachments", out.media_type) ||
        !str(a, "content", "/attachments", out.content))
      return false;
    if (!a.HasMember("media_types") || !a["media_types"].IsObject())
      return fail("/attachments/media_types", "missing object"), false;
    for (const auto& m : a["media_types"].GetObject()) {
      if (!m.value.IsString()) return fail("/attachments/media_types", "not a string"), false;
      out.media_types.emplace_back(m.name.GetString(), m.value.GetString());
    }
    return true;
  }

  bool path(const rapidjson::Value& v, const std::string& where, std::vector<std::string>& out) {
    if (!v.HasMember("path") || !v["path"].IsArray() || v["path"].Empty())
      return fail(where + "/path", "missing non-empty array"), false;
    for (const auto& p : v["path"].GetArray()) {
      if (!p.IsString() || p.GetStringLength() == 0)
        return fail(where + "/path", "keys must be non-empty strings"), false;
      out.emplace_back(p.GetString(), p.GetStringLength());
    }
    return true;
  }

  bool kind_places(const rapidjson::Value& kinds, Model& m) {
    const auto& standard = CarePlanStandard::get();
    std::set<std::string> form_keys;
    for (const auto& entry : kinds.GetObject()) {
      const std::string prefix = entry.name.GetString();
      const std::string where = "/kinds/" + prefix;
      const auto kind = file_kind_from_prefix(prefix);
      if (!kind || !is_csv_kind(*kind)) return fail(where, "not a 4.1 CSV file kind"), false;
      if (m.kind(*kind) != nullptr) return fail(where, "kind listed twice"), false;
      const auto& v = entry.value;
      if (!v.IsObject()) return fail(where, "not an object"), false;
      const FileLayout& layout = standard.layout(*kind);
      KindPlace place;
      place.kind = *kind;
      place.field_count = layout.field_count;
      if (!str(v, "key", where, place.key)) return false;
      if (!form_keys.insert(place.key).second) return fail(where + "/key", "key used twice"), false;
      if (!v.HasMember("name_has_month") || !v["name_has_month"].IsBool())
        return fail(where + "/name_has_month", "missing boolean"), false;
      place.name_has_month = v["name_has_month"].GetBool();
      if (place.name_has_month != kind_has_month(*kind))
        return fail(where + "/name_has_month", "disagrees with the 4.1 file name rules"), false;
      if (!v.HasMember("fields") || !v["fields"].IsArray())
        return fail(where + "/fields", "missing array"), false;
      std::set<std::vector<std::string>> record_paths, file_paths;
      std::vector<bool> seen(layout.field_count + 1, false);
      std::size_t i = 0;
      for (const auto& f : v["fields"].GetArray()) {
        const std::string fw = where + "/fields/" + std::to_string(i++);
        if (!f.IsObject() || !f.HasMember("no") || !f["no"].IsInt())
          return fail(fw + "/no", "missing field number"), false;
        FieldPlace fp;
        fp.no = f["no"].GetInt();
        if (fp.no < 1 || static_cast<std::size_t>(fp.no) > layout.field_count || seen[fp.no])
          return fail(fw + "/no", "not a field of the layout, or listed twice"), false;
        seen[fp.no] = true;
        if (!path(f, fw, fp.path)) return false;
        fp.file_scope = f.HasMember("scope") && f["scope"].IsString() &&
                        std::string_view(f["scope"].GetString()) == "file";
        if (fp.file_scope && fp.path.size() != 1)
          return fail(fw + "/path", "a file-scope item is one key"), false;
        auto& paths = fp.file_scope ? file_paths : record_paths;
        if (!paths.insert(fp.path).second) return fail(fw + "/path", "path used twice"), false;
        const auto& spec = layout.field(fp.no);
        fp.name_ja = spec.name_ja;
        fp.free_text = spec.free_text;
        place.fields.push_back(std::move(fp));
      }
      // Lossless needs every 4.1 field somewhere.
      for (std::size_t no = 1; no <= layout.field_count; ++no) {
        if (!seen[no])
          return fail(where + "/fields", "4.1 field " + std::to_string(no) + " has no place"),
                 false;
      }
      std::sort(place.fields.begin(), place.fields.end(),
                [](const FieldPlace& a, const FieldPlace& b) { return a.no < b.no; });
      // Record paths must not be prefixes of each other (a value cannot also be an object).
      for (const auto& a : record_paths) {
        for (const auto& b : record_paths) {
          if (a.size() < b.size() && std::equal(a.begin(), a.end(), b.begin()))
            return fail(where + "/fields", "one path is inside another"), false;
        }
      }
      if (v.HasMember("mandatory_in_5")) {
        if (!v["mandatory_in_5"].IsArray())
          return fail(where + "/mandatory_in_5", "not an array"), false;
        std::size_t j = 0;
        for (const auto& item : v["mandatory_in_5"].GetArray()) {
          const std::string iw = where + "/mandatory_in_5/" + std::to_string(j++);
          if (!item.IsObject()) return fail(iw, "not an object"), false;
          MandatoryItem mi;
          if (item.HasMember("field") && item["field"].IsInt()) {
            const int no = item["field"].GetInt();
            if (no < 1 || static_cast<std::size_t>(no) > layout.field_count)
              return fail(iw + "/field", "not a field of the layout"), false;
            mi.field_no = no;
            mi.path = place.fields[static_cast<std::size_t>(no - 1)].path;
          } else {
            if (!path(item, iw, mi.path)) return false;
            if (record_paths.count(mi.path) != 0)
              return fail(iw + "/path", "is a 4.1 field: name it by \"field\""), false;
          }
          for (const auto& p : mi.path) mi.name += (mi.name.empty() ? "" : "/") + p;
          place.mandatory_in_5.push_back(std::move(mi));
        }
      }
      m.by_key_.emplace(place.key, m.kinds_.size());
      m.kinds_.push_back(std::move(place));
    }
    if (m.kinds_.size() != kCsvKindCount)
      return fail("/kinds", "every 4.1 CSV kind needs a place (" + std::to_string(m.kinds_.size()) +
                                " of " + std::to_string(kCsvKindCount) + ")"),
             false;
    return true;
  }
};

std::variant<std::unique_ptr<Model>, std::string> Model::parse(std::string_view model_json,
                                                               std::string_view schema_json) {
  ModelParser parser;
  auto model = parser.run(model_json, schema_json);
  if (!model) return parser.error;
  return model;
}

const Model& Model::builtin() {
  static const std::unique_ptr<Model> model = [] {
    auto parsed = parse(builtin_model_json(), builtin_schema_json());
    // The compiled-in data is tested; failing here is a build defect, not an input problem.
    if (auto* e = std::get_if<std::string>(&parsed)) throw std::logic_error("standard5.json " + *e);
    return std::move(std::get<std::unique_ptr<Model>>(parsed));
  }();
  return *model;
}

const KindPlace* Model::kind(FileKind kind) const {
  for (const auto& k : kinds_) {
    if (k.kind == kind) return &k;
  }
  return nullptr;
}

const KindPlace* Model::kind_by_key(std::string_view key) const {
  const auto it = by_key_.find(std::string(key));
  return it == by_key_.end() ? nullptr : &kinds_[it->second];
}

}  // namespace kakehashi::mapping::standard5
