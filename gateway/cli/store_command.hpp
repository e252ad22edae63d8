#pragma once
// `kakehashi store backup|restore|copy|migrate|summary`: the operator's commands over a whole
// store: online backup, restore into an empty store, SQLite → PostgreSQL moves, schema upgrades.

#include "gateway/cli/command.hpp"

namespace kakehashi::gateway::cli {

Command store_command();

}  // namespace kakehashi::gateway::cli
