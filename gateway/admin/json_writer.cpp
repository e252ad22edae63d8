#include "gateway/admin/json_writer.hpp"

#include "mapping/common/iso_time.hpp"

namespace kakehashi::gateway::admin {

void JsonWriter::time(std::string_view k, std::int64_t ms) {
  key(k);
  if (ms == 0) {
    w_.Null();
  } else {
    str(mapping::common::format_iso_ms(ms));
  }
}

}  // namespace kakehashi::gateway::admin
