#include "gateway/audit/insured.hpp"

#include "gateway/audit/chain.hpp"
#include "mapping/careplan/csv_reader.hpp"

namespace kakehashi::gateway::audit {

std::string insured_hash(std::string_view key, std::string_view insured_number) {
  return hmac_sha256_hex(key, insured_number).substr(0, 32);
}

void collect_insured_numbers(std::string_view file_name, std::string_view content,
                             std::set<std::string>& out) {
  if (file_name.size() < 4 || file_name.substr(file_name.size() - 4) != ".CSV") return;
  mapping::CsvReader reader(content);
  mapping::CsvRecord record;
  mapping::CsvSyntaxError error;
  while (reader.next(record, error)) {
    if (error.line != 0 || record.fields.size() <= 2) continue;
    const std::string_view number = record.fields[2].value;
    if (!number.empty()) out.insert(std::string(number));
  }
}

}  // namespace kakehashi::gateway::audit
