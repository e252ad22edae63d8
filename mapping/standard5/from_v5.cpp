// One 5.0 JSON document → the 4.1 files of a send unit (canonical MS932 CSV, attachments).

#include <algorithm>
#include <map>
#include <optional>

#include <rapidjson/error/en.h>

#include "mapping/careplan/inspector.hpp"
#include "mapping/common/base64.hpp"
#include "mapping/standard5/document_writer.hpp"
#include "mapping/standard5/translate.hpp"

namespace kakehashi::mapping::standard5 {
namespace {

constexpr unsigned kParseFlags =
    rapidjson::kParseValidateEncodingFlag | rapidjson::kParseIterativeFlag;

std::string_view sv(const rapidjson::Value& v) {
  return {v.GetString(), v.GetStringLength()};
}

// Safe reads: the schema normally guarantees these, but a model's schema may be laxer.
const rapidjson::Value* member(const rapidjson::Value& o, const std::string& key) {
  if (!o.IsObject()) return nullptr;
  const auto it = o.FindMember(rapidjson::StringRef(key.data(), key.size()));
  return it == o.MemberEnd() ? nullptr : &it->value;
}
std::string string_at(const rapidjson::Value& o, const std::string& key) {
  const auto* v = member(o, key);
  return v != nullptr && v->IsString() ? std::string(sv(*v)) : std::string();
}
std::optional<std::uint64_t> uint_at(const rapidjson::Value& o, const std::string& key) {
  const auto* v = member(o, key);
  if (v == nullptr || !v->IsUint64()) return std::nullopt;
  return v->GetUint64();
}
std::optional<std::uint16_t> hex_code(std::string_view s) {
  if (s.size() != 4) return std::nullopt;
  unsigned v = 0;
  for (char c : s) {
    const int d = c >= '0' && c <= '9' ? c - '0' : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
    if (d < 0) return std::nullopt;
    v = v * 16 + static_cast<unsigned>(d);
  }
  return static_cast<std::uint16_t>(v);
}

bool parse_document(std::string_view json, rapidjson::Document& doc, Findings& out) {
  doc.Parse<kParseFlags>(json.data(), json.size());
  if (!doc.HasParseError()) return true;
  Finding f;
  f.code = std::string(codes::kJsonSyntax);
  f.message = std::string("not a JSON document (byte ") + std::to_string(doc.GetErrorOffset() + 1) +
              "): " + rapidjson::GetParseError_En(doc.GetParseError());
  out.push_back(std::move(f));
  return false;
}

// Where each record of a rendered CSV file starts (physical line) and its JSON path.
struct RenderedCsv {
  const KindPlace* place = nullptr;
  std::string form_path;
  std::vector<std::size_t> record_lines;
};

struct Hint {
  std::size_t position;
  std::uint16_t code;
  std::size_t index;  // in the 原符号 array (for the path of a warning)
};

class DocumentRenderer {
 public:
  DocumentRenderer(const Model& model, const FromV5Options& options, FromV5Result& result)
      : model_(model),
        keys_(model.keys()),
        options_(options),
        result_(result),
        codec_(model.codec()) {}

  void run(const rapidjson::Value& doc) {
    const auto* sender = member(doc, keys_.sender);
    const auto* recipient = member(doc, keys_.recipient);
    const auto* forms = member(doc, keys_.forms);
    if (sender == nullptr || recipient == nullptr || forms == nullptr || !forms->IsObject()) {
      result_.findings.push_back(finding(codes::kJsonSchema, Severity::kError, {}, 0, nullptr, "/",
                                         "sender, recipient or forms missing"));
      return;
    }
    result_.sender = office(*sender);
    result_.recipient = office(*recipient);
    result_.sequence = string_at(doc, keys_.sequence);
    for (const auto& place : model_.kinds()) {
      const auto* form = member(*forms, place.key);
      if (form == nullptr) continue;
      const auto* records = member(*form, keys_.records);
      if (records == nullptr || !records->IsArray()) continue;
      render_form(place, *form, *records);
    }
    const auto att =
        doc.FindMember(rapidjson::StringRef(keys_.attachments.data(), keys_.attachments.size()));
    if (att != doc.MemberEnd() && att->value.IsArray() && model_.attachments().carried)
      render_attachments(att->value);
    if (has_errors(result_.findings)) return;
    if (options_.inspect_output) inspect_rendered();
  }

 private:
  OfficeRef office(const rapidjson::Value& v) const {
    return {string_at(v, keys_.office_no), string_at(v, keys_.service_type)};
  }

  Finding finding(std::string_view code, Severity severity, const std::string& file,
                  std::size_t record, const FieldPlace* field, std::string path,
                  std::string message) const {
    Finding f;
    f.code = std::string(code);
    f.severity = severity;
    f.file = file;
    f.record = record;
    if (field != nullptr) {
      f.field_no = field->no;
      f.field = field->name_ja;
    }
    f.json_path = std::move(path);
    f.message = std::move(message);
    return f;
  }

  std::map<std::pair<std::size_t, int>, std::vector<Hint>> read_hints(const KindPlace& place,
                                                                      const rapidjson::Value& form,
                                                                      const std::string& form_path,
                                                                      std::size_t records,
                                                                      const std::string& file) {
    std::map<std::pair<std::size_t, int>, std::vector<Hint>> hints;
    const auto it = form.FindMember(
        rapidjson::StringRef(keys_.original_codes.data(), keys_.original_codes.size()));
    if (it == form.MemberEnd() || !model_.carry_original_codes()) return hints;
    if (!it->value.IsArray()) return hints;
    std::size_t index = 0;
    for (const auto& h : it->value.GetArray()) {
      const std::size_t i = index++;
      const auto record = uint_at(h, keys_.original_code_record).value_or(0);
      const auto field = uint_at(h, keys_.original_code_field).value_or(0);
      const auto position = uint_at(h, keys_.original_code_position).value_or(0);
      const auto code = hex_code(string_at(h, keys_.original_code_value)).value_or(0);
      if (record == 0 || record > records || field == 0 || field > place.field_count ||
          code < 0x100 || codec_.code_point(code) == 0) {
        std::string path = form_path;
        append_pointer_token(path, keys_.original_codes);
        append_pointer_index(path, i);
        result_.findings.push_back(finding(codes::kOriginalCodeIgnored, Severity::kWarning, file, 0,
                                           nullptr, path,
                                           "names no record, field or MS932 code; ignored"));
        continue;
      }
      hints[{static_cast<std::size_t>(record), static_cast<int>(field)}].push_back(
          {static_cast<std::size_t>(position), code, i});
    }
    return hints;
  }

  // Appends the MS932 bytes of `utf8` to `out`; false when a character cannot be written.
  bool encode_value(std::string_view utf8, std::string& out, const std::vector<Hint>* hints,
                    const std::string& file, std::size_t record, const FieldPlace& field,
                    const std::string& base, const std::string& form_path) {
    // The item's JSON path, built only when a finding needs it (this is the hot loop).
    const auto path_of_field = [&] {
      std::string p = base;
      for (const auto& k : field.path) append_pointer_token(p, k);
      return p;
    };
    bool ok = true;
    std::size_t pos = 0;
    for (std::size_t index = 0; pos < utf8.size(); ++index) {
      const auto cp = next_utf8(utf8, pos);
      if (!cp) {  // the parser validated UTF-8; kept for safety
        result_.findings.push_back(finding(codes::kCharUnmappable, Severity::kError, file, record,
                                           &field, path_of_field(), "not valid UTF-8"));
        return false;
      }
      if ((*cp < 0x20 && *cp != '\t' && *cp != '\r' && *cp != '\n') || *cp == 0x7F) {
        result_.findings.push_back(finding(codes::kCharControl, Severity::kError, file, record,
                                           &field, path_of_field(),
                                           "control character " + code_point_name(*cp) +
                                               " at character " + std::to_string(index + 1)));
        ok = false;
        continue;
      }
      std::optional<std::uint16_t> code = codec_.encode(*cp);
      if (hints != nullptr) {
        for (const auto& h : *hints) {
          if (h.position != index) continue;
          if (code && codec_.same_character(h.code, *cp)) {
            code = h.code;
          } else {
            std::string hp = form_path;
            append_pointer_token(hp, keys_.original_codes);
            append_pointer_index(hp, h.index);
            result_.findings.push_back(
                finding(codes::kOriginalCodeIgnored, Severity::kWarning, file, record, &field, hp,
                        "the original code is not the character at that position; ignored"));
          }
        }
      }
      if (!code) {
        if (!options_.characters.substitute) {
          result_.findings.push_back(finding(
              codes::kCharUnmappable, Severity::kError, file, record, &field, path_of_field(),
              code_point_name(*cp) + " at character " + std::to_string(index + 1) +
                  " cannot be written in MS932 (nothing was substituted)"));
          ok = false;
          continue;
        }
        code = codec_.best_fit(*cp);
        if (!code) code = codec_.encode(options_.characters.replacement);
        if (!code) code = static_cast<std::uint16_t>(0x81AC);  // 〓, if the policy named none
        Substitution s{file,
                       record,
                       field.no,
                       field.name_ja,
                       path_of_field(),
                       *cp,
                       codec_.code_point(*code) != 0 ? codec_.code_point(*code) : *code};
        result_.findings.push_back(finding(
            codes::kCharSubstituted, Severity::kWarning, file, record, &field, path_of_field(),
            code_point_name(*cp) + " at character " + std::to_string(index + 1) +
                " was written as " + code_point_name(s.replacement)));
        result_.substitutions.push_back(std::move(s));
      }
      if (*code >= 0x100) out.push_back(static_cast<char>(*code >> 8));
      out.push_back(static_cast<char>(*code & 0xFF));
    }
    return ok;
  }

  static void append_csv_field(std::string& line, std::string_view value, bool free_text) {
    const bool quote = free_text || value.find_first_of(",\"\r\n") != std::string_view::npos;
    if (!quote) {
      line += value;
      return;
    }
    line.push_back('"');
    for (char c : value) {
      if (c == '"') line.push_back('"');
      line.push_back(c);
    }
    line.push_back('"');
  }

  static std::size_t line_breaks(std::string_view s) {
    std::size_t n = 0;
    for (std::size_t i = 0; i < s.size(); ++i) {
      if (s[i] == '\n') {
        ++n;
      } else if (s[i] == '\r') {
        ++n;
        if (i + 1 < s.size() && s[i + 1] == '\n') ++i;
      }
    }
    return n;
  }

  void render_form(const KindPlace& place, const rapidjson::Value& form,
                   const rapidjson::Value& records) {
    CarePlanFileName name;
    name.kind = place.kind;
    name.generation = NameGeneration::kV4_1;
    name.from = result_.sender;
    name.to = result_.recipient;
    name.sequence = result_.sequence;
    name.extension = "CSV";
    if (place.name_has_month) name.month = string_at(form, keys_.name_month);
    const std::string file = name.build();
    std::string form_path;
    append_pointer_token(form_path, keys_.forms);
    append_pointer_token(form_path, place.key);
    const auto hints = read_hints(place, form, form_path, records.Size(), file);

    RenderedCsv rendered{&place, form_path, {}};
    std::vector<bool> dropped(place.mandatory_in_5.size(), false);
    std::string bytes;
    std::string value;
    std::size_t line = 1;
    for (rapidjson::SizeType r = 0; r < records.Size(); ++r) {
      const auto& record = records[r];
      std::string record_path = form_path;
      append_pointer_token(record_path, keys_.records);
      append_pointer_index(record_path, r);
      rendered.record_lines.push_back(line);
      for (const auto& field : place.fields) {
        const rapidjson::Value* v = field.file_scope ? detail::get_path(form, field.path)
                                                     : detail::get_path(record, field.path);
        const std::string& base = field.file_scope ? form_path : record_path;
        if (field.no > 1) bytes.push_back(',');
        if (v == nullptr) {
          append_csv_field(bytes, {}, field.free_text);
          continue;
        }
        if (!v->IsString()) {
          std::string path = base;
          for (const auto& k : field.path) append_pointer_token(path, k);
          result_.findings.push_back(finding(codes::kJsonSchema, Severity::kError, file, r + 1,
                                             &field, path, "expected a string"));
          continue;
        }
        value.clear();
        const auto h = hints.find({r + 1, field.no});
        encode_value(sv(*v), value, h == hints.end() ? nullptr : &h->second, file, r + 1, field,
                     base, form_path);
        line += line_breaks(value);
        append_csv_field(bytes, value, field.free_text);
      }
      bytes += "\r\n";
      ++line;
      for (std::size_t m = 0; m < place.mandatory_in_5.size(); ++m) {
        const auto& item = place.mandatory_in_5[m];
        if (item.field_no || dropped[m] || detail::get_path(record, item.path) == nullptr) continue;
        dropped[m] = true;  // one warning per form and item, at its first occurrence
        std::string path = record_path;
        for (const auto& k : item.path) append_pointer_token(path, k);
        result_.findings.push_back(finding(
            codes::kItemDropped, Severity::kWarning, file, 0, nullptr, path,
            "standard 4.1 has no field for " + item.name + "; the 4.1 files do not carry it"));
      }
    }
    result_.files.push_back({file, std::move(bytes)});
    rendered_.push_back(std::move(rendered));
  }

  void render_attachments(const rapidjson::Value& list) {
    const auto& att = model_.attachments();
    for (rapidjson::SizeType i = 0; i < list.Size(); ++i) {
      const auto& entry = list[i];
      if (!entry.IsObject()) continue;
      std::string path;
      append_pointer_token(path, keys_.attachments);
      append_pointer_index(path, i);
      const std::string name = string_at(entry, att.name);
      const auto parsed = parse_file_name(name);
      // A name is never a path: no directory parts, no hidden or relative names.
      const bool plain = name.find_first_of("/\\:") == std::string::npos && name[0] != '.';
      const bool is_attachment = plain && parsed.name &&
                                 (parsed.name->kind == FileKind::Attachment ||
                                  parsed.name->kind == FileKind::UPKIHON_IMAGE);
      if (!is_attachment || parsed.name->from != result_.sender ||
          parsed.name->to != result_.recipient || parsed.name->sequence != result_.sequence) {
        std::string p = path;
        append_pointer_token(p, att.name);
        result_.findings.push_back(finding(
            codes::kAttachmentName, Severity::kError, {}, 0, nullptr, p,
            "not an attachment name of this unit (<label>_<sender office>_<type>_<recipient "
            "office>_<type>_<sequence>.<ext>)"));
        continue;
      }
      const auto expected = att.media_type_for(parsed.name->extension);
      if (!expected || *expected != string_at(entry, att.media_type)) {
        std::string p = path;
        append_pointer_token(p, att.media_type);
        result_.findings.push_back(finding(codes::kAttachmentContent, Severity::kError, name, 0,
                                           nullptr, p,
                                           "the media type does not match the file name's "
                                           "extension"));
        continue;
      }
      auto bytes = common::base64_decode(string_at(entry, att.content));
      if (!bytes) continue;  // the schema check reported it
      result_.files.push_back({name, std::move(*bytes)});
    }
  }

  std::string path_of(const std::string& file, std::size_t line, int field_no) const {
    for (std::size_t i = 0; i < rendered_.size(); ++i) {
      if (result_.files[i].name != file) continue;
      const auto& rc = rendered_[i];
      std::string path = rc.form_path;
      if (line == 0) return path;
      const auto& lines = rc.record_lines;
      const auto it = std::upper_bound(lines.begin(), lines.end(), line);
      const std::size_t record = static_cast<std::size_t>(it - lines.begin());
      if (record == 0) return path;
      if (field_no >= 1 && static_cast<std::size_t>(field_no) <= rc.place->field_count) {
        const auto& field = rc.place->fields[static_cast<std::size_t>(field_no - 1)];
        if (field.file_scope) {
          append_pointer_token(path, field.path.front());
          return path;
        }
        append_pointer_token(path, keys_.records);
        append_pointer_index(path, record - 1);
        for (const auto& k : field.path) append_pointer_token(path, k);
        return path;
      }
      append_pointer_token(path, keys_.records);
      append_pointer_index(path, record - 1);
      return path;
    }
    return {};
  }

  void inspect_rendered() {
    std::vector<InputFile> inputs;
    inputs.reserve(result_.files.size());
    for (const auto& f : result_.files) inputs.push_back({f.name, f.bytes, f.bytes.size()});
    const InspectReport report = inspect(inputs);
    for (const auto& unit : report.units) {
      for (const auto& in : unit.findings) {
        Finding f;
        f.code = in.code;
        f.severity =
            in.severity == mapping::Severity::kError ? Severity::kError : Severity::kWarning;
        f.file = in.file;
        f.line = in.line;
        f.field_no = in.field_no;
        f.field = in.field;
        f.json_path = path_of(in.file, in.line, in.field_no);
        f.message = "as 4.1: " + in.message;
        result_.findings.push_back(std::move(f));
      }
    }
  }

  const Model& model_;
  const DocumentKeys& keys_;
  const FromV5Options& options_;
  FromV5Result& result_;
  const Cp932Codec& codec_;
  std::vector<RenderedCsv> rendered_;  // parallel to the first result_.files
};

}  // namespace

Findings validate_v5(std::string_view json, const Model& model) {
  Findings findings;
  rapidjson::Document doc;
  if (parse_document(json, doc, findings)) model.schema().validate(doc, findings);
  return findings;
}

FromV5Result from_v5(std::string_view json, const FromV5Options& options) {
  const Model& model = options.model != nullptr ? *options.model : Model::builtin();
  FromV5Result result;
  rapidjson::Document doc;
  if (!parse_document(json, doc, result.findings)) return result;
  model.schema().validate(doc, result.findings);
  if (has_errors(result.findings)) return result;
  DocumentRenderer renderer(model, options, result);
  renderer.run(doc);
  if (!result.ok()) {
    result.files.clear();
    result.substitutions.clear();
  }
  return result;
}

std::string describe(const Substitution& s) {
  return code_point_name(s.original) + " → " + code_point_name(s.replacement) + " in " + s.file +
         " record " + std::to_string(s.record) + " field " + std::to_string(s.field_no) + " (" +
         s.field + ") at " + s.json_path;
}

}  // namespace kakehashi::mapping::standard5
