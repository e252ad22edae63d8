#include "gateway/admin/alerts.hpp"
#include "gateway/admin/endpoints.hpp"
#include "gateway/admin/json_writer.hpp"
#include "gateway/registry/registry_store.hpp"

namespace kakehashi::gateway::admin {
namespace reg = mapping::registry;

adapters::http::Response api_registry_conflicts(ApiContext& ctx) {
  JsonWriter j;
  j.w().StartObject();
  j.key("conflicts");
  j.w().StartArray();
  const auto* r = ctx.registry(true);
  if (r != nullptr) {
    for (const auto& c : r->conflicts()) {
      j.w().StartObject();
      j.kv("kind", reg::to_string(c.kind));
      j.kv("office_no", c.key.office_no);
      j.kv("service_type", c.key.service_type);
      j.kv("name", ctx.office_name(c.key.office_no, c.key.service_type));
      j.key("networks");
      j.w().StartArray();
      for (const auto& n : c.networks) j.str(n);
      j.w().EndArray();
      j.kv("detail", c.detail);
      j.key("params");  // the detail as values: the console words it in its language
      j.w().StartObject();
      for (const auto& [k, v] : c.params) j.kv(k, v);
      j.w().EndObject();
      j.w().EndObject();
    }
  }
  j.w().EndArray();
  // The gateway's own publications listed back by a network: not conflicts, one count.
  j.kv("echoes", static_cast<std::int64_t>(r != nullptr ? r->echoes() : 0));
  j.w().EndObject();
  return json_response(200, j.done());
}

adapters::http::Response api_registry_last_sync(ApiContext& ctx) {
  JsonWriter j;
  j.w().StartObject();
  const auto s = last_sync(ctx);
  j.key("sync");
  if (!s) {
    j.w().Null();
  } else {
    j.w().StartObject();
    j.kv("id", s->id);
    j.kv("mode", s->mode);
    j.time("started_at", s->started_ms);
    j.time("finished_at", s->finished_ms);
    j.kv("networks", s->networks);
    j.kv("added", s->added);
    j.kv("removed", s->removed);
    j.kv("changed", s->changed);
    j.kv("conflicts", s->conflicts);
    j.kv("note", s->note);
    j.w().EndObject();
  }
  j.key("changes");
  j.w().StartArray();
  if (s) {
    for (const auto& c : registry::RegistryStore(*ctx.thread.registry_db).diff_of(s->id).changes) {
      j.w().StartObject();
      j.kv("kind", reg::to_string(c.kind));
      j.kv("office_no", c.key.office_no);
      j.kv("service_type", c.key.service_type);
      j.kv("name", ctx.office_name(c.key.office_no, c.key.service_type));
      j.key("fields");
      j.w().StartArray();
      for (const auto& f : c.fields) {
        j.w().StartObject();
        j.kv("field", f.field);
        j.kv("before", f.before);
        j.kv("after", f.after);
        j.w().EndObject();
      }
      j.w().EndArray();
      j.w().EndObject();
    }
  }
  j.w().EndArray();
  j.w().EndObject();
  return json_response(200, j.done());
}

}  // namespace kakehashi::gateway::admin
