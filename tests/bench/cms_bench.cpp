// CMS benchmark: verify, sign, encrypt and decrypt operations per second for RSA-2048 and P-256
// gateway keys on one thread, next to `openssl speed` measured in the same run (the machine's
// raw private/public key bound); then the relay's per-file CMS work as the gateway does it
// (admission of each network's form, translation to the national form). Prints two tables and
// one JSON object.
//
// Usage: kakehashi_cms_bench [--seconds N] [--content-bytes N]

#include <sys/wait.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <iomanip>
#include <iostream>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

#include "gateway/pki/key_file.hpp"
#include "gateway/pki/trust_domain_loader.hpp"
#include "mapping/cms/content_converter.hpp"
#include "mapping/cms/envelope.hpp"
#include "mapping/cms/signer.hpp"
#include "mapping/cms/verify.hpp"

namespace cms = kakehashi::mapping::cms;
namespace fs = std::filesystem;

namespace {

std::string run(const std::string& cmd, int& exit_code) {
  std::string out;
  FILE* pipe = popen((cmd + " 2>&1").c_str(), "r");
  if (pipe == nullptr) {
    exit_code = -1;
    return out;
  }
  char buf[4096];
  std::size_t n = 0;
  while ((n = std::fread(buf, 1, sizeof buf, pipe)) > 0) out.append(buf, n);
  const int status = pclose(pipe);
  exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return out;
}

// Runs `op` repeatedly for about `seconds`; returns operations per second. Aborts on failure so
// a broken operation never reports a speed.
double measure(const std::string& what, double seconds, const std::function<bool()>& op) {
  using Clock = std::chrono::steady_clock;
  if (!op()) {
    std::cerr << "benchmark operation failed: " << what << "\n";
    std::exit(1);
  }
  std::size_t count = 0;
  const auto start = Clock::now();
  const auto end = start + std::chrono::duration<double>(seconds);
  auto now = start;
  while (now < end) {
    for (int i = 0; i < 8; ++i) {
      if (!op()) {
        std::cerr << "benchmark operation failed: " << what << "\n";
        std::exit(1);
      }
    }
    count += 8;
    now = Clock::now();
  }
  return static_cast<double>(count) / std::chrono::duration<double>(now - start).count();
}

struct SpeedLine {
  double sign = 0;
  double verify = 0;
};

// The last two numbers (sign/s, verify/s) of the `openssl speed` line matching `pattern`.
SpeedLine parse_speed(const std::string& output, const std::regex& pattern) {
  std::istringstream in(output);
  std::string line;
  SpeedLine out;
  while (std::getline(in, line)) {
    if (!std::regex_search(line, pattern)) continue;
    std::istringstream words(line);
    std::vector<std::string> tokens;
    for (std::string w; words >> w;) tokens.push_back(w);
    if (tokens.size() >= 2) {
      out.sign = std::atof(tokens[tokens.size() - 2].c_str());
      out.verify = std::atof(tokens[tokens.size() - 1].c_str());
    }
  }
  return out;
}

// The relay's per-file CMS work for one office key type, as the gateway does it: office
// signatures embed the office certificate and its CA (the same for every unit of an office).
struct RelayRow {
  std::string key;
  double admit_detached = 0;  // regional form: verify the detached signature with its chain
  double admit_attached = 0;  // national form: detach, then verify
  double to_national = 0;     // attach the content and add the proxy co-signature (one pass)
  double to_regional = 0;     // detach the national form (no co-signature)
};

struct Row {
  std::string key;
  double sign = 0, verify = 0, encrypt = 0, decrypt = 0;
  SpeedLine openssl;
};

}  // namespace

int main(int argc, char** argv) {
  double seconds = 2.0;
  std::size_t content_bytes = 4096;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string a = argv[i];
    if (a == "--seconds") {
      seconds = std::atof(argv[i + 1]);
    } else if (a == "--content-bytes") {
      content_bytes = static_cast<std::size_t>(std::atol(argv[i + 1]));
    } else {
      std::cerr << "usage: kakehashi_cms_bench [--seconds N] [--content-bytes N]\n";
      return 2;
    }
  }
  std::string tmpl = (fs::temp_directory_path() / "kakehashi-bench-XXXXXX").string();
  if (mkdtemp(tmpl.data()) == nullptr) return 2;
  const fs::path root = tmpl;
  int rc = 0;
  const std::string pki_out =
      run(std::string("'") + KAKEHASHI_PKI_SCRIPT + "' '" + (root / "pki").string() + "'", rc);
  if (rc != 0) {
    std::cerr << "deploy/pki.sh failed:\n" << pki_out;
    return 2;
  }
  const fs::path pki = root / "pki";
  const auto national = kakehashi::gateway::pki::load_trust_domain(pki / "national");
  const auto regional = kakehashi::gateway::pki::load_trust_domain(pki / "regional");
  cms::Bytes content(content_bytes);
  for (std::size_t i = 0; i < content.size(); ++i) content[i] = static_cast<std::uint8_t>(i * 31);

  std::vector<Row> rows;
  for (const std::string alg : {"rsa", "ec"}) {
    const auto cred = kakehashi::gateway::pki::load_credential(
        pki / ("gateway/proxy-" + alg + ".cert.pem"), pki / ("gateway/proxy-" + alg + ".key.pem"));
    std::vector<cms::X509Ptr> recipients;
    recipients.push_back(cms::share(cred.certificate.get()));
    Row row;
    row.key = alg == "rsa" ? "RSA-2048" : "ECDSA P-256";
    const auto signature = cms::sign(content, cred, {}).value();
    const auto envelope = cms::encrypt(content, recipients).value();
    row.sign =
        measure(row.key + " sign", seconds, [&] { return cms::sign(content, cred, {}).ok(); });
    row.verify = measure(row.key + " verify", seconds, [&] {
      return cms::verify_signed_data(signature, cms::ByteView(content), national).valid();
    });
    row.encrypt = measure(row.key + " encrypt", seconds,
                          [&] { return cms::encrypt(content, recipients).ok(); });
    row.decrypt =
        measure(row.key + " decrypt", seconds, [&] { return cms::decrypt(envelope, cred).ok(); });
    rows.push_back(row);
  }

  std::vector<RelayRow> relay_rows;
  for (const std::string alg : {"rsa", "ec"}) {
    const std::string suffix = alg == "rsa" ? "" : "-ec";
    const auto office = [&](const std::string& network, const std::string& number,
                            const std::string& ca) {
      auto c = kakehashi::gateway::pki::load_credential(
          pki / ("offices/" + network + "/" + number + suffix + ".cert.pem"),
          pki / ("offices/" + network + "/" + number + suffix + ".key.pem"));
      if (c.chain.empty()) c.chain.push_back(kakehashi::gateway::pki::load_certificate(pki / ca));
      return c;
    };
    const auto regional_office = office("regional", "3271500013", "ca/regional-ca/cert.pem");
    const auto national_office = office("national", "1370100016", "ca/national-ca/cert.pem");
    const auto proxy = kakehashi::gateway::pki::load_credential(
        pki / ("gateway/proxy-" + alg + ".cert.pem"), pki / ("gateway/proxy-" + alg + ".key.pem"));
    const auto detached = cms::sign(content, regional_office, {}).value();
    const auto attached = cms::sign(content, national_office, cms::SignOptions{false}).value();
    RelayRow row;
    row.key = alg == "rsa" ? "RSA-2048" : "ECDSA P-256";
    row.admit_detached = measure(row.key + " admit detached", seconds, [&] {
      return cms::verify_signed_data(detached, cms::ByteView(content), regional).valid();
    });
    row.admit_attached = measure(row.key + " admit attached", seconds, [&] {
      auto d = cms::detach_content(attached);
      return d.ok() && cms::verify_signed_data(d.value().signature,
                                               cms::ByteView(d.value().content), national)
                           .valid();
    });
    row.to_national = measure(row.key + " to national", seconds, [&] {
      return cms::attach_and_cosign(detached, content, proxy).ok();
    });
    row.to_regional = measure(row.key + " to regional", seconds,
                              [&] { return cms::detach_content(attached).ok(); });
    relay_rows.push_back(row);
  }

  const std::string speed = run("openssl speed -seconds 2 rsa2048 ecdsap256", rc);
  if (rc != 0) {
    std::cerr << "openssl speed failed:\n" << speed;
    return 2;
  }
  rows[0].openssl = parse_speed(speed, std::regex("^rsa\\s+2048 bits"));
  rows[1].openssl = parse_speed(speed, std::regex("ecdsa \\(nistp256\\)"));
  fs::remove_all(root);

  std::cout << "CMS operations per second, one thread, " << content_bytes
            << "-byte content (verify = full check: signature, digest, chain, CRL)\n\n";
  std::cout << std::left << std::setw(13) << "key" << std::right << std::setw(10) << "sign"
            << std::setw(10) << "verify" << std::setw(10) << "encrypt" << std::setw(10) << "decrypt"
            << std::setw(16) << "openssl sign" << std::setw(16) << "openssl verify"
            << "\n";
  std::cout << std::fixed << std::setprecision(0);
  for (const auto& r : rows) {
    std::cout << std::left << std::setw(13) << r.key << std::right << std::setw(10) << r.sign
              << std::setw(10) << r.verify << std::setw(10) << r.encrypt << std::setw(10)
              << r.decrypt << std::setw(16) << r.openssl.sign << std::setw(16) << r.openssl.verify
              << "\n";
  }
  std::cout << "\nRelay CMS work per file, per second (office key; co-signed by the proxy key of "
               "the same type)\n\n";
  std::cout << std::left << std::setw(13) << "key" << std::right << std::setw(16)
            << "admit detached" << std::setw(16) << "admit attached" << std::setw(14)
            << "to national" << std::setw(14) << "to regional"
            << "\n";
  for (const auto& r : relay_rows) {
    std::cout << std::left << std::setw(13) << r.key << std::right << std::setw(16)
              << r.admit_detached << std::setw(16) << r.admit_attached << std::setw(14)
              << r.to_national << std::setw(14) << r.to_regional << "\n";
  }
  std::cout << "\n{\"content_bytes\":" << content_bytes << ",\"results\":[";
  for (std::size_t i = 0; i < rows.size(); ++i) {
    const auto& r = rows[i];
    std::cout << (i ? "," : "") << "{\"key\":\"" << r.key << "\",\"sign_per_s\":" << r.sign
              << ",\"verify_per_s\":" << r.verify << ",\"encrypt_per_s\":" << r.encrypt
              << ",\"decrypt_per_s\":" << r.decrypt
              << ",\"openssl_speed_sign_per_s\":" << r.openssl.sign
              << ",\"openssl_speed_verify_per_s\":" << r.openssl.verify << "}";
  }
  std::cout << "],\"relay\":[";
  for (std::size_t i = 0; i < relay_rows.size(); ++i) {
    const auto& r = relay_rows[i];
    std::cout << (i ? "," : "") << "{\"key\":\"" << r.key
              << "\",\"admit_detached_per_s\":" << r.admit_detached
              << ",\"admit_attached_per_s\":" << r.admit_attached
              << ",\"to_national_per_s\":" << r.to_national
              << ",\"to_regional_per_s\":" << r.to_regional << "}";
  }
  std::cout << "]}\n";
  return 0;
}
