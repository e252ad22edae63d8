#pragma once
// `kakehashi run`'s side of the admin listener: builds its sources from the gateway config and
// the running engine, and starts it when the config has an "admin" section.

#include <memory>

#include <boost/asio/io_context.hpp>

#include "gateway/admin/admin_server.hpp"
#include "gateway/daemon/gateway_config.hpp"

namespace kakehashi::gateway::daemon {

// nullptr when the config has no admin section. Throws on TLS, token file or bind errors.
// The engine must outlive the listener; stop the listener first (on the io thread).
// `adapter_counters`: each network adapter's counters (AdapterContext::events).
std::unique_ptr<admin::AdminServer> start_admin(
    boost::asio::io_context& io, const GatewayConfig& config, engine::Engine& engine,
    const std::string& version,
    std::map<std::string, std::shared_ptr<const AdapterCounters>> adapter_counters = {});

}  // namespace kakehashi::gateway::daemon
