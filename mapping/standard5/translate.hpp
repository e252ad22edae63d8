#pragma once
// Care-plan standard 4.1 CSV (MS932) ⇄ 5.0 JSON (UTF-8), driven by the model in standard5.json.
// Pure: bytes in, a document or files and findings out; no I/O, no logging, no global state
// besides the compiled-in model. Safe to call from any thread.
//
// For an adapter:
//   regional → national: to_v5(unit files) after admission; refuse the unit back to its sender
//     with the findings when !ok(); otherwise send `document.json` (one call per destination).
//   national → regional: from_v5(body, policy); refuse (or report a business error) with the
//     findings when !ok(); otherwise sign and deliver `files`, and write `substitutions` into the
//     recipient's cover note and the audit record.

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "mapping/careplan/file_name.hpp"
#include "mapping/standard5/finding.hpp"
#include "mapping/standard5/model.hpp"

namespace kakehashi::mapping::standard5 {

// One 4.1 file of a send unit: its name and exact bytes (borrowed for the call).
struct UnitFile {
  std::string name;
  std::string_view bytes;
};

struct ToV5Options {
  const Model* model = nullptr;  // nullptr: Model::builtin()
  bool validate_output = true;   // check the document against the schema before handing it out
};

// A 5.0 document for one send unit (one sender, one recipient, one sequence).
struct V5Document {
  std::string json;  // UTF-8, compact, keys in the model's order
  OfficeRef sender;
  OfficeRef recipient;
  std::string sequence;
  std::vector<FileKind> kinds;  // the 4.1 kinds it holds, in model order
  std::size_t attachments = 0;
};

struct ToV5Result {
  V5Document document;  // meaningful only when ok()
  Findings findings;    // errors refuse the unit; warnings travel with it
  bool ok() const { return !has_errors(findings); }
};

ToV5Result to_v5(std::span<const UnitFile> files, const ToV5Options& options = {});

// What to do with a character of 5.0 text that MS932 cannot hold.
struct CharacterPolicy {
  bool substitute = false;           // false: refuse the document, naming each character
  char32_t replacement = U'\u3013';  // 〓 GETA MARK (must be an MS932 character)
};

struct FromV5Options {
  const Model* model = nullptr;
  CharacterPolicy characters;
  bool inspect_output = true;  // run the 4.1 inspector over the rendered files (see README)
};

// One character replaced under CharacterPolicy::substitute: where, and what became what.
struct Substitution {
  std::string file;  // the 4.1 file name rendered
  std::size_t record = 0;
  int field_no = 0;
  std::string field;  // 4.1 項目名
  std::string json_path;
  char32_t original = 0;
  char32_t replacement = 0;  // as decoded from the MS932 code written
};

struct RenderedFile {
  std::string name;   // canonical 4.1 name
  std::string bytes;  // MS932 CSV (canonical form) or the attachment's bytes
};

struct FromV5Result {
  std::vector<RenderedFile> files;  // meaningful only when ok(); CSV kinds in model order, then
                                    // attachments in document order
  std::vector<Substitution> substitutions;
  Findings findings;
  OfficeRef sender;
  OfficeRef recipient;
  std::string sequence;
  bool ok() const { return !has_errors(findings); }
};

FromV5Result from_v5(std::string_view json, const FromV5Options& options = {});

// Schema check alone (S5_JSON_SYNTAX / S5_JSON_SCHEMA findings).
Findings validate_v5(std::string_view json, const Model& model = Model::builtin());

// "U+20BB7 → U+3013 in UPPLAN_…CSV record 3 field 7 (プラン担当者名)": one line for a cover note.
std::string describe(const Substitution& s);

}  // namespace kakehashi::mapping::standard5
