#include <map>
#include <set>

#include "gateway/admin/alerts.hpp"
#include "gateway/admin/endpoints.hpp"
#include "gateway/admin/json_writer.hpp"
#include "gateway/admin/transfer_json.hpp"
#include "mapping/common/iso_time.hpp"

namespace kakehashi::gateway::admin {

namespace {
constexpr std::int64_t kHourMs = 3600 * 1000;
constexpr std::int64_t kDayMs = 24 * kHourMs;
constexpr std::int64_t kJapanOffsetMs = 9 * kHourMs;  // JST, no daylight saving
}  // namespace

adapters::http::Response api_session(ApiContext& ctx, const Principal& who) {
  JsonWriter j;
  j.w().StartObject();
  j.kv("role", to_string(who.role));
  j.kv("instance", ctx.sources.instance);
  j.kv("actor", who.actor());
  j.kv("version", ctx.sources.version);
  j.w().EndObject();
  return json_response(200, j.done());
}

adapters::http::Response api_dashboard(ApiContext& ctx) {
  const std::int64_t day_start = (ctx.now + kJapanOffsetMs) / kDayMs * kDayMs - kJapanOffsetMs;
  const std::int64_t hours_start = ctx.now / kHourMs * kHourMs - 23 * kHourMs;
  const auto today = ctx.store().state_counts(day_start);
  const auto all = ctx.store().state_counts(0);
  const auto hours = ctx.store().hourly_counts(hours_start);
  std::set<std::string> directions;
  for (const auto& c : today) directions.insert(c.direction);
  for (const auto& h : hours) directions.insert(h.direction);
  JsonWriter j;
  j.w().StartObject();
  j.kv("instance", ctx.sources.instance);
  j.time("now", ctx.now);
  j.time("day_start", day_start);
  j.key("directions");
  j.w().StartArray();
  for (const auto& d : directions) {
    j.w().StartObject();
    j.kv("direction", d);
    j.key("today");
    j.w().StartObject();
    std::int64_t in = 0;
    std::map<std::string, std::int64_t> by_state;
    for (const auto& c : today) {
      if (c.direction != d) continue;
      in += c.count;
      by_state[c.state] += c.count;
    }
    j.kv("in", in);
    j.kv("delivered", by_state[store::kDelivered]);
    j.kv("rejected", by_state[store::kRejected]);
    j.kv("parked", by_state[store::kParked]);
    j.kv("superseded", by_state[store::kSuperseded]);
    j.kv("in_flight", by_state[store::kAccepted] + by_state[store::kAwaitingRoute]);
    j.w().EndObject();
    j.key("hours");
    j.w().StartArray();
    for (int i = 0; i < 24; ++i) {
      const std::int64_t start = hours_start + i * kHourMs;
      std::int64_t hin = 0, hout = 0;
      for (const auto& h : hours) {
        if (h.direction == d && h.hour_start == start) {
          hin += h.in;
          hout += h.out;
        }
      }
      j.w().StartObject();
      j.time("start", start);
      j.kv("in", hin);
      j.kv("out", hout);
      j.w().EndObject();
    }
    j.w().EndArray();
    j.w().EndObject();
  }
  j.w().EndArray();
  j.kv("backlog", sum_state(all, store::kAccepted) + sum_state(all, store::kAwaitingRoute));
  j.kv("parked", sum_state(all, store::kParked));
  j.key("networks");
  j.w().StartArray();
  for (const auto& n : ctx.engine.networks) {
    j.w().StartObject();
    j.kv("name", n.name);
    j.kv("breaker", n.open_until > 0 ? "open" : "closed");
    j.kv("failures", n.failures);
    j.time("open_until", n.open_until);
    j.time("last_success", n.last_success);
    j.time("last_failure", n.last_failure);
    j.time("failing_since", n.failing_since);
    j.kv_bool("directory_loaded", n.directory_loaded);
    j.w().EndObject();
  }
  j.w().EndArray();
  store::TransferFilter f;
  f.state = store::kRejected;
  f.newest_first = true;
  f.limit = 20;
  j.key("recent_rejections");
  j.w().StartArray();
  for (const auto& t : ctx.store().list(f)) {
    j.w().StartObject();
    j.kv("id", t.id);
    j.time("at", t.finished_at != 0 ? t.finished_at : t.created_at);
    j.kv("direction", t.direction);
    write_office(j, ctx, "sender", t.sender_office, t.sender_type);
    write_office(j, ctx, "recipient", t.recipient_office, t.recipient_type);
    j.kv("code", code_of(t.reason));
    j.kv("reason", t.reason);
    j.w().EndObject();
  }
  j.w().EndArray();
  j.key("alerts");
  j.w().StartArray();
  for (const auto& a : evaluate_alerts(ctx)) {
    j.w().StartObject();
    j.kv("kind", a.kind);
    j.kv("subject", a.subject);
    j.kv("detail", a.detail);
    j.w().EndObject();
  }
  j.w().EndArray();
  j.w().EndObject();
  return json_response(200, j.done());
}

adapters::http::Response readyz(ApiContext& ctx) {
  std::vector<std::string> reasons;
  try {
    (void)ctx.store().last_checkpoint_at();
  } catch (const store::SqlError& e) {
    reasons.push_back("store unreachable: " + std::string(e.what()));
  }
  if (ctx.sources.engine && !ctx.engine.running) reasons.push_back("relay engine not running");
  for (const auto& n : ctx.engine.networks) {
    if (!n.directory_loaded) reasons.push_back("directory of " + n.name + " not loaded yet");
    if (n.open_until > 0 && n.failing_since > 0 &&
        ctx.now - n.failing_since > ctx.config.network_unreachable.count())
      reasons.push_back("network " + n.name + " unreachable since " +
                        mapping::common::format_iso_ms(n.failing_since) + " (circuit open)");
  }
  JsonWriter j;
  j.w().StartObject();
  j.kv_bool("ready", reasons.empty());
  j.key("reasons");
  j.w().StartArray();
  for (const auto& r : reasons) j.str(r);
  j.w().EndArray();
  j.w().EndObject();
  return json_response(reasons.empty() ? 200 : 503, j.done());
}

}  // namespace kakehashi::gateway::admin
