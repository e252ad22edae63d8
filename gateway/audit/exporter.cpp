#include "gateway/audit/exporter.hpp"

#include "mapping/common/iso_time.hpp"

#include <cstdio>
#include <ctime>
#include <ostream>

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

namespace kakehashi::gateway::audit {
namespace {

std::vector<std::string> values(const ExportRow& row) {
  const auto& r = row.record;
  return {r.seq ? std::to_string(*r.seq) : std::string(),
          mapping::common::format_iso_ms(r.at),
          std::to_string(r.at),
          std::to_string(r.transfer_id),
          r.kind,
          r.actor,
          row.sender_office,
          row.recipient_office,
          row.path,
          r.detail,
          r.prev_hash,
          r.hash};
}

void csv_field(std::ostream& out, const std::string& v) {
  if (v.find_first_of(",\"\r\n") == std::string::npos) {
    out << v;
    return;
  }
  out << '"';
  for (char c : v) {
    if (c == '"') out << '"';
    out << c;
  }
  out << '"';
}

}  // namespace

void write_csv(const std::vector<ExportRow>& rows, std::ostream& out) {
  bool first = true;
  for (const char* c : kExportColumns) {
    out << (first ? "" : ",") << c;
    first = false;
  }
  out << "\r\n";
  for (const auto& row : rows) {
    first = true;
    for (const auto& v : values(row)) {
      if (!first) out << ',';
      csv_field(out, v);
      first = false;
    }
    out << "\r\n";
  }
}

void write_jsonl(const std::vector<ExportRow>& rows, std::ostream& out) {
  for (const auto& row : rows) {
    rapidjson::StringBuffer buf;
    rapidjson::Writer<rapidjson::StringBuffer> w(buf);
    const auto v = values(row);
    w.StartObject();
    for (std::size_t i = 0; i < v.size(); ++i) {
      w.Key(kExportColumns[i]);
      // Numbers stay numbers for machines; the rest are strings.
      if ((i == 0 && !v[i].empty()) || i == 2 || i == 3) {
        w.Int64(std::stoll(v[i]));
      } else {
        w.String(v[i].c_str(), static_cast<rapidjson::SizeType>(v[i].size()));
      }
    }
    w.EndObject();
    out << buf.GetString() << "\n";
  }
}

}  // namespace kakehashi::gateway::audit
