#include "gateway/engine/unit_codec.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>
#include <iterator>
#include <memory>
#include <stdexcept>

#include <openssl/evp.h>
#include <openssl/rand.h>

namespace kakehashi::gateway::engine {
namespace {

constexpr std::string_view kMagic = "KHU1";

void put(std::string& out, std::string_view s) {
  const auto n = static_cast<std::uint32_t>(s.size());
  for (int i = 0; i < 4; ++i) out.push_back(static_cast<char>((n >> (8 * i)) & 0xFF));
  out.append(s);
}

struct Reader {
  std::string_view in;
  bool ok = true;
  std::string get() {
    if (in.size() < 4) {
      ok = false;
      return {};
    }
    std::uint32_t n = 0;
    for (int i = 0; i < 4; ++i) n |= static_cast<std::uint32_t>(static_cast<unsigned char>(in[static_cast<std::size_t>(i)])) << (8 * i);
    in.remove_prefix(4);
    if (in.size() < n) {
      ok = false;
      return {};
    }
    std::string s(in.substr(0, n));
    in.remove_prefix(n);
    return s;
  }
};

using CipherCtx = std::unique_ptr<EVP_CIPHER_CTX, decltype(&EVP_CIPHER_CTX_free)>;

void put_files(std::string& out, const std::vector<SignedFile>& files) {
  put(out, std::to_string(files.size()));
  for (const auto& f : files) {
    put(out, f.name);
    put(out, f.media_type);
    put(out, f.content);
    put(out, f.cms);
    put(out, f.attached ? "1" : "0");
  }
}

// Reads what put_files wrote and requires the input to end there.
bool get_files(Reader& r, std::vector<SignedFile>& files) {
  const std::string count = r.get();
  if (!r.ok || count.empty() || count.size() > 6) return false;
  const auto n = std::stoul(count);
  for (std::size_t i = 0; i < n && r.ok; ++i) {
    SignedFile f;
    f.name = r.get();
    f.media_type = r.get();
    f.content = r.get();
    f.cms = r.get();
    f.attached = r.get() == "1";
    files.push_back(std::move(f));
  }
  return r.ok && r.in.empty();
}

}  // namespace

std::string serialize_unit(const InboundUnit& u) {
  std::string out(kMagic);
  for (const auto* s : {&u.source_id, &u.sender.office_no, &u.sender.service_type,
                        &u.recipient.office_no, &u.recipient.service_type, &u.sender_facility,
                        &u.subject, &u.message})
    put(out, *s);
  put_files(out, u.files);
  return out;
}

std::optional<InboundUnit> deserialize_unit(std::string_view bytes) {
  if (bytes.substr(0, kMagic.size()) != kMagic) return std::nullopt;
  Reader r{bytes.substr(kMagic.size())};
  InboundUnit u;
  for (auto* s : {&u.source_id, &u.sender.office_no, &u.sender.service_type, &u.recipient.office_no,
                  &u.recipient.service_type, &u.sender_facility, &u.subject, &u.message})
    *s = r.get();
  if (!get_files(r, u.files)) return std::nullopt;
  return u;
}

std::string serialize_translation(const SentTranslation& t) {
  std::string out("KHT1");
  const auto& u = t.unit;
  for (const auto* s : {&u.idempotency_key, &u.sender.office_no, &u.sender.service_type,
                        &u.recipient.office_no, &u.recipient.service_type, &u.unit_kind, &u.subject,
                        &u.message, &t.receipt_der, &t.inbound_sha256, &t.outbound_sha256})
    put(out, *s);
  put_files(out, u.files);
  return out;
}

std::optional<SentTranslation> deserialize_translation(std::string_view bytes) {
  if (bytes.substr(0, 4) != "KHT1") return std::nullopt;
  Reader r{bytes.substr(4)};
  SentTranslation t;
  auto& u = t.unit;
  for (auto* s : {&u.idempotency_key, &u.sender.office_no, &u.sender.service_type,
                  &u.recipient.office_no, &u.recipient.service_type, &u.unit_kind, &u.subject,
                  &u.message, &t.receipt_der, &t.inbound_sha256, &t.outbound_sha256})
    *s = r.get();
  if (!get_files(r, u.files)) return std::nullopt;
  return t;
}

PayloadCipher::PayloadCipher(std::string key) : key_(std::move(key)) {
  if (key_.size() != 32) throw std::runtime_error("payload key must be 32 bytes");
}

PayloadCipher PayloadCipher::from_key_file(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) throw std::runtime_error(path + ": payload key file not found");
  if ((st.st_mode & 077) != 0)
    throw std::runtime_error(path + ": payload key file is readable by group or others (chmod 600)");
  std::ifstream in(path, std::ios::binary);
  std::string data((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  while (!data.empty() && (data.back() == '\n' || data.back() == '\r' || data.back() == ' '))
    data.pop_back();
  if (data.size() == 64) {
    std::string key;
    for (std::size_t i = 0; i < 64; i += 2) {
      const auto byte = std::stoi(data.substr(i, 2), nullptr, 16);
      key.push_back(static_cast<char>(byte));
    }
    return PayloadCipher(std::move(key));
  }
  if (data.size() != 32) throw std::runtime_error(path + ": payload key must be 32 bytes or 64 hex characters");
  return PayloadCipher(std::move(data));
}

void PayloadCipher::create_key_file(const std::string& path) {
  unsigned char key[32];
  if (RAND_bytes(key, sizeof key) != 1) throw std::runtime_error("no randomness for the payload key");
  static constexpr char kHex[] = "0123456789abcdef";
  std::string hex;
  for (unsigned char c : key) {
    hex.push_back(kHex[c >> 4]);
    hex.push_back(kHex[c & 15]);
  }
  hex.push_back('\n');
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL, 0600);
  if (fd < 0) throw std::runtime_error(path + ": cannot create the payload key file");
  const bool ok = ::write(fd, hex.data(), hex.size()) == static_cast<ssize_t>(hex.size()) && ::fsync(fd) == 0;
  ::close(fd);
  if (!ok) throw std::runtime_error(path + ": cannot write the payload key file");
}

std::string PayloadCipher::seal(std::string_view plain) const {
  unsigned char nonce[12];
  if (RAND_bytes(nonce, sizeof nonce) != 1) throw std::runtime_error("RAND_bytes failed");
  CipherCtx ctx(EVP_CIPHER_CTX_new(), &EVP_CIPHER_CTX_free);
  std::string out(reinterpret_cast<const char*>(nonce), sizeof nonce);
  out.resize(sizeof nonce + plain.size() + 16);
  int len = 0, total = 0;
  auto* dst = reinterpret_cast<unsigned char*>(out.data()) + sizeof nonce;
  if (!ctx || EVP_EncryptInit_ex(ctx.get(), EVP_aes_256_gcm(), nullptr,
                                 reinterpret_cast<const unsigned char*>(key_.data()), nonce) != 1 ||
      EVP_EncryptUpdate(ctx.get(), dst, &len, reinterpret_cast<const unsigned char*>(plain.data()),
                        static_cast<int>(plain.size())) != 1)
    throw std::runtime_error("payload encryption failed");
  total = len;
  if (EVP_EncryptFinal_ex(ctx.get(), dst + total, &len) != 1 ||
      EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_GET_TAG, 16, dst + plain.size()) != 1)
    throw std::runtime_error("payload encryption failed");
  return out;
}

std::optional<std::string> PayloadCipher::open(std::string_view sealed) const {
  if (sealed.size() < 12 + 16) return std::nullopt;
  const auto* in = reinterpret_cast<const unsigned char*>(sealed.data());
  const std::size_t n = sealed.size() - 12 - 16;
  CipherCtx ctx(EVP_CIPHER_CTX_new(), &EVP_CIPHER_CTX_free);
  std::string out(n, '\0');
  int len = 0;
  auto* dst = reinterpret_cast<unsigned char*>(out.data());
  std::string tag(sealed.substr(12 + n, 16));
  if (!ctx ||
      EVP_DecryptInit_ex(ctx.get(), EVP_aes_256_gcm(), nullptr,
                         reinterpret_cast<const unsigned char*>(key_.data()), in) != 1 ||
      EVP_DecryptUpdate(ctx.get(), dst, &len, in + 12, static_cast<int>(n)) != 1 ||
      EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_TAG, 16, tag.data()) != 1 ||
      EVP_DecryptFinal_ex(ctx.get(), dst + len, &len) != 1)
    return std::nullopt;
  return out;
}

}  // namespace kakehashi::gateway::engine
