#include "gateway/admin/json_writer.hpp"

#include "gateway/audit/exporter.hpp"

namespace kakehashi::gateway::admin {

void JsonWriter::time(std::string_view k, std::int64_t ms) {
  key(k);
  if (ms == 0) {
    w_.Null();
  } else {
    str(audit::iso_time(ms));
  }
}

}  // namespace kakehashi::gateway::admin
