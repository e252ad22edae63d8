// kakehashi-kaigoweb-office: a national office as a client of the Kaigo WEB stand-in (the
// quickstart's other side). Each run logs in first, reading the one-time password from the
// stand-in's OTP file, then does one thing:
//   kakehashi-kaigoweb-office --pki DIR --port N --office NO --otp-dir DIR COMMAND ...
//     send UNIT_DIR [--reference R]   a 4.1 unit (the files in UNIT_DIR), translated with to_v5
//     sent [CURSOR]                    the office's sent feed
//     received [CURSOR]                the office's received list
//     fetch ITEM_ID [OUT.json]         one received item (the 5.0 document to OUT.json)
//     ack ITEM_ID downloaded|rejected [REASON]
//     batch                            the commands above, one per line on stdin, on one session
// Prints the stand-in's answer (never a token or the OTP); exits 0 when it is "OK". A login
// costs an OTP round and ends the user's earlier session (PROTOCOL.md §3.2): scripts that do
// many things as one office use `batch` (one answer line per command line, in order; a command
// that fails prints its error on stderr and `{"result":"NG"}` as its line; the exit status is 1
// when any failed).

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

#include <rapidjson/document.h>

#include "mapping/careplan/inspector.hpp"
#include "mapping/standard5/translate.hpp"
#include "tests/peers/kaigoweb/office_client.hpp"
#include "tests/peers/kaigoweb/send_checks.hpp"
#include "tests/peers/kaigoweb/wire.hpp"

namespace {

namespace fs = std::filesystem;
namespace kw = kakehashi::standin::kaigoweb;
namespace s5 = kakehashi::mapping::standard5;

int usage() {
  std::cerr << "usage: kakehashi-kaigoweb-office --pki DIR --port N --office NO --otp-dir DIR\n"
               "         [--admin-token T] [--maintenance-wait SECONDS] COMMAND ...\n"
               "  send UNIT_DIR [--reference R] | sent [CURSOR] | received [CURSOR]\n"
               "  | fetch ITEM_ID [OUT.json] | ack ITEM_ID downloaded|rejected [REASON]\n"
               "  | batch   (those commands, one per line on stdin)\n"
               "  503s with Retry-After (maintenance) are waited out for up to\n"
               "  --maintenance-wait seconds (default 120; 0: the 503 is the answer)\n";
  return 2;
}

bool g_printed = false;  // report() wrote an answer line for the current command

int report(const kw::Answer& a) {
  g_printed = true;
  if (a.ec) {
    std::cout << "{\"result\":\"NG\"}\n";
    std::cerr << "kakehashi-kaigoweb-office: " << a.ec.message() << "\n";
    return 1;
  }
  std::cout << a.body << "\n";
  return a.ok() ? 0 : 1;
}

std::string read_file(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

int send(kw::OfficeClient& client, const std::string& dir, std::string reference) {
  std::vector<std::string> names, bytes;
  for (const auto& e : fs::directory_iterator(dir)) {
    if (!e.is_regular_file()) continue;
    names.push_back(e.path().filename().string());
    bytes.push_back(read_file(e.path()));
  }
  std::vector<s5::UnitFile> files;
  std::vector<kakehashi::mapping::InputFile> inputs;
  for (std::size_t i = 0; i < names.size(); ++i) {
    files.push_back({names[i], bytes[i]});
    inputs.push_back({names[i], bytes[i], bytes[i].size()});
  }
  const auto v5 = s5::to_v5(files);
  if (!v5.ok()) {
    for (const auto& f : v5.findings) std::cerr << s5::describe(f) << "\n";
    return 1;
  }
  const auto report_41 = kakehashi::mapping::inspect(inputs);
  if (report_41.units.size() != 1 || report_41.units.front().combination == nullptr) {
    std::cerr << "kakehashi-kaigoweb-office: " << dir << " is not one send unit\n";
    return 1;
  }
  if (reference.empty()) reference = "office-" + kw::random_hex(8);
  const auto& d = v5.document;
  return report(client.send(
      kw::send_body(reference, d.recipient.office_no, d.recipient.service_type,
                    report_41.units.front().combination->id, kw::target_month_of(d.json), d.json)));
}

constexpr int kUsage = -1;

// One command on the logged-in client: its exit status, or kUsage.
int run(kw::OfficeClient& client, const std::vector<std::string>& cmd) {
  const std::string& what = cmd[0];
  if (what == "send" && (cmd.size() == 2 || (cmd.size() == 4 && cmd[2] == "--reference")))
    return send(client, cmd[1], cmd.size() == 4 ? cmd[3] : "");
  if (what == "sent" && cmd.size() <= 2) return report(client.sent(cmd.size() == 2 ? cmd[1] : ""));
  if (what == "received" && cmd.size() <= 2)
    return report(client.received(cmd.size() == 2 ? cmd[1] : ""));
  if (what == "fetch" && (cmd.size() == 2 || cmd.size() == 3)) {
    const kw::Answer a = client.fetch(cmd[1]);
    if (cmd.size() == 3 && a.ok()) {
      rapidjson::Document d;
      d.Parse(a.body.data(), a.body.size());
      rapidjson::StringBuffer b;
      kw::JsonWriter w(b);
      d["data"]["document"].Accept(w);
      std::ofstream(cmd[2], std::ios::binary) << b.GetString();
    }
    return report(a);
  }
  if (what == "ack" && (cmd.size() == 3 || cmd.size() == 4))
    return report(client.ack(cmd[1], cmd[2], cmd.size() == 4 ? cmd[3] : ""));
  return kUsage;
}

// `batch`: every line of stdin is a command; one answer line each, in order.
int batch(kw::OfficeClient& client) {
  int failed = 0;
  std::string line;
  while (std::getline(std::cin, line)) {
    std::istringstream words(line);
    std::vector<std::string> cmd;
    for (std::string w; words >> w;) cmd.push_back(w);
    if (cmd.empty()) continue;
    int rc = 1;
    g_printed = false;
    try {
      rc = run(client, cmd);
    } catch (const std::exception& e) {
      std::cerr << "kakehashi-kaigoweb-office: " << cmd[0] << ": " << e.what() << "\n";
    }
    if (rc == kUsage) {
      std::cerr << "kakehashi-kaigoweb-office: batch: not a command: " << cmd[0] << "\n";
    }
    if (rc != 0) {
      ++failed;
      // One line per command, also when it failed before an answer (findings, usage).
      if (!g_printed) std::cout << "{\"result\":\"NG\"}\n";
    }
    std::cout << std::flush;
  }
  return failed == 0 ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  std::string pki, office, otp_dir, token;
  int port = 0;
  int maintenance_wait = 120;
  std::size_t i = 0;
  for (; i + 1 < args.size() && args[i].rfind("--", 0) == 0; i += 2) {
    const std::string& a = args[i];
    const std::string& v = args[i + 1];
    if (a == "--pki")
      pki = v;
    else if (a == "--port")
      port = std::atoi(v.c_str());
    else if (a == "--office")
      office = v;
    else if (a == "--otp-dir")
      otp_dir = v;
    else if (a == "--admin-token")
      token = v;
    else if (a == "--maintenance-wait")
      maintenance_wait = std::max(0, std::atoi(v.c_str()));
    else
      return usage();
  }
  if (pki.empty() || office.empty() || otp_dir.empty() || port <= 0 || port > 65535 ||
      i >= args.size()) {
    return usage();
  }
  const std::vector<std::string> cmd(args.begin() + static_cast<std::ptrdiff_t>(i), args.end());
  try {
    auto options =
        kw::office_options_from_pki(pki, office, static_cast<std::uint16_t>(port), otp_dir);
    if (!token.empty()) options.admin_token = token;
    options.maintenance_patience = std::chrono::seconds(maintenance_wait);
    if (options.user_id.empty()) {
      std::cerr << "kakehashi-kaigoweb-office: no account for " << office << " in " << pki
                << "/kaigoweb/accounts\n";
      return 1;
    }
    kw::OfficeClient client(options);
    const kw::Answer login = client.login();
    if (!login.ok()) {
      std::cerr << "kakehashi-kaigoweb-office: login failed: "
                << (login.ec ? login.ec.message() : login.code) << "\n";
      return 1;
    }
    if (cmd[0] == "batch" && cmd.size() == 1) return batch(client);
    const int rc = run(client, cmd);
    return rc == kUsage ? usage() : rc;
  } catch (const std::exception& e) {
    std::cerr << "kakehashi-kaigoweb-office: " << e.what() << "\n";
    return 1;
  }
}
