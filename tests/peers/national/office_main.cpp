// kakehashi-national-office: a national office speaking the NCP API (PROTOCOL.md).
//   kakehashi-national-office --pki DIR --port N --user KJ... --password P --office NO COMMAND
//   COMMAND: send DIR [--key K] [--message M]   one unit: every file in DIR, signed by the office
//            inbox [CURSOR] | fetch ID OUTDIR | receipt ID DOWNLOADED|REJECTED [REASON]
//            updates [CURSOR] | withdraw ID
// Prints the server's JSON answer; exit 0 on 2xx, 1 on an error answer, 2 on usage/transport.

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

#include <rapidjson/document.h>

#include "mapping/careplan/inspector.hpp"
#include "tests/peers/national/office_client.hpp"

namespace fs = std::filesystem;
using kakehashi::standin::Answer;

namespace {

int usage() {
  std::cerr << "usage: kakehashi-national-office --pki DIR --port N --user KJ.. --password P "
               "--office NO (send DIR [--key K] [--message M] | inbox [CURSOR] | fetch ID OUTDIR"
               " | receipt ID STATE [REASON] | updates [CURSOR] | withdraw ID)\n";
  return 2;
}

int report(const Answer& a) {
  if (a.ec) {
    std::cerr << "transport error: " << a.ec.message() << "\n";
    return 2;
  }
  if (!a.body.empty() && a.body.front() == '{')
    std::cout << a.body << "\n";
  else
    std::cout << "status " << a.status << "\n";
  return a.ok() ? 0 : 1;
}

std::string read_all(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  std::string pki, user, password, office, port;
  std::vector<std::string> rest;
  for (std::size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    if ((a == "--pki" || a == "--port" || a == "--user" || a == "--password" || a == "--office") &&
        i + 1 < args.size()) {
      const std::string& v = args[++i];
      (a == "--pki"        ? pki
       : a == "--port"     ? port
       : a == "--user"     ? user
       : a == "--password" ? password
                           : office) = v;
    } else {
      rest.push_back(a);
    }
  }
  if (pki.empty() || port.empty() || user.empty() || password.empty() || office.empty() ||
      rest.empty()) {
    return usage();
  }
  try {
    kakehashi::standin::OfficeClient client(kakehashi::standin::office_options_from_pki(
        pki, office, static_cast<std::uint16_t>(std::stoi(port)), user, password));
    const std::string& cmd = rest[0];
    if (cmd == "send" && rest.size() >= 2) {
      std::string key, message;
      for (std::size_t i = 2; i + 1 < rest.size(); i += 2) {
        if (rest[i] == "--key")
          key = rest[i + 1];
        else if (rest[i] == "--message")
          message = rest[i + 1];
        else
          return usage();
      }
      std::vector<kakehashi::standin::PlainFile> files;
      for (const auto& e : fs::directory_iterator(rest[1])) {
        if (e.is_regular_file())
          files.push_back({e.path().filename().string(), read_all(e.path())});
      }
      std::sort(files.begin(), files.end(),
                [](const auto& x, const auto& y) { return x.name < y.name; });
      std::vector<kakehashi::mapping::InputFile> inputs;
      for (const auto& f : files) inputs.push_back({f.name, f.bytes, f.bytes.size()});
      const auto report_ = kakehashi::mapping::inspect(inputs);
      if (report_.units.size() != 1 || !report_.units[0].key ||
          report_.units[0].combination == nullptr) {
        std::cerr << "the directory must hold exactly one send unit\n";
        return 2;
      }
      const auto& unit = report_.units[0];
      if (key.empty())
        key = unit.key->from.office_no + "-" + unit.key->to.office_no + "-" + unit.key->sequence;
      return report(
          client.send(unit.key->from, unit.key->to, unit.combination->id, message, files, key));
    }
    if (cmd == "inbox") return report(client.inbox(rest.size() > 1 ? rest[1] : ""));
    if (cmd == "updates") return report(client.updates(rest.size() > 1 ? rest[1] : ""));
    if (cmd == "withdraw" && rest.size() == 2) return report(client.withdraw(rest[1]));
    if (cmd == "receipt" && rest.size() >= 3) {
      return report(client.receipt(rest[1], rest[2], rest.size() > 3 ? rest[3] : ""));
    }
    if (cmd == "fetch" && rest.size() == 3) {
      const Answer show = client.call("GET", "/ncp/v1/transmissions/" + rest[1], "");
      if (!show.ok()) return report(show);
      rapidjson::Document d;
      d.Parse(show.body.data(), show.body.size());
      if (d.HasParseError() || !d.IsObject() || !d.HasMember("files") || !d["files"].IsArray()) {
        std::cerr << "malformed answer\n";
        return 2;
      }
      fs::create_directories(rest[2]);
      for (const auto& f : d["files"].GetArray()) {
        if (!f.HasMember("name") || !f["name"].IsString()) continue;
        const fs::path name = fs::path(f["name"].GetString()).filename();
        std::string content, signed_data;
        const Answer a = client.fetch(rest[1], name.string(), content, signed_data);
        if (!a.ok() || a.status == 0) return report(a);
        std::ofstream(fs::path(rest[2]) / name, std::ios::binary) << content;
        std::ofstream(fs::path(rest[2]) / (name.string() + ".p7m"), std::ios::binary)
            << signed_data;
        std::cout << "fetched " << name.string() << "\n";
      }
      return 0;
    }
    return usage();
  } catch (const std::exception& e) {
    std::cerr << "kakehashi-national-office: " << e.what() << "\n";
    return 2;
  }
}
