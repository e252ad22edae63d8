// 4.1 send unit (MS932 CSV files, attachments) → one 5.0 JSON document.

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <optional>

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include "mapping/careplan/csv_reader.hpp"
#include "mapping/common/base64.hpp"
#include "mapping/standard5/document_writer.hpp"
#include "mapping/standard5/translate.hpp"

namespace kakehashi::mapping::standard5 {
namespace {

using Alloc = rapidjson::Document::AllocatorType;
using detail::json_string;

struct NamedFile {
  const UnitFile* file;
  CarePlanFileName name;
  std::vector<std::size_t> record_lines;  // physical line where each record starts
};

// The tokens of an RFC 6901 pointer ("/a~1b/0" → "a/b", "0").
std::vector<std::string> pointer_tokens(std::string_view pointer) {
  std::vector<std::string> out;
  std::size_t i = 0;
  while (i < pointer.size() && pointer[i] == '/') {
    std::string token;
    for (++i; i < pointer.size() && pointer[i] != '/'; ++i) {
      if (pointer[i] == '~' && i + 1 < pointer.size()) {
        token.push_back(pointer[i + 1] == '1' ? '/' : '~');
        ++i;
      } else {
        token.push_back(pointer[i]);
      }
    }
    out.push_back(std::move(token));
  }
  return out;
}

std::string hex4(std::uint16_t code) {
  char buf[8];
  std::snprintf(buf, sizeof buf, "%04X", static_cast<unsigned>(code));
  return buf;
}

class UnitTranslator {
 public:
  UnitTranslator(const Model& model, ToV5Result& result)
      : model_(model),
        keys_(model.keys()),
        result_(result),
        doc_(rapidjson::kObjectType),
        a_(doc_.GetAllocator()) {}

  void run(std::span<const UnitFile> files) {
    if (files.empty()) return error(codes::kUnitEmpty, {}, "the unit has no files");
    if (!group(files)) return;
    auto& d = result_.document;
    d.sender = csv_.empty() ? attachments_.front().name.from : csv_.front().name.from;
    d.recipient = csv_.empty() ? attachments_.front().name.to : csv_.front().name.to;
    d.sequence = csv_.empty() ? attachments_.front().name.sequence : csv_.front().name.sequence;

    doc_.AddMember(json_string(keys_.standard, a_), json_string(model_.standard(), a_), a_);
    doc_.AddMember(json_string(keys_.version, a_), json_string(model_.version(), a_), a_);
    doc_.AddMember(json_string(keys_.model, a_), json_string(model_.id(), a_), a_);
    doc_.AddMember(json_string(keys_.sender, a_), office(d.sender), a_);
    doc_.AddMember(json_string(keys_.recipient, a_), office(d.recipient), a_);
    doc_.AddMember(json_string(keys_.sequence, a_), json_string(d.sequence, a_), a_);
    rapidjson::Value forms(rapidjson::kObjectType);
    for (const auto& place : model_.kinds()) {
      const auto it = std::find_if(csv_.begin(), csv_.end(),
                                   [&](const NamedFile& n) { return n.name.kind == place.kind; });
      if (it == csv_.end()) continue;
      std::string path;
      append_pointer_token(path, keys_.forms);
      append_pointer_token(path, place.key);
      rapidjson::Value form = translate_file(*it, place, path);
      forms.AddMember(json_string(place.key, a_), std::move(form), a_);
      d.kinds.push_back(place.kind);
    }
    doc_.AddMember(json_string(keys_.forms, a_), std::move(forms), a_);
    if (!attachments_.empty()) {
      const auto& att = model_.attachments();
      rapidjson::Value list(rapidjson::kArrayType);
      for (const auto& f : attachments_) {
        rapidjson::Value entry(rapidjson::kObjectType);
        entry.AddMember(json_string(att.name, a_), json_string(f.file->name, a_), a_);
        entry.AddMember(json_string(att.media_type, a_),
                        json_string(*att.media_type_for(f.name.extension), a_), a_);
        entry.AddMember(json_string(att.content, a_),
                        json_string(common::base64_encode(f.file->bytes), a_), a_);
        list.PushBack(std::move(entry), a_);
      }
      doc_.AddMember(json_string(keys_.attachments, a_), std::move(list), a_);
      d.attachments = attachments_.size();
    }
    if (has_errors(result_.findings)) return;
    if (validate_) {
      Findings schema_findings;
      model_.schema().validate(doc_, schema_findings);
      for (auto& f : schema_findings) {
        locate(f);
        f.message = "the 5.0 document made from this unit breaks the schema: " + f.message;
        result_.findings.push_back(std::move(f));
      }
      if (has_errors(result_.findings)) return;
    }
    rapidjson::StringBuffer buffer;
    rapidjson::Writer<rapidjson::StringBuffer> writer(buffer);
    doc_.Accept(writer);
    d.json.assign(buffer.GetString(), buffer.GetSize());
  }

  bool validate_ = true;

 private:
  void error(std::string_view code, const std::string& file, std::string message) {
    Finding f;
    f.code = std::string(code);
    f.file = file;
    f.message = std::move(message);
    result_.findings.push_back(std::move(f));
  }

  // Names the 4.1 file, record, line and field behind a JSON path of the document we made, so
  // the 4.1 sender learns what to fix in its own terms.
  void locate(Finding& f) const {
    const auto tokens = pointer_tokens(f.json_path);
    if (tokens.size() < 2 || tokens[0] != keys_.forms) return;
    const KindPlace* place = model_.kind_by_key(tokens[1]);
    if (place == nullptr) return;
    const auto file = std::find_if(csv_.begin(), csv_.end(),
                                   [&](const NamedFile& n) { return n.name.kind == place->kind; });
    if (file == csv_.end()) return;
    f.file = file->file->name;
    if (tokens.size() < 3) return;
    std::vector<std::string> rest;
    if (tokens[2] == keys_.records) {
      if (tokens.size() < 4) return;
      const std::size_t index =
          static_cast<std::size_t>(std::strtoull(tokens[3].c_str(), nullptr, 10));
      if (index >= file->record_lines.size()) return;
      f.record = index + 1;
      f.line = file->record_lines[index];
      rest.assign(tokens.begin() + 4, tokens.end());
    } else {
      rest.assign(tokens.begin() + 2, tokens.end());
    }
    for (const auto& field : place->fields) {
      const bool scope_ok = field.file_scope == (tokens[2] != keys_.records);
      if (scope_ok && !rest.empty() && field.path.size() <= rest.size() &&
          std::equal(field.path.begin(), field.path.end(), rest.begin())) {
        f.field_no = field.no;
        f.field = field.name_ja;
        return;
      }
    }
  }

  bool group(std::span<const UnitFile> files) {
    std::optional<SendUnitKeyLike> key;
    for (const auto& file : files) {
      auto parsed = parse_file_name(file.name);
      const bool plain = !file.name.empty() && file.name[0] != '.' &&
                         file.name.find_first_of("/\\:") == std::string::npos;
      if (!plain || !parsed.name || parsed.name->generation != NameGeneration::kV4_1) {
        error(codes::kUnitName, file.name,
              parsed.name ? "a v3 file name: only standard 4.1 units translate to 5.0"
                          : "not a file name of standard 4.1 or of an attachment");
        continue;
      }
      auto& n = *parsed.name;
      const SendUnitKeyLike k{n.from, n.to, n.sequence};
      if (!key) key = k;
      if (!(k == *key)) {
        error(codes::kUnitMixed, file.name,
              "sender, recipient or sequence differ from the unit's first file");
        continue;
      }
      if (is_csv_kind(n.kind)) {
        const bool dup = std::any_of(csv_.begin(), csv_.end(),
                                     [&](const NamedFile& f) { return f.name.kind == n.kind; });
        if (dup) {
          error(codes::kUnitDuplicateKind, file.name,
                "a second " + std::string(file_kind_name(n.kind)) + " file in one unit");
          continue;
        }
        csv_.push_back({&file, std::move(n), {}});
        continue;
      }
      const auto& att = model_.attachments();
      if (!att.carried) {
        error(codes::kAttachmentNotCarried, file.name,
              "the 5.0 model carries no attachments (standard5.json attachments.carried is "
              "false): send the unit without it, or the attachment another way");
        continue;
      }
      if (!att.media_type_for(n.extension)) {
        error(codes::kAttachmentNotCarried, file.name,
              "the 5.0 model has no media type for the extension ." + n.extension);
        continue;
      }
      attachments_.push_back({&file, std::move(n), {}});
    }
    return !has_errors(result_.findings);
  }

  struct SendUnitKeyLike {
    OfficeRef from, to;
    std::string sequence;
    bool operator==(const SendUnitKeyLike&) const = default;
  };

  rapidjson::Value office(const OfficeRef& o) {
    rapidjson::Value v(rapidjson::kObjectType);
    v.AddMember(json_string(keys_.office_no, a_), json_string(o.office_no, a_), a_);
    v.AddMember(json_string(keys_.service_type, a_), json_string(o.service_type, a_), a_);
    return v;
  }

  Finding field_finding(std::string_view code, const NamedFile& f, const CsvRecord& r,
                        std::size_t record, const FieldPlace* field, std::string path,
                        std::string message) {
    Finding out;
    out.code = std::string(code);
    out.file = f.file->name;
    out.record = record;
    out.line = r.line;
    if (field != nullptr) {
      out.field_no = field->no;
      out.field = field->name_ja;
    }
    out.json_path = std::move(path);
    out.message = std::move(message);
    return out;
  }

  rapidjson::Value translate_file(NamedFile& f, const KindPlace& place,
                                  const std::string& form_path) {
    rapidjson::Value form(rapidjson::kObjectType);
    if (place.name_has_month)
      form.AddMember(json_string(keys_.name_month, a_), json_string(f.name.month, a_), a_);
    rapidjson::Value records(rapidjson::kArrayType);
    rapidjson::Value originals(rapidjson::kArrayType);
    std::vector<std::optional<std::string>> file_values(place.fields.size());
    CsvReader reader(f.file->bytes);
    CsvRecord r;
    CsvSyntaxError syntax;
    std::string utf8;
    std::size_t count = 0;
    const auto& codec = model_.codec();
    while (reader.next(r, syntax)) {
      const std::size_t record_no = ++count;
      f.record_lines.push_back(r.line);
      if (syntax.line != 0) {
        auto fd = field_finding(codes::kCsvSyntax, f, r, record_no, nullptr, {}, syntax.message);
        fd.line = syntax.line;
        fd.field_no = static_cast<int>(syntax.field_no);
        result_.findings.push_back(std::move(fd));
        continue;
      }
      if (r.fields.size() != place.field_count) {
        result_.findings.push_back(
            field_finding(codes::kCsvFieldCount, f, r, record_no, nullptr, {},
                          std::to_string(r.fields.size()) + " fields; the layout has " +
                              std::to_string(place.field_count)));
        continue;
      }
      rapidjson::Value record(rapidjson::kObjectType);
      for (std::size_t i = 0; i < place.fields.size(); ++i) {
        const FieldPlace& field = place.fields[i];
        const std::string_view raw = r.fields[i].value;
        utf8.clear();
        const auto bad = codec.decode(raw, utf8, [&](std::size_t position, std::uint16_t code) {
          if (!model_.carry_original_codes()) return;
          rapidjson::Value o(rapidjson::kObjectType);
          o.AddMember(json_string(keys_.original_code_record, a_),
                      rapidjson::Value(static_cast<std::uint64_t>(record_no)), a_);
          o.AddMember(json_string(keys_.original_code_field, a_), rapidjson::Value(field.no), a_);
          o.AddMember(json_string(keys_.original_code_position, a_),
                      rapidjson::Value(static_cast<std::uint64_t>(position)), a_);
          o.AddMember(json_string(keys_.original_code_value, a_), json_string(hex4(code), a_), a_);
          originals.PushBack(std::move(o), a_);
        });
        if (bad) {
          result_.findings.push_back(field_finding(
              codes::kCsvEncoding, f, r, record_no, &field, {},
              std::string(bad->kind == DecodeError::Kind::kGaiji
                              ? "a user-defined character (外字), which MS932 text may not hold"
                          : bad->kind == DecodeError::Kind::kControl
                              ? "a control character"
                              : "not valid MS932 (Shift_JIS)") +
                  " at byte " + std::to_string(bad->byte_offset + 1) + " of the field"));
          continue;
        }
        if (field.file_scope) {
          auto& seen = file_values[i];
          if (!seen) {
            seen = utf8;
          } else if (*seen != utf8) {
            result_.findings.push_back(
                field_finding(codes::kCsvVersionMixed, f, r, record_no, &field, {},
                              "differs from the first record, but 5.0 carries it once per form"));
          }
          continue;
        }
        if (utf8.empty()) continue;  // empty items are omitted
        detail::set_path(record, field.path, json_string(utf8, a_), a_);
      }
      for (const auto& item : place.mandatory_in_5) {
        if (!item.field_no) continue;
        if (!r.fields[static_cast<std::size_t>(*item.field_no - 1)].value.empty()) continue;
        std::string p = form_path;
        append_pointer_token(p, keys_.records);
        append_pointer_index(p, record_no - 1);
        for (const auto& k : item.path) append_pointer_token(p, k);
        const FieldPlace& field = place.fields[static_cast<std::size_t>(*item.field_no - 1)];
        result_.findings.push_back(
            field_finding(codes::kMandatoryMissing, f, r, record_no, &field, std::move(p),
                          "empty, but standard 5.0 makes " + item.name + " mandatory"));
      }
      records.PushBack(std::move(record), a_);
    }
    if (count == 0) error(codes::kCsvSyntax, f.file->name, "the file holds no records");
    for (const auto& item : place.mandatory_in_5) {
      if (item.field_no) continue;
      Finding fd;
      fd.code = std::string(codes::kMandatoryMissing);
      fd.file = f.file->name;
      fd.field = item.name;
      fd.json_path = form_path + "/" + keys_.records + "/*/" + item.name;
      fd.message = "standard 5.0 makes " + item.name +
                   " mandatory and 4.1 has no field for it: the unit cannot be sent as 5.0";
      result_.findings.push_back(std::move(fd));
    }
    for (std::size_t i = 0; i < place.fields.size(); ++i) {
      if (file_values[i] && !file_values[i]->empty())
        form.AddMember(json_string(place.fields[i].path.front(), a_),
                       json_string(*file_values[i], a_), a_);
    }
    form.AddMember(json_string(keys_.records, a_), std::move(records), a_);
    if (!originals.Empty())
      form.AddMember(json_string(keys_.original_codes, a_), std::move(originals), a_);
    return form;
  }

  const Model& model_;
  const DocumentKeys& keys_;
  ToV5Result& result_;
  rapidjson::Document doc_;
  Alloc& a_;
  std::vector<NamedFile> csv_;
  std::vector<NamedFile> attachments_;
};

}  // namespace

ToV5Result to_v5(std::span<const UnitFile> files, const ToV5Options& options) {
  const Model& model = options.model != nullptr ? *options.model : Model::builtin();
  ToV5Result result;
  UnitTranslator translator(model, result);
  translator.validate_ = options.validate_output;
  translator.run(files);
  if (!result.ok()) result.document.json.clear();
  return result;
}

}  // namespace kakehashi::mapping::standard5
