#include "adapters/folder/folder_adapter.hpp"

// Boost 1.74 Asio in C++20 mode with g++ 12 misses <utility> (ENV.md).
#include <utility>

#include <boost/asio/dispatch.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/thread_pool.hpp>

#include "adapters/folder/inbox_writer.hpp"
#include "adapters/folder/outbox_scanner.hpp"
#include "gateway/pki/key_file.hpp"

namespace kakehashi::adapters::folder {
namespace {

namespace asio = boost::asio;
using gateway::SendResult;

// All state lives on one strand of the engine's executor; every blocking file operation and
// every private-key operation runs on one worker thread (serialising them keeps the folder's
// moves, receipts and inbox writes in order), and its result is posted back to the strand.
class FolderAdapter final : public gateway::Adapter {
 public:
  FolderAdapter(FolderAdapterConfig config, gateway::AdapterContext context,
                std::vector<SigningOffice> offices)
      : config_(std::move(config)),
        context_(std::move(context)),
        strand_(asio::make_strand(context_.executor)),
        timer_(strand_),
        scanner_(config_, std::move(offices)),
        inbox_(config_.root, office_refs(), config_.max_file_bytes, config_.max_unit_bytes,
               config_.file_mode) {
    if (auto ec = scanner_.recover())
      throw std::system_error(ec, "drop folder " + config_.root.string());
    if (auto ec = inbox_.recover()) throw std::system_error(ec, "drop folder inbox");
  }

  ~FolderAdapter() override {
    // Handlers still queued on the executor see the token expire and do nothing.
    alive_.reset();
    timer_.cancel();
    worker_.stop();
    worker_.join();
  }

  FolderAdapter(const FolderAdapter&) = delete;
  FolderAdapter& operator=(const FolderAdapter&) = delete;

  void start() override {
    on_strand([this] {
      if (running_ && !stopping_) return;
      running_ = true;
      stopping_ = false;
      run_scan();
    });
  }

  void stop(std::function<void()> drained) override {
    on_strand([this, drained = std::move(drained)]() mutable {
      stopping_ = true;
      drained_.push_back(std::move(drained));
      timer_.cancel();
      maybe_drained();
    });
  }

  void send(gateway::OutboundUnit unit, std::function<void(SendResult)> done) override {
    on_strand([this, unit = std::move(unit), done = std::move(done)]() mutable {
      if (stopping_) return answer(std::move(done), stopping_result());
      blocking([this, unit = std::move(unit)] { return inbox_.write(unit); }, std::move(done));
    });
  }

  void send_receipt(gateway::OutboundReceipt receipt,
                    std::function<void(SendResult)> done) override {
    on_strand([this, receipt = std::move(receipt), done = std::move(done)]() mutable {
      if (stopping_) return answer(std::move(done), stopping_result());
      blocking([this, receipt = std::move(receipt)] { return scanner_.write_receipt(receipt); },
               std::move(done));
    });
  }

  void fetch_directory(std::string /*changed_since*/,
                       std::function<void(gateway::DirectoryResult)> done) override {
    on_strand([this, done = std::move(done)]() mutable {
      gateway::DirectoryResult result;
      result.status.status = SendResult::Status::kAccepted;
      for (const auto& office : config_.offices) {
        gateway::DirectoryEntry entry;
        entry.office = office.office;
        entry.name = office.name;
        entry.status = "ACTIVE";
        result.entries.push_back(std::move(entry));
      }
      answer(std::move(done), std::move(result));
    });
  }

 private:
  std::vector<mapping::OfficeRef> office_refs() const {
    std::vector<mapping::OfficeRef> refs;
    for (const auto& o : config_.offices) refs.push_back(o.office);
    return refs;
  }

  static SendResult stopping_result() {
    SendResult r;
    r.status = SendResult::Status::kRetry;
    r.error_code = "adapter-stopping";
    r.message = "the drop-folder adapter is stopping";
    return r;
  }

  template <class F>
  void on_strand(F f) {
    asio::dispatch(strand_, [alive = std::weak_ptr<bool>(alive_), f = std::move(f)]() mutable {
      if (!alive.expired()) f();
    });
  }

  // Completes `done(value)` on the strand as an in-flight call, so `drained` comes after it.
  template <class Value>
  void answer(std::function<void(Value)> done, Value value) {
    ++in_flight_;
    asio::post(strand_, [this, alive = std::weak_ptr<bool>(alive_), done = std::move(done),
                         value = std::move(value)]() mutable {
      if (alive.expired()) return;
      done(std::move(value));
      --in_flight_;
      maybe_drained();
    });
  }

  // Runs `work` on the worker thread, then `done(result)` on the strand.
  template <class Work, class Done>
  void blocking(Work work, Done done) {
    ++in_flight_;
    asio::post(worker_, [this, alive = std::weak_ptr<bool>(alive_), strand = strand_,
                         work = std::move(work), done = std::move(done)]() mutable {
      auto result = work();
      asio::post(strand,
                 [this, alive, done = std::move(done), result = std::move(result)]() mutable {
                   if (alive.expired()) return;
                   done(std::move(result));
                   --in_flight_;
                   maybe_drained();
                 });
    });
  }

  void run_scan() {
    blocking([this] { return scanner_.scan(std::chrono::steady_clock::now()); },
             [this](ScanResult result) {
               for (auto& ready : result.ready) offer(std::move(ready));
               if (config_.on_scan) config_.on_scan(result.report);
               if (running_ && !stopping_) arm_timer();
             });
  }

  void arm_timer() {
    timer_.expires_after(config_.scan_interval);
    timer_.async_wait([this, alive = std::weak_ptr<bool>(alive_)](boost::system::error_code ec) {
      if (alive.expired() || ec || !running_ || stopping_) return;
      if (context_.may_poll && !context_.may_poll()) {
        arm_timer();  // another instance holds this folder's poll lease
        return;
      }
      run_scan();
    });
  }

  void offer(ReadyUnit ready) {
    ++in_flight_;  // until the sink answers and the files are moved
    const mapping::SendUnitKey key = ready.key;
    auto on_answer = [this, alive = std::weak_ptr<bool>(alive_), strand = strand_,
                      key](bool accepted) {
      // The sink may answer from any thread, or after the adapter is gone.
      asio::post(strand, [this, alive, key, accepted] {
        if (alive.expired()) return;
        --in_flight_;
        blocking([this, key, accepted] { return scanner_.finish(key, accepted); },
                 [](std::error_code) {
                   // A failed move leaves the files in outbox/: the next start offers the unit
                   // again under the same source_id, which the engine recognises.
                 });
      });
    };
    context_.sink->on_unit(std::move(ready.unit), std::move(on_answer));
  }

  void maybe_drained() {
    if (!stopping_ || in_flight_ != 0 || drained_.empty()) return;
    running_ = false;
    auto callbacks = std::move(drained_);
    drained_.clear();
    for (auto& cb : callbacks) cb();
  }

  FolderAdapterConfig config_;
  gateway::AdapterContext context_;
  asio::strand<asio::any_io_executor> strand_;
  asio::steady_timer timer_;
  OutboxScanner scanner_;  // worker thread only
  InboxWriter inbox_;      // worker thread only
  bool running_ = false;
  bool stopping_ = false;
  std::size_t in_flight_ = 0;
  std::vector<std::function<void()>> drained_;
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
  asio::thread_pool worker_{1};  // last: joined first on destruction
};

}  // namespace

std::unique_ptr<gateway::Adapter> make_folder_adapter(FolderAdapterConfig config,
                                                      gateway::AdapterContext context) {
  std::vector<SigningOffice> offices;
  for (const auto& office : config.offices) {
    offices.push_back(
        {office.office, gateway::pki::load_credential(office.certificate_file, office.key_file)});
  }
  return std::make_unique<FolderAdapter>(std::move(config), std::move(context), std::move(offices));
}

}  // namespace kakehashi::adapters::folder
