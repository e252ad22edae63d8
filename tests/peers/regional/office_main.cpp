// kakehashi-regional-office: act as a regional office against the network (README.md). Prints
// the network's JSON answer; exit 0 on 2xx, 1 on an error answer, 2 on usage or transport errors.

#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

#include "gateway/pki/key_file.hpp"
#include "tests/peers/regional/office_client.hpp"

namespace {

using namespace kakehashi::adapters::regional;

int usage() {
  std::cerr << "usage: kakehashi-regional-office --port N [--host H] [--pki DIR]\n"
               "         [--cert F --key F --ca F]  (TLS member identity; default "
               "DIR/tls/regional-standin-client)\n"
               "  send --facility ID --office NO --type TT --to NO:TT --message-id ID\n"
               "       [--sign-cert F --sign-key F] [--subject S] [--body B] FILE...\n"
               "       (signing key default: DIR/offices/regional/NO.{cert,key}.pem)\n"
               "  mailbox [--since N] [--limit N] | fetch ID [--out DIR] | read ID\n"
               "  reject ID --reason TEXT | receipts [--since N] | directory\n";
  return 2;
}

std::string read_file(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  if (!in) throw std::runtime_error("cannot read " + p.string());
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

}  // namespace

int main(int argc, char** argv) {
  office::OfficeClientOptions o;
  std::filesystem::path pki;
  std::string command;
  std::vector<std::string> positional;
  std::string facility, office_no, type, to, message_id, sign_cert, sign_key, subject, body, reason,
      out_dir;
  std::int64_t since = 0, limit = kDefaultPageLimit;
  try {
    for (int i = 1; i < argc; ++i) {
      const std::string a = argv[i];
      auto next = [&]() -> std::string {
        if (i + 1 >= argc) throw std::invalid_argument(a + " needs a value");
        return argv[++i];
      };
      if (a == "--port")
        o.port = static_cast<std::uint16_t>(std::stoi(next()));
      else if (a == "--host")
        o.host = next();
      else if (a == "--pki")
        pki = next();
      else if (a == "--cert")
        o.tls.cert_file = next();
      else if (a == "--key")
        o.tls.key_file = next();
      else if (a == "--ca")
        o.tls.ca_file = next();
      else if (a == "--facility")
        facility = next();
      else if (a == "--office")
        office_no = next();
      else if (a == "--type")
        type = next();
      else if (a == "--to")
        to = next();
      else if (a == "--message-id")
        message_id = next();
      else if (a == "--sign-cert")
        sign_cert = next();
      else if (a == "--sign-key")
        sign_key = next();
      else if (a == "--subject")
        subject = next();
      else if (a == "--body")
        body = next();
      else if (a == "--reason")
        reason = next();
      else if (a == "--out")
        out_dir = next();
      else if (a == "--since")
        since = std::stoll(next());
      else if (a == "--limit")
        limit = std::stoll(next());
      else if (command.empty())
        command = a;
      else
        positional.push_back(a);
    }
    if (command.empty() || o.port == 0) return usage();
    if (!pki.empty()) {
      if (o.tls.cert_file.empty())
        o.tls.cert_file = (pki / "tls/regional-standin-client.cert.pem").string();
      if (o.tls.key_file.empty())
        o.tls.key_file = (pki / "tls/regional-standin-client.key.pem").string();
      if (o.tls.ca_file.empty()) o.tls.ca_file = (pki / "tls/regional-ca.pem").string();
    }
    office::OfficeClient client(o);
    kakehashi::adapters::http::Response r;
    if (command == "send") {
      const auto colon = to.find(':');
      if (facility.empty() || office_no.empty() || type.empty() || message_id.empty() ||
          colon == std::string::npos || positional.empty()) {
        return usage();
      }
      if (sign_cert.empty())
        sign_cert = (pki / "offices/regional" / (office_no + ".cert.pem")).string();
      if (sign_key.empty())
        sign_key = (pki / "offices/regional" / (office_no + ".key.pem")).string();
      const auto signer = kakehashi::gateway::pki::load_credential(sign_cert, sign_key);
      std::vector<office::OfficeFile> files;
      for (const auto& p : positional) {
        files.push_back({std::filesystem::path(p).filename().string(), read_file(p)});
      }
      const RhnSender from{facility, {office_no, type}};
      const kakehashi::mapping::OfficeRef recipient{to.substr(0, colon), to.substr(colon + 1)};
      r = client.send(
          office::build_message(message_id, from, recipient, files, signer, subject, body));
    } else if (command == "mailbox") {
      r = client.mailbox(since, limit);
    } else if (command == "fetch" && positional.size() == 1) {
      r = client.fetch(positional[0]);
      if (!out_dir.empty() && r.status == 200) {
        auto item = decode_mailbox_item(r.body);
        if (!item) throw std::runtime_error("message answer is not the contract's shape");
        std::filesystem::create_directories(out_dir);
        for (const auto& d : item->documents) {
          std::ofstream(std::filesystem::path(out_dir) / d.filename, std::ios::binary) << d.content;
          std::ofstream(std::filesystem::path(out_dir) / (d.filename + ".p7s"), std::ios::binary)
              << d.signature;
        }
      }
    } else if (command == "read" && positional.size() == 1) {
      r = client.read(positional[0]);
    } else if (command == "reject" && positional.size() == 1 && !reason.empty()) {
      r = client.reject(positional[0], reason);
    } else if (command == "receipts") {
      r = client.receipts(since);
    } else if (command == "directory") {
      r = client.directory();
    } else {
      return usage();
    }
    if (r.status == 0) {
      std::cerr << "kakehashi-regional-office: " << r.body << "\n";
      return 2;
    }
    std::cout << r.body << std::endl;
    return r.status >= 200 && r.status < 300 ? 0 : 1;
  } catch (const std::exception& e) {
    std::cerr << "kakehashi-regional-office: " << e.what() << "\n";
    return 2;
  }
}
