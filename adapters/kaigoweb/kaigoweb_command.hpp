#pragma once
// `kakehashi kaigoweb ...`: the operator's side of the Kaigo WEB network type (PROTOCOL.md §7.1,
// §7.3). `credentials add|list|check|remove` work on the files of a network's credentials_dir
// (credentials.hpp); `login` and `offices` go through the running daemon's admin API. The
// gateway's registry lists it as the type's TypeCommand (gateway/daemon/adapter_registry.hpp);
// it sees nothing of the gateway but the config file it is pointed at.

#include <chrono>
#include <functional>
#include <iosfwd>
#include <optional>
#include <span>
#include <string>

namespace kakehashi::adapters::kaigoweb {

// Exit codes. `credentials ...`: 0 fine, 1 a problem found or refused, 2 usage or config error.
// `login` (PROTOCOL.md §7.3) and `offices`:
inline constexpr int kLoginActive = 0;
inline constexpr int kLoginCodeRefused = 1;  // wrong or expired code, or no code given
inline constexpr int kLoginLocked = 2;
inline constexpr int kLoginCredentialsInvalid = 3;  // also: no credentials for the office
inline constexpr int kLoginDaemonUnreachable = 4;   // also: the daemon did not finish in time
inline constexpr int kLoginRefused = 5;             // usage, unknown network or office, no access

struct KaigowebCommandOptions {
  // Reads the one-time password when no --otp-file is given: prompts on `out` and reads the
  // terminal without echo. nullopt: nothing was entered. Tests replace it.
  std::function<std::optional<std::string>(std::ostream& out)> read_otp;
  // The clock for `receive_from` and expiry (default: the system clock).
  std::function<std::chrono::system_clock::time_point()> now;
};

// The shape of gateway::daemon::TypeCommand (the registry entry copies the three members).
struct KaigowebCommand {
  std::string summary;
  std::string help;
  std::function<int(std::span<const std::string> args, std::ostream& out, std::ostream& err)> run;
};

KaigowebCommand kaigoweb_command(KaigowebCommandOptions options = {});

}  // namespace kakehashi::adapters::kaigoweb
