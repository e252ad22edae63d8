#pragma once
// Transfer builders for store-level tests: the one unit most suites write, a K2 care plan from
// regional office 3271500013 (type 43) to a national office (type 11). Each test then sets what
// it is about (payload, subject, event detail, insured numbers).

#include <string>

#include "gateway/store/store.hpp"

namespace kakehashi::testing {

// A regional->national K2 unit `source_id` with the given sequence, to `recipient` (type 11);
// idempotency key "kh-<source_id>". Payload, subject key and event detail are left empty.
gateway::store::NewTransfer regional_k2_unit(const std::string& source_id,
                                             const std::string& sequence,
                                             const std::string& recipient = "1371100452");

}  // namespace kakehashi::testing
