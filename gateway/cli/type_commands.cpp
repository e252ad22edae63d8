#include "gateway/cli/type_commands.hpp"

namespace kakehashi::gateway::cli {

std::vector<Command> type_commands(const std::vector<daemon::AdapterType>& types) {
  std::vector<Command> out;
  for (const auto& type : types) {
    if (!type.command.run) continue;
    Command c;
    c.name = type.type;
    c.summary = type.command.summary;
    c.help = type.command.help;
    c.run = [run = type.command.run](std::span<const std::string> args, CommandIo io) {
      return run(args, io.out, io.err);
    };
    out.push_back(std::move(c));
  }
  return out;
}

}  // namespace kakehashi::gateway::cli
