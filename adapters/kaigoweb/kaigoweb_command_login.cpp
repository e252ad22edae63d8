// `kakehashi kaigoweb login` and `offices`: through the running daemon's admin API
// (gateway/admin/API.md, "Office logins"), as an operator. The one-time password is read from the
// terminal without echo or from a file, sent once and never printed.
#include <termios.h>
#include <unistd.h>

#include <cctype>
#include <iostream>
#include <ostream>
#include <sstream>

#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include "adapters/kaigoweb/credentials.hpp"
#include "adapters/kaigoweb/kaigoweb_command.hpp"
#include "adapters/kaigoweb/kaigoweb_command_support.hpp"

namespace kakehashi::adapters::kaigoweb::command {

namespace fs = std::filesystem;

namespace {

const std::set<std::string> kAdminOptions{"--config",     "--admin",      "--admin-ca",
                                          "--token-file", "--admin-cert", "--admin-key"};

struct AdminAccess {
  http::ClientOptions client;
  std::string token;  // "" with a client certificate
};

AdminAccess admin_access(const CommandArgs& args) {
  std::optional<ConfigFile> config;
  if (const auto file = args.option("--config")) config = ConfigFile::load(*file, kLoginRefused);
  AdminEndpoint endpoint = config ? config->admin() : AdminEndpoint{};
  if (const auto url = args.option("--admin")) {
    const auto host_port = parse_https_url(*url);
    if (!host_port) throw CommandError{kLoginRefused, "--admin must be https://HOST:PORT"};
    endpoint.host = host_port->first;
    endpoint.port = host_port->second;
  } else if (!config) {
    throw CommandError{kLoginRefused, "--config FILE or --admin https://HOST:PORT is required"};
  }
  if (endpoint.port == 0) {
    throw CommandError{kLoginRefused,
                       "admin.listen has port 0: give --admin https://127.0.0.1:PORT (the port "
                       "is in the daemon's admin-listening log line)"};
  }
  if (const auto ca = args.option("--admin-ca")) endpoint.ca_file = *ca;
  if (endpoint.ca_file.empty()) {
    throw CommandError{kLoginRefused,
                       "--admin-ca FILE is required (the CA of the admin listener's certificate)"};
  }
  AdminAccess access;
  access.client.host = endpoint.host;
  access.client.port = endpoint.port;
  access.client.tls.ca_file = endpoint.ca_file.string();
  access.client.tls.allow_tls12 = false;
  access.client.tls.server_name = endpoint.host;
  // The daemon waits up to 15 s for another instance to carry out a login (PROTOCOL.md §7.3).
  access.client.timeout = std::chrono::seconds(30);
  if (const auto token_file = args.option("--token-file")) {
    std::istringstream words(read_small_file(*token_file, true, kLoginRefused));
    words >> access.token;
    if (access.token.empty()) throw CommandError{kLoginRefused, *token_file + ": no token in it"};
  } else if (args.option("--admin-cert") && args.option("--admin-key")) {
    access.client.tls.cert_file = *args.option("--admin-cert");
    access.client.tls.key_file = *args.option("--admin-key");
  } else {
    throw CommandError{kLoginRefused,
                       "--token-file FILE (an operator token) or --admin-cert F --admin-key F "
                       "is required"};
  }
  return access;
}

struct Answer {
  int status = 0;
  rapidjson::Document json;
};

std::string path_segment(const std::string& text) {
  std::string out;
  for (const unsigned char c : text) {
    if (std::isalnum(c) != 0 || c == '-' || c == '_' || c == '.') {
      out += static_cast<char>(c);
    } else {
      static constexpr char kHex[] = "0123456789ABCDEF";
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 0xF];
    }
  }
  return out;
}

// One admin API call; a transport failure ends the command with exit 4.
Answer call(const AdminAccess& access, const std::string& method, const std::string& target,
            const std::string& body) {
  http::Request request;
  request.method = method;
  request.target = target;
  request.headers = {{"accept", "application/json"}, {"x-kakehashi-request", "1"}};
  if (!access.token.empty())
    request.headers.emplace_back("authorization", "Bearer " + access.token);
  if (method == "POST") {
    request.headers.emplace_back("content-type", "application/json");
    request.body = body;
  }
  const auto outcome = https_call(access.client, std::move(request));
  const std::string where =
      "https://" + access.client.host + ":" + std::to_string(access.client.port);
  if (!outcome.setup_error.empty()) {
    throw CommandError{kLoginRefused, "cannot set up TLS: " + outcome.setup_error};
  }
  if (outcome.error) {
    throw CommandError{
        kLoginDaemonUnreachable,
        "the daemon's admin listener " + where + " is not reachable: " + outcome.error.message()};
  }
  Answer a;
  a.status = outcome.response.status;
  a.json.Parse(outcome.response.body.data(), outcome.response.body.size());
  if (a.json.HasParseError() || !a.json.IsObject()) a.json.SetObject();
  if (a.status == 401 || a.status == 403) {
    throw CommandError{kLoginRefused, "the admin listener refused access (HTTP " +
                                          std::to_string(a.status) + "): an operator is needed"};
  }
  if (a.status == 404) {
    const auto it = a.json.FindMember("reason");
    throw CommandError{kLoginRefused, it != a.json.MemberEnd() && it->value.IsString()
                                          ? it->value.GetString()
                                          : "not found"};
  }
  if (a.status >= 400 && a.status != 409) {
    const auto it = a.json.FindMember("reason");
    throw CommandError{kLoginDaemonUnreachable,
                       "the daemon answered HTTP " + std::to_string(a.status) +
                           (it != a.json.MemberEnd() && it->value.IsString()
                                ? std::string(": ") + it->value.GetString()
                                : std::string())};
  }
  return a;
}

std::string field(const rapidjson::Value& v, const char* key) {
  if (!v.IsObject()) return {};
  const auto it = v.FindMember(key);
  return it != v.MemberEnd() && it->value.IsString() ? it->value.GetString() : std::string();
}

// Prints an answer that is not "awaiting a code" and returns its exit code.
int outcome(const Answer& a, const std::string& office, std::ostream& out, std::ostream& err) {
  const std::string state = field(a.json, "state");
  const std::string error = field(a.json, "error");
  const std::string message = field(a.json, "message");
  const std::string said = error.empty() ? message : error + (message.empty() ? "" : " " + message);
  if (state == "active") {
    out << "office " << office << " is logged in; the next login is due by "
        << field(a.json, "refresh_expires_at") << "\n";
    return kLoginActive;
  }
  if (state == "locked") {
    err << "office " << office << " is locked until " << field(a.json, "locked_until")
        << (said.empty() ? "" : " (" + said + ")") << "\n";
    return kLoginLocked;
  }
  if (state == "credentials_invalid" || state == "no_credentials") {
    err << "office " << office << ": " << state << (said.empty() ? "" : " (" + said + ")")
        << ": fix them with `kakehashi kaigoweb credentials add|check`\n";
    return kLoginCredentialsInvalid;
  }
  if (state == "pending") {
    err << "office " << office
        << ": another gateway instance is carrying out the login; see `kakehashi kaigoweb "
           "offices`\n";
    return kLoginDaemonUnreachable;
  }
  if (state == "unknown_office") {
    err << "office " << office << " is not an office of this network\n";
    return kLoginRefused;
  }
  err << "office " << office << ": " << (state.empty() ? "no answer" : state)
      << (said.empty() ? "" : " (" + said + ")") << "\n";
  return kLoginCodeRefused;
}

std::optional<std::string> first_word_of(const fs::path& file) {
  std::istringstream words(read_small_file(file, false, kLoginRefused));
  std::string word;
  if (!(words >> word)) return std::nullopt;
  return word;
}

std::string otp_body(const std::string& otp) {
  rapidjson::StringBuffer buffer;
  rapidjson::Writer<rapidjson::StringBuffer> w(buffer);
  w.StartObject();
  w.Key("otp");
  w.String(otp.c_str(), static_cast<rapidjson::SizeType>(otp.size()));
  w.EndObject();
  return buffer.GetString();
}

// The terminal prompt used when no --otp-file is given.
std::optional<std::string> read_otp_from_terminal(std::ostream& out) {
  out << "one-time password: " << std::flush;
  termios saved{};
  const bool tty = ::isatty(STDIN_FILENO) == 1 && ::tcgetattr(STDIN_FILENO, &saved) == 0;
  if (tty) {
    termios quiet = saved;
    quiet.c_lflag &= ~static_cast<tcflag_t>(ECHO);
    ::tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet);
  }
  std::string line;
  const bool got = static_cast<bool>(std::getline(std::cin, line));
  if (tty) {
    ::tcsetattr(STDIN_FILENO, TCSAFLUSH, &saved);
    out << "\n";
  }
  std::istringstream words(line);
  std::string word;
  if (!got || !(words >> word)) return std::nullopt;
  return word;
}

}  // namespace

int run_login(std::span<const std::string> args_in, std::ostream& out, std::ostream& err,
              const KaigowebCommandOptions& options) {
  auto option_names = kAdminOptions;
  option_names.insert("--otp-file");
  const CommandArgs args(args_in, {}, option_names, kLoginRefused);
  if (args.positionals().size() != 2) {
    throw CommandError{kLoginRefused, "usage: login NETWORK OFFICE_NO [--otp-file F]"};
  }
  const std::string network = args.positionals()[0];
  const std::string office = args.positionals()[1];
  if (!is_office_no(office)) {
    throw CommandError{kLoginRefused, "'" + office + "' is not an office number"};
  }
  const auto access = admin_access(args);
  const std::string base =
      "/api/networks/" + path_segment(network) + "/offices/" + path_segment(office) + "/login";

  auto started = call(access, "POST", base, "{}");
  if (field(started.json, "state") != "awaiting_otp") return outcome(started, office, out, err);
  auto print_challenge = [&](const Answer& a) {
    const auto hint = field(a.json, "otp_destination_hint");
    out << "office " << office << ": a one-time password was sent by "
        << field(a.json, "otp_delivery") << (hint.empty() ? "" : " to " + hint)
        << "; it expires at " << field(a.json, "otp_expires_at") << "\n";
  };
  print_challenge(started);

  const auto otp_file = args.option("--otp-file");
  for (int asked = 0; asked < 5; ++asked) {
    const auto otp = otp_file           ? first_word_of(*otp_file)
                     : options.read_otp ? options.read_otp(out)
                                        : read_otp_from_terminal(out);
    if (!otp) {
      err << "office " << office << ": no one-time password given\n";
      return kLoginCodeRefused;
    }
    auto answer = call(access, "POST", base + "/otp", otp_body(*otp));
    const auto state = field(answer.json, "state");
    if (state != "awaiting_otp") return outcome(answer, office, out, err);
    // A wrong code while the challenge is open: ask again (a file holds the same code: stop).
    err << "office " << office << ": the code was refused (" << field(answer.json, "error") << ")"
        << (otp_file ? "" : "; try again") << "\n";
    if (otp_file) return kLoginCodeRefused;
  }
  return kLoginCodeRefused;
}

int run_offices(std::span<const std::string> args_in, std::ostream& out, std::ostream& err) {
  const CommandArgs args(args_in, {}, kAdminOptions, kLoginRefused);
  if (args.positionals().size() != 1) throw CommandError{kLoginRefused, "usage: offices NETWORK"};
  const std::string network = args.positionals()[0];
  const auto access = admin_access(args);
  const auto a = call(access, "GET", "/api/networks/" + path_segment(network) + "/offices", "");
  const auto it = a.json.FindMember("offices");
  if (it == a.json.MemberEnd() || !it->value.IsArray()) {
    err << "kakehashi kaigoweb offices: the daemon's answer lists no offices\n";
    return kLoginDaemonUnreachable;
  }
  out << "network " << network << ": " << it->value.Size() << " office(s)\n";
  for (const auto& o : it->value.GetArray()) {
    out << field(o, "office_no") << "  " << field(o, "state");
    const auto due = field(o, "refresh_expires_at");
    if (!due.empty()) out << "  login due by " << due;
    const auto locked = field(o, "locked_until");
    if (!locked.empty()) out << "  locked until " << locked;
    const auto cert = field(o, "certificate_not_after");
    if (!cert.empty()) out << "  certificate until " << cert;
    const auto detail = field(o, "detail");
    if (!detail.empty()) out << "  (" << detail << ")";
    out << "\n";
  }
  return kLoginActive;
}

}  // namespace kakehashi::adapters::kaigoweb::command
