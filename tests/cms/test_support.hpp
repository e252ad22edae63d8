#pragma once
// Shared by the CMS tests: a development PKI made once per test run by deploy/pki.sh in a
// temporary directory, plus helpers to load its credentials and run external tools.

#include <filesystem>
#include <optional>
#include <ostream>
#include <string>

#include "mapping/cms/credential.hpp"
#include "mapping/cms/ossl.hpp"
#include "mapping/cms/result.hpp"
#include "mapping/cms/trust_domain.hpp"
#include "mapping/cms/verify.hpp"

namespace kakehashi::test {

// The PKI directory (created on first use, removed at exit).
const std::filesystem::path& pki_dir();

// A fresh empty temporary directory under the PKI's parent (removed with it).
std::filesystem::path scratch_dir(const std::string& name);

// PREFIX relative to pki_dir(), e.g. "offices/regional/3271500013" or "gateway/proxy-rsa".
mapping::cms::Credential credential(const std::string& prefix);
mapping::cms::X509Ptr certificate(const std::string& prefix);
mapping::cms::TrustDomain domain(const std::string& name);

mapping::cms::Bytes to_bytes(const std::string& s);
void write_file(const std::filesystem::path& path, mapping::cms::ByteView bytes);
mapping::cms::Bytes read_bytes(const std::filesystem::path& path);

struct RunResult {
  int exit_code = -1;
  std::string output;  // stdout and stderr
};
// Runs a shell command line; arguments must already be quoted.
RunResult run(const std::string& command_line);
std::string quote(const std::string& arg);

// The failure detail of a result, or "" (Boost evaluates a check's message even when it passes).
template <class T>
std::string why(const mapping::cms::Result<T>& r) {
  return r.ok() ? std::string() : r.error().detail;
}

// A sample care-plan file: MS932 bytes with CRLF line endings, signed as is.
mapping::cms::Bytes sample_content();

}  // namespace kakehashi::test

// Printers so Boost.Test can show enums and byte strings in failure messages.
namespace kakehashi::mapping::cms {
inline std::ostream& operator<<(std::ostream& o, ErrorCode c) {
  return o << to_string(c);
}
inline std::ostream& operator<<(std::ostream& o, VerifyFailure f) {
  return o << to_string(f);
}
inline std::ostream& operator<<(std::ostream& o, CrlOutcome c) {
  return o << to_string(c);
}
inline std::ostream& operator<<(std::ostream& o, CrlPolicy p) {
  return o << to_string(p);
}
}  // namespace kakehashi::mapping::cms

namespace std {
inline ostream& boost_test_print_type(ostream& o, const optional<vector<uint8_t>>& b) {
  return b ? (o << b->size() << " bytes") : (o << "nullopt");
}
inline ostream& boost_test_print_type(ostream& o, const vector<vector<uint8_t>>& b) {
  return o << b.size() << " byte strings";
}
}  // namespace std
