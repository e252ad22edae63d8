#pragma once
// `kakehashi audit verify|export|hash-insured|checkpoint`: the auditor's view of the audit log,
// verifiable offline from the store and the gateway certificate.

#include "gateway/cli/command.hpp"

namespace kakehashi::gateway::cli {

Command audit_command();

}  // namespace kakehashi::gateway::cli
