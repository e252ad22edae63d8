#pragma once
// The drop-folder adapter (DESIGN §3.3): an office's care software exports send units into
// outbox/; they are taken when complete and stable, signed with the office key and handed to the
// engine, then moved to sent/ or rejected/. Units for the office are written into inbox/.

#include <memory>

#include "adapters/folder/folder_config.hpp"
#include "gateway/adapter/adapter.hpp"

namespace kakehashi::adapters::folder {

// Startup only: loads each office's credential (throws gateway::pki::PkiError for a missing or
// group/world-readable key), creates the folders and recovers from an interrupted run
// (throws std::system_error when the folder cannot be prepared).
// Destroy the adapter on its executor, after `stop` has called `drained`.
std::unique_ptr<gateway::Adapter> make_folder_adapter(FolderAdapterConfig config,
                                                      gateway::AdapterContext context);

}  // namespace kakehashi::adapters::folder
