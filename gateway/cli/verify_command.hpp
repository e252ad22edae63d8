#pragma once
// `kakehashi verify`: verify a signed file against a trust domain and show its signer.

#include "gateway/cli/command.hpp"

namespace kakehashi::gateway::cli {

Command verify_command();

}  // namespace kakehashi::gateway::cli
