#pragma once
// The network's character policy on the way in (PROTOCOL.md §7.9, issue 17): what from_v5 is
// told, and how the characters it substituted are said to the recipient and the audit record.

#include <string>
#include <vector>

#include "adapters/kaigoweb/kaigoweb_config.hpp"
#include "mapping/standard5/translate.hpp"

namespace kakehashi::adapters::kaigoweb {

mapping::standard5::FromV5Options from_v5_options(const KaigoWebConfig& config);

// Where characters were substituted: file, record, field (number and 項目名), U+XXXX →
// U+XXXX; never the field's value. Both empty when nothing was substituted.
struct SubstitutionNotes {
  std::string cover_note;  // for the recipient (the unit's message), Japanese with the codes
  std::string audit_note;  // for the intake audit record (InboundUnit::audit_note)
};

// At most kMaxListed places are listed, then how many more (a long text of 外字 must not make
// an unbounded record); the cover note also stays within kMaxCoverNoteBytes, well inside the
// 4000 bytes a regional message body may hold (adapters/regional/PROTOCOL.md §2).
inline constexpr std::size_t kMaxListed = 50;
inline constexpr std::size_t kMaxCoverNoteBytes = 3000;
SubstitutionNotes substitution_notes(const std::vector<mapping::standard5::Substitution>& subs);

}  // namespace kakehashi::adapters::kaigoweb
