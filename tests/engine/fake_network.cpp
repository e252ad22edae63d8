#include "tests/engine/fake_network.hpp"

#include <algorithm>

namespace kakehashi::testing {

using namespace kakehashi::gateway;

class FakeAdapter final : public Adapter {
 public:
  explicit FakeAdapter(FakeNetwork& net) : net_(net) {}
  void start() override {}
  void stop(std::function<void()> drained) override {
    ++net_.stops;
    drained();
  }
  void send(OutboundUnit unit, std::function<void(SendResult)> done) override {
    ++net_.send_calls[unit.idempotency_key];
    net_.sent_units.push_back(unit);
    if (net_.holding_offices.count(unit.sender.office_no) > 0) {
      ++net_.held_answers[unit.idempotency_key];
      SendResult r;
      r.status = SendResult::Status::kRetry;
      r.error_code = "login_required";
      r.message = "office " + unit.sender.office_no + " must log in";
      r.hold_office = true;
      done(r);
      return;
    }
    if (net_.hang_next_ || net_.hang_all_sends) {
      net_.hang_next_ = false;
      net_.hung_.push_back(std::move(done));  // the answer never comes (crash mid-call)
      return;
    }
    if (!net_.script_.empty()) {
      auto r = net_.script_.front();
      net_.script_.pop_front();
      if (r.status != SendResult::Status::kAccepted) {
        done(r);
        return;
      }
    }
    SendResult r;
    r.status = SendResult::Status::kAccepted;
    r.sent_sha256 = net_.sent_document_sha256;
    auto& log = *net_.delivery_log;
    for (const auto& d : log.deliveries) {
      if (d.unit.idempotency_key == unit.idempotency_key) {
        r.remote_id = d.remote_id;  // replay: the first answer, no second delivery
        done(r);
        return;
      }
    }
    r.remote_id = "R" + std::to_string(log.deliveries.size() + 1);
    log.deliveries.push_back({std::move(unit), r.remote_id});
    done(r);
  }
  void send_receipt(OutboundReceipt receipt, std::function<void(SendResult)> done) override {
    net_.receipts_received.push_back(std::move(receipt));
    SendResult r;
    r.status = SendResult::Status::kAccepted;
    done(r);
  }
  void send_notice(OfficeNotice notice, std::function<void(SendResult)> done) override {
    if (!net_.takes_notices) return Adapter::send_notice(std::move(notice), std::move(done));
    net_.notices_received.push_back(std::move(notice));
    SendResult r;
    r.status = SendResult::Status::kAccepted;
    done(r);
  }
  void fetch_directory(std::string, std::function<void(DirectoryResult)> done) override {
    DirectoryResult r;
    r.status.status = SendResult::Status::kAccepted;
    r.entries = net_.directory;
    done(r);
  }

 private:
  FakeNetwork& net_;
};

std::unique_ptr<Adapter> FakeNetwork::make_adapter(AdapterContext ctx) {
  context = ctx;
  last_unit_cursor = ctx.unit_cursor;
  last_receipt_cursor = ctx.receipt_cursor;
  return std::make_unique<FakeAdapter>(*this);
}

void FakeNetwork::offer(InboundUnit unit) {
  unit.cursor = "c" + std::to_string(++cursor_counter_);
  pending.push_back(unit);
  context.sink->on_unit(std::move(unit), [this, id = pending.back().source_id](bool accepted) {
    ++answered_offers;
    if (!accepted) return;
    ++accepted_offers[id];
    pending.erase(std::remove_if(pending.begin(), pending.end(),
                                 [&](const InboundUnit& u) { return u.source_id == id; }),
                  pending.end());
  });
}

void FakeNetwork::reoffer_pending() {
  auto again = pending;
  pending.clear();
  for (auto& u : again) offer(std::move(u));
}

void FakeNetwork::answer_hung(SendResult result) {
  auto done = std::move(hung_.front());
  hung_.erase(hung_.begin());
  done(std::move(result));
}

void FakeNetwork::report_office(const std::string& office_no, const std::string& state,
                                const std::string& previous, const std::string& detail) {
  OfficeStateReport r;
  r.office.office_no = office_no;
  r.state = state;
  r.previous_state = previous;
  r.detail = detail;
  r.holds_outbound = state != "active" && state != "no_credentials";
  context.office_state(std::move(r));
}

void FakeNetwork::emit_receipt(const std::string& remote_id, ReceiptState state) {
  InboundReceipt r;
  r.remote_id = remote_id;
  r.state = state;
  r.cursor = "r" + std::to_string(++cursor_counter_);
  context.sink->on_receipt(std::move(r), [this](bool ok) {
    if (ok) ++receipts_acked;
  });
}

}  // namespace kakehashi::testing
