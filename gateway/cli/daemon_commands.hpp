#pragma once
// `kakehashi run`, `kakehashi config check` and `kakehashi relay ...`: the gateway daemon and the
// operator commands over its store.

#include "gateway/cli/command.hpp"

namespace kakehashi::gateway::cli {

Command run_command();
Command config_command();
Command relay_command();

}  // namespace kakehashi::gateway::cli
