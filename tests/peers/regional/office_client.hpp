#pragma once
// A regional office's client (RHN API v1): sends a unit as an office of a facility, signing each
// file with the office key (detached), and reads its mailbox and receipts. Synchronous, with its
// own I/O loop: for tests, the quickstart and `kakehashi-regional-office`.

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "adapters/common/http/message.hpp"
#include "adapters/common/http/tls_config.hpp"
#include "adapters/regional/rhn_wire.hpp"
#include "mapping/cms/credential.hpp"

namespace kakehashi::adapters::regional::office {

struct OfficeClientOptions {
  std::string host = "127.0.0.1";
  std::uint16_t port = 0;
  adapters::http::TlsConfig tls;  // the member's client certificate, regional CA
  std::chrono::milliseconds timeout{15000};
};

struct OfficeFile {
  std::string name;
  std::string bytes;
};

// Signs each file (detached SignedData over its exact bytes) into an RHN message.
RhnMessage build_message(const std::string& message_id, const RhnSender& from,
                         const mapping::OfficeRef& to, const std::vector<OfficeFile>& files,
                         const mapping::cms::Credential& signer, std::string subject = "",
                         std::string body = "");

class OfficeClient {
 public:
  explicit OfficeClient(OfficeClientOptions options);
  ~OfficeClient();
  OfficeClient(const OfficeClient&) = delete;
  OfficeClient& operator=(const OfficeClient&) = delete;

  // One request; a transport failure gives status 0 and the error text as body.
  adapters::http::Response call(const std::string& method, const std::string& target,
                                const std::string& body = "");

  adapters::http::Response send(const RhnMessage& message) {
    return call("POST", "/rhn/v1/messages", encode_message(message));
  }
  adapters::http::Response mailbox(std::int64_t since = 0, std::int64_t limit = kDefaultPageLimit) {
    return call("GET", "/rhn/v1/mailbox?since=" + std::to_string(since) +
                           "&limit=" + std::to_string(limit));
  }
  adapters::http::Response fetch(const std::string& id) {
    return call("GET", "/rhn/v1/messages/" + id);
  }
  adapters::http::Response read(const std::string& id) {
    return call("POST", "/rhn/v1/messages/" + id + "/read", "{}");
  }
  adapters::http::Response reject(const std::string& id, const std::string& reason);
  adapters::http::Response receipts(std::int64_t since = 0) {
    return call("GET", "/rhn/v1/receipts?since=" + std::to_string(since));
  }
  adapters::http::Response directory() { return call("GET", "/rhn/v1/directory"); }

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace kakehashi::adapters::regional::office
