#include "gateway/cli/registry_command.hpp"

#include <chrono>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <iomanip>
#include <ostream>
#include <sstream>

#include <rapidjson/ostreamwrapper.h>
#include <rapidjson/prettywriter.h>
#include <boost/asio/io_context.hpp>

#include "gateway/cli/args.hpp"
#include "gateway/daemon/adapter_registry.hpp"
#include "gateway/daemon/gateway_config.hpp"
#include "gateway/engine/router.hpp"
#include "gateway/registry/registry_service.hpp"
#include "gateway/registry/registry_store.hpp"
#include "gateway/registry/registry_sync.hpp"
#include "gateway/registry/sync_network.hpp"
#include "mapping/common/iso_time.hpp"

namespace kakehashi::gateway::cli {
using namespace kakehashi::gateway;
namespace reg = mapping::registry;
namespace fs = std::filesystem;

daemon::LoadedConfig load_config_or_report(const std::string& path, CommandIo io);

namespace {

constexpr const char* kHelp = R"(Usage: kakehashi registry COMMAND --config FILE [options]

  sync [--full]        fetch every configured network's directory (incrementally where the
                       network supports it, unless --full), reconcile, record the diff, and
                       publish to each network the offices the gateway reaches on the others
  show OFFICE          one office (NUMBER for every service type, or NUMBER/TYPE): home
                       network, names, status, each network's listing, conflicts, routes
  conflicts            every conflict: native on several networks, names that differ after
                       normalisation, closed on one network and active on another, unknown
                       service types, invalid check digits (quarantined)
  diff [--sync ID]     what a sync changed (default: the last one)

Options: --json (machine output), --overrides FILE (default registry-overrides.json beside the
config, when present: {"preference":[...],"overrides":[{"office_no","service_type","network",
"reason"}]}). Exit status: 0 ok, 1 office unknown / a network failed, 2 usage or store error.
)";

using Writer = rapidjson::PrettyWriter<rapidjson::OStreamWrapper>;

std::int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::unique_ptr<store::SqlConnection> connect(const daemon::StoreConfig& c) {
  if (c.type == "postgres") return store::open_postgres(c.dsn);
  return store::open_sqlite(c.path, c.synchronous_full);
}

reg::Policy load_policy(const daemon::GatewayConfig& config,
                        const std::optional<std::string>& file) {
  std::vector<std::string> names;
  for (const auto& n : config.networks) names.push_back(n.name);
  reg::Policy policy{config.route_preference, {}};
  const std::string path = file.value_or("registry-overrides.json");
  if (!file && !fs::exists(path)) return policy;
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot read " + path);
  std::stringstream text;
  text << in.rdbuf();
  auto parsed = reg::parse_policy(text.str(), names);
  if (!parsed.ok()) {
    std::string all;
    for (const auto& e : parsed.errors) all += "\n  " + path + ": " + e;
    throw std::runtime_error("invalid overrides file:" + all);
  }
  if (parsed.policy.preference.empty()) parsed.policy.preference = config.route_preference;
  return parsed.policy;
}

void write_change(Writer& w, const reg::Change& c) {
  w.StartObject();
  w.Key("kind");
  w.String(std::string(reg::to_string(c.kind)).c_str());
  w.Key("office_no");
  w.String(c.key.office_no.c_str());
  w.Key("service_type");
  w.String(c.key.service_type.c_str());
  w.Key("fields");
  w.StartArray();
  for (const auto& f : c.fields) {
    w.StartObject();
    w.Key("field");
    w.String(f.field.c_str());
    w.Key("before");
    w.String(f.before.c_str());
    w.Key("after");
    w.String(f.after.c_str());
    w.EndObject();
  }
  w.EndArray();
  w.EndObject();
}

void print_change(std::ostream& out, const reg::Change& c) {
  const char mark = c.kind == reg::ChangeKind::kAdded     ? '+'
                    : c.kind == reg::ChangeKind::kRemoved ? '-'
                                                          : '~';
  out << mark << " " << c.key.str();
  if (c.kind == reg::ChangeKind::kChanged) {
    out << "\n";
    for (const auto& f : c.fields)
      out << "    " << f.field << ": " << f.before << " -> " << f.after << "\n";
  } else {
    for (const auto& f : c.fields)
      out << "  " << f.field << "=" << (f.after.empty() ? f.before : f.after);
    out << "\n";
  }
}

void write_sync(Writer& w, const registry::SyncRecord& s) {
  w.Key("sync");
  w.Int64(s.id);
  w.Key("mode");
  w.String(s.mode.c_str());
  w.Key("started_at");
  w.String(mapping::common::format_iso_seconds(s.started_ms / 1000).c_str());
  w.Key("finished_at");
  w.String(mapping::common::format_iso_seconds(s.finished_ms / 1000).c_str());
  w.Key("networks");
  w.String(s.networks.c_str());
  w.Key("added");
  w.Int64(s.added);
  w.Key("removed");
  w.Int64(s.removed);
  w.Key("changed");
  w.Int64(s.changed);
  w.Key("conflicts");
  w.Int64(s.conflicts);
  w.Key("note");
  w.String(s.note.c_str());
}

void print_sync(std::ostream& out, const registry::SyncRecord& s) {
  out << "sync " << s.id << " (" << s.mode << ") "
      << mapping::common::format_iso_seconds(s.started_ms / 1000) << ", "
      << (s.finished_ms - s.started_ms) << " ms: " << s.networks << "\n"
      << "  added " << s.added << ", removed " << s.removed << ", changed " << s.changed << "; "
      << s.conflicts << " conflicts\n";
  if (!s.note.empty()) out << "  problems: " << s.note << "\n";
}

void write_conflict(Writer& w, const reg::Conflict& c) {
  w.StartObject();
  w.Key("kind");
  w.String(std::string(reg::to_string(c.kind)).c_str());
  w.Key("office_no");
  w.String(c.key.office_no.c_str());
  w.Key("service_type");
  w.String(c.key.service_type.c_str());
  w.Key("networks");
  w.StartArray();
  for (const auto& n : c.networks) w.String(n.c_str());
  w.EndArray();
  w.Key("detail");
  w.String(c.detail.c_str());
  w.EndObject();
}

// A sink for the sync's adapters: they are never started, so no unit may arrive; refuse any.
class RefusingSink final : public AdapterSink {
 public:
  void on_unit(InboundUnit, std::function<void(bool)> done) override { done(false); }
  void on_receipt(InboundReceipt, std::function<void(bool)> done) override { done(false); }
};

// Each configured network with its type and parsed settings.
struct PreparedNetwork {
  std::string name;
  const daemon::AdapterType* type = nullptr;
  daemon::PreparedAdapter prepared;
};

std::vector<PreparedNetwork> prepare_networks(const daemon::GatewayConfig& config) {
  std::vector<PreparedNetwork> out;
  for (const auto& net : config.networks) {
    const auto* type = daemon::find_adapter_type(net.type);
    if (!type) throw std::runtime_error("networks." + net.name + ": unknown type " + net.type);
    std::vector<ConfigError> errors;
    ConfigNode settings(net.settings.get(), "networks." + net.name + ".settings", &errors);
    auto prepared = type->prepare(settings);
    if (!errors.empty())
      throw std::runtime_error(errors.front().path + ": " + errors.front().message);
    out.push_back({net.name, type, std::move(prepared)});
  }
  return out;
}

int run_sync(std::vector<PreparedNetwork> prepared, reg::Registry& registry,
             registry::RegistryStore& store, bool full, bool json, CommandIo io) {
  boost::asio::io_context ctx;
  RefusingSink sink;
  std::vector<std::unique_ptr<Adapter>> adapters;
  std::vector<registry::SyncNetwork> networks;
  for (auto& net : prepared) {
    AdapterContext actx;
    actx.executor = ctx.get_executor();
    actx.sink = &sink;
    actx.name = net.name;
    actx.may_poll = [] { return false; };  // the daemon polls; this command only reads directories
    adapters.push_back(net.prepared.make(std::move(actx)));
    // The daemon's own description of each network (what it fetches, publishes, and whether its
    // listing flags the publication), so that a sync from here stores what the daemon would.
    networks.push_back(
        registry::sync_network_for(net.name, net.type->traits.directory, adapters.back().get()));
  }
  registry::SyncReport report;
  registry::RegistrySync sync(registry, store, now_ms);
  sync.run(std::move(networks), full, [&](registry::SyncReport r) { report = std::move(r); });
  ctx.run();
  ctx.restart();
  for (auto& a : adapters) a->stop([] {});
  ctx.run();

  if (json) {
    rapidjson::OStreamWrapper os(io.out);
    Writer w(os);
    w.StartObject();
    write_sync(w, report.record);
    w.Key("published");
    w.StartObject();
    for (const auto& [n, count] : report.published) {
      w.Key(n.c_str());
      w.Uint64(count);
    }
    w.EndObject();
    w.EndObject();
    io.out << "\n";
  } else {
    print_sync(io.out, report.record);
    for (const auto& [n, count] : report.published)
      io.out << "  published to " << n << ": " << count << " offices\n";
  }
  return report.ok() ? kExitOk : kExitRejected;
}

int run_show(const std::string& what, reg::Registry& registry, const daemon::GatewayConfig& config,
             bool json, CommandIo io) {
  std::vector<reg::OfficeKey> keys;
  if (auto k = reg::parse_office_key(what)) {
    keys.push_back(*k);
  } else {
    keys = registry.keys_of(what);
  }
  std::vector<reg::Office> offices;
  for (const auto& k : keys) {
    if (auto o = registry.find(k)) offices.push_back(std::move(*o));
  }
  rapidjson::OStreamWrapper os(io.out);
  Writer w(os);
  if (json) w.StartArray();
  for (const auto& o : offices) {
    if (json) {
      w.StartObject();
      w.Key("office_no");
      w.String(o.key.office_no.c_str());
      w.Key("service_type");
      w.String(o.key.service_type.c_str());
      for (const auto& [field, value] : reg::office_fields(o)) {
        if (field == "networks" || field == "versions" || field == "conflicts") continue;
        w.Key(field.c_str());
        w.String(value.c_str());
      }
      w.Key("presences");
      w.StartArray();
      for (const auto& p : o.presences) {
        w.StartObject();
        w.Key("network");
        w.String(p.network.c_str());
        w.Key("role");
        w.String(std::string(reg::to_string(p.role)).c_str());
        w.Key("name");
        w.String(p.entry.name.c_str());
        w.Key("facility_id");
        w.String(p.entry.facility_id.c_str());
        w.Key("status");
        w.String(std::string(reg::to_string(p.entry.status)).c_str());
        w.Key("updated_at");
        w.String(p.entry.updated_at.c_str());
        w.EndObject();
      }
      w.EndArray();
      w.Key("conflicts");
      w.StartArray();
      for (const auto& c : o.conflicts) write_conflict(w, c);
      w.EndArray();
      w.Key("routes");
      w.StartObject();
      for (const auto& n : config.networks) {
        const auto r = registry.route(o.key, n.name);
        w.Key(("from_" + n.name).c_str());
        w.String(r.network ? r.network->c_str()
                           : ("refused: " + std::string(reg::to_string(r.refusal))).c_str());
      }
      w.EndObject();
      w.EndObject();
      continue;
    }
    io.out << o.key.str() << "  home " << (o.home.empty() ? "(none)" : o.home) << " ("
           << o.home_reason << ")\n"
           << "  name      " << o.name << "\n  kana      " << o.kana << "\n  status    "
           << reg::to_string(o.status) << "\n";
    if (!o.facility_id.empty()) io.out << "  facility  " << o.facility_id << "\n";
    if (!o.prefecture.empty()) io.out << "  pref.     " << o.prefecture << "\n";
    for (const auto& p : o.presences) {
      io.out << "  on " << p.network << ": " << reg::to_string(p.role) << ", "
             << reg::to_string(p.entry.status) << ", \"" << p.entry.name << "\""
             << (p.entry.facility_id.empty() ? "" : " facility " + p.entry.facility_id)
             << ", updated " << p.entry.updated_at << "\n";
    }
    for (const auto& c : o.conflicts)
      io.out << "  conflict " << reg::to_string(c.kind) << ": " << c.detail << "\n";
    for (const auto& n : config.networks) {
      const auto r = registry.route(o.key, n.name);
      io.out << "  from " << n.name << ": "
             << (r.network ? "route to " + *r.network
                           : "refused (" + std::string(reg::to_string(r.refusal)) + ")")
             << "\n";
    }
  }
  if (json) {
    w.EndArray();
    io.out << "\n";
  }
  if (offices.empty()) {
    io.err << "kakehashi registry show: " << what << " is in no directory\n";
    return kExitRejected;
  }
  return kExitOk;
}

int run_conflicts(const reg::Registry& registry, bool json, CommandIo io) {
  const auto conflicts = registry.conflicts();
  if (json) {
    rapidjson::OStreamWrapper os(io.out);
    Writer w(os);
    w.StartArray();
    for (const auto& c : conflicts) write_conflict(w, c);
    w.EndArray();
    io.out << "\n";
    return kExitOk;
  }
  for (const auto& c : conflicts) {
    std::string nets;
    for (const auto& n : c.networks) nets += (nets.empty() ? "" : ",") + n;
    io.out << std::left << std::setw(22) << reg::to_string(c.kind) << " " << c.key.str() << "  ["
           << nets << "]  " << c.detail << "\n";
  }
  io.out << conflicts.size() << " conflicts\n";
  // The gateway's own publications listed back by a network: counted, never conflicts.
  io.out << registry.echoes() << " echoes of the gateway's own publication (not conflicts)\n";
  return kExitOk;
}

int run_diff(registry::RegistryStore& store, const std::optional<std::string>& id, bool json,
             CommandIo io) {
  const auto s = id ? store.sync(std::stoll(*id)) : store.last_sync();
  if (!s) {
    io.err << "kakehashi registry diff: "
           << (id ? "no sync " + *id : std::string("no sync recorded yet")) << "\n";
    return kExitRejected;
  }
  const auto diff = store.diff_of(s->id);
  if (json) {
    rapidjson::OStreamWrapper os(io.out);
    Writer w(os);
    w.StartObject();
    write_sync(w, *s);
    w.Key("changes");
    w.StartArray();
    for (const auto& c : diff.changes) write_change(w, c);
    w.EndArray();
    w.EndObject();
    io.out << "\n";
    return kExitOk;
  }
  print_sync(io.out, *s);
  for (const auto& c : diff.changes) print_change(io.out, c);
  return kExitOk;
}

}  // namespace

Command registry_command() {
  Command c;
  c.name = "registry";
  c.summary = "sync, show and reconcile the office registries of every configured network";
  c.help = kHelp;
  c.run = [](std::span<const std::string> argv, CommandIo io) {
    if (argv.empty())
      throw UsageError{"a registry command is required (sync, show, conflicts, diff)"};
    const std::string sub = argv[0];
    const Args args(argv.subspan(1), {"--json", "--full"}, {"--config", "--overrides", "--sync"});
    const auto file = args.option("--config");
    if (!file) throw UsageError{"--config FILE is required"};
    if (sub != "sync" && sub != "show" && sub != "conflicts" && sub != "diff") {
      throw UsageError{"unknown registry command '" + sub + "'"};
    }
    if (sub == "show" && args.positionals().size() != 1) throw UsageError{"show takes one OFFICE"};
    if (sub != "show" && !args.positionals().empty()) throw UsageError{sub + " takes no arguments"};
    auto loaded = load_config_or_report(*file, io);
    if (!loaded.ok()) return kExitUsage;
    const auto& config = loaded.config;
    auto db = connect(config.store);
    registry::RegistryStore store(*db);
    store.migrate();
    if (sub == "diff") return run_diff(store, args.option("--sync"), args.flag("--json"), io);
    reg::Registry registry(load_policy(config, args.option("--overrides")));
    auto prepared = prepare_networks(config);
    // What the daemon's registry starts from: the publication the config declares, replaced by
    // the stored one where the registry has published.
    for (const auto& net : prepared)
      registry::seed_declared_publication(registry, net.name, net.prepared.declared_publication);
    store.load(registry);
    if (sub == "sync")
      return run_sync(std::move(prepared), registry, store, args.flag("--full"),
                      args.flag("--json"), io);
    if (sub == "show")
      return run_show(args.positionals()[0], registry, config, args.flag("--json"), io);
    return run_conflicts(registry, args.flag("--json"), io);
  };
  return c;
}

}  // namespace kakehashi::gateway::cli
