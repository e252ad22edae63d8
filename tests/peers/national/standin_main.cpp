// kakehashi-national-standin: the national system stand-in as a process (PROTOCOL.md §12).
//   kakehashi-national-standin --pki DIR --state FILE.sqlite [--port N] [--admin-token T]
//     [--session-ttl S] [--max-file-bytes N] [--offices FILE.json] [--account
//     USER:PASSWORD:office:NO|USER:PASSWORD:proxy]...
// Prints "port=NNNN" once listening; stops on SIGINT/SIGTERM.

#include <cstdlib>
#include <iostream>
#include <string>
#include <vector>

#include "tests/peers/national/national_standin.hpp"

namespace {

int usage() {
  std::cerr
      << "usage: kakehashi-national-standin --pki DIR --state FILE [--port N] "
         "[--admin-token T] [--session-ttl S] [--max-file-bytes N] [--offices FILE] "
         "[--account SPEC]... "
         "[--ca F --cert F --key F --national-domain D --proxied-domain D] [--tls12] [--bench]\n";
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  using kakehashi::standin::StandinOptions;
  std::vector<std::string> args(argv + 1, argv + argc);
  std::string pki, state, offices;
  std::vector<std::string> accounts;
  StandinOptions o;
  std::uint16_t port = 0;
  StandinOptions overrides;
  bool tls12 = false;
  bool bench = false;
  std::string ttl, token;
  for (std::size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (a == "--tls12") {
      tls12 = true;
      continue;
    }
    if (a == "--bench") {  // benchmark mode (tests/bench/relay): no checks on sends
      bench = true;
      continue;
    }
    if (i + 1 >= args.size()) return usage();
    const std::string& v = args[++i];
    if (a == "--pki")
      pki = v;
    else if (a == "--state")
      state = v;
    else if (a == "--port")
      port = static_cast<std::uint16_t>(std::atoi(v.c_str()));
    else if (a == "--admin-token")
      token = v;
    else if (a == "--session-ttl")
      ttl = v;
    else if (a == "--max-file-bytes")
      overrides.max_file_bytes = std::stoull(v);
    else if (a == "--offices")
      offices = v;
    else if (a == "--account")
      accounts.push_back(v);
    else if (a == "--ca")
      overrides.tls.ca_file = v;
    else if (a == "--cert")
      overrides.tls.cert_file = v;
    else if (a == "--key")
      overrides.tls.key_file = v;
    else if (a == "--national-domain")
      overrides.national_domain_dir = v;
    else if (a == "--proxied-domain")
      overrides.proxied_domain_dir = v;
    else
      return usage();
  }
  if (state.empty() || (pki.empty() && overrides.tls.cert_file.empty())) return usage();
  try {
    o = pki.empty() ? StandinOptions{} : kakehashi::standin::options_from_pki(pki, state);
    o.state_file = state;
    if (!overrides.tls.ca_file.empty()) o.tls.ca_file = overrides.tls.ca_file;
    if (!overrides.tls.cert_file.empty()) o.tls.cert_file = overrides.tls.cert_file;
    if (!overrides.tls.key_file.empty()) o.tls.key_file = overrides.tls.key_file;
    if (!overrides.national_domain_dir.empty())
      o.national_domain_dir = overrides.national_domain_dir;
    if (!overrides.proxied_domain_dir.empty()) o.proxied_domain_dir = overrides.proxied_domain_dir;
    o.tls.allow_tls12 = tls12;
    o.bench = bench;
    o.max_file_bytes = overrides.max_file_bytes;
    if (!token.empty()) o.admin_token = token;
    if (!ttl.empty()) o.session_ttl = std::chrono::seconds(std::atoi(ttl.c_str()));
    boost::asio::io_context io;
    kakehashi::standin::NationalStandin standin(io, o);
    for (const auto& spec : accounts) {
      std::vector<std::string> parts;
      std::size_t start = 0;
      for (std::size_t p; (p = spec.find(':', start)) != std::string::npos; start = p + 1) {
        parts.push_back(spec.substr(start, p - start));
      }
      parts.push_back(spec.substr(start));
      if (parts.size() < 3) return usage();
      standin.add_account(parts[0], parts[1], parts[2], parts.size() > 3 ? parts[3] : "");
    }
    if (!offices.empty()) standin.load_offices_file(offices);
    const auto bound = standin.listen(port);
    std::cout << "port=" << bound << std::endl;
    boost::asio::signal_set signals(io, SIGINT, SIGTERM);
    signals.async_wait([&](boost::system::error_code, int) {
      standin.stop();
      io.stop();
    });
    io.run();
  } catch (const std::exception& e) {
    std::cerr << "kakehashi-national-standin: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
