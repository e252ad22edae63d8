#pragma once
// The regional network adapter (RHN API v1, PROTOCOL.md): the gateway as a member node that
// sends units as messages with detached signatures, polls its mailbox and receipts by sequence
// (and at once on a push notice), answers read/reject receipts and syncs the directory.

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "adapters/common/http/peer_pin.hpp"
#include "adapters/common/http/tls_config.hpp"
#include "gateway/adapter/adapter.hpp"
#include "gateway/config/config_node.hpp"

namespace kakehashi::adapters::regional {

// The optional listener for the network's push notices (PROTOCOL.md §8).
struct RegionalPushConfig {
  bool enabled = false;
  std::string listen_address = "127.0.0.1";
  std::uint16_t port = 0;                   // 0: any free port
  std::string callback_host = "127.0.0.1";  // host named in the registered callback URL
  std::string path = "/rhn/notice";
  http::TlsConfig tls;  // server certificate; ca_file: the CA of the network's client certificate
  // The network's own push identity: every member holds a certificate of the regional CA, so
  // the CA alone does not say who pushes. Required (subject CN and/or SHA-256 fingerprint).
  http::PeerPin peer;
  int max_connections = 4;  // open connections to the listener at most
};

// A notice is {"event":"mailbox","sequence":N}: bodies over this are refused (413).
inline constexpr std::size_t kMaxPushNoticeBytes = 4096;

struct RegionalAdapterConfig {
  std::string host = "127.0.0.1";
  std::uint16_t port = 0;
  http::TlsConfig tls;      // client certificate of the gateway member, regional CA
  std::string facility_id;  // the gateway member's (external) facility on the network
  std::chrono::milliseconds poll_interval{5000};
  std::chrono::milliseconds timeout{15000};
  int page_size = 100;
  int max_connections = 4;
  RegionalPushConfig push;
};

// Reads `section` (errors recorded through the node with their key paths).
RegionalAdapterConfig parse_regional_config(const gateway::ConfigNode& section);

class RegionalAdapter final : public gateway::Adapter {
 public:
  RegionalAdapter(RegionalAdapterConfig config, gateway::AdapterContext context);
  ~RegionalAdapter() override;
  RegionalAdapter(const RegionalAdapter&) = delete;
  RegionalAdapter& operator=(const RegionalAdapter&) = delete;

  void start() override;
  void stop(std::function<void()> drained) override;
  void send(gateway::OutboundUnit unit, std::function<void(gateway::SendResult)> done) override;
  void send_receipt(gateway::OutboundReceipt receipt,
                    std::function<void(gateway::SendResult)> done) override;
  void fetch_directory(std::string changed_since,
                       std::function<void(gateway::DirectoryResult)> done) override;
  // Tells a native office of the network about itself: POST /rhn/v1/notices (PROTOCOL.md §7a).
  void send_notice(gateway::OfficeNotice notice,
                   std::function<void(gateway::SendResult)> done) override;

  // Publishes the national offices the gateway reaches as its external directory (replaces the
  // previous publication). Entries without a status are published as ACTIVE.
  void publish_directory(std::vector<gateway::DirectoryEntry> entries,
                         std::function<void(gateway::SendResult)> done) override;

  // Polls mailbox and receipts now (what a push notice does).
  void poll_now();

  // The push listener's port once started (0 when push is off); `on_ready` runs on the adapter's
  // strand after the callback registration was answered (ok = registered).
  std::uint16_t push_port() const;
  void on_push_registered(std::function<void(bool ok)> on_ready);

 private:
  struct Impl;
  std::shared_ptr<Impl> impl_;
};

std::unique_ptr<gateway::Adapter> make_regional_adapter(RegionalAdapterConfig config,
                                                        gateway::AdapterContext context);

}  // namespace kakehashi::adapters::regional
