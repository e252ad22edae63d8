#pragma once
// Every adapter type the gateway can run, listed explicitly in one place (adapter_registry.cpp):
// its name in the config, its traits (what the engine, the router and the registry must know
// about the network type), and how it parses and validates its settings. Adding a network type
// is its folder under adapters/ plus its entry there (gateway/adapter/README.md).

#include <functional>
#include <iosfwd>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "gateway/adapter/adapter.hpp"
#include "gateway/config/config_node.hpp"
#include "gateway/engine/translator.hpp"
#include "gateway/registry/sync_network.hpp"

namespace kakehashi::gateway::daemon {

using AdapterMaker = std::function<std::unique_ptr<Adapter>(AdapterContext)>;

// What the gateway knows about a network type without asking its adapter.
struct AdapterTraits {
  // The envelope form the engine hands the adapter (translator): attached and co-signed by the
  // gateway (national), or detached as the sender signed it.
  engine::EnvelopeForm outbound_form = engine::EnvelopeForm::kDetached;
  bool needs_cosigner = false;  // the network section must name a cosign credential
  // A sender must be a member of the network it sends from (Router::check_sender in admission):
  // the gateway's own publication there never makes a sender.
  bool senders_must_be_members = false;
  registry::DirectoryTraits directory;  // fetching and publishing the directory
  // Units from this network carry their senders' CMS signatures, which admission verifies. false
  // (Kaigo WEB: the national side signs nothing): the engine checks the files, keeps the
  // adapter's origin evidence and signs them with its proxy credential and attestation instead.
  bool inbound_signed = true;
};

// Operator subcommands of a network type: `kakehashi <type> ARGS...` (the Kaigo WEB type's
// `credentials add|list|check|remove`, `login`, `offices`). Implemented in the adapter's folder.
struct TypeCommand {
  std::string summary;  // one line for `kakehashi --help`
  std::string help;     // `kakehashi <type> --help`
  std::function<int(std::span<const std::string> args, std::ostream& out, std::ostream& err)> run;
};

// The settings of one network, parsed once: the maker for its adapter and the typed settings the
// gateway needs before the adapter runs.
struct PreparedAdapter {
  AdapterMaker make;
  // Offices the config declares as the gateway's publication on this network (the national
  // represented offices): seeds the router's publication on a new store, so they are never
  // taken as native offices there before the registry has published.
  std::vector<OfficeRef> declared_publication;
};

struct AdapterType {
  std::string type;
  AdapterTraits traits;
  // Parses the settings (errors recorded on the node; throws on a file that cannot be read).
  std::function<PreparedAdapter(const ConfigNode& settings)> prepare;
  // Empty `run`: the type has no subcommands of its own.
  TypeCommand command{};
};

const std::vector<AdapterType>& adapter_types();
const AdapterType* find_adapter_type(const std::string& type);

}  // namespace kakehashi::gateway::daemon
