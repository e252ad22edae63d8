#include "tests/support/transfers.hpp"

namespace kakehashi::testing {

gateway::store::NewTransfer regional_k2_unit(const std::string& source_id,
                                             const std::string& sequence,
                                             const std::string& recipient) {
  gateway::store::NewTransfer t;
  t.source_adapter = "regional";
  t.source_id = source_id;
  t.dest_adapter = "national";
  t.direction = "regional->national";
  t.sender_office = "3271500013";
  t.sender_type = "43";
  t.recipient_office = recipient;
  t.recipient_type = "11";
  t.sequence = sequence;
  t.unit_kind = "K2";
  t.idempotency_key = "kh-" + source_id;
  return t;
}

}  // namespace kakehashi::testing
