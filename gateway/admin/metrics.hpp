#pragma once
// GET /metrics: the gateway's families in the Prometheus text format (prometheus.hpp writes the
// format; this file decides what is exposed). Names and labels are a contract with
// deploy/prometheus rules: change them together.

#include "gateway/admin/api.hpp"

namespace kakehashi::gateway::admin {

adapters::http::Response metrics(ApiContext& ctx);

}  // namespace kakehashi::gateway::admin
