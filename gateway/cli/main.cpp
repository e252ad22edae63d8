// The `kakehashi` binary: one executable, subcommands listed in commands.cpp.

#include <iostream>
#include <string>
#include <vector>

#include "gateway/cli/command.hpp"

int main(int argc, char** argv) {
  std::vector<std::string> args(argv, argv + argc);
  return kakehashi::gateway::cli::run_cli(args, {std::cout, std::cerr});
}
