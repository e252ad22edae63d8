// The shared adapter behaviour suite, run against the drop folder. The folder's "peer" is the
// office software reading inbox/: delivered_count counts inbox folders written for a key.

#include "adapters/folder/inbox_writer.hpp"
#include "gateway/pki/key_file.hpp"
#include "mapping/cms/signer.hpp"
#include "tests/adapters/folder/folder_test_support.hpp"

namespace kakehashi::testing::folder {
namespace {

class FolderPeer final : public BehaviourPeer {
 public:
  FolderPeer() : root_(scratch_dir("behaviour")), unit_(UnitGenerator(41).make("K2")) {}

  std::unique_ptr<gateway::Adapter> make_adapter(gateway::AdapterContext context) override {
    adapters::folder::FolderAdapterConfig config;
    config.root = root_;
    config.offices.push_back(office(recipient_of(unit_)));
    config.scan_interval = std::chrono::milliseconds(10);
    config.stability_window = std::chrono::milliseconds(400);
    return adapters::folder::make_folder_adapter(std::move(config), std::move(context));
  }

  gateway::OutboundUnit sample_unit(const std::string& idempotency_key) override {
    // The sender's signatures, made once with another office's development key.
    if (signed_files_.empty()) {
      const auto credential =
          gateway::pki::load_credential(pki_dir() / "offices/regional/3271500021.cert.pem",
                                        pki_dir() / "offices/regional/3271500021.key.pem");
      for (const auto& f : unit_.files) {
        const auto* p = reinterpret_cast<const std::uint8_t*>(f.bytes.data());
        auto cms = mapping::cms::sign({p, f.bytes.size()}, credential, {true});
        gateway::SignedFile file;
        file.name = f.name;
        file.media_type = "text/csv";
        file.content = f.bytes;
        file.cms.assign(cms.value().begin(), cms.value().end());
        signed_files_.push_back(std::move(file));
      }
    }
    gateway::OutboundUnit unit;
    unit.idempotency_key = idempotency_key;
    unit.sender = sender_of(unit_);
    unit.recipient = recipient_of(unit_);
    unit.unit_kind = "K2";
    unit.subject = "K2";
    unit.message = "behaviour suite";
    unit.files = signed_files_;
    return unit;
  }

  std::size_t delivered_count(const std::string& idempotency_key) override {
    std::size_t count = 0;
    for (const auto& name : list_names(root_ / "inbox")) {
      if (name.front() == '.') continue;
      if (read_file(root_ / "inbox" / name / adapters::folder::kIdempotencyKeyFile) ==
          idempotency_key) {
        ++count;
      }
    }
    return count;
  }

 private:
  fs::path root_;
  GeneratedUnit unit_;
  std::vector<gateway::SignedFile> signed_files_;
};

const BehaviourSuiteRegistrar kRegistered("folder_behaviour",
                                          [] { return std::make_unique<FolderPeer>(); });

}  // namespace
}  // namespace kakehashi::testing::folder
