#pragma once
// Every adapter type the gateway can run, listed explicitly in one place (adapter_registry.cpp):
// its name in the config, how it parses and validates its settings, and the envelope form the
// engine must hand it.

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "gateway/adapter/adapter.hpp"
#include "gateway/config/config_node.hpp"
#include "gateway/engine/translator.hpp"

namespace kakehashi::gateway::daemon {

using AdapterMaker = std::function<std::unique_ptr<Adapter>(AdapterContext)>;

struct AdapterType {
  std::string type;
  engine::EnvelopeForm outbound_form;
  bool needs_cosigner;
  // Parses the settings (errors recorded on the node) and returns the maker for later.
  std::function<AdapterMaker(const ConfigNode& settings)> prepare;
};

const std::vector<AdapterType>& adapter_types();
const AdapterType* find_adapter_type(const std::string& type);

}  // namespace kakehashi::gateway::daemon
