#pragma once
// What the `kakehashi kaigoweb` subcommands share (kaigoweb_command*.cpp only): their argument
// parser, the few settings they read from the gateway's config file, and one blocking HTTPS call.

#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <set>
#include <span>
#include <string>
#include <vector>

#include <boost/system/error_code.hpp>

#include "adapters/common/http/https_client.hpp"
#include "adapters/common/http/message.hpp"

namespace kakehashi::adapters::kaigoweb::command {

// Ends a subcommand with its exit code and a message for stderr (caught once, in run).
struct CommandError {
  int exit_code = 2;
  std::string message;
};

// --flag, --key VALUE, --key=VALUE and positionals; unknown options are a CommandError.
class CommandArgs {
 public:
  CommandArgs(std::span<const std::string> args, const std::set<std::string>& flags,
              const std::set<std::string>& options, int usage_exit = 2);
  bool flag(const std::string& name) const { return flags_.count(name) != 0; }
  std::optional<std::string> option(const std::string& name) const;
  const std::vector<std::string>& positionals() const { return positionals_; }

 private:
  std::set<std::string> flags_;
  std::map<std::string, std::string> options_;
  std::vector<std::string> positionals_;
};

// One network of type "kaigoweb" as the subcommands need it (PROTOCOL.md §7.9), paths resolved
// against the config file's folder.
struct KaigowebNetwork {
  std::string name;
  std::filesystem::path credentials_dir;
  std::filesystem::path ca_file;  // tls.ca_file: the service's CA
  std::string host;               // from base_url
  std::uint16_t port = 443;
  std::vector<std::string> offices;  // "offices": empty = every office with credentials
  int certificate_alert_days = 90;
};

// How to reach the daemon's admin listener (its "admin" section).
struct AdminEndpoint {
  std::string host = "127.0.0.1";
  std::uint16_t port = 9443;
  std::filesystem::path ca_file;  // admin.client_certificates.ca_file, if any
};

// The gateway config file (JSON with comments), read for these subcommands only.
class ConfigFile {
 public:
  // Throws CommandError (exit `error_exit`) when unreadable or not JSON.
  static ConfigFile load(const std::string& path, int error_exit = 2);

  std::vector<std::string> kaigoweb_networks() const;  // names, in file order
  bool is_kaigoweb_network(const std::string& name) const;
  // Throws CommandError naming the key when the network or a needed setting is missing.
  KaigowebNetwork network(const std::string& name, int error_exit = 2) const;
  AdminEndpoint admin() const;

 private:
  std::filesystem::path dir_;
  std::string text_;
};

// "https://host:port[/...]" -> host, port; nullopt when not https or malformed.
std::optional<std::pair<std::string, std::uint16_t>> parse_https_url(const std::string& url);

// One request on a fresh client, run to completion on a private io_context.
struct HttpOutcome {
  boost::system::error_code error;  // transport failure (connect, TLS, timeout)
  http::Response response;
  std::string setup_error;  // the TLS context could not be built (a file, a key): no request
};
HttpOutcome https_call(http::ClientOptions options, http::Request request);

// The first errors[].code of a service or admin JSON answer ("" when none).
std::string first_error_code(const std::string& body);

// Reads a small file whole (throws CommandError naming it); `secret`: refused when the file is
// readable by group or others, naming the chmod to run.
std::string read_small_file(const std::filesystem::path& path, bool secret, int error_exit = 2);

}  // namespace kakehashi::adapters::kaigoweb::command
