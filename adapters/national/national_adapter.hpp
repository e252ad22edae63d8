#pragma once
// The national network adapter (NCP API v1, adapters/national/PROTOCOL.md): the gateway as a
// registered proxy agent. Config parsing and the factory are the only entry points the engine uses.

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "adapters/common/http/tls_config.hpp"
#include "gateway/adapter/adapter.hpp"
#include "gateway/config/config_node.hpp"

namespace kakehashi::adapters::national {

struct NationalAdapterConfig {
  std::string host = "127.0.0.1";
  std::uint16_t port = 0;
  http::TlsConfig tls;             // national CA, the proxy's TLS client certificate and key
  std::string user_id;             // KJ + 12 digits
  std::string password_file;       // secret: a path, never the password itself
  std::string document_cert_file;  // the proxy's document certificate (co-signs, decrypts)
  std::string document_key_file;
  std::chrono::milliseconds poll_interval{5000};
  std::chrono::milliseconds request_timeout{15000};
  int page_limit = 50;
  // Declared with PUT /ncp/v1/proxy/offices after the first login, when not empty.
  std::vector<gateway::OfficeRef> represented_offices;
};

// Reads the adapter's section; every problem is recorded on the node with its key path.
NationalAdapterConfig parse_national_config(const gateway::ConfigNode& section);

// The national adapter beyond the engine's interface: withdraw and represented offices.
class NationalAdapter : public gateway::Adapter {
 public:
  // DELETE /ncp/v1/transmissions/{id}: withdraw before download (409 already_downloaded →
  // kRejected).
  virtual void withdraw(std::string transmission_id,
                        std::function<void(gateway::SendResult)> done) = 0;
  // PUT /ncp/v1/proxy/offices: replaces the offices the proxy represents.
  virtual void declare_represented(std::vector<gateway::OfficeRef> offices,
                                   std::function<void(gateway::SendResult)> done) = 0;
};

// Loads the password and the document credential (throws at startup on a bad file). The object
// is a NationalAdapter (withdraw, declare_represented); the gateway uses only the Adapter
// interface, where publish_directory declares the represented offices.
std::unique_ptr<gateway::Adapter> make_national_adapter(NationalAdapterConfig config,
                                                        gateway::AdapterContext context);

}  // namespace kakehashi::adapters::national
