// The Kaigo WEB office credentials as files (adapters/kaigoweb/credentials.hpp): strict modes,
// key and certificate checks, the office named by the certificate, writing and removing.
#define BOOST_TEST_MODULE kaigoweb_credentials
#include <sys/stat.h>
#include <unistd.h>

#include <boost/test/unit_test.hpp>
#include <chrono>
#include <filesystem>
#include <string>

#include "adapters/kaigoweb/credentials.hpp"
#include "tests/cli/test_office_pki.hpp"

namespace fs = std::filesystem;
namespace kw = kakehashi::adapters::kaigoweb;
using kakehashi::testing::TestCa;
using kakehashi::testing::valid_between;
using kakehashi::testing::write_office_folder;
using kakehashi::testing::write_text;

namespace {

const std::string kOffice = "3271500013";
const std::string kPassword = "s3cret-Passw0rd";

const TestCa& ca() {
  static const TestCa instance;
  return instance;
}

const TestCa::Issued& good() {
  static const TestCa::Issued issued = ca().office(kOffice);
  return issued;
}

struct TempDir {
  fs::path path;
  TempDir() {
    static int counter = 0;
    path = fs::temp_directory_path() /
           ("kh-kw-cred-" + std::to_string(::getpid()) + "-" + std::to_string(++counter));
    fs::remove_all(path);
    fs::create_directories(path);
    ::chmod(path.c_str(), 0700);
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
};

mode_t mode_of(const fs::path& p) {
  struct stat st {};
  ::stat(p.c_str(), &st);
  return st.st_mode & 07777;
}

kw::CredentialProblem problem_of(
    const std::variant<kw::OfficeCredentials, kw::CredentialProblem>& result) {
  BOOST_REQUIRE_MESSAGE(std::holds_alternative<kw::CredentialProblem>(result),
                        "expected a problem, the credentials were accepted");
  return std::get<kw::CredentialProblem>(result);
}

void require_contains(const std::string& text, const std::string& part) {
  BOOST_TEST_CONTEXT(text) {
    BOOST_TEST(text.find(part) != std::string::npos, "wants " << part);
  }
}

}  // namespace

BOOST_AUTO_TEST_CASE(reads_good_credentials) {
  TempDir dir;
  const auto folder =
      write_office_folder(dir.path, kOffice, good(), " kk-gw-3271500013 ", kPassword);
  write_text(folder / "receive_from", "2027-04-01T09:30:00.000+09:00\n");
  auto result = kw::read_office_credentials(dir.path, kOffice);
  if (auto* p = std::get_if<kw::CredentialProblem>(&result)) BOOST_FAIL(p->message);
  const auto& c = std::get<kw::OfficeCredentials>(result);
  BOOST_TEST(c.office_no == kOffice);
  BOOST_TEST(c.cert_pem == good().cert_pem);
  BOOST_TEST(c.key_pem == good().key_pem);
  BOOST_TEST(c.user_id == "kk-gw-3271500013");
  BOOST_TEST(c.password == kPassword);  // the line end of `echo pw > password` is not part of it
  BOOST_TEST(c.receive_from == "2027-04-01T00:30:00Z");
  BOOST_TEST(c.certificate_sha256.size() == 64u);
  const auto now = std::chrono::system_clock::now();
  BOOST_TEST((c.not_before < now && now < c.not_after));
  BOOST_TEST((c.not_after - now > std::chrono::hours(24 * 800)));

  // The public half alone, for `credentials list`.
  auto cert = kw::read_office_certificate(dir.path, kOffice);
  BOOST_REQUIRE(std::holds_alternative<kw::OfficeCertificate>(cert));
  BOOST_TEST(std::get<kw::OfficeCertificate>(cert).certificate_sha256 == c.certificate_sha256);
  require_contains(std::get<kw::OfficeCertificate>(cert).subject, "serialNumber=" + kOffice);
}

BOOST_AUTO_TEST_CASE(receive_from_is_optional) {
  TempDir dir;
  write_office_folder(dir.path, kOffice, good(), "kk-gw", kPassword);
  auto result = kw::read_office_credentials(dir.path, kOffice);
  BOOST_REQUIRE(std::holds_alternative<kw::OfficeCredentials>(result));
  BOOST_TEST(std::get<kw::OfficeCredentials>(result).receive_from == "");
}

BOOST_AUTO_TEST_CASE(refuses_an_open_folder_naming_the_chmod) {
  TempDir dir;
  const auto folder = write_office_folder(dir.path, kOffice, good(), "kk-gw", kPassword);
  ::chmod(folder.c_str(), 0750);
  const auto p = problem_of(kw::read_office_credentials(dir.path, kOffice));
  BOOST_TEST(p.path == folder.string());
  require_contains(p.message, "0750");
  require_contains(p.message, "chmod 700 " + folder.string());
}

BOOST_AUTO_TEST_CASE(refuses_each_readable_file_naming_it) {
  for (const char* name : {"cert.pem", "key.pem", "user_id", "password", "receive_from"}) {
    BOOST_TEST_CONTEXT(name) {
      TempDir dir;
      const auto folder = write_office_folder(dir.path, kOffice, good(), "kk-gw", kPassword);
      write_text(folder / "receive_from", "2027-04-01T00:00:00Z");
      ::chmod((folder / name).c_str(), 0640);
      const auto p = problem_of(kw::read_office_credentials(dir.path, kOffice));
      BOOST_TEST(p.path == (folder / name).string());
      require_contains(p.message, "0640");
      require_contains(p.message, "chmod 600 " + (folder / name).string());
      BOOST_TEST(p.message.find(kPassword) == std::string::npos);
    }
  }
  TempDir dir;
  const auto folder = write_office_folder(dir.path, kOffice, good(), "kk-gw", kPassword);
  ::chmod((folder / "password").c_str(), 0604);  // world-readable only
  BOOST_TEST(problem_of(kw::read_office_credentials(dir.path, kOffice)).path ==
             (folder / "password").string());
  ::chmod((folder / "password").c_str(), 0700);  // executable: not "0600 or stricter"
  BOOST_TEST(problem_of(kw::read_office_credentials(dir.path, kOffice)).path ==
             (folder / "password").string());
  ::chmod((folder / "password").c_str(), 0400);  // stricter is fine
  BOOST_TEST(std::holds_alternative<kw::OfficeCredentials>(
      kw::read_office_credentials(dir.path, kOffice)));
}

BOOST_AUTO_TEST_CASE(refuses_missing_files_and_links) {
  TempDir dir;
  const auto folder = write_office_folder(dir.path, kOffice, good(), "kk-gw", kPassword);
  fs::remove(folder / "password");
  auto p = problem_of(kw::read_office_credentials(dir.path, kOffice));
  BOOST_TEST(p.path == (folder / "password").string());
  require_contains(p.message, "missing");

  write_text(dir.path / "elsewhere", kPassword);
  fs::create_symlink(dir.path / "elsewhere", folder / "password");
  p = problem_of(kw::read_office_credentials(dir.path, kOffice));
  BOOST_TEST(p.path == (folder / "password").string());
  require_contains(p.message, "symbolic link");

  const auto none = problem_of(kw::read_office_credentials(dir.path, "3271500021"));
  require_contains(none.message, "no credentials");
  require_contains(problem_of(kw::read_office_credentials(dir.path, "../etc")).message,
                   "not an office number");
}

BOOST_AUTO_TEST_CASE(refuses_a_key_of_another_certificate) {
  TempDir dir;
  auto other = ca().office(kOffice);
  auto mixed = good();
  mixed.key_pem = other.key_pem;
  const auto folder = write_office_folder(dir.path, kOffice, mixed, "kk-gw", kPassword);
  const auto p = problem_of(kw::read_office_credentials(dir.path, kOffice));
  BOOST_TEST(p.path == (folder / "key.pem").string());
  require_contains(p.message, "does not match");
  BOOST_TEST(p.message.find("PRIVATE KEY") == std::string::npos);
}

BOOST_AUTO_TEST_CASE(refuses_keys_other_than_rsa_2048) {
  TempDir dir;
  const auto folder =
      write_office_folder(dir.path, kOffice, ca().office(kOffice, {}, 3072), "kk-gw", kPassword);
  auto p = problem_of(kw::read_office_credentials(dir.path, kOffice));
  BOOST_TEST(p.path == (folder / "key.pem").string());
  require_contains(p.message, "RSA-2048");

  auto ec = kakehashi::testing::make_ec_key();
  write_text(folder / "key.pem", kakehashi::testing::key_pem(ec.get()));
  require_contains(problem_of(kw::read_office_credentials(dir.path, kOffice)).message, "RSA-2048");

  write_text(folder / "key.pem", "not a key\n");
  require_contains(problem_of(kw::read_office_credentials(dir.path, kOffice)).message,
                   "no readable PEM private key");
}

BOOST_AUTO_TEST_CASE(refuses_certificates_out_of_their_validity) {
  TempDir dir;
  write_office_folder(dir.path, kOffice, ca().office(kOffice, valid_between(-90L * 86400, -86400)),
                      "kk-gw", kPassword);
  require_contains(problem_of(kw::read_office_credentials(dir.path, kOffice)).message, "expired");
  write_office_folder(dir.path, kOffice, ca().office(kOffice, valid_between(86400, 90L * 86400)),
                      "kk-gw", kPassword);
  require_contains(problem_of(kw::read_office_credentials(dir.path, kOffice)).message,
                   "not valid before");
}

BOOST_AUTO_TEST_CASE(refuses_a_certificate_of_another_office) {
  TempDir dir;
  write_office_folder(dir.path, kOffice, ca().office("3271500021"), "kk-gw", kPassword);
  require_contains(problem_of(kw::read_office_credentials(dir.path, kOffice)).message,
                   "office 3271500021's");
  auto cert = kw::read_office_certificate(dir.path, kOffice);
  BOOST_TEST(std::holds_alternative<kw::CredentialProblem>(cert));
}

BOOST_AUTO_TEST_CASE(refuses_bad_user_ids_passwords_and_times) {
  TempDir dir;
  const auto folder = write_office_folder(dir.path, kOffice, good(), "kk gw", kPassword);
  auto p = problem_of(kw::read_office_credentials(dir.path, kOffice));
  BOOST_TEST(p.path == (folder / "user_id").string());
  write_text(folder / "user_id", "kk-gw");
  write_text(folder / "password", "short");
  p = problem_of(kw::read_office_credentials(dir.path, kOffice));
  BOOST_TEST(p.path == (folder / "password").string());
  BOOST_TEST(p.message.find("short") == std::string::npos);
  write_text(folder / "password", kPassword);
  write_text(folder / "receive_from", "yesterday");
  p = problem_of(kw::read_office_credentials(dir.path, kOffice));
  BOOST_TEST(p.path == (folder / "receive_from").string());
}

BOOST_AUTO_TEST_CASE(lists_office_folders_sorted) {
  TempDir dir;
  BOOST_TEST(kw::list_credential_offices(dir.path / "missing").empty());
  for (const char* name : {"3271500021", "3271500013", "13701000AB"}) {
    fs::create_directories(dir.path / name);
  }
  fs::create_directories(dir.path / ".3271500013.new-1");
  fs::create_directories(dir.path / "notes");
  fs::create_directories(dir.path / "327150001");
  write_text(dir.path / "3271500039", "a file, not a folder");
  const std::vector<std::string> want{"13701000AB", "3271500013", "3271500021"};
  BOOST_TEST(kw::list_credential_offices(dir.path) == want, boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(writes_strict_modes_and_replaces) {
  TempDir dir;
  const auto store = dir.path / "credentials";
  kw::OfficeCredentials material;
  material.cert_pem = good().cert_pem;
  material.key_pem = good().key_pem;
  material.user_id = "kk-gw\n";
  material.password = kPassword + "\n";
  material.receive_from = "2027-04-01T09:00:00+09:00";
  auto checked = kw::check_office_credentials(kOffice, material, {"c", "k", "u", "p"},
                                              std::chrono::system_clock::now());
  if (auto* p = std::get_if<kw::CredentialProblem>(&checked)) BOOST_FAIL(p->message);
  const auto& c = std::get<kw::OfficeCredentials>(checked);
  BOOST_TEST(!kw::write_office_credentials(store, c).has_value());
  BOOST_TEST(mode_of(store) == 0700u);
  BOOST_TEST(mode_of(store / kOffice) == 0700u);
  for (const char* name : {"cert.pem", "key.pem", "user_id", "password", "receive_from"}) {
    BOOST_TEST(mode_of(store / kOffice / name) == 0600u, name);
  }
  auto read = kw::read_office_credentials(store, kOffice);
  BOOST_REQUIRE(std::holds_alternative<kw::OfficeCredentials>(read));
  BOOST_TEST(std::get<kw::OfficeCredentials>(read).password == kPassword);
  BOOST_TEST(std::get<kw::OfficeCredentials>(read).receive_from == "2027-04-01T00:00:00Z");

  auto replaced = c;
  replaced.password = "another-Passw0rd";
  replaced.receive_from.clear();
  BOOST_TEST(!kw::write_office_credentials(store, replaced).has_value());
  read = kw::read_office_credentials(store, kOffice);
  BOOST_REQUIRE(std::holds_alternative<kw::OfficeCredentials>(read));
  BOOST_TEST(std::get<kw::OfficeCredentials>(read).password == "another-Passw0rd");
  BOOST_TEST(std::get<kw::OfficeCredentials>(read).receive_from == "");
  const std::vector<std::string> one{kOffice};
  BOOST_TEST(kw::list_credential_offices(store) == one, boost::test_tools::per_element());
  BOOST_TEST(std::distance(fs::directory_iterator(store), fs::directory_iterator()) == 1);

  BOOST_TEST(kw::remove_office_credentials(store, kOffice));
  BOOST_TEST(!kw::remove_office_credentials(store, kOffice));
  BOOST_TEST(kw::list_credential_offices(store).empty());
}

BOOST_AUTO_TEST_CASE(parses_rfc3339_times) {
  const auto t = kw::parse_rfc3339("2027-04-01T09:30:00.250+09:00");
  BOOST_REQUIRE(t.has_value());
  BOOST_TEST(kw::format_utc(*t) == "2027-04-01T00:30:00Z");
  BOOST_TEST(kw::parse_rfc3339("2027-04-01T00:30:00Z").has_value());
  BOOST_TEST(kw::parse_rfc3339("2027-04-01T00:30:00-05:00").has_value());
  for (const char* bad : {"", "2027-04-01", "2027-04-01T00:30:00", "2027-13-01T00:00:00Z",
                          "2027-04-01T00:30:00Zjunk", "2027-04-01T00:30:00.Z"}) {
    BOOST_TEST(!kw::parse_rfc3339(bad).has_value(), bad);
  }
}
