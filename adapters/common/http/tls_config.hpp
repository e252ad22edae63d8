#pragma once
// TLS settings shared by the HTTPS clients (adapters) and servers (stand-ins, gateway listeners):
// TLS 1.3, TLS 1.2 only when allowed, mutual authentication with each network's own CA.

#include <string>

#include "adapters/common/http/asio.hpp"

namespace kakehashi::adapters::http {

struct TlsConfig {
  std::string ca_file;            // PEM CA certificate(s) that issued the peer's certificate
  std::string cert_file;          // PEM certificate chain presented to the peer
  std::string key_file;           // PEM private key (must not be readable by group or others)
  bool allow_tls12 = false;       // TLS 1.3 always; 1.2 only when set; 1.0/1.1 never
  bool require_peer_cert = true;  // servers: refuse clients without a valid certificate
  std::string server_name;        // clients: name to verify in the server's certificate
};

// Build contexts; throw std::runtime_error naming the file and problem (startup only).
boost::asio::ssl::context make_server_context(const TlsConfig& config);
boost::asio::ssl::context make_client_context(const TlsConfig& config);

}  // namespace kakehashi::adapters::http
