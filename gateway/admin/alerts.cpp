#include "gateway/admin/alerts.hpp"

#include "gateway/pki/expiry.hpp"
#include "mapping/common/iso_time.hpp"

namespace kakehashi::gateway::admin {

namespace {
constexpr std::int64_t kHourMs = 3600 * 1000;
}  // namespace

std::optional<registry::SyncRecord> last_sync(ApiContext& ctx) {
  if (!ctx.thread.registry_db) return std::nullopt;
  registry::RegistryStore rs(*ctx.thread.registry_db);
  return rs.last_sync();
}

std::int64_t sum_state(const std::vector<store::StateCount>& counts, const char* state) {
  std::int64_t n = 0;
  for (const auto& c : counts) {
    if (c.state == state) n += c.count;
  }
  return n;
}

std::vector<std::string> unbalanced_directions(const std::vector<store::ReportRow>& rows) {
  std::vector<std::string> out;
  for (const auto& r : rows) {
    if (r.in != r.delivered + r.rejected + r.parked + r.superseded + r.in_flight)
      out.push_back(r.direction);
  }
  return out;
}

std::vector<Alert> office_alerts(const OfficeViews& offices, const AdminConfig& config,
                                 std::int64_t now_ms) {
  using mapping::common::parse_iso_seconds;
  using mapping::common::Trailing;
  std::vector<Alert> out;
  for (const auto& [network, views] : offices) {
    for (const auto& v : views) {
      const std::string subject = network + "/" + v.office_no;
      const std::string office = "office " + v.office_no + " on " + network;
      const std::string why = v.detail.empty() ? "" : " (" + v.detail + ")";
      if (v.state == "login_required" || v.state == "awaiting_otp") {
        out.push_back(
            {"office-login-required", subject,
             office + " needs a login with a one-time password" +
                 (v.state == "awaiting_otp" ? ", started and waiting for the code" : "") + why +
                 "; its outbound units wait until a person logs it in (the console, or `login " +
                 network + " " + v.office_no + "` of the network type's subcommands)"});
      } else if (v.state == "locked") {
        out.push_back({"office-locked", subject,
                       office + " is locked" +
                           (v.locked_until.empty() ? "" : " until " + v.locked_until) + why +
                           "; its outbound units wait; log in again once the lock has passed"});
      } else if (v.state == "credentials_invalid") {
        out.push_back({"office-credentials-invalid", subject,
                       office + ": its credentials are refused" + why +
                           "; its outbound units wait: fix them (credentials add, check)"});
      }
      if (v.state == "active" && !v.refresh_expires_at.empty()) {
        if (const auto lapses = parse_iso_seconds(v.refresh_expires_at, Trailing::kIgnore);
            lapses && *lapses * 1000 - now_ms <= config.office_login_due.count()) {
          out.push_back({"office-login-due", subject,
                         office + ": its session lapses at " + v.refresh_expires_at +
                             "; log in before then so its traffic does not stop"});
        }
      }
      if (!v.certificate_not_after.empty()) {
        if (const auto until = parse_iso_seconds(v.certificate_not_after, Trailing::kIgnore)) {
          const auto days = pki::days_left(*until * 1000, now_ms);
          if (days < config.office_certificate_expiry_days) {
            out.push_back({"office-certificate-expiring", subject,
                           office + ": its client certificate " +
                               (days < 0 ? "expired on " : "expires on ") +
                               v.certificate_not_after.substr(0, 10) + " (" + std::to_string(days) +
                               " day(s)); renew it and run credentials add"});
          }
        }
      }
    }
  }
  return out;
}

std::vector<Alert> evaluate_alerts(ApiContext& ctx) {
  std::vector<Alert> out;
  const auto counts = ctx.store().state_counts(0);
  if (const auto parked = sum_state(counts, store::kParked); parked > 0)
    out.push_back({"parked", "", std::to_string(parked) + " transfer(s) parked"});
  for (const auto& source : ctx.sources.expiry) {
    for (const auto& e : pki::read_expiry(source)) {
      if (!e.error.empty()) {
        out.push_back(
            {source.kind == "crl" ? "crl-expiry" : "certificate-expiry", e.name, e.error});
        continue;
      }
      const auto days = pki::days_left(e.until, ctx.now);
      if (days < (source.kind == "crl" ? ctx.config.crl_expiry_days
                                       : ctx.config.certificate_expiry_days)) {
        out.push_back({source.kind == "crl" ? "crl-expiry" : "certificate-expiry", e.name,
                       (days < 0 ? "expired " : "expires in " + std::to_string(days) + " day(s) ") +
                           std::string("(") + mapping::common::format_iso_ms(e.until) + ") " +
                           e.subject});
      }
    }
  }
  for (const auto& n : ctx.engine.networks) {
    if (n.failing_since > 0 && ctx.now - n.failing_since > ctx.config.network_unreachable.count()) {
      out.push_back({"network-unreachable", n.name,
                     "failing since " + mapping::common::format_iso_ms(n.failing_since) + " (" +
                         std::to_string(n.failures) + " consecutive failures)"});
    }
  }
  // A destination refused units for a reason their senders cannot fix (trust between networks,
  // its own policy): the operator must act. Shown for a day after the last one.
  for (const auto& n : ctx.engine.networks) {
    if (n.last_operator_refusal > 0 && ctx.now - n.last_operator_refusal < 24 * kHourMs) {
      out.push_back({"destination-refusal", n.name,
                     std::to_string(n.operator_refusals) +
                         " unit(s) refused for a reason the sender cannot fix; last " +
                         mapping::common::format_iso_ms(n.last_operator_refusal) + ": " +
                         n.last_operator_refusal_reason});
    }
  }
  // Issue 14: a network whose cursor stops moving while its polls keep failing.
  for (const auto& [network, counters] : ctx.sources.adapter_counters) {
    const auto stalled = counters->stalled_polls.load();
    if (stalled >= kInboxStalledPolls)
      out.push_back(
          {"inbox-stalled", network,
           std::to_string(stalled) + " inbox polls failed in a row and the cursor has not moved"});
  }
  try {
    if (const auto s = last_sync(ctx);
        s && ctx.now - s->finished_ms > ctx.config.registry_stale.count())
      out.push_back(
          {"registry-stale", "",
           "last registry sync finished " + mapping::common::format_iso_ms(s->finished_ms)});
  } catch (const store::SqlError&) {
    // No registry tables yet: nothing synced, nothing stale.
  }
  for (auto& a : office_alerts(ctx.engine.offices, ctx.config, ctx.now))
    out.push_back(std::move(a));
  for (const auto& d : unbalanced_directions(ctx.store().report(0, INT64_MAX)))
    out.push_back(
        {"conservation-drift", d, "in != delivered + rejected + parked + superseded + in flight"});
  return out;
}

}  // namespace kakehashi::gateway::admin
