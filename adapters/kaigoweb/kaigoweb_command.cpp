#include "adapters/kaigoweb/kaigoweb_command.hpp"

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>

#include <algorithm>
#include <memory>
#include <ostream>

#include "adapters/kaigoweb/credentials.hpp"
#include "adapters/kaigoweb/kaigoweb_command_support.hpp"

namespace kakehashi::adapters::kaigoweb {

namespace fs = std::filesystem;
using Clock = std::chrono::system_clock;
using command::CommandArgs;
using command::CommandError;
using command::ConfigFile;
using command::KaigowebNetwork;

// kaigoweb_command_login.cpp
namespace command {
int run_login(std::span<const std::string> args, std::ostream& out, std::ostream& err,
              const KaigowebCommandOptions& options);
int run_offices(std::span<const std::string> args, std::ostream& out, std::ostream& err);
}  // namespace command

namespace {

constexpr const char* kSummary =
    "Kaigo WEB offices: credentials add|list|check|remove, login, offices";

constexpr const char* kHelp = R"(Usage: kakehashi kaigoweb SUBCOMMAND ... --config FILE

The offices the gateway acts for on a Kaigo WEB network (a network of type "kaigoweb" in the
config; NETWORK may be left out when the config has only one). Nothing here prints a password,
a key or a one-time password.

  credentials add [NETWORK] OFFICE_NO --cert F --key F --user-id U --password-file F
                  [--receive-from TIME]
      Checks the office's certificate and key (RSA-2048, matching, valid now, issued for
      OFFICE_NO by the network's tls.ca_file) and copies them with the user ID and password
      into credentials_dir/OFFICE_NO/ (folder 0700, files 0600), replacing what was there.
      Inbound starts at TIME (RFC 3339; default: now). The key and password files must not be
      readable by group or others.
  credentials list [NETWORK]
      Each office with credentials: certificate expiry and whether the files pass the checks.
  credentials check [NETWORK] [OFFICE_NO] [--no-connect]
      Permissions, key match, chain to tls.ca_file, expiry, and a TLS 1.3 handshake with the
      office's certificate plus one call without a token, whose 401 proves the service accepts
      the certificate (the password is never sent). Exit 1 when any office fails.
  credentials remove [NETWORK] OFFICE_NO
      Deletes the office's credentials folder.

  login NETWORK OFFICE_NO [--otp-file F] [ADMIN OPTIONS]
      Starts the office's login through the daemon's admin API, shows where the one-time
      password went, asks for it (no echo; --otp-file: the first word of F) and submits it.
      Exit 0 active, 1 wrong or expired code, 2 locked, 3 credentials invalid, 4 daemon not
      reachable, 5 refused (unknown network or office, no access, usage).
  offices NETWORK [ADMIN OPTIONS]
      Each office's state and when its login falls due, from the daemon (exit codes as login).

ADMIN OPTIONS (the daemon's admin listener, an operator's access):
  --admin https://HOST:PORT  default: admin.listen of the config
  --admin-ca FILE            CA of the listener's certificate (default:
                             admin.client_certificates.ca_file)
  --token-file FILE          an operator bearer token (admin.tokens_file), mode 0600
  --admin-cert F --admin-key F  or an operator client certificate
)";

// [NETWORK] before the other positionals: the first positional when it names a kaigoweb network
// of the config, else the config's only kaigoweb network.
std::pair<KaigowebNetwork, std::vector<std::string>> network_and_rest(
    const ConfigFile& config, std::vector<std::string> positionals) {
  if (!positionals.empty() && config.is_kaigoweb_network(positionals.front())) {
    auto network = config.network(positionals.front());
    positionals.erase(positionals.begin());
    return {std::move(network), std::move(positionals)};
  }
  const auto names = config.kaigoweb_networks();
  if (names.size() != 1) {
    throw CommandError{2, names.empty() ? "the config has no network of type kaigoweb"
                                        : "the config has several kaigoweb networks: name one"};
  }
  return {config.network(names.front()), std::move(positionals)};
}

ConfigFile config_of(const CommandArgs& args) {
  const auto file = args.option("--config");
  if (!file) throw CommandError{2, "--config FILE is required"};
  return ConfigFile::load(*file);
}

std::string office_arg(const std::string& text) {
  if (!is_office_no(text)) {
    throw CommandError{2, "'" + text + "' is not an office number (10 of [0-9A-Z])"};
  }
  return text;
}

long days_until(Clock::time_point t, Clock::time_point now) {
  return static_cast<long>(std::chrono::floor<std::chrono::hours>(t - now).count() / 24);
}

// The certificate's chain to the network's CA (the rest of cert.pem as intermediates), for a
// client certificate. "" when it verifies, else why not.
std::string chain_problem(const std::string& cert_pem, const fs::path& ca_file) {
  using X509Ptr = std::unique_ptr<X509, decltype(&X509_free)>;
  std::unique_ptr<BIO, decltype(&BIO_free)> bio(
      BIO_new_mem_buf(cert_pem.data(), static_cast<int>(cert_pem.size())), BIO_free);
  X509Ptr leaf(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr), X509_free);
  if (!leaf) return "no certificate";
  std::unique_ptr<STACK_OF(X509), void (*)(STACK_OF(X509)*)> rest(
      sk_X509_new_null(), [](STACK_OF(X509) * s) { sk_X509_pop_free(s, X509_free); });
  while (X509* more = PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr)) {
    sk_X509_push(rest.get(), more);
  }
  ERR_clear_error();
  std::unique_ptr<X509_STORE, decltype(&X509_STORE_free)> store(X509_STORE_new(), X509_STORE_free);
  if (X509_STORE_load_file(store.get(), ca_file.c_str()) != 1) {
    ERR_clear_error();
    return "the CA file " + ca_file.string() + " cannot be read";
  }
  std::unique_ptr<X509_STORE_CTX, decltype(&X509_STORE_CTX_free)> ctx(X509_STORE_CTX_new(),
                                                                      X509_STORE_CTX_free);
  X509_STORE_CTX_init(ctx.get(), store.get(), leaf.get(), rest.get());
  X509_STORE_CTX_set_purpose(ctx.get(), X509_PURPOSE_SSL_CLIENT);
  const bool ok = X509_verify_cert(ctx.get()) == 1;
  const int code = X509_STORE_CTX_get_error(ctx.get());
  ERR_clear_error();
  if (ok) return {};
  return std::string("does not verify against ") + ca_file.string() + ": " +
         X509_verify_cert_error_string(code);
}

int credentials_add(const CommandArgs& args, std::ostream& out, std::ostream& err,
                    const KaigowebCommandOptions& options) {
  const auto config = config_of(args);
  auto [network, rest] = network_and_rest(config, args.positionals());
  if (rest.size() != 1) throw CommandError{2, "credentials add needs OFFICE_NO"};
  const auto office = office_arg(rest.front());
  const auto need = [&](const char* name) {
    auto v = args.option(name);
    if (!v || v->empty()) throw CommandError{2, std::string(name) + " is required"};
    return *v;
  };
  CredentialSources sources{need("--cert"), need("--key"), "--user-id", need("--password-file")};
  OfficeCredentials material;
  material.cert_pem = command::read_small_file(sources.cert, false);
  material.key_pem = command::read_small_file(sources.key, true);
  material.password = command::read_small_file(sources.password, true);
  material.user_id = need("--user-id");
  const auto now = options.now();
  material.receive_from = args.option("--receive-from").value_or(format_utc(now));
  auto checked = check_office_credentials(office, std::move(material), sources, now);
  if (auto* p = std::get_if<CredentialProblem>(&checked)) {
    err << "kakehashi kaigoweb: refused: " << p->message << "\n";
    return 1;
  }
  const auto& c = std::get<OfficeCredentials>(checked);
  if (const auto why = chain_problem(c.cert_pem, network.ca_file); !why.empty()) {
    err << "kakehashi kaigoweb: refused: " << sources.cert.string() << ": the certificate " << why
        << "\n";
    return 1;
  }
  if (auto p = write_office_credentials(network.credentials_dir, c)) {
    err << "kakehashi kaigoweb: " << p->message << "\n";
    return 1;
  }
  out << "office " << office << " on " << network.name << ": credentials stored in "
      << (network.credentials_dir / office).string() << " (certificate valid until "
      << format_utc(c.not_after) << ", " << days_until(c.not_after, now) << " days; inbound from "
      << c.receive_from << ")\n"
      << "the gateway reads them at its next credential reload; then log the office in with "
         "`kakehashi kaigoweb login "
      << network.name << " " << office << "`\n";
  return 0;
}

int credentials_list(const CommandArgs& args, std::ostream& out, const KaigowebCommandOptions& o) {
  const auto config = config_of(args);
  auto [network, rest] = network_and_rest(config, args.positionals());
  if (!rest.empty()) throw CommandError{2, "credentials list takes no office"};
  auto offices = list_credential_offices(network.credentials_dir);
  for (const auto& configured : network.offices) {
    if (std::find(offices.begin(), offices.end(), configured) == offices.end()) {
      offices.push_back(configured);
    }
  }
  std::sort(offices.begin(), offices.end());
  const auto now = o.now();
  out << "network " << network.name << ", " << network.credentials_dir.string() << ": "
      << offices.size() << " office(s)\n";
  for (const auto& office : offices) {
    out << office;
    auto cert = read_office_certificate(network.credentials_dir, office);
    if (const auto* c = std::get_if<OfficeCertificate>(&cert)) {
      out << "  certificate until " << format_utc(c->not_after) << " ("
          << days_until(c->not_after, now) << " days)";
    }
    const auto full = read_office_credentials(network.credentials_dir, office);
    if (const auto* p = std::get_if<CredentialProblem>(&full)) {
      out << "  PROBLEM: " << p->message << "\n";
    } else {
      out << "  ok\n";
    }
  }
  return 0;
}

// The TLS check of one office: handshake with its certificate, one call without a token.
bool check_connection(const KaigowebNetwork& network, const std::string& office,
                      std::ostream& out) {
  http::ClientOptions client;
  client.host = network.host;
  client.port = network.port;
  client.tls.ca_file = network.ca_file.string();
  client.tls.cert_file = (network.credentials_dir / office / "cert.pem").string();
  client.tls.key_file = (network.credentials_dir / office / "key.pem").string();
  client.tls.allow_tls12 = false;
  client.tls.server_name = network.host;
  client.timeout = std::chrono::seconds(15);
  http::Request request;
  request.method = "GET";
  request.target = "/kaigo/careplan/v1/offices?limit=1";
  request.headers = {{"accept", "application/json"}, {"user-agent", "kakehashi"}};
  const auto outcome = command::https_call(std::move(client), std::move(request));
  const std::string where = network.host + ":" + std::to_string(network.port);
  if (!outcome.setup_error.empty()) {
    out << "  connection: cannot set up TLS: " << outcome.setup_error << "\n";
    return false;
  }
  if (outcome.error) {
    out << "  connection: " << where
        << " refused or failed the TLS 1.3 handshake with this certificate: "
        << outcome.error.message() << "\n";
    return false;
  }
  const auto code = command::first_error_code(outcome.response.body);
  if (outcome.response.status == 401) {
    out << "  connection: " << where << " accepted the certificate (401 " << code
        << " without a token, as expected)\n";
    return true;
  }
  out << "  connection: " << where << " answered HTTP " << outcome.response.status
      << (code.empty() ? "" : " " + code) << " (expected 401: the certificate is "
      << (outcome.response.status == 403 ? "refused" : "not proven") << ")\n";
  return false;
}

int credentials_check(const CommandArgs& args, std::ostream& out,
                      const KaigowebCommandOptions& options) {
  const auto config = config_of(args);
  auto [network, rest] = network_and_rest(config, args.positionals());
  if (rest.size() > 1) throw CommandError{2, "credentials check takes at most one office"};
  std::vector<std::string> offices;
  if (rest.empty()) {
    offices = list_credential_offices(network.credentials_dir);
    for (const auto& configured : network.offices) {
      if (std::find(offices.begin(), offices.end(), configured) == offices.end()) {
        offices.push_back(configured);
      }
    }
    std::sort(offices.begin(), offices.end());
    if (offices.empty()) {
      out << "network " << network.name << ": no office has credentials in "
          << network.credentials_dir.string() << "\n";
      return 1;
    }
  } else {
    offices.push_back(office_arg(rest.front()));
  }
  const auto now = options.now();
  bool all_ok = true;
  for (const auto& office : offices) {
    out << office << "\n";
    auto read = read_office_credentials(network.credentials_dir, office);
    if (const auto* p = std::get_if<CredentialProblem>(&read)) {
      out << "  FAILED: " << p->message << "\n";
      all_ok = false;
      continue;
    }
    const auto& c = std::get<OfficeCredentials>(read);
    out << "  files: modes and owner ok; key RSA-2048, matches the certificate\n";
    if (const auto why = chain_problem(c.cert_pem, network.ca_file); !why.empty()) {
      out << "  FAILED: chain: the certificate " << why << "\n";
      all_ok = false;
      continue;
    }
    out << "  chain: issued by the CA of " << network.ca_file.string() << "\n";
    const auto days = days_until(c.not_after, now);
    out << "  expiry: " << format_utc(c.not_after) << " (" << days << " days"
        << (days < network.certificate_alert_days ? ": RENEW SOON, within the alert period" : "")
        << ")\n";
    if (args.flag("--no-connect")) continue;
    if (!check_connection(network, office, out)) {
      out << "  FAILED: connection\n";
      all_ok = false;
    }
  }
  return all_ok ? 0 : 1;
}

int credentials_remove(const CommandArgs& args, std::ostream& out, std::ostream& err) {
  const auto config = config_of(args);
  auto [network, rest] = network_and_rest(config, args.positionals());
  if (rest.size() != 1) throw CommandError{2, "credentials remove needs OFFICE_NO"};
  const auto office = office_arg(rest.front());
  if (!remove_office_credentials(network.credentials_dir, office)) {
    err << "kakehashi kaigoweb: office " << office << " has no credentials in "
        << network.credentials_dir.string() << "\n";
    return 1;
  }
  out << "office " << office << " on " << network.name
      << ": credentials removed; the gateway stops acting for it at its next credential reload\n";
  return 0;
}

int run_credentials(std::span<const std::string> args, std::ostream& out, std::ostream& err,
                    const KaigowebCommandOptions& options) {
  if (args.empty()) throw CommandError{2, "credentials needs add, list, check or remove"};
  const std::string verb = args.front();
  const auto rest = args.subspan(1);
  if (verb == "add") {
    return credentials_add(CommandArgs(rest, {},
                                       {"--config", "--cert", "--key", "--user-id",
                                        "--password-file", "--receive-from"}),
                           out, err, options);
  }
  if (verb == "list") return credentials_list(CommandArgs(rest, {}, {"--config"}), out, options);
  if (verb == "check") {
    return credentials_check(CommandArgs(rest, {"--no-connect"}, {"--config"}), out, options);
  }
  if (verb == "remove") return credentials_remove(CommandArgs(rest, {}, {"--config"}), out, err);
  throw CommandError{2, "unknown credentials subcommand '" + verb + "'"};
}

}  // namespace

KaigowebCommand kaigoweb_command(KaigowebCommandOptions options) {
  if (!options.now) options.now = [] { return Clock::now(); };
  KaigowebCommand c;
  c.summary = kSummary;
  c.help = kHelp;
  c.run = [options](std::span<const std::string> args, std::ostream& out,
                    std::ostream& err) -> int {
    if (args.empty()) {
      err << kHelp;
      return 2;
    }
    const std::string& sub = args.front();
    int usage_exit = sub == "login" || sub == "offices" ? kLoginRefused : 2;
    try {
      if (sub == "credentials") return run_credentials(args.subspan(1), out, err, options);
      if (sub == "login") return command::run_login(args.subspan(1), out, err, options);
      if (sub == "offices") return command::run_offices(args.subspan(1), out, err);
      err << "kakehashi kaigoweb: unknown subcommand '" << sub << "'\n" << kHelp;
      return 2;
    } catch (const CommandError& e) {
      err << "kakehashi kaigoweb " << sub << ": " << e.message << "\n";
      return e.exit_code == 2 ? usage_exit : e.exit_code;
    } catch (const std::exception& e) {
      err << "kakehashi kaigoweb " << sub << ": error: " << e.what() << "\n";
      return usage_exit;
    }
  };
  return c;
}

}  // namespace kakehashi::adapters::kaigoweb
