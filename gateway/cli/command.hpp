#pragma once
// One `kakehashi` subcommand: its name, what it does, and the function that runs it.

#include <functional>
#include <iosfwd>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace kakehashi::gateway::cli {

// Exit codes shared by every subcommand.
inline constexpr int kExitOk = 0;
inline constexpr int kExitRejected = 1;  // the input was checked and something was refused
inline constexpr int kExitUsage = 2;     // usage or I/O error

struct CommandIo {
  std::ostream& out;
  std::ostream& err;
};

struct Command {
  std::string name;     // e.g. "inspect"
  std::string summary;  // one line for `kakehashi --help`
  std::string help;     // full text for `kakehashi NAME --help`
  std::function<int(std::span<const std::string> args, CommandIo io)> run;
};

// All subcommands, listed explicitly in one place (commands.cpp).
std::vector<Command> all_commands();

// Entry point used by main(): dispatches to a subcommand, handles --help and usage errors.
int run_cli(std::span<const std::string> argv, CommandIo io);
// The same over a given list (tests).
int run_cli(std::span<const std::string> argv, CommandIo io, const std::vector<Command>& commands);

}  // namespace kakehashi::gateway::cli
