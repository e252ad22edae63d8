#include "adapters/common/http/tls_config.hpp"

#include <openssl/ssl.h>
#include <sys/stat.h>

#include <stdexcept>

namespace kakehashi::adapters::http {
namespace {

namespace ssl = boost::asio::ssl;

// Forward secrecy and AEAD only; applies to TLS 1.2 (TLS 1.3 suites are all acceptable).
constexpr const char* kTls12Ciphers =
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"
    "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"
    "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305";

[[noreturn]] void fail(const std::string& file, const std::string& what) {
  throw std::runtime_error("TLS: " + file + ": " + what);
}

// A private key anyone else on the host can read is a leaked key; refuse it at startup.
// stat() follows symlinks, so the mode checked is the key's own.
void check_key_mode(const std::string& key_file) {
  struct stat st {};
  if (::stat(key_file.c_str(), &st) != 0) fail(key_file, "cannot read private key file");
  if ((st.st_mode & 077) != 0) {
    fail(key_file, "private key file is readable by group or others (chmod 600)");
  }
}

void apply_protocols(ssl::context& ctx, const TlsConfig& config) {
  SSL_CTX* native = ctx.native_handle();
  ctx.set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 |
                  ssl::context::no_sslv3 | ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1 |
                  ssl::context::single_dh_use);
  const int min_version = config.allow_tls12 ? TLS1_2_VERSION : TLS1_3_VERSION;
  if (SSL_CTX_set_min_proto_version(native, min_version) != 1) {
    throw std::runtime_error("TLS: cannot set the minimum protocol version");
  }
  if (SSL_CTX_set_cipher_list(native, kTls12Ciphers) != 1) {
    throw std::runtime_error("TLS: cannot set the TLS 1.2 cipher list");
  }
  // No session tickets: nothing is resumed, and a ticket key would be one more secret to rotate.
  SSL_CTX_set_options(native, SSL_OP_NO_TICKET | SSL_OP_NO_RENEGOTIATION);
}

void load_ca(ssl::context& ctx, const std::string& ca_file) {
  boost::system::error_code ec;
  ctx.load_verify_file(ca_file, ec);
  if (ec) fail(ca_file, "cannot load CA certificates: " + ec.message());
}

void load_identity(ssl::context& ctx, const TlsConfig& config) {
  if (config.cert_file.empty() && config.key_file.empty()) return;
  if (config.cert_file.empty()) fail(config.key_file, "private key given without a certificate");
  if (config.key_file.empty()) fail(config.cert_file, "certificate given without a private key");
  check_key_mode(config.key_file);
  boost::system::error_code ec;
  ctx.use_certificate_chain_file(config.cert_file, ec);
  if (ec) fail(config.cert_file, "cannot load certificate chain: " + ec.message());
  ctx.use_private_key_file(config.key_file, ssl::context::pem, ec);
  if (ec) fail(config.key_file, "cannot load private key: " + ec.message());
  if (SSL_CTX_check_private_key(ctx.native_handle()) != 1) {
    fail(config.key_file, "private key does not match " + config.cert_file);
  }
}

}  // namespace

ssl::context make_server_context(const TlsConfig& config) {
  ssl::context ctx(ssl::context::tls_server);
  apply_protocols(ctx, config);
  if (config.cert_file.empty()) throw std::runtime_error("TLS: server needs a certificate");
  load_identity(ctx, config);
  if (!config.ca_file.empty()) {
    load_ca(ctx, config.ca_file);
    // Tell clients which CA we accept so that a client holding several certificates picks right.
    if (STACK_OF(X509_NAME)* names = SSL_load_client_CA_file(config.ca_file.c_str())) {
      SSL_CTX_set_client_CA_list(ctx.native_handle(), names);
    }
  }
  if (config.require_peer_cert) {
    if (config.ca_file.empty()) {
      throw std::runtime_error("TLS: require_peer_cert needs ca_file");
    }
    ctx.set_verify_mode(ssl::verify_peer | ssl::verify_fail_if_no_peer_cert);
  } else if (!config.ca_file.empty()) {
    ctx.set_verify_mode(ssl::verify_peer);  // optional, but verified when presented
  } else {
    ctx.set_verify_mode(ssl::verify_none);
  }
  return ctx;
}

ssl::context make_client_context(const TlsConfig& config) {
  ssl::context ctx(ssl::context::tls_client);
  apply_protocols(ctx, config);
  if (config.ca_file.empty()) throw std::runtime_error("TLS: client needs ca_file");
  load_ca(ctx, config.ca_file);
  load_identity(ctx, config);
  ctx.set_verify_mode(ssl::verify_peer);
  return ctx;
}

}  // namespace kakehashi::adapters::http
