#pragma once
// The 5.0 document model as data: where each 4.1 file kind and field goes in the JSON document
// (standard5.json), the JSON Schema of the documents (schema.json) and the character rules.
// Both files are compiled in; the real 5.0 annex replaces them, not code (README.md).

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <variant>
#include <vector>

#include "mapping/careplan/file_name.hpp"
#include "mapping/standard5/cp932.hpp"
#include "mapping/standard5/json_schema.hpp"

namespace kakehashi::mapping::standard5 {

// One 4.1 field and its place: in each record object (path relative to the record), or once per
// form (`file_scope`, for values every record of a file shares, like CSVバージョン).
struct FieldPlace {
  int no = 0;                     // 4.1 field number
  std::string name_ja;            // 4.1 項目名 (from layouts.json, for findings)
  std::vector<std::string> path;  // JSON keys, outermost first
  bool file_scope = false;
  bool free_text = false;  // quoted in canonical 4.1 CSV
};

// An item 5.0 makes mandatory. With `field_no`, a 4.1 field that 4.1 lets be empty; without, an
// item 4.1 has no column for (every 4.1 file of the kind lacks it, so none can be sent).
struct MandatoryItem {
  std::vector<std::string> path;
  std::optional<int> field_no;
  std::string name;  // the path joined with '/' (the item's name in findings)
};

struct KindPlace {
  FileKind kind = FileKind::UPPLAN;
  std::string key;  // key under 帳票
  bool name_has_month = false;
  std::size_t field_count = 0;
  std::vector<FieldPlace> fields;  // in 4.1 field order
  std::vector<MandatoryItem> mandatory_in_5;
};

// The JSON keys of the document's frame (everything that is not a 4.1 field).
struct DocumentKeys {
  std::string standard, version, model, sender, recipient, office_no, service_type, sequence, forms,
      attachments, name_month, records, original_codes, original_code_record, original_code_field,
      original_code_position, original_code_value;
};

struct AttachmentPlace {
  bool carried = false;
  std::string name, media_type, content;                         // keys
  std::vector<std::pair<std::string, std::string>> media_types;  // extension → media type
  std::optional<std::string_view> media_type_for(std::string_view extension) const;
};

class Model {
 public:
  // The model compiled into this binary (parsed on first use; immutable afterwards).
  static const Model& builtin();
  // A model from data (tests, or a newer annex before it is compiled in): the model or what is
  // wrong with the data.
  static std::variant<std::unique_ptr<Model>, std::string> parse(std::string_view model_json,
                                                                 std::string_view schema_json);

  const std::string& id() const { return id_; }
  const std::string& standard() const { return standard_; }
  const std::string& version() const { return version_; }
  const DocumentKeys& keys() const { return keys_; }
  const AttachmentPlace& attachments() const { return attachments_; }
  const KindPlace* kind(FileKind kind) const;
  const KindPlace* kind_by_key(std::string_view key) const;
  const std::vector<KindPlace>& kinds() const { return kinds_; }
  const JsonSchema& schema() const { return *schema_; }
  const Cp932Codec& codec() const { return *codec_; }
  bool carry_original_codes() const { return carry_original_codes_; }

 private:
  Model() = default;
  friend class ModelParser;

  std::string id_, standard_, version_;
  DocumentKeys keys_;
  AttachmentPlace attachments_;
  std::vector<KindPlace> kinds_;
  std::unordered_map<std::string, std::size_t> by_key_;
  std::optional<JsonSchema> schema_;
  std::optional<Cp932Codec> codec_;
  bool carry_original_codes_ = true;
};

// The data files as compiled in (for tests and `kakehashi` to print).
std::string_view builtin_model_json();
std::string_view builtin_schema_json();

}  // namespace kakehashi::mapping::standard5
