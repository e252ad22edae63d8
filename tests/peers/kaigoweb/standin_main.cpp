// kakehashi-kaigoweb-standin: the Kaigo WEB Service stand-in as a process (PROTOCOL.md §9).
// Prints "port=NNNN" once listening; stops on SIGINT/SIGTERM. See README.md for the flags.

#include <cstdlib>
#include <iostream>
#include <string>
#include <vector>

#include "tests/peers/kaigoweb/kaigoweb_standin.hpp"

namespace {

namespace kw = kakehashi::standin::kaigoweb;

int usage() {
  std::cerr
      << "usage: kakehashi-kaigoweb-standin --pki DIR --state FILE.sqlite [--port N]\n"
         "  [--admin-token T] [--access-ttl S] [--refresh-ttl S] [--otp-ttl S]\n"
         "  [--lockout-after N] [--lockout-seconds S] [--rate-per-office N] [--rate-burst N]\n"
         "  [--auth-rate-per-minute N] [--max-connections-per-office N]\n"
         "  [--max-body-bytes N] [--delivery-delay-ms N] [--otp-dir DIR]\n"
         "  [--account OFFICE_NO:USER_ID:PASSWORD[:email|sms]]... [--accounts FILE]\n"
         "  [--offices FILE.json] [--refuse-tls] [--bench]\n";
  return 2;
}

bool number(const std::string& text, std::int64_t& out) {
  if (text.empty() || text.size() > 18 || text.find_first_not_of("0123456789") != std::string::npos)
    return false;
  out = std::stoll(text);
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  const std::vector<std::string> args(argv + 1, argv + argc);
  std::string pki, state, otp_dir, token, offices;
  std::vector<std::string> accounts, account_files;
  std::int64_t port = 0;
  bool refuse_tls = false;
  kw::Settings settings;
  std::int64_t max_connections = 8;
  std::int64_t max_body = 32LL * 1024 * 1024;
  const std::pair<const char*, std::int64_t*> numbers[] = {
      {"--port", &port},
      {"--access-ttl", &settings.access_ttl},
      {"--refresh-ttl", &settings.refresh_ttl},
      {"--otp-ttl", &settings.otp_ttl},
      {"--lockout-after", &settings.lockout_after},
      {"--lockout-seconds", &settings.lockout_seconds},
      {"--rate-per-office", &settings.rate_per_office},
      {"--rate-burst", &settings.rate_burst},
      {"--auth-rate-per-minute", &settings.auth_rate_per_minute},
      {"--max-connections-per-office", &max_connections},
      {"--max-body-bytes", &max_body},
      {"--delivery-delay-ms", &settings.delivery_delay_ms}};
  for (std::size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (a == "--refuse-tls") {
      refuse_tls = true;
      continue;
    }
    if (a == "--bench") {  // benchmark mode: sends checked for their envelope only
      settings.bench = true;
      continue;
    }
    if (i + 1 >= args.size()) return usage();
    const std::string& v = args[++i];
    bool matched = false;
    for (const auto& [flag, target] : numbers) {
      if (a == flag) {
        if (!number(v, *target)) return usage();
        matched = true;
      }
    }
    if (matched) continue;
    if (a == "--pki")
      pki = v;
    else if (a == "--state")
      state = v;
    else if (a == "--admin-token")
      token = v;
    else if (a == "--otp-dir")
      otp_dir = v;
    else if (a == "--account")
      accounts.push_back(v);
    else if (a == "--accounts")
      account_files.push_back(v);
    else if (a == "--offices")
      offices = v;
    else
      return usage();
  }
  if (pki.empty() || state.empty() || port > 65535) return usage();
  try {
    kw::StandinOptions o = kw::options_from_pki(pki, state);
    o.otp_dir = otp_dir;
    if (!token.empty()) o.admin_token = token;
    o.settings = settings;
    o.max_connections_per_office = static_cast<std::size_t>(max_connections);
    o.max_body_bytes = static_cast<std::size_t>(max_body);
    boost::asio::io_context io;
    kw::KaigoWebStandin standin(io, o);
    for (const auto& spec : accounts) {
      const auto a = kw::parse_account(spec);
      if (!a) {
        std::cerr << "kakehashi-kaigoweb-standin: --account wants "
                     "OFFICE_NO:USER_ID:PASSWORD[:email|sms] (password 8-128 characters)\n";
        return 2;
      }
      standin.add_account(*a);
    }
    for (const auto& f : account_files) standin.load_accounts_file(f);
    if (!offices.empty()) standin.load_offices_file(offices);
    standin.server_faults().refuse_tls.store(refuse_tls);
    const auto bound = standin.listen(static_cast<std::uint16_t>(port));
    std::cout << "port=" << bound << std::endl;
    boost::asio::signal_set signals(io, SIGINT, SIGTERM);
    signals.async_wait([&](boost::system::error_code, int) {
      standin.stop();
      io.stop();
    });
    io.run();
  } catch (const std::exception& e) {
    std::cerr << "kakehashi-kaigoweb-standin: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
