#include "adapters/kaigoweb/kaigoweb_adapter.hpp"

#include "adapters/kaigoweb/kaigoweb_impl.hpp"

namespace kakehashi::adapters::kaigoweb {
namespace detail {

void Impl::start() {
  boost::asio::dispatch(strand_, [self = shared_from_this()] {
    if (self->running_) return;
    self->running_ = true;
    self->stopping_ = false;
    self->drained_ = nullptr;
    if (!self->loaded_) {
      self->loaded_ = true;
      self->load_offices();
    }
    self->schedule(Ms(0));
    self->schedule_handoffs();
  });
}

void Impl::stop(std::function<void()> drained) {
  boost::asio::dispatch(strand_,
                        [self = shared_from_this(), drained = std::move(drained)]() mutable {
                          self->stopping_ = true;
                          self->running_ = false;
                          self->drained_ = std::move(drained);
                          self->timer_.cancel();
                          self->handoff_timer_.cancel();
                          self->units_.forget();
                          self->receipts_.forget();
                          self->run_queue_.clear();
                          // The run's continuations end at stopping_: a start begins a new run
                          // (before, run_active_ stayed set and a restarted adapter never
                          // polled again).
                          self->run_active_ = false;
                          self->run_ending_ = false;
                          self->offices_polling_.clear();
                          self->unit_room_.clear();
                          self->receipt_room_.clear();
                          if (self->context_.events.counters)
                            self->context_.events.counters->offices_polling = 0;
                          self->maybe_drained();
                        });
}

void Impl::shutdown() {
  boost::asio::dispatch(strand_, [self = shared_from_this()] {
    self->stopping_ = true;
    self->timer_.cancel();
    self->handoff_timer_.cancel();
    self->units_.forget();
    self->receipts_.forget();
    for (auto& [no, o] : self->offices_) {
      if (o.client) o.client->close();
    }
  });
}

void Impl::vault_get(std::string key,
                     std::function<void(std::optional<gateway::VaultRecord>, bool)> done) {
  ++in_flight_;
  context_.vault->get(
      std::move(key), [self = shared_from_this(), done = std::move(done)](
                          std::optional<gateway::VaultRecord> rec, bool ok) mutable {
        boost::asio::post(self->strand_,
                          [self, done = std::move(done), rec = std::move(rec), ok]() mutable {
                            --self->in_flight_;
                            done(std::move(rec), ok);
                            self->maybe_drained();
                          });
      });
}

void Impl::vault_put(std::string key, std::string value, std::int64_t generation,
                     std::function<void(gateway::VaultWrite)> done) {
  ++in_flight_;
  context_.vault->put(
      std::move(key), std::move(value), generation,
      [self = shared_from_this(), done = std::move(done)](gateway::VaultWrite w) mutable {
        boost::asio::post(self->strand_, [self, done = std::move(done), w] {
          --self->in_flight_;
          done(w);
          self->maybe_drained();
        });
      });
}

void Impl::vault_put_any(std::string key, std::string value) {
  vault_get(key, [this, key, value](std::optional<gateway::VaultRecord> rec, bool ok) {
    if (!ok) return;
    vault_put(key, value, rec ? rec->generation : 0, [](gateway::VaultWrite) {});
  });
}

void Impl::load_doubts(const std::string& office_no) {
  ++in_flight_;
  const std::string prefix = doubt_prefix(context_.name, office_no);
  context_.vault->list(prefix, [self = shared_from_this(), office_no, prefix](
                                   std::vector<std::string> keys, bool ok) {
    boost::asio::post(self->strand_, [self, office_no, prefix, keys = std::move(keys), ok] {
      --self->in_flight_;
      for (const auto& key : ok ? keys : std::vector<std::string>{}) {
        self->vault_get(key, [self, office_no, reference = key.substr(prefix.size())](
                                 std::optional<gateway::VaultRecord> rec, bool read) {
          Office* o = self->office(office_no);
          if (!read || !rec || o == nullptr) return;
          if (auto t = parse_time(rec->value)) o->doubt.emplace(reference, *t);
        });
      }
      self->maybe_drained();
    });
  });
}

void Impl::maybe_drained() {
  if (!stopping_ || in_flight_ > 0 || sink_pending_ > 0 || !drained_) return;
  auto drained = std::move(drained_);
  drained_ = nullptr;
  boost::asio::post(strand_, std::move(drained));
}

}  // namespace detail

namespace {

using detail::Impl;
using gateway::SendResult;

class KaigoWebAdapter final : public gateway::Adapter {
 public:
  explicit KaigoWebAdapter(std::shared_ptr<Impl> impl) : impl_(std::move(impl)) {}
  ~KaigoWebAdapter() override { impl_->shutdown(); }
  void start() override { impl_->start(); }
  void stop(std::function<void()> drained) override { impl_->stop(std::move(drained)); }
  void send(gateway::OutboundUnit unit, std::function<void(SendResult)> done) override {
    impl_->send(std::move(unit), std::move(done));
  }
  void send_receipt(gateway::OutboundReceipt receipt,
                    std::function<void(SendResult)> done) override {
    impl_->send_receipt(std::move(receipt), std::move(done));
  }
  void fetch_directory(std::string changed_since,
                       std::function<void(gateway::DirectoryResult)> done) override {
    impl_->fetch_directory(std::move(changed_since), std::move(done));
  }
  gateway::OfficeLogins* office_logins() override { return impl_.get(); }

 private:
  std::shared_ptr<Impl> impl_;
};

}  // namespace

std::unique_ptr<gateway::Adapter> make_kaigoweb_adapter(KaigoWebConfig config,
                                                        gateway::AdapterContext context) {
  if (context.sink == nullptr) throw std::invalid_argument("kaigoweb adapter: no sink");
  if (!context.vault)
    throw std::invalid_argument("kaigoweb adapter: no vault (session records live there)");
  return std::make_unique<KaigoWebAdapter>(
      std::make_shared<Impl>(std::move(config), std::move(context)));
}

}  // namespace kakehashi::adapters::kaigoweb
