#pragma once
// `kakehashi <type> ARGS...`: the operator subcommands of network types (AdapterType::command,
// gateway/daemon/adapter_registry.hpp), e.g. `kakehashi kaigoweb credentials add ...`. They are
// implemented in the adapter's folder; the command line only lists and dispatches them.

#include <vector>

#include "gateway/cli/command.hpp"
#include "gateway/daemon/adapter_registry.hpp"

namespace kakehashi::gateway::cli {

// One Command per type whose `command.run` is set, named after the type, in registry order.
std::vector<Command> type_commands(const std::vector<daemon::AdapterType>& types);

}  // namespace kakehashi::gateway::cli
