#include "gateway/daemon/adapter_registry.hpp"

#include "adapters/folder/folder_adapter.hpp"
#include "adapters/national/national_adapter.hpp"
#include "adapters/regional/regional_adapter.hpp"

namespace kakehashi::gateway::daemon {

const std::vector<AdapterType>& adapter_types() {
  static const std::vector<AdapterType> kTypes{
      {"national", engine::EnvelopeForm::kAttachedCosigned, true,
       [](const ConfigNode& settings) -> AdapterMaker {
         auto config = national::parse_national_config(settings);
         return [config](AdapterContext ctx) { return national::make_national_adapter(config, ctx); };
       }},
      {"regional", engine::EnvelopeForm::kDetached, false,
       [](const ConfigNode& settings) -> AdapterMaker {
         auto config = regional::parse_regional_config(settings);
         return [config](AdapterContext ctx) { return regional::make_regional_adapter(config, ctx); };
       }},
      {"folder", engine::EnvelopeForm::kDetached, false,
       [](const ConfigNode& settings) -> AdapterMaker {
         auto config = adapters::folder::parse_folder_config(settings);
         return [config](AdapterContext ctx) {
           return adapters::folder::make_folder_adapter(config, ctx);
         };
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
