#pragma once
// How the registry reaches one network through its adapter, decided by the network type's
// directory traits (declared with the type in gateway/daemon/adapter_registry.cpp), and the one
// function that describes a network for a sync: used by the daemon's registry service and by
// `kakehashi registry sync`, so that both fetch, publish and record the same way.

#include <string>
#include <vector>

#include "gateway/adapter/adapter.hpp"
#include "gateway/registry/registry_sync.hpp"

namespace kakehashi::gateway::registry {

// What a network type's directory supports and takes. A type without a directory publication
// (the drop folder) is only listed.
struct DirectoryTraits {
  bool incremental = false;        // fetch_directory honours changed_since (national office master)
  bool takes_publication = false;  // publish_directory gets the offices reached elsewhere
  // The network takes only offices that receive now. The national side takes suspended and
  // closed offices too, so that their entries in its office master stay recognised as the
  // gateway's (refused as not active, never taken as native national offices).
  bool publish_active_only = false;
  // The network lists what it was given, flagged as the gateway's (the regional external
  // directory): a publication changed there by someone else is sent again.
  bool listing_shows_publication = false;
};

// The network `name` as one sync sees it: fetched through `adapter`, and published to through
// Adapter::publish_directory when its traits say it takes a publication.
SyncNetwork sync_network_for(const std::string& name, const DirectoryTraits& traits,
                             Adapter* adapter);

// Seeds `registry` with the publication the config declares for network `name` (the national
// represented offices), so that those offices are never taken as native there before the
// registry has published. Run before the stored registry is loaded: a stored publication
// replaces the seed. Nothing to declare: nothing changes.
void seed_declared_publication(reg::Registry& registry, const std::string& name,
                               const std::vector<OfficeRef>& declared);

}  // namespace kakehashi::gateway::registry
