#include "adapters/kaigoweb/credentials.hpp"

#include <fcntl.h>
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <memory>
#include <system_error>

namespace kakehashi::adapters::kaigoweb {

namespace fs = std::filesystem;
using Clock = std::chrono::system_clock;

namespace {

constexpr std::size_t kMaxFileBytes = 1 << 20;  // far beyond any PEM or password

using X509Ptr = std::unique_ptr<X509, decltype(&X509_free)>;
using PkeyPtr = std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)>;
using BioPtr = std::unique_ptr<BIO, decltype(&BIO_free)>;

// A file descriptor closed on scope exit.
class Fd {
 public:
  explicit Fd(int fd) : fd_(fd) {}
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  ~Fd() {
    if (fd_ >= 0) ::close(fd_);
  }
  int get() const { return fd_; }

 private:
  int fd_;
};

std::string octal_mode(mode_t mode) {
  std::array<char, 8> text{};
  std::snprintf(text.data(), text.size(), "%04o", static_cast<unsigned>(mode & 07777));
  return text.data();
}

CredentialProblem problem(const fs::path& path, std::string message) {
  return {path.string(), path.string() + ": " + std::move(message)};
}

std::optional<CredentialProblem> owner_problem(const fs::path& path, const struct stat& st) {
  if (st.st_uid == ::geteuid()) return std::nullopt;
  return problem(path, "owned by uid " + std::to_string(st.st_uid) +
                           ", not by the gateway's user (uid " + std::to_string(::geteuid()) +
                           "): run `chown " + std::to_string(::geteuid()) + " " + path.string() +
                           "`");
}

// Opens the office's folder without following a link and checks it is a 0700 folder (or
// stricter) of the gateway's user.
std::variant<int, CredentialProblem> open_office_folder(const fs::path& folder) {
  const int fd = ::open(folder.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) {
    const int e = errno;
    if (e == ENOENT) return problem(folder, "no credentials for this office (folder missing)");
    if (e == ENOTDIR || e == ELOOP) return problem(folder, "not a folder (or a symbolic link)");
    return problem(folder, "cannot be opened: " + std::string(std::strerror(e)));
  }
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    const int e = errno;
    ::close(fd);
    return problem(folder, "cannot be read: " + std::string(std::strerror(e)));
  }
  if (auto p = owner_problem(folder, st)) {
    ::close(fd);
    return *p;
  }
  if ((st.st_mode & 077) != 0) {
    ::close(fd);
    return problem(folder, "folder is mode " + octal_mode(st.st_mode) +
                               " (open to group or others): run `chmod 700 " + folder.string() +
                               "`");
  }
  return fd;
}

// Reads FOLDER/NAME through the folder's descriptor: a regular file of the gateway's user, mode
// 0600 or stricter, checked on the descriptor read. nullopt (no problem, no text) when absent
// and `optional`.
std::variant<std::optional<std::string>, CredentialProblem> read_office_file(int folder_fd,
                                                                             const fs::path& folder,
                                                                             const char* name,
                                                                             bool optional) {
  const fs::path path = folder / name;
  const int raw = ::openat(folder_fd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
  if (raw < 0) {
    const int e = errno;
    if (e == ENOENT && optional) return std::optional<std::string>{};
    if (e == ENOENT) return problem(path, "missing");
    if (e == ELOOP) return problem(path, "is a symbolic link (credentials must be plain files)");
    return problem(path, "cannot be opened: " + std::string(std::strerror(e)));
  }
  Fd fd(raw);
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) {
    return problem(path, "cannot be read: " + std::string(std::strerror(errno)));
  }
  if (!S_ISREG(st.st_mode)) return problem(path, "not a regular file");
  if (auto p = owner_problem(path, st)) return *p;
  if ((st.st_mode & 0177) != 0) {
    return problem(path, "is mode " + octal_mode(st.st_mode) +
                             " (must be 0600 or stricter): run `chmod 600 " + path.string() + "`");
  }
  if (static_cast<std::size_t>(st.st_size) > kMaxFileBytes) return problem(path, "too large");
  std::string text;
  std::array<char, 4096> buffer{};
  for (;;) {
    const ssize_t n = ::read(fd.get(), buffer.data(), buffer.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return problem(path, "cannot be read: " + std::string(std::strerror(errno)));
    if (n == 0) break;
    text.append(buffer.data(), static_cast<std::size_t>(n));
    if (text.size() > kMaxFileBytes) return problem(path, "too large");
  }
  return std::optional<std::string>(std::move(text));
}

std::string trim(std::string_view s) {
  const auto space = [](char c) {
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
  };
  while (!s.empty() && space(s.front())) s.remove_prefix(1);
  while (!s.empty() && space(s.back())) s.remove_suffix(1);
  return std::string(s);
}

// A password file may end with a newline (`echo ... > password`); nothing else is trimmed.
std::string without_line_end(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r')) s.pop_back();
  return s;
}

bool is_user_id(std::string_view s) {
  if (s.empty() || s.size() > 64) return false;
  return std::all_of(s.begin(), s.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
           c == '_' || c == '@' || c == '-';
  });
}

std::size_t utf8_length(std::string_view s) {
  return static_cast<std::size_t>(
      std::count_if(s.begin(), s.end(), [](char c) { return (c & 0xC0) != 0x80; }));
}

int no_passphrase(char*, int, int, void*) {
  return 0;
}  // never prompts; encrypted keys fail

Clock::time_point asn1_time_point(const ASN1_TIME* t) {
  struct tm tm {};
  if (t == nullptr || ASN1_TIME_to_tm(t, &tm) != 1) return Clock::time_point{};
  return Clock::from_time_t(::timegm(&tm));
}

std::string hex(const unsigned char* data, std::size_t size) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  out.reserve(size * 2);
  for (std::size_t i = 0; i < size; ++i) {
    out.push_back(kDigits[data[i] >> 4]);
    out.push_back(kDigits[data[i] & 0xF]);
  }
  return out;
}

std::string der_sha256(X509* cert) {
  unsigned char* der = nullptr;
  const int length = i2d_X509(cert, &der);
  if (length <= 0) return {};
  std::array<unsigned char, EVP_MAX_MD_SIZE> digest{};
  unsigned int digest_length = 0;
  const int ok = EVP_Digest(der, static_cast<std::size_t>(length), digest.data(), &digest_length,
                            EVP_sha256(), nullptr);
  OPENSSL_free(der);
  return ok == 1 ? hex(digest.data(), digest_length) : std::string{};
}

std::string subject_serial_number(X509* cert) {
  X509_NAME* name = X509_get_subject_name(cert);
  const int index = X509_NAME_get_index_by_NID(name, NID_serialNumber, -1);
  if (index < 0) return {};
  unsigned char* utf8 = nullptr;
  const int length =
      ASN1_STRING_to_UTF8(&utf8, X509_NAME_ENTRY_get_data(X509_NAME_get_entry(name, index)));
  if (length < 0) return {};
  std::string out(reinterpret_cast<char*>(utf8), static_cast<std::size_t>(length));
  OPENSSL_free(utf8);
  return out;
}

std::string subject_text(X509* cert) {
  BioPtr bio(BIO_new(BIO_s_mem()), BIO_free);
  if (!bio) return {};
  X509_NAME_print_ex(bio.get(), X509_get_subject_name(cert), 0, XN_FLAG_RFC2253);
  char* data = nullptr;
  const long length = BIO_get_mem_data(bio.get(), &data);
  return length > 0 ? std::string(data, static_cast<std::size_t>(length)) : std::string{};
}

X509Ptr parse_certificate(const std::string& pem) {
  BioPtr bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())), BIO_free);
  X509Ptr cert(bio ? PEM_read_bio_X509(bio.get(), nullptr, no_passphrase, nullptr) : nullptr,
               X509_free);
  ERR_clear_error();
  return cert;
}

// The certificate checks shared by listing and reading: parses, names this office.
std::variant<X509Ptr, CredentialProblem> checked_certificate(const std::string& pem,
                                                             const fs::path& path,
                                                             const std::string& office_no) {
  X509Ptr cert = parse_certificate(pem);
  if (!cert) return problem(path, "holds no PEM certificate");
  const std::string serial = subject_serial_number(cert.get());
  if (serial.empty()) {
    return problem(path, "the certificate names no office (no subject serialNumber)");
  }
  if (serial != office_no) {
    return problem(path, "the certificate is office " + serial + "'s, not " + office_no + "'s");
  }
  return cert;
}

}  // namespace

bool is_office_no(std::string_view text) {
  return text.size() == 10 && std::all_of(text.begin(), text.end(), [](char c) {
           return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z');
         });
}

std::string format_utc(Clock::time_point t) {
  const std::time_t seconds = Clock::to_time_t(t);
  struct tm tm {};
  ::gmtime_r(&seconds, &tm);
  std::array<char, 32> text{};
  std::strftime(text.data(), text.size(), "%Y-%m-%dT%H:%M:%SZ", &tm);
  return text.data();
}

std::optional<Clock::time_point> parse_rfc3339(std::string_view s) {
  const auto digits = [&](std::size_t at, std::size_t n, int& value) {
    if (at + n > s.size()) return false;
    value = 0;
    for (std::size_t i = at; i < at + n; ++i) {
      if (s[i] < '0' || s[i] > '9') return false;
      value = value * 10 + (s[i] - '0');
    }
    return true;
  };
  int year = 0, month = 0, day = 0, hour = 0, minute = 0, second = 0;
  if (!digits(0, 4, year) || s.size() < 20 || s[4] != '-' || !digits(5, 2, month) || s[7] != '-' ||
      !digits(8, 2, day) || (s[10] != 'T' && s[10] != 't') || !digits(11, 2, hour) ||
      s[13] != ':' || !digits(14, 2, minute) || s[16] != ':' || !digits(17, 2, second)) {
    return std::nullopt;
  }
  if (month < 1 || month > 12 || day < 1 || day > 31 || hour > 23 || minute > 59 || second > 60) {
    return std::nullopt;
  }
  std::size_t at = 19;
  long long millis = 0;
  if (at < s.size() && s[at] == '.') {
    ++at;
    int scale = 100;
    const std::size_t start = at;
    while (at < s.size() && s[at] >= '0' && s[at] <= '9') {
      millis += scale * (s[at] - '0');
      scale /= 10;
      ++at;
    }
    if (at == start) return std::nullopt;
  }
  int offset_minutes = 0;
  if (at < s.size() && (s[at] == 'Z' || s[at] == 'z')) {
    ++at;
  } else if (at < s.size() && (s[at] == '+' || s[at] == '-')) {
    int oh = 0, om = 0;
    if (!digits(at + 1, 2, oh) || at + 3 >= s.size() || s[at + 3] != ':' ||
        !digits(at + 4, 2, om) || oh > 23 || om > 59) {
      return std::nullopt;
    }
    offset_minutes = (s[at] == '+' ? 1 : -1) * (oh * 60 + om);
    at += 6;
  } else {
    return std::nullopt;
  }
  if (at != s.size()) return std::nullopt;
  struct tm tm {};
  tm.tm_year = year - 1900;
  tm.tm_mon = month - 1;
  tm.tm_mday = day;
  tm.tm_hour = hour;
  tm.tm_min = minute;
  tm.tm_sec = second;
  const std::time_t utc = ::timegm(&tm);
  return Clock::from_time_t(utc) - std::chrono::minutes(offset_minutes) +
         std::chrono::milliseconds(millis);
}

std::variant<OfficeCredentials, CredentialProblem> check_office_credentials(
    const std::string& office_no, OfficeCredentials material, const CredentialSources& sources,
    Clock::time_point now) {
  if (!is_office_no(office_no)) {
    return CredentialProblem{"", "'" + office_no + "' is not an office number (10 of [0-9A-Z])"};
  }
  auto cert_or = checked_certificate(material.cert_pem, sources.cert, office_no);
  if (auto* p = std::get_if<CredentialProblem>(&cert_or)) return *p;
  X509* cert = std::get<X509Ptr>(cert_or).get();

  BioPtr bio(BIO_new_mem_buf(material.key_pem.data(), static_cast<int>(material.key_pem.size())),
             BIO_free);
  PkeyPtr key(bio ? PEM_read_bio_PrivateKey(bio.get(), nullptr, no_passphrase, nullptr) : nullptr,
              EVP_PKEY_free);
  ERR_clear_error();
  if (!key) {
    return problem(sources.key, "holds no readable PEM private key (encrypted keys are refused)");
  }
  if (EVP_PKEY_get_base_id(key.get()) != EVP_PKEY_RSA || EVP_PKEY_get_bits(key.get()) != 2048) {
    return problem(sources.key, "the key is not RSA-2048 (the service issues RSA-2048 keys)");
  }
  if (X509_check_private_key(cert, key.get()) != 1) {
    ERR_clear_error();
    return problem(sources.key, "the key does not match the certificate " + sources.cert.string());
  }
  material.not_before = asn1_time_point(X509_get0_notBefore(cert));
  material.not_after = asn1_time_point(X509_get0_notAfter(cert));
  if (now < material.not_before) {
    return problem(sources.cert,
                   "the certificate is not valid before " + format_utc(material.not_before));
  }
  if (now > material.not_after) {
    return problem(sources.cert, "the certificate expired on " + format_utc(material.not_after));
  }
  material.certificate_sha256 = der_sha256(cert);

  material.user_id = trim(material.user_id);
  if (!is_user_id(material.user_id)) {
    return problem(sources.user_id, "not a user ID (1-64 of [A-Za-z0-9._@-])");
  }
  material.password = without_line_end(std::move(material.password));
  const std::size_t length = utf8_length(material.password);
  if (length < 8 || length > 128) {
    return problem(sources.password, "the password must be 8-128 characters");
  }
  material.receive_from = trim(material.receive_from);
  if (!material.receive_from.empty()) {
    const auto when = parse_rfc3339(material.receive_from);
    if (!when) return CredentialProblem{"", "receive_from is not an RFC 3339 time"};
    material.receive_from = format_utc(*when);
  }
  material.office_no = office_no;
  return material;
}

std::variant<OfficeCredentials, CredentialProblem> read_office_credentials(
    const fs::path& dir, const std::string& office_no) {
  if (!is_office_no(office_no)) {
    return CredentialProblem{"", "'" + office_no + "' is not an office number (10 of [0-9A-Z])"};
  }
  const fs::path folder = dir / office_no;
  auto folder_or = open_office_folder(folder);
  if (auto* p = std::get_if<CredentialProblem>(&folder_or)) return *p;
  Fd folder_fd(std::get<int>(folder_or));

  OfficeCredentials material;
  struct Wanted {
    const char* name;
    std::string* into;
    bool optional;
  };
  const std::array<Wanted, 5> wanted{{{"cert.pem", &material.cert_pem, false},
                                      {"key.pem", &material.key_pem, false},
                                      {"user_id", &material.user_id, false},
                                      {"password", &material.password, false},
                                      {"receive_from", &material.receive_from, true}}};
  for (const auto& w : wanted) {
    auto text = read_office_file(folder_fd.get(), folder, w.name, w.optional);
    if (auto* p = std::get_if<CredentialProblem>(&text)) return *p;
    if (auto& t = std::get<std::optional<std::string>>(text)) *w.into = std::move(*t);
  }
  auto checked = check_office_credentials(
      office_no, std::move(material),
      {folder / "cert.pem", folder / "key.pem", folder / "user_id", folder / "password"},
      Clock::now());
  if (auto* p = std::get_if<CredentialProblem>(&checked); p != nullptr && p->path.empty()) {
    p->path = (folder / "receive_from").string();
    p->message = p->path + ": " + p->message;
  }
  return checked;
}

std::variant<OfficeCertificate, CredentialProblem> read_office_certificate(
    const fs::path& dir, const std::string& office_no) {
  if (!is_office_no(office_no)) {
    return CredentialProblem{"", "'" + office_no + "' is not an office number (10 of [0-9A-Z])"};
  }
  const fs::path folder = dir / office_no;
  auto folder_or = open_office_folder(folder);
  if (auto* p = std::get_if<CredentialProblem>(&folder_or)) return *p;
  Fd folder_fd(std::get<int>(folder_or));
  auto text = read_office_file(folder_fd.get(), folder, "cert.pem", false);
  if (auto* p = std::get_if<CredentialProblem>(&text)) return *p;
  auto cert_or = checked_certificate(*std::get<std::optional<std::string>>(text),
                                     folder / "cert.pem", office_no);
  if (auto* p = std::get_if<CredentialProblem>(&cert_or)) return *p;
  X509* cert = std::get<X509Ptr>(cert_or).get();
  return OfficeCertificate{office_no, subject_text(cert), der_sha256(cert),
                           asn1_time_point(X509_get0_notBefore(cert)),
                           asn1_time_point(X509_get0_notAfter(cert))};
}

std::vector<std::string> list_credential_offices(const fs::path& dir) {
  std::vector<std::string> offices;
  std::error_code ec;
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    const std::string name = it->path().filename().string();
    if (is_office_no(name) && it->is_directory(ec)) offices.push_back(name);
  }
  std::sort(offices.begin(), offices.end());
  return offices;
}

namespace {

std::optional<CredentialProblem> write_secret(const fs::path& path, const std::string& text) {
  const int raw = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
  if (raw < 0) return problem(path, "cannot be created: " + std::string(std::strerror(errno)));
  Fd fd(raw);
  std::size_t done = 0;
  while (done < text.size()) {
    const ssize_t n = ::write(fd.get(), text.data() + done, text.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return problem(path, "cannot be written: " + std::string(std::strerror(errno)));
    done += static_cast<std::size_t>(n);
  }
  // The umask may have narrowed 0600 further, never widened it; fchmod makes it exact.
  if (::fchmod(fd.get(), 0600) != 0 || ::fsync(fd.get()) != 0) {
    return problem(path, "cannot be written: " + std::string(std::strerror(errno)));
  }
  return std::nullopt;
}

std::optional<CredentialProblem> make_private_folder(const fs::path& path) {
  if (::mkdir(path.c_str(), 0700) != 0 && errno != EEXIST) {
    return problem(path, "cannot be created: " + std::string(std::strerror(errno)));
  }
  return std::nullopt;
}

}  // namespace

std::optional<CredentialProblem> write_office_credentials(const fs::path& dir,
                                                          const OfficeCredentials& credentials) {
  if (!is_office_no(credentials.office_no)) {
    return CredentialProblem{"", "'" + credentials.office_no + "' is not an office number"};
  }
  std::error_code ec;
  if (!fs::exists(dir, ec)) {
    fs::create_directories(dir.parent_path(), ec);
    if (auto p = make_private_folder(dir)) return p;
    ::chmod(dir.c_str(), 0700);
  }
  const std::string suffix = "-" + std::to_string(::getpid());
  const fs::path folder = dir / credentials.office_no;
  const fs::path fresh = dir / ("." + credentials.office_no + ".new" + suffix);
  const fs::path old = dir / ("." + credentials.office_no + ".old" + suffix);
  fs::remove_all(fresh, ec);
  if (::mkdir(fresh.c_str(), 0700) != 0) {
    return problem(fresh, "cannot be created: " + std::string(std::strerror(errno)));
  }
  ::chmod(fresh.c_str(), 0700);
  std::vector<std::pair<const char*, std::string>> files{{"cert.pem", credentials.cert_pem},
                                                         {"key.pem", credentials.key_pem},
                                                         {"user_id", credentials.user_id + "\n"},
                                                         {"password", credentials.password}};
  if (!credentials.receive_from.empty()) {
    files.emplace_back("receive_from", credentials.receive_from + "\n");
  }
  for (const auto& [name, text] : files) {
    if (auto p = write_secret(fresh / name, text)) {
      fs::remove_all(fresh, ec);
      return p;
    }
  }
  const bool had = fs::exists(folder, ec);
  if (had && ::rename(folder.c_str(), old.c_str()) != 0) {
    const std::string why = std::strerror(errno);
    fs::remove_all(fresh, ec);
    return problem(folder, "cannot be replaced: " + why);
  }
  if (::rename(fresh.c_str(), folder.c_str()) != 0) {
    const std::string why = std::strerror(errno);
    if (had) ::rename(old.c_str(), folder.c_str());
    fs::remove_all(fresh, ec);
    return problem(folder, "cannot be written: " + why);
  }
  if (had) fs::remove_all(old, ec);
  return std::nullopt;
}

bool remove_office_credentials(const fs::path& dir, const std::string& office_no) {
  if (!is_office_no(office_no)) return false;
  std::error_code ec;
  return fs::remove_all(dir / office_no, ec) > 0 && !ec;
}

}  // namespace kakehashi::adapters::kaigoweb
