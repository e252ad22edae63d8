#include "gateway/admin/metrics.hpp"

#include <algorithm>
#include <atomic>
#include <map>
#include <memory>
#include <set>
#include <utility>
#include <vector>

#include "gateway/admin/alerts.hpp"
#include "gateway/admin/prometheus.hpp"
#include "gateway/pki/expiry.hpp"
#include "mapping/common/iso_time.hpp"

namespace kakehashi::gateway::admin {

adapters::http::Response metrics(ApiContext& ctx) {
  PrometheusText p;
  const auto counts = ctx.store().state_counts(0);
  p.family("kakehashi_info", "gauge", "The gateway instance answering.");
  p.sample("kakehashi_info", {{"instance", ctx.sources.instance}, {"version", ctx.sources.version}},
           1);

  // Units by direction (the store's view: every instance sharing it, since the store began).
  std::map<std::pair<std::string, std::string>, std::int64_t> in, out, states;
  for (const auto& c : counts) {
    in[{c.direction, c.refused_at_intake ? "refused" : "accepted"}] += c.count;
    if (c.state == store::kDelivered || c.state == store::kRejected ||
        c.state == store::kSuperseded)
      out[{c.direction, c.state}] += c.count;
    states[{c.direction, c.state}] += c.count;
  }
  p.family(
      "kakehashi_units_in_total", "counter",
      "Units taken in, by direction and outcome at intake (accepted, or refused at admission).");
  for (const auto& [k, v] : in)
    p.sample("kakehashi_units_in_total", {{"direction", k.first}, {"outcome", k.second}},
             static_cast<double>(v));
  p.family("kakehashi_units_out_total", "counter",
           "Units that reached a final outcome, by direction: delivered, rejected (rejection sent "
           "to the sender) or superseded.");
  for (const auto& [k, v] : out)
    p.sample("kakehashi_units_out_total", {{"direction", k.first}, {"outcome", k.second}},
             static_cast<double>(v));
  p.family("kakehashi_transfers", "gauge", "Transfers by direction and state.");
  for (const auto& [k, v] : states)
    p.sample("kakehashi_transfers", {{"direction", k.first}, {"state", k.second}},
             static_cast<double>(v));
  p.family("kakehashi_backlog", "gauge",
           "Accepted transfers not yet delivered (in flight), awaiting their route included.");
  p.sample("kakehashi_backlog", {},
           static_cast<double>(sum_state(counts, store::kAccepted) +
                               sum_state(counts, store::kAwaitingRoute)));
  p.family("kakehashi_parked", "gauge", "Parked transfers waiting for an operator.");
  p.sample("kakehashi_parked", {}, static_cast<double>(sum_state(counts, store::kParked)));

  const auto& c = ctx.engine.counters;
  p.family("kakehashi_retries_total", "counter",
           "Failed delivery attempts rescheduled by this process.");
  p.sample("kakehashi_retries_total", {}, static_cast<double>(c.retries));
  p.family("kakehashi_engine_events_total", "counter",
           "What this process's relay engine did since it started.");
  for (const auto& [name, v] : std::initializer_list<std::pair<const char*, std::int64_t>>{
           {"accepted", c.accepted},
           {"refused", c.refused},
           {"duplicate", c.duplicates},
           {"delivered", c.delivered},
           {"destination_refused", c.destination_refused},
           {"retry", c.retries},
           {"released", c.released},
           {"parked", c.parked},
           {"receipt", c.receipts},
           {"notice_sent", c.notices_sent}})
    p.sample("kakehashi_engine_events_total", {{"event", name}}, static_cast<double>(v));

  p.family("kakehashi_commit_groups_total", "counter",
           "Store transactions of the group committer (one fsync each), by outcome.");
  p.sample("kakehashi_commit_groups_total", {{"outcome", "committed"}},
           static_cast<double>(c.commit_groups - c.commit_group_failures));
  p.sample("kakehashi_commit_groups_total", {{"outcome", "failed"}},
           static_cast<double>(c.commit_group_failures));
  p.family(
      "kakehashi_commit_operations_total", "counter",
      "Operations carried by the group committer's transactions (divide by groups: group size).");
  p.sample("kakehashi_commit_operations_total", {}, static_cast<double>(c.commit_operations));

  p.family("kakehashi_relay_latency_seconds", "histogram",
           "Time from durable accept to delivery, per direction (this process).");
  for (const auto& [direction, h] : ctx.engine.latency) {
    for (std::size_t i = 0; i < std::size(engine::LatencyHistogram::kBounds); ++i)
      p.sample(
          "kakehashi_relay_latency_seconds_bucket",
          {{"direction", direction}, {"le", format_value(engine::LatencyHistogram::kBounds[i])}},
          static_cast<double>(h.buckets[i]));
    p.sample("kakehashi_relay_latency_seconds_bucket", {{"direction", direction}, {"le", "+Inf"}},
             static_cast<double>(h.count));
    p.sample("kakehashi_relay_latency_seconds_sum", {{"direction", direction}}, h.sum);
    p.sample("kakehashi_relay_latency_seconds_count", {{"direction", direction}},
             static_cast<double>(h.count));
  }

  p.family("kakehashi_network_breaker_open", "gauge",
           "1 while deliveries to the network are paused (circuit open).");
  for (const auto& n : ctx.engine.networks)
    p.sample("kakehashi_network_breaker_open", {{"network", n.name}}, n.open_until > 0 ? 1 : 0);
  // The adapters' degraded paths (issues 14, 15).
  using Counter = std::atomic<std::uint64_t> AdapterCounters::*;
  const std::pair<const char*, Counter> adapter_counts[] = {
      {"polls_failed", &AdapterCounters::polls_failed},
      {"malformed_answers", &AdapterCounters::malformed_answers},
      {"items_unreadable", &AdapterCounters::items_unreadable},
      {"items_skipped", &AdapterCounters::items_skipped},
      {"relogins", &AdapterCounters::relogins},
      {"tls_verify_failures", &AdapterCounters::tls_verify_failures},
      {"push_refused", &AdapterCounters::push_refused}};
  p.family("kakehashi_adapter_events_total", "counter",
           "Degraded paths of a network adapter by kind (unreadable items refused, failed "
           "polls, malformed answers, re-logins, TLS verification failures, refused pushes).");
  for (const auto& [network, adapter] : ctx.sources.adapter_counters)
    for (const auto& [kind, member] : adapter_counts)
      p.sample("kakehashi_adapter_events_total", {{"network", network}, {"kind", kind}},
               static_cast<double>(((*adapter).*member).load()));
  p.family("kakehashi_inbox_stalled_polls", "gauge",
           "Inbox polls failed in a row while the network's unit cursor stayed put.");
  for (const auto& [network, adapter] : ctx.sources.adapter_counters)
    p.sample("kakehashi_inbox_stalled_polls", {{"network", network}},
             static_cast<double>(adapter->stalled_polls.load()));
  // The adapters' labelled counters (kaigoweb: sends by outcome, business codes, ...): one family
  // per name, a sample per network and label value.
  struct LabelledFamily {
    std::string help;
    std::vector<std::pair<std::string, std::shared_ptr<const LabelledCounter>>> networks;
  };
  std::map<std::string, LabelledFamily> labelled;
  for (const auto& [network, adapter] : ctx.sources.adapter_counters) {
    for (auto& counter : adapter->labelled.list()) {
      auto& f = labelled[counter->name()];
      if (f.help.empty()) f.help = counter->help();
      f.networks.emplace_back(network, std::move(counter));
    }
  }
  for (const auto& [name, f] : labelled) {
    p.family(name, "counter", f.help);
    for (const auto& [network, counter] : f.networks)
      for (const auto& [value, n] : counter->snapshot())
        p.sample(name, {{"network", network}, {counter->label(), value}}, static_cast<double>(n));
  }
  // Offices of networks whose offices log in themselves (issue 16), by state; every state is
  // written for each such network, 0 included, so a rule can compare.
  p.family("kakehashi_offices", "gauge",
           "Offices of a network whose offices log in themselves, by state (active, "
           "login_required, awaiting_otp, locked, credentials_invalid, no_credentials).");
  for (const auto& [network, views] : ctx.engine.offices) {
    std::map<std::string, std::int64_t> by_state{
        {"active", 0}, {"login_required", 0},      {"awaiting_otp", 0},
        {"locked", 0}, {"credentials_invalid", 0}, {"no_credentials", 0}};
    for (const auto& v : views) ++by_state[v.state];
    for (const auto& [state, n] : by_state)
      p.sample("kakehashi_offices", {{"network", network}, {"state", state}},
               static_cast<double>(n));
  }
  p.family("kakehashi_office_certificate_expiry_days", "gauge",
           "Days until an office's client certificate expires (negative: expired).");
  for (const auto& [network, views] : ctx.engine.offices) {
    for (const auto& v : views) {
      const auto until = mapping::common::parse_iso_seconds(v.certificate_not_after,
                                                            mapping::common::Trailing::kIgnore);
      if (!until) continue;
      p.sample("kakehashi_office_certificate_expiry_days",
               {{"network", network}, {"office", v.office_no}},
               static_cast<double>(pki::days_left(*until * 1000, ctx.now)));
    }
  }
  p.family("kakehashi_network_consecutive_failures", "gauge",
           "Failed deliveries to the network since its last answer.");
  for (const auto& n : ctx.engine.networks)
    p.sample("kakehashi_network_consecutive_failures", {{"network", n.name}},
             static_cast<double>(n.failures));
  p.family("kakehashi_network_last_success_timestamp_seconds", "gauge",
           "When the network last answered a delivery (0: not since start).");
  for (const auto& n : ctx.engine.networks)
    p.sample("kakehashi_network_last_success_timestamp_seconds", {{"network", n.name}},
             static_cast<double>(n.last_success) / 1000.0);
  p.family("kakehashi_network_directory_loaded", "gauge",
           "1 once the network's office directory has been loaded.");
  for (const auto& n : ctx.engine.networks)
    p.sample("kakehashi_network_directory_loaded", {{"network", n.name}},
             n.directory_loaded ? 1 : 0);

  p.family("kakehashi_registry_sync_age_seconds", "gauge",
           "Seconds since the last registry sync finished.");
  try {
    if (const auto s = last_sync(ctx))
      p.sample("kakehashi_registry_sync_age_seconds", {},
               static_cast<double>(ctx.now - s->finished_ms) / 1000.0);
  } catch (const store::SqlError&) {
  }
  p.family("kakehashi_audit_checkpoint_age_seconds", "gauge",
           "Seconds since the last signed audit checkpoint.");
  if (const auto at = ctx.store().last_checkpoint_at())
    p.sample("kakehashi_audit_checkpoint_age_seconds", {},
             static_cast<double>(ctx.now - *at) / 1000.0);

  p.family("kakehashi_certificate_expiry_days", "gauge",
           "Days until a certificate expires (negative: expired).");
  std::vector<pki::Expiry> crls;
  for (const auto& source : ctx.sources.expiry) {
    for (auto& e : pki::read_expiry(source)) {
      if (!e.error.empty()) continue;
      if (source.kind == "crl") {
        crls.push_back(std::move(e));
        continue;
      }
      p.sample("kakehashi_certificate_expiry_days", {{"name", e.name}, {"subject", e.subject}},
               static_cast<double>(pki::days_left(e.until, ctx.now)));
    }
  }
  p.family("kakehashi_crl_expiry_days", "gauge",
           "Days until a CRL's next update is due (negative: stale).");
  for (const auto& e : crls)
    p.sample("kakehashi_crl_expiry_days", {{"name", e.name}, {"issuer", e.subject}},
             static_cast<double>(pki::days_left(e.until, ctx.now)));

  const auto report = ctx.store().report(0, INT64_MAX);
  p.family("kakehashi_conservation_balanced", "gauge",
           "1 when in = delivered + rejected + parked + superseded + in flight, per direction.");
  for (const auto& r : report)
    p.sample("kakehashi_conservation_balanced", {{"direction", r.direction}},
             r.in == r.delivered + r.rejected + r.parked + r.superseded + r.in_flight ? 1 : 0);

  const auto alerts = evaluate_alerts(ctx);
  p.family("kakehashi_alerts", "gauge", "Active alerts by kind.");
  for (const char* kind : kAlertKinds) {
    const auto n =
        std::count_if(alerts.begin(), alerts.end(), [&](const Alert& a) { return a.kind == kind; });
    p.sample("kakehashi_alerts", {{"kind", kind}}, static_cast<double>(n));
  }
  p.family("kakehashi_alert_active", "gauge", "1 for each active alert.");
  std::set<std::pair<std::string, std::string>> seen;
  for (const auto& a : alerts) {
    if (seen.insert({a.kind, a.subject}).second)
      p.sample("kakehashi_alert_active", {{"kind", a.kind}, {"subject", a.subject}}, 1);
  }
  adapters::http::Response r;
  r.status = 200;
  r.headers = {{"content-type", kPrometheusContentType}, {"cache-control", "no-store"}};
  r.body = p.text();
  return r;
}

}  // namespace kakehashi::gateway::admin
