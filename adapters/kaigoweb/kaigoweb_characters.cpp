#include "adapters/kaigoweb/kaigoweb_characters.hpp"

#include "mapping/standard5/cp932.hpp"

namespace kakehashi::adapters::kaigoweb {

namespace s5 = mapping::standard5;

s5::FromV5Options from_v5_options(const KaigoWebConfig& config) {
  s5::FromV5Options options;
  options.characters.substitute = config.substitute_characters;
  options.characters.replacement = config.replacement;
  return options;
}

SubstitutionNotes substitution_notes(const std::vector<s5::Substitution>& subs) {
  SubstitutionNotes notes;
  if (subs.empty()) return notes;
  const std::string count = std::to_string(subs.size());
  notes.cover_note = "【文字の置換】全国側の文書にMS932で表せない文字が" + count +
                     "字あり、ゲートウェイの設定により置き換えました (" + count +
                     " characters MS932 cannot hold were substituted):";
  notes.audit_note = "characters substituted (" + count + "): ";
  std::size_t in_cover = 0;
  for (std::size_t i = 0; i < subs.size() && i < kMaxListed; ++i) {
    const auto& s = subs[i];
    const std::string codes = s5::code_point_name(s.original) + " → " +
                              s5::code_point_name(s.replacement);
    const std::string line = "\n" + s.file + " レコード" + std::to_string(s.record) + " 項目" +
                             std::to_string(s.field_no) + "（" + s.field + "）: " + codes;
    if (in_cover == i && notes.cover_note.size() + line.size() <= kMaxCoverNoteBytes) {
      notes.cover_note += line;
      ++in_cover;
    }
    notes.audit_note += (i == 0 ? "" : "; ") + s5::describe(s);
  }
  if (subs.size() > in_cover)
    notes.cover_note += "\nほか" + std::to_string(subs.size() - in_cover) + "字 (" +
                        std::to_string(subs.size() - in_cover) + " more)";
  if (subs.size() > kMaxListed)
    notes.audit_note += "; and " + std::to_string(subs.size() - kMaxListed) + " more";
  return notes;
}

}  // namespace kakehashi::adapters::kaigoweb
