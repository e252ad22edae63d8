#pragma once
// `kakehashi inspect`: group care-plan files into send units and check them.

#include <iosfwd>

#include "gateway/cli/command.hpp"
#include "mapping/careplan/inspector.hpp"

namespace kakehashi::gateway::cli {

Command inspect_command();

// Renderers, shared with other commands that show inspection results.
void print_inspect_text(const mapping::InspectReport& report, std::ostream& out);
void print_inspect_json(const mapping::InspectReport& report, std::ostream& out);

}  // namespace kakehashi::gateway::cli
