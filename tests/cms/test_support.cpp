#include "tests/cms/test_support.hpp"

#include <sys/wait.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <stdexcept>

#include "gateway/pki/key_file.hpp"
#include "gateway/pki/trust_domain_loader.hpp"

namespace kakehashi::test {

namespace {

struct PkiHolder {
  std::filesystem::path root;
  std::filesystem::path pki;
  PkiHolder() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "kakehashi-cms-XXXXXX").string();
    if (mkdtemp(tmpl.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
    root = tmpl;
    pki = root / "pki";
    const auto r = run(quote(KAKEHASHI_PKI_SCRIPT) + " " + quote(pki.string()));
    if (r.exit_code != 0) throw std::runtime_error("deploy/pki.sh failed: " + r.output);
  }
  ~PkiHolder() {
    std::error_code ec;
    std::filesystem::remove_all(root, ec);
  }
  PkiHolder(const PkiHolder&) = delete;
  PkiHolder& operator=(const PkiHolder&) = delete;
};

PkiHolder& holder() {
  static PkiHolder h;
  return h;
}

}  // namespace

const std::filesystem::path& pki_dir() {
  return holder().pki;
}

std::filesystem::path scratch_dir(const std::string& name) {
  const auto dir = holder().root / name;
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  return dir;
}

mapping::cms::Credential credential(const std::string& prefix) {
  return gateway::pki::load_credential(pki_dir() / (prefix + ".cert.pem"),
                                       pki_dir() / (prefix + ".key.pem"));
}

mapping::cms::X509Ptr certificate(const std::string& prefix) {
  return gateway::pki::load_certificate(pki_dir() / (prefix + ".cert.pem"));
}

mapping::cms::TrustDomain domain(const std::string& name) {
  return gateway::pki::load_trust_domain(pki_dir() / name);
}

mapping::cms::Bytes to_bytes(const std::string& s) {
  return mapping::cms::Bytes(s.begin(), s.end());
}

void write_file(const std::filesystem::path& path, mapping::cms::ByteView bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(bytes.data()),
            static_cast<std::streamsize>(bytes.size()));
  if (!out) throw std::runtime_error("cannot write " + path.string());
}

mapping::cms::Bytes read_bytes(const std::filesystem::path& path) {
  return gateway::pki::read_file(path);
}

std::string quote(const std::string& arg) {
  std::string out = "'";
  for (char c : arg) {
    if (c == '\'') {
      out += "'\\''";
    } else {
      out += c;
    }
  }
  return out + "'";
}

RunResult run(const std::string& command_line) {
  RunResult r;
  FILE* pipe = popen((command_line + " 2>&1").c_str(), "r");
  if (pipe == nullptr) return r;
  char buf[4096];
  std::size_t n = 0;
  while ((n = std::fread(buf, 1, sizeof buf, pipe)) > 0) r.output.append(buf, n);
  const int status = pclose(pipe);
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return r;
}

mapping::cms::Bytes sample_content() {
  // "利用者,介護" in MS932 plus ASCII fields, CRLF endings: bytes that must survive untouched.
  mapping::cms::Bytes b = {0x97, 0x98, 0x97, 0x70, 0x8E, 0xD2, ',',
                           0x89, 0xEE, 0x8C, 0xEC, '\r', '\n'};
  const std::string rest = "1,3271500013,43,202504,\"x\"\r\n2,1371100452,11,202504,\"y\"\r\n";
  b.insert(b.end(), rest.begin(), rest.end());
  return b;
}

}  // namespace kakehashi::test
