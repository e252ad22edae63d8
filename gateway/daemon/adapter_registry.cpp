// The one registration file: the only file under gateway/ that includes a concrete adapter
// (tests/architecture checks it). One entry per network type.
#include "gateway/daemon/adapter_registry.hpp"

#include "adapters/folder/folder_adapter.hpp"
#include "adapters/kaigoweb/kaigoweb_adapter.hpp"
#include "adapters/kaigoweb/kaigoweb_command.hpp"
#include "adapters/national/national_adapter.hpp"
#include "adapters/regional/regional_adapter.hpp"

namespace kakehashi::gateway::daemon {

namespace {

AdapterTraits national_traits() {
  AdapterTraits t;
  t.outbound_form = engine::EnvelopeForm::kAttachedCosigned;
  t.needs_cosigner = true;
  t.senders_must_be_members = true;
  t.directory.incremental = true;           // the office master lists changes since `changed_since`
  t.directory.takes_publication = true;     // the proxy's represented offices
  t.directory.publish_active_only = false;  // suspended and closed offices stay ours there
  return t;
}

AdapterTraits regional_traits() {
  AdapterTraits t;
  t.directory.takes_publication = true;          // the external directory
  t.directory.listing_shows_publication = true;  // which comes back flagged as ours
  return t;
}

// The Kaigo WEB Service (adapters/kaigoweb/PROTOCOL.md §7.10): detached (the adapter translates
// each file's content to 5.0; nothing is co-signed), national senders must be listed, an
// incremental office list, no publication, and units that carry no CMS (the engine signs them
// as the proxy with its attestation).
AdapterTraits kaigoweb_traits() {
  AdapterTraits t;
  t.outbound_form = engine::EnvelopeForm::kDetached;
  // Its `cosign` credential is the proxy credential that signs the rendered 4.1 files of units
  // from this network (it signs nothing): the config names it, checked with its key path.
  t.needs_cosigner = true;
  t.senders_must_be_members = true;
  t.directory.incremental = true;
  t.directory.takes_publication = false;
  t.directory.listing_shows_publication = false;
  t.inbound_signed = false;
  return t;
}

// A drop folder: detached envelopes, no directory publication.
AdapterTraits folder_traits() {
  return {};
}

}  // namespace

const std::vector<AdapterType>& adapter_types() {
  static const std::vector<AdapterType> kTypes{
      {"national", national_traits(),
       [](const ConfigNode& settings) {
         auto config = adapters::national::parse_national_config(settings);
         PreparedAdapter p;
         p.declared_publication = config.represented_offices;
         p.make = [config](AdapterContext ctx) {
           return adapters::national::make_national_adapter(config, ctx);
         };
         return p;
       }},
      {"regional", regional_traits(),
       [](const ConfigNode& settings) {
         auto config = adapters::regional::parse_regional_config(settings);
         PreparedAdapter p;
         p.make = [config](AdapterContext ctx) {
           return adapters::regional::make_regional_adapter(config, ctx);
         };
         return p;
       }},
      {"kaigoweb", kaigoweb_traits(),
       [](const ConfigNode& settings) {
         auto config = adapters::kaigoweb::parse_kaigoweb_config(settings);
         PreparedAdapter p;
         p.make = [config](AdapterContext ctx) {
           return adapters::kaigoweb::make_kaigoweb_adapter(config, ctx);
         };
         return p;
       },
       [] {
         auto c = adapters::kaigoweb::kaigoweb_command();
         return TypeCommand{std::move(c.summary), std::move(c.help), std::move(c.run)};
       }()},
      {"folder", folder_traits(),
       [](const ConfigNode& settings) {
         auto config = adapters::folder::parse_folder_config(settings);
         PreparedAdapter p;
         p.make = [config](AdapterContext ctx) {
           return adapters::folder::make_folder_adapter(config, ctx);
         };
         return p;
       }},
  };
  return kTypes;
}

const AdapterType* find_adapter_type(const std::string& type) {
  for (const auto& t : adapter_types()) {
    if (t.type == type) return &t;
  }
  return nullptr;
}

}  // namespace kakehashi::gateway::daemon
