#include "gateway/pki/key_file.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <iterator>
#include <sstream>

#include "gateway/pki/pki_error.hpp"
#include "mapping/cms/parse.hpp"

namespace kakehashi::gateway::pki {

namespace cms = mapping::cms;

namespace {

std::string octal_mode(mode_t mode) {
  std::ostringstream out;
  out << '0' << std::oct << (mode & 07777);
  return out.str();
}

// Closes a file descriptor on scope exit.
class FileDescriptor {
 public:
  explicit FileDescriptor(int fd) : fd_(fd) {}
  ~FileDescriptor() {
    if (fd_ >= 0) ::close(fd_);
  }
  FileDescriptor(const FileDescriptor&) = delete;
  FileDescriptor& operator=(const FileDescriptor&) = delete;
  int get() const { return fd_; }

 private:
  int fd_;
};

}  // namespace

cms::Bytes read_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw PkiError("cannot open " + path.string() + ": " + std::strerror(errno));
  cms::Bytes bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (in.bad()) throw PkiError("cannot read " + path.string());
  return bytes;
}

namespace {

std::string mode_problem(const std::filesystem::path& path, std::string_view what,
                         const struct stat& st) {
  if (!S_ISREG(st.st_mode))
    return std::string(what) + " " + path.string() + " is not a regular file";
  if ((st.st_mode & (S_IRWXG | S_IRWXO)) == 0) return {};
  return std::string(what) + " " + path.string() + " has mode " + octal_mode(st.st_mode) +
         ": it must not be accessible by group or others (run: chmod 600 " + path.string() + ")";
}

}  // namespace

std::optional<std::string> secret_file_problem(const std::filesystem::path& path,
                                               std::string_view what) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return std::nullopt;
  auto problem = mode_problem(path, what, st);
  if (problem.empty()) return std::nullopt;
  return problem;
}

cms::Bytes read_secret_file(const std::filesystem::path& path, std::string_view what) {
  FileDescriptor fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK));
  if (fd.get() < 0) {
    throw PkiError("cannot open " + std::string(what) + " " + path.string() + ": " +
                   std::strerror(errno));
  }
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) {
    throw PkiError("cannot stat " + std::string(what) + " " + path.string() + ": " +
                   std::strerror(errno));
  }
  if (auto problem = mode_problem(path, what, st); !problem.empty()) throw PkiError(problem);
  cms::Bytes bytes;
  char buf[4096];
  for (;;) {
    const ssize_t n = ::read(fd.get(), buf, sizeof buf);
    if (n < 0) {
      if (errno == EINTR) continue;
      OPENSSL_cleanse(bytes.data(), bytes.size());
      throw PkiError("cannot read " + std::string(what) + " " + path.string() + ": " +
                     std::strerror(errno));
    }
    if (n == 0) break;
    bytes.insert(bytes.end(), buf, buf + n);
    if (bytes.size() > 1024 * 1024) {
      OPENSSL_cleanse(bytes.data(), bytes.size());
      throw PkiError(std::string(what) + " " + path.string() + " is larger than 1 MiB");
    }
  }
  OPENSSL_cleanse(buf, sizeof buf);
  return bytes;
}

cms::EvpPkeyPtr load_private_key(const std::filesystem::path& path) {
  cms::Bytes bytes = read_secret_file(path, "private key");
  auto key = cms::parse_private_key(bytes);
  OPENSSL_cleanse(bytes.data(), bytes.size());
  if (!key) throw PkiError("private key " + path.string() + ": " + key.error().detail);
  return std::move(key.value());
}

std::vector<cms::X509Ptr> load_certificates(const std::filesystem::path& path) {
  auto certs = cms::parse_certificates(read_file(path));
  if (!certs) throw PkiError("certificate file " + path.string() + ": " + certs.error().detail);
  return std::move(certs.value());
}

cms::X509Ptr load_certificate(const std::filesystem::path& path) {
  auto certs = load_certificates(path);
  return std::move(certs.front());
}

cms::Credential load_credential(const std::filesystem::path& certificate,
                                const std::filesystem::path& private_key) {
  auto certs = load_certificates(certificate);
  cms::Credential c;
  c.private_key = load_private_key(private_key);
  c.certificate = std::move(certs.front());
  for (std::size_t i = 1; i < certs.size(); ++i) c.chain.push_back(std::move(certs[i]));
  if (!cms::key_matches_certificate(c.private_key.get(), c.certificate.get())) {
    throw PkiError("private key " + private_key.string() + " does not match certificate " +
                   certificate.string());
  }
  return c;
}

}  // namespace kakehashi::gateway::pki
