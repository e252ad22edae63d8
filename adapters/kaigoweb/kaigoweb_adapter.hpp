#pragma once
// The Kaigo WEB Service adapter (PROTOCOL.md §7): the gateway acts for each regional office that
// registered its own Kaigo WEB credentials, with one session per office (a person completes each
// login with a one-time password), exactly-once sends without an idempotency key (§6), and a fair
// round-robin poll of every active office's received items and sent feed. The engine reaches the
// person's side of a login through Adapter::office_logins().

#include <memory>

#include "adapters/kaigoweb/kaigoweb_config.hpp"
#include "gateway/adapter/adapter.hpp"

namespace kakehashi::adapters::kaigoweb {

// Needs context.vault (session records and in-doubt sends live there) and context.sink; throws
// std::invalid_argument without them. Offices whose credentials cannot be read start in
// `credentials_invalid` (or `no_credentials`); none of that stops the adapter.
std::unique_ptr<gateway::Adapter> make_kaigoweb_adapter(KaigoWebConfig config,
                                                        gateway::AdapterContext context);

}  // namespace kakehashi::adapters::kaigoweb
