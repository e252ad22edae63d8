#pragma once
// `kakehashi registry sync|show|conflicts|diff`: the office registry from the operator's side.

#include "gateway/cli/command.hpp"

namespace kakehashi::gateway::cli {

Command registry_command();

}  // namespace kakehashi::gateway::cli
