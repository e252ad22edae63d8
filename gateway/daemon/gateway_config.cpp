#include "gateway/daemon/gateway_config.hpp"

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <iterator>

#include <rapidjson/error/en.h>

#include "gateway/audit/checkpoint.hpp"
#include "gateway/daemon/adapter_registry.hpp"
#include "gateway/pki/key_file.hpp"
#include "gateway/registry/policy_file.hpp"

namespace kakehashi::gateway::daemon {
namespace fs = std::filesystem;

namespace {

std::optional<CredentialPaths> credential(const ConfigNode& node, bool required) {
  if (!node.present()) {
    if (required) node.error("", "missing (certificate_file and key_file are required)");
    return std::nullopt;
  }
  node.reject_unknown({"certificate_file", "key_file"});
  CredentialPaths c{node.string("certificate_file"), node.string("key_file")};
  for (const auto* p : {&c.certificate_file, &c.key_file}) {
    if (!p->empty() && !fs::exists(*p))
      node.error(p == &c.certificate_file ? "certificate_file" : "key_file",
                 "file not found: " + *p);
  }
  if (auto problem = pki::secret_file_problem(c.key_file, "private key"))
    node.error("key_file", *problem);
  return c;
}

std::string hostname() {
  char buf[256] = {};
  if (gethostname(buf, sizeof buf - 1) != 0) return "kakehashi";
  return buf;
}

}  // namespace

LoadedConfig load_gateway_config(const std::string& path) {
  LoadedConfig out;
  auto& c = out.config;
  c.file = path;
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    out.errors.push_back({path, "cannot read the config file"});
    return out;
  }
  const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  rapidjson::Document doc;
  doc.Parse<rapidjson::kParseCommentsFlag | rapidjson::kParseTrailingCommasFlag>(text.data(),
                                                                                 text.size());
  if (doc.HasParseError()) {
    // Line of the error, for a person looking at the file.
    const auto offset = doc.GetErrorOffset();
    const auto line =
        1 + std::count(text.begin(),
                       text.begin() + static_cast<std::ptrdiff_t>(std::min(offset, text.size())),
                       '\n');
    out.errors.push_back(
        {path + ":" + std::to_string(line),
         std::string("not valid JSON: ") + rapidjson::GetParseError_En(doc.GetParseError())});
    return out;
  }
  if (!doc.IsObject()) {
    out.errors.push_back({"", "the config must be a JSON object"});
    return out;
  }
  ConfigNode root(&doc, "", &out.errors);
  root.reject_unknown({"instance", "store", "payload_key_file", "receipt_signer", "relay", "limits",
                       "routing", "networks", "log_level", "audit", "admin"});
  c.instance_id = root.string("instance", hostname() + "-" + std::to_string(::getpid()));

  const auto store = root.child("store");
  if (!store.present())
    root.error("store", "missing (type sqlite with a path, or postgres with a dsn)");
  store.reject_unknown({"type", "path", "dsn", "synchronous", "benchmark_audit_off"});
  c.store.benchmark_audit_off = store.boolean("benchmark_audit_off", false);
  c.store.type = store.string("type", std::string("sqlite"));
  if (c.store.type == "sqlite") {
    c.store.path = store.string("path");
    const auto sync = store.string("synchronous", std::string("full"));
    if (sync != "full" && sync != "normal")
      store.error("synchronous", "must be \"full\" or \"normal\"");
    c.store.synchronous_full = sync == "full";
  } else if (c.store.type == "postgres") {
    c.store.dsn = store.string("dsn", std::string());
  } else {
    store.error("type", "must be \"sqlite\" or \"postgres\"");
  }

  c.payload_key_file = root.string("payload_key_file");
  if (auto problem = pki::secret_file_problem(c.payload_key_file, "payload key"))
    root.error("payload_key_file", *problem);
  if (auto r = credential(root.child("receipt_signer"), true)) c.receipt_signer = *r;
  const auto audit = root.child("audit");
  audit.reject_unknown(
      {"hmac_key_file", "checkpoint_every_records", "checkpoint_every", "signer", "role"});
  auto& a = c.store.audit;
  a.hmac_key_file = audit.string("hmac_key_file", std::string());
  if (!a.hmac_key_file.empty() && !fs::exists(a.hmac_key_file))
    audit.error("hmac_key_file", "file not found: " + a.hmac_key_file);
  if (auto problem = pki::secret_file_problem(a.hmac_key_file, "audit HMAC key"))
    audit.error("hmac_key_file", *problem);
  a.checkpoint_every_records = audit.integer("checkpoint_every_records", 1000, 1, 100000000);
  a.checkpoint_every_ms = audit.duration("checkpoint_every", std::chrono::minutes(5)).count();
  a.signer = credential(audit.child("signer"), false).value_or(c.receipt_signer);
  a.role = audit.string("role", std::string("operator"));
  if (a.role != "operator" && a.role != "auditor")
    audit.error("role", "must be \"operator\" or \"auditor\"");
  a.actor = "gateway:" + c.instance_id;

  const auto relay = root.child("relay");
  relay.reject_unknown({"workers", "max_in_flight", "intake_window", "group_commit_max",
                        "max_attempts", "backoff_initial", "backoff_max", "breaker_failures",
                        "breaker_cooldown", "lease", "tick", "directory_refresh", "retention",
                        "evidence_retention", "office_recheck"});
  auto& e = c.engine;
  e.workers = static_cast<std::size_t>(relay.integer("workers", 2, 1, 64));
  e.max_in_flight = static_cast<std::size_t>(relay.integer("max_in_flight", 64, 1, 10000));
  e.intake_window = static_cast<std::size_t>(relay.integer("intake_window", 32, 1, 1024));
  e.group_commit_max = static_cast<std::size_t>(relay.integer("group_commit_max", 256, 1, 10000));
  e.max_attempts = relay.integer("max_attempts", 8, 1, 1000);
  e.backoff_initial = relay.duration("backoff_initial", std::chrono::milliseconds(1000));
  e.backoff_max = relay.duration("backoff_max", std::chrono::minutes(5));
  e.breaker_failures = relay.integer("breaker_failures", 5, 1, 1000);
  e.breaker_cooldown = relay.duration("breaker_cooldown", std::chrono::seconds(30));
  e.lease = relay.duration("lease", std::chrono::minutes(5));
  e.tick = relay.duration("tick", std::chrono::milliseconds(250));
  e.directory_refresh = relay.duration("directory_refresh", std::chrono::minutes(5));
  e.retention = relay.duration("retention", std::chrono::hours(24 * 30));
  // Evidence (signed originals and receipts of units translated for the national side) has its
  // own retention, ten years by default, never shorter than the payloads'.
  e.evidence_retention = relay.duration("evidence_retention", std::chrono::hours(24 * 3653));
  if (e.evidence_retention < e.retention)
    relay.error("evidence_retention", "must not be less than retention");
  // Units held for their sender office (a login due on the destination) are offered again this
  // often even when no "active" report comes.
  e.office_recheck = relay.duration("office_recheck", std::chrono::minutes(5));
  if (e.backoff_max < e.backoff_initial)
    relay.error("backoff_max", "must not be less than backoff_initial");

  const auto limits = root.child("limits");
  limits.reject_unknown({"max_file_bytes", "max_unit_bytes"});
  e.inspect.max_file_bytes = static_cast<std::uint64_t>(
      limits.integer("max_file_bytes", 10ll * 1024 * 1024, 1024, 1ll << 34));
  e.inspect.max_unit_bytes = static_cast<std::uint64_t>(
      limits.integer("max_unit_bytes", 100ll * 1024 * 1024, 1024, 1ll << 36));
  c.engine.instance_id = c.instance_id;

  const auto networks = root.child("networks");
  if (networks.keys().empty())
    root.error("networks", "missing (at least two networks to relay between)");
  for (const auto& name : networks.keys()) {
    const auto n = networks.child(name);
    n.reject_unknown({"type", "trust_domain", "cosign", "settings"});
    NetworkConfig net;
    net.name = name;
    net.type = n.string("type");
    net.trust_domain = n.string("trust_domain");
    if (!net.trust_domain.empty() && !fs::is_directory(net.trust_domain))
      n.error("trust_domain", "not a directory: " + net.trust_domain);
    const auto* type = find_adapter_type(net.type);
    if (!net.type.empty() && type == nullptr) {
      std::string known;
      for (const auto& t : adapter_types()) known += (known.empty() ? "" : ", ") + t.type;
      n.error("type", "unknown adapter type (known: " + known + ")");
    }
    net.cosign = credential(n.child("cosign"), type != nullptr && type->traits.needs_cosigner);
    // Keep a copy of the settings for the adapter, and let its parser check them now.
    net.settings = std::make_shared<rapidjson::Document>();
    const auto& net_value = doc["networks"].FindMember(name.c_str())->value;
    if (net_value.IsObject() && net_value.HasMember("settings") &&
        net_value["settings"].IsObject()) {
      net.settings->CopyFrom(net_value["settings"], net.settings->GetAllocator());
    } else {
      net.settings->SetObject();
    }
    if (type != nullptr) {
      ConfigNode settings(net.settings.get(), "networks." + name + ".settings", &out.errors);
      try {
        (void)type->prepare(settings);
      } catch (const std::exception& ex) {
        settings.error("", ex.what());
      }
    }
    c.networks.push_back(std::move(net));
  }
  c.route_preference = root.child("routing").strings("preference");
  root.child("routing").reject_unknown({"preference", "overrides_file"});
  for (const auto& p : c.route_preference) {
    const bool known = std::any_of(c.networks.begin(), c.networks.end(),
                                   [&](const NetworkConfig& n) { return n.name == p; });
    if (!known) root.error("routing.preference", "names no configured network: " + p);
  }
  c.overrides_file = root.child("routing").string("overrides_file", std::string());
  if (!c.overrides_file.empty()) {
    // Every problem inside the file, with its key path there.
    std::vector<std::string> names;
    for (const auto& n : c.networks) names.push_back(n.name);
    for (const auto& problem :
         registry::load_policy_file(c.overrides_file, names, c.route_preference).errors)
      root.error("routing.overrides_file", c.overrides_file + ": " + problem);
  }
  c.admin = admin::parse_admin_config(root.child("admin"));
  return out;
}

std::unique_ptr<store::Store> open_store(const StoreConfig& config) {
  store::AuditOptions audit;
  audit.actor = config.audit.actor.empty() ? std::string("gateway") : config.audit.actor;
  if (!config.audit.hmac_key_file.empty()) {
    auto key = pki::read_secret_file(config.audit.hmac_key_file, "audit HMAC key");
    audit.insured_key.assign(key.begin(), key.end());
  }
  audit.checkpoint_every_records = config.audit.checkpoint_every_records;
  audit.checkpoint_every_ms = config.audit.checkpoint_every_ms;
  if (!config.audit.signer.certificate_file.empty() && !config.audit.signer.key_file.empty()) {
    auto signer = std::make_shared<const mapping::cms::Credential>(
        pki::load_credential(config.audit.signer.certificate_file, config.audit.signer.key_file));
    audit.sign_checkpoint = [signer](const audit::Checkpoint& c) -> std::optional<std::string> {
      auto signature = audit::sign_checkpoint(c, *signer);
      if (!signature) return std::nullopt;
      return std::move(signature).value();
    };
  }
  if (config.benchmark_audit_off) {  // benchmark only: plain history rows, no chain
    audit.chained = false;
    audit.sign_checkpoint = nullptr;
  }
  if (config.type == "postgres")
    return std::make_unique<store::Store>(store::open_postgres(config.dsn), std::move(audit));
  return std::make_unique<store::Store>(store::open_sqlite(config.path, config.synchronous_full),
                                        std::move(audit));
}

}  // namespace kakehashi::gateway::daemon
