#include <exception>
#include <ostream>

#include "gateway/cli/args.hpp"
#include "gateway/cli/audit_command.hpp"
#include "gateway/cli/command.hpp"
#include "gateway/cli/daemon_commands.hpp"
#include "gateway/cli/inspect_command.hpp"
#include "gateway/cli/registry_command.hpp"
#include "gateway/cli/store_command.hpp"
#include "gateway/cli/type_commands.hpp"
#include "gateway/cli/verify_command.hpp"

namespace kakehashi::gateway::cli {

std::vector<Command> all_commands() {
  // Listed explicitly (no self-registration): add a line here for each new subcommand.
  std::vector<Command> commands{
      run_command(),   audit_command(),    config_command(), inspect_command(),
      relay_command(), registry_command(), store_command(),  verify_command(),
  };
  // Then each network type's own subcommands (`kakehashi kaigoweb ...`), from the registry.
  for (auto& c : type_commands(daemon::adapter_types())) commands.push_back(std::move(c));
  return commands;
}

namespace {

void print_overview(std::ostream& out, const std::vector<Command>& commands) {
  out << "Usage: kakehashi COMMAND [OPTIONS] [ARGS...]\n\n"
         "Kakehashi relays care-plan send units between a regional care network and the\n"
         "national Care Plan Data Linkage System.\n\nCommands:\n";
  for (const auto& c : commands) {
    out << "  " << c.name;
    for (std::size_t i = c.name.size(); i < 12; ++i) out << ' ';
    out << "  " << c.summary << "\n";
  }
  out << "\nRun `kakehashi COMMAND --help` for a command's options.\n";
}

}  // namespace

int run_cli(std::span<const std::string> argv, CommandIo io) {
  return run_cli(argv, io, all_commands());
}

int run_cli(std::span<const std::string> argv, CommandIo io, const std::vector<Command>& commands) {
  if (argv.size() < 2) {
    print_overview(io.err, commands);
    return kExitUsage;
  }
  const std::string& name = argv[1];
  if (name == "--help" || name == "-h" || name == "help") {
    print_overview(io.out, commands);
    return kExitOk;
  }
  if (name == "--version") {
    io.out << "kakehashi " << KAKEHASHI_VERSION << "\n";
    return kExitOk;
  }
  for (const auto& c : commands) {
    if (c.name != name) continue;
    const auto rest = argv.subspan(2);
    for (const auto& a : rest) {
      if (a == "--") break;
      if (a == "--help" || a == "-h") {
        io.out << c.help;
        return kExitOk;
      }
    }
    try {
      return c.run(rest, io);
    } catch (const UsageError& e) {
      io.err << "kakehashi " << c.name << ": " << e.message << "\n"
             << "Run `kakehashi " << c.name << " --help` for usage.\n";
      return kExitUsage;
    } catch (const std::exception& e) {
      io.err << "kakehashi " << c.name << ": error: " << e.what() << "\n";
      return kExitUsage;
    }
  }
  io.err << "kakehashi: unknown command '" << name << "'\n";
  print_overview(io.err, commands);
  return kExitUsage;
}

}  // namespace kakehashi::gateway::cli
