// kakehashi-regional-standin: the regional network stand-in as a process (README.md).

#include <csignal>
#include <cstdlib>
#include <iostream>
#include <string>

#include "tests/peers/regional/regional_standin.hpp"

namespace {

int usage() {
  std::cerr << "usage: kakehashi-regional-standin --state FILE.sqlite [--pki DIR]\n"
               "  [--port N] [--address A] [--seed-directory FILE.json]\n"
               "  [--cert F --key F --ca F] [--push-cert F --push-key F --push-ca F]\n"
               "  [--regional-domain DIR] [--proxied-domain DIR] [--allow-tls12]\n"
               "  [--max-message-bytes N] [--refuse-tls] [--delay-ms N] [--bench]\n";
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  using kakehashi::adapters::regional::standin::RegionalStandin;
  using kakehashi::adapters::regional::standin::StandinOptions;
  StandinOptions o;
  bool refuse_tls = false;
  int delay_ms = 0;
  try {
    for (int i = 1; i < argc; ++i) {
      const std::string a = argv[i];
      auto next = [&]() -> std::string {
        if (i + 1 >= argc) throw std::invalid_argument(a + " needs a value");
        return argv[++i];
      };
      if (a == "--state")
        o.state_file = next();
      else if (a == "--pki")
        o.pki_dir = next();
      else if (a == "--port")
        o.port = static_cast<std::uint16_t>(std::stoi(next()));
      else if (a == "--address")
        o.address = next();
      else if (a == "--seed-directory")
        o.seed_directory = next();
      else if (a == "--cert")
        o.tls.cert_file = next();
      else if (a == "--key")
        o.tls.key_file = next();
      else if (a == "--ca")
        o.tls.ca_file = next();
      else if (a == "--push-cert")
        o.push_tls.cert_file = next();
      else if (a == "--push-key")
        o.push_tls.key_file = next();
      else if (a == "--push-ca")
        o.push_tls.ca_file = next();
      else if (a == "--regional-domain")
        o.regional_domain = next();
      else if (a == "--proxied-domain")
        o.proxied_domain = next();
      else if (a == "--allow-tls12")
        o.tls.allow_tls12 = true;
      else if (a == "--max-message-bytes")
        o.max_message_bytes = std::stoull(next());
      else if (a == "--bench")  // benchmark mode: no signature checks (tests/bench/relay)
        o.bench = true;
      else if (a == "--refuse-tls")
        refuse_tls = true;
      else if (a == "--delay-ms")
        delay_ms = std::stoi(next());
      else
        return usage();
    }
    if (o.state_file.empty()) return usage();
  } catch (const std::exception& e) {
    std::cerr << "kakehashi-regional-standin: " << e.what() << "\n";
    return usage();
  }
  // Block the stop signals before any thread starts so that only sigwait sees them.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  try {
    RegionalStandin standin(o);
    standin.server_faults().refuse_tls = refuse_tls;
    standin.server_faults().delay_ms = delay_ms;
    const auto port = standin.start();
    std::cout << "port=" << port << std::endl;
    int sig = 0;
    sigwait(&signals, &sig);
    standin.stop();
  } catch (const std::exception& e) {
    std::cerr << "kakehashi-regional-standin: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
