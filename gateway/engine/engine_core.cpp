#include "gateway/engine/engine_core.hpp"

#include <chrono>

namespace kakehashi::gateway::engine {

EngineCore::EngineCore(boost::asio::io_context& io_context, EngineOptions engine_options,
                       StoreFactory store_factory, PayloadCipher payload_cipher,
                       std::shared_ptr<const mapping::cms::Credential> signer,
                       std::vector<std::string> route_preference, Clock engine_clock)
    : io(io_context),
      options(std::move(engine_options)),
      stores(std::move(store_factory)),
      cipher(std::move(payload_cipher)),
      router(std::move(route_preference)),
      clock(engine_clock ? std::move(engine_clock) : Clock([] {
        return std::chrono::duration_cast<std::chrono::milliseconds>(
                   std::chrono::system_clock::now().time_since_epoch())
            .count();
      })),
      pool(options.workers),
      receipt_signer(std::move(signer)) {}

store::Store& EngineCore::worker_store() {
  thread_local std::map<const EngineCore*, std::unique_ptr<store::Store>> connections;
  auto& s = connections[this];
  if (!s) s = stores();
  return *s;
}

}  // namespace kakehashi::gateway::engine
