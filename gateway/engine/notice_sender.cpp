#include "gateway/engine/notice_sender.hpp"

#include <string>
#include <utility>
#include <vector>

#include "gateway/engine/delivery.hpp"
#include "gateway/engine/delivery_policy.hpp"
#include "gateway/engine/engine_core.hpp"
#include "gateway/engine/group_committer.hpp"
#include "gateway/engine/log.hpp"

namespace kakehashi::gateway::engine {
namespace {

ReceiptState receipt_state_from(const std::string& s) {
  if (s == "read") return ReceiptState::kRead;
  if (s == "rejected") return ReceiptState::kRejected;
  return ReceiptState::kDelivered;
}

}  // namespace

NoticeSender::NoticeSender(EngineCore& core, GroupCommitter& committer)
    : core_(core), committer_(committer) {}

void NoticeSender::pump() {
  if (claiming_ || core_.stopping || in_flight_ >= core_.options.max_in_flight) return;
  claiming_ = true;
  const std::size_t room = core_.options.max_in_flight - in_flight_;
  core_.on_worker(
      [this, room](store::Store& s) {
        return s.claim_notices(core_.options.instance_id, core_.now(), core_.options.lease.count(),
                               room);
      },
      [this](bool ok, std::vector<store::Notice> notices) {
        claiming_ = false;
        if (!ok) return;
        for (auto& n : notices) {
          const auto net = core_.networks.find(n.adapter);
          if (net == core_.networks.end()) continue;
          ++in_flight_;
          auto answered = [this, alive = core_.alive, n](SendResult result) {
            if (!*alive) return;
            const bool done = result.status != SendResult::Status::kRetry;
            if (n.state == store::kOfficeNotice && result.status == SendResult::Status::kRejected) {
              // Not retried: the network cannot take it. Operators see the state on the
              // dashboard and in the log line of the report.
              ++core_.counters.office_notices_refused;
              log(LogLevel::kWarning, "office-notice-refused",
                  {{"network", n.adapter},
                   {"office", n.source_id},
                   {"error", result.error_code + " " + result.message}});
            }
            const std::int64_t next =
                core_.now() +
                (result.retry_after
                     ? result.retry_after->count() * 1000
                     : backoff_delay(n.attempts, delivery_settings(core_.options), draw_jitter()));
            const std::string error = result.error_code + " " + result.message;
            committer_.commit(
                [this, n, done, next, error](store::Store& s) {
                  if (done) {
                    s.notice_sent(n.id, core_.now());
                  } else {
                    s.notice_retry(n.id, next, error, core_.now());
                  }
                },
                [this, done](bool committed) {
                  --in_flight_;
                  if (done && committed) ++core_.counters.notices_sent;
                  pump();
                  core_.maybe_finish_stop();
                });
          };
          if (n.state == store::kOfficeNotice) {
            OfficeNotice notice;
            notice.office.office_no = n.source_id;
            notice.text = n.reason;
            notice.idempotency_key = n.idempotency_key;
            net->second->adapter->send_notice(std::move(notice), std::move(answered));
            continue;
          }
          OutboundReceipt r;
          r.source_id = n.source_id;
          r.state = receipt_state_from(n.state);
          r.reason = n.reason;
          r.idempotency_key = n.idempotency_key;
          net->second->adapter->send_receipt(std::move(r), std::move(answered));
        }
        core_.maybe_finish_stop();
      });
}

}  // namespace kakehashi::gateway::engine
