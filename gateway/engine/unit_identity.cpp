#include "gateway/engine/unit_identity.hpp"

#include <algorithm>
#include <set>
#include <vector>

#include "mapping/careplan/csv_reader.hpp"
#include "mapping/careplan/file_name.hpp"
#include "mapping/cms/translation_receipt.hpp"

namespace kakehashi::gateway::engine {
namespace {

mapping::cms::ByteView view(const std::string& s) {
  return {reinterpret_cast<const std::uint8_t*>(s.data()), s.size()};
}

// Length-prefixed, so no two different lists of fields make the same text.
void add_field(std::string& out, std::string_view field) {
  out += std::to_string(field.size());
  out += ':';
  out += field;
}

}  // namespace

std::string subject_key(const InboundUnit& unit, const std::string& unit_kind) {
  if (unit_kind.empty()) return {};
  std::string month;
  std::set<std::string> users;
  for (const auto& f : unit.files) {
    const auto parsed = mapping::parse_file_name(f.name);
    if (!parsed.name || !mapping::is_csv_kind(parsed.name->kind)) continue;
    if (month.empty()) month = parsed.name->month;
    mapping::CsvReader reader(f.content);
    mapping::CsvRecord record;
    mapping::CsvSyntaxError error;
    while (reader.next(record, error)) {
      // Fields 2 and 3 of every layout of the standard: 保険者番号, 被保険者番号.
      if (error.line != 0 || record.fields.size() < 3) continue;
      if (record.fields[1].value.empty() || record.fields[2].value.empty()) continue;
      std::string user;
      add_field(user, record.fields[1].value);
      add_field(user, record.fields[2].value);
      users.insert(std::move(user));
    }
  }
  if (users.empty()) return {};
  std::string all;
  for (const auto& u : users) all += u + "\n";
  return unit_kind + ":" + month + ":" + mapping::cms::sha256_hex(view(all)).substr(0, 32);
}

std::string content_digest(const InboundUnit& unit) {
  std::vector<const SignedFile*> files;
  for (const auto& f : unit.files) files.push_back(&f);
  std::sort(files.begin(), files.end(),
            [](const SignedFile* a, const SignedFile* b) { return a->name < b->name; });
  std::string all;
  for (const auto* f : files) {
    add_field(all, f->name);
    add_field(all, f->content);
  }
  return mapping::cms::sha256_hex(view(all));
}

}  // namespace kakehashi::gateway::engine
