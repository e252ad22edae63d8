#pragma once
// `kakehashi audit evidence` (one office's bundle for one month) and `kakehashi audit
// verify-evidence FILE` (checks a bundle with nothing but the file).

#include "gateway/cli/args.hpp"
#include "gateway/cli/command.hpp"

namespace kakehashi::gateway::cli {

int audit_evidence(const Args& args, CommandIo io);
int audit_verify_evidence(const Args& args, CommandIo io);

}  // namespace kakehashi::gateway::cli
