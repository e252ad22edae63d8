#include "gateway/cli/store_command.hpp"

#include <algorithm>
#include <filesystem>
#include <functional>
#include <iomanip>
#include <ostream>

#include "gateway/audit/verifier.hpp"
#include "gateway/cli/args.hpp"
#include "gateway/daemon/gateway_config.hpp"
#include "gateway/pki/key_file.hpp"
#include "gateway/registry/registry_store.hpp"
#include "gateway/store/store.hpp"
#include "gateway/store/store_copy.hpp"

namespace kakehashi::gateway::cli {
using namespace kakehashi::gateway;
namespace fs = std::filesystem;

daemon::LoadedConfig load_config_or_report(const std::string& path, CommandIo io);

namespace {

constexpr const char* kStoreHelp = R"(Usage: kakehashi store COMMAND [options]

  backup --config FILE --to BACKUP.sqlite
      A consistent copy of the store while the gateway runs. SQLite: the online backup API
      (the gateway keeps writing meanwhile); PostgreSQL: one REPEATABLE READ snapshot copied
      into a new SQLite file (for large databases `pg_dump --format=custom` serves as well; see
      README "Backup, restore, moving to PostgreSQL, upgrades"). Refuses an existing BACKUP.
      Payloads stay sealed: back up the payload key (payload_key_file) too, stored apart.
  restore --config FILE --from BACKUP.sqlite
      Writes a backup into the config's store, which must be empty (a new SQLite file, or a
      PostgreSQL database with no Kakehashi rows): refused otherwise. Stop the gateway first.
      Afterwards the networks offer again what came after the backup: the gateway recognises
      it as duplicates or relays it once (the networks' idempotency keys).
  copy --from CONFIG --to CONFIG
      Moves a whole store, e.g. SQLite to PostgreSQL: every table (transfers with their sealed
      payloads, notices, cursors, leases, registry, audit log and checkpoints) into an empty
      target, then checks it: rows and a digest per table, the audit chain verified on the
      target with the same head. Stop the gateway on the source first.
  migrate (--config FILE | --store FILE.sqlite)
      Upgrades the store's schema to this version (the gateway also does so when it starts).
  summary (--config FILE | --store FILE.sqlite)
      Rows and digest per table, schema version and audit chain head.

Exit status: 0 done and checked, 1 refused or a check failed, 2 usage or store error.
)";

std::unique_ptr<store::SqlConnection> connect(const daemon::StoreConfig& c) {
  if (c.type == "postgres") return store::open_postgres(c.dsn);
  return store::open_sqlite(c.path, c.synchronous_full);
}

std::string describe(const daemon::StoreConfig& c) {
  return c.type == "postgres" ? "PostgreSQL store" : "SQLite store " + c.path;
}

// A store config from --config (paths made absolute: loading a config enters its directory).
std::optional<daemon::GatewayConfig> load(const std::string& file, CommandIo io) {
  auto loaded = load_config_or_report(file, io);
  if (!loaded.ok()) return std::nullopt;
  if (loaded.config.store.type != "postgres")
    loaded.config.store.path = fs::absolute(loaded.config.store.path).string();
  return loaded.config;
}

std::string schema_version(store::SqlConnection& db) {
  const auto rows = db.query("SELECT value FROM kh_meta WHERE key = 'schema_version'");
  return rows.empty() ? std::string("none") : rows[0][0].value_or("none");
}

// Creates or upgrades every part of the schema: the relay store and the registry's tables.
void migrate(const daemon::StoreConfig& config) {
  auto s = daemon::open_store(config);
  s->migrate();
  auto db = connect(config);
  registry::RegistryStore(*db).migrate();
}

void migrate_file(const std::string& path) {
  store::Store(store::open_sqlite(path)).migrate();
  auto db = store::open_sqlite(path);
  registry::RegistryStore(*db).migrate();
}

void print_checks(std::ostream& out, const std::vector<store::TableCheck>& checks) {
  out << std::left << std::setw(26) << "table" << std::right << std::setw(10) << "source"
      << std::setw(10) << "target"
      << "  digest\n";
  for (const auto& c : checks) {
    out << std::left << std::setw(26) << c.table << std::right << std::setw(10) << c.source_rows
        << std::setw(10) << c.target_rows << "  " << (c.same() ? "same" : "DIFFERENT") << "\n";
  }
}

// The audit chain on the target: verified, and ending where the source's ended.
bool check_audit(store::Store& target, const std::optional<audit::ChainHead>& source_head,
                 const std::string& certificate_file, CommandIo io) {
  const auto records = target.audit_records();
  const auto checkpoints = target.audit_checkpoints();
  const auto head = target.audit_head();
  bool ok = true;
  if (source_head.has_value() != head.has_value() ||
      (head && (head->seq != source_head->seq || head->hash != source_head->hash))) {
    io.err << "audit chain head differs from the source's\n";
    ok = false;
  }
  mapping::cms::X509Ptr cert;
  if (!certificate_file.empty()) cert = pki::load_certificate(certificate_file);
  if (!cert && !checkpoints.empty()) {
    io.out << "audit chain: " << records.size() << " records, head seq " << (head ? head->seq : 0)
           << "; checkpoint signatures not checked (no audit.signer certificate in the config)\n";
    return ok;
  }
  const auto report = audit::verify_chain(records, checkpoints, head, cert.get());
  if (!report.intact()) {
    io.err << "audit chain on the target is broken: " << audit::to_string(report.breakage)
           << " at seq " << report.record_seq << ": " << report.detail << "\n";
    return false;
  }
  io.out << "audit chain: intact, " << report.records << " records, " << report.checkpoints
         << " checkpoints, head seq " << report.last_seq << " hash "
         << (head ? head->hash : std::string("-")) << (ok ? " (same as the source)" : "") << "\n";
  return ok;
}

using Connector = std::function<std::unique_ptr<store::SqlConnection>()>;

// Copies the source into the empty store of `to_config` and checks the result.
int copy_into(const Connector& source, const std::string& source_name,
              const daemon::GatewayConfig& to_config, CommandIo io) {
  const auto& target = to_config.store;
  {
    auto probe = connect(target);
    const auto busy = store::nonempty_tables(*probe);
    if (!busy.empty()) {
      io.err << "refused: the target " << describe(target) << " is not empty (" << busy.front()
             << (busy.size() > 1 ? " and " + std::to_string(busy.size() - 1) + " more tables" : "")
             << " hold rows); restore and copy write only into an empty store\n";
      return kExitRejected;
    }
  }
  auto from = source();
  const std::string from_version = schema_version(*from);
  migrate(target);
  auto to = connect(target);
  const std::string to_version = schema_version(*to);
  if (from_version != to_version) {
    io.err << "refused: " << source_name << " has schema version " << from_version
           << ", this kakehashi writes " << to_version
           << ": upgrade it first (kakehashi store migrate)\n";
    return kExitRejected;
  }
  const auto checks = store::copy_store(*from, *to);
  from.reset();
  to.reset();
  print_checks(io.out, checks);
  bool ok = std::all_of(checks.begin(), checks.end(), [](const auto& c) { return c.same(); });
  if (!ok) io.err << "the target differs from the source (see DIFFERENT above)\n";
  const auto source_head = store::Store(source()).audit_head();
  store::Store target_store(connect(target));
  ok = check_audit(target_store, source_head, to_config.store.audit.signer.certificate_file, io) &&
       ok;
  if (ok) io.out << "copied " << source_name << " into " << describe(target) << "\n";
  return ok ? kExitOk : kExitRejected;
}

int backup(const Args& args, CommandIo io) {
  const auto file = args.option("--config");
  const auto to = args.option("--to");
  if (!file || !to) throw UsageError{"backup needs --config FILE and --to BACKUP.sqlite"};
  const std::string target = fs::absolute(*to).string();
  const auto config = load(*file, io);
  if (!config) return kExitUsage;
  if (config->store.type == "postgres") {
    if (fs::exists(target)) {
      io.err << "refused: " << target << " exists\n";
      return kExitRejected;
    }
    // One REPEATABLE READ snapshot of the database into a new SQLite store file.
    migrate_file(target);
    auto from = connect(config->store);
    auto to_db = store::open_sqlite(target);
    if (schema_version(*from) != schema_version(*to_db)) {
      io.err << "refused: the PostgreSQL store has schema version " << schema_version(*from)
             << ", this kakehashi writes " << schema_version(*to_db) << "\n";
      to_db.reset();
      fs::remove(target);
      return kExitRejected;
    }
    const auto checks = store::copy_store(*from, *to_db);
    print_checks(io.out, checks);
    if (!std::all_of(checks.begin(), checks.end(), [](const auto& c) { return c.same(); })) {
      io.err << "the backup differs from the snapshot it was copied from\n";
      return kExitRejected;
    }
  } else {
    store::sqlite_backup(config->store.path, target);
    auto db = store::open_sqlite(target);
    if (store::store_tables(*db).empty()) {
      io.err << config->store.path << " is not a Kakehashi store (no kh_ tables)\n";
      return kExitRejected;
    }
  }
  auto db = store::open_sqlite(target);
  std::int64_t rows = 0;
  for (const auto& t : store::summarize_store(*db)) rows += t.rows;
  const auto head = store::Store(store::open_sqlite(target)).audit_head();
  io.out << "backed up " << describe(config->store) << " to " << target << ": " << rows
         << " rows, schema version " << schema_version(*db) << ", audit chain head seq "
         << (head ? head->seq : 0) << "\n";
  return kExitOk;
}

int restore(const Args& args, CommandIo io) {
  const auto file = args.option("--config");
  const auto from = args.option("--from");
  if (!file || !from) throw UsageError{"restore needs --config FILE and --from BACKUP.sqlite"};
  const std::string backup_file = fs::absolute(*from).string();
  if (!fs::exists(backup_file)) {
    io.err << "backup " << backup_file << " does not exist\n";
    return kExitUsage;
  }
  const auto config = load(*file, io);
  if (!config) return kExitUsage;
  if (config->store.type != "postgres" && fs::exists(config->store.path) &&
      fs::equivalent(config->store.path, backup_file)) {
    io.err << "refused: the backup is the config's store itself\n";
    return kExitRejected;
  }
  return copy_into([&] { return store::open_sqlite(backup_file); }, "backup " + backup_file,
                   *config, io);
}

int copy(const Args& args, CommandIo io) {
  const auto from_file = args.option("--from");
  const auto to_file = args.option("--to");
  if (!from_file || !to_file) throw UsageError{"copy needs --from CONFIG and --to CONFIG"};
  const std::string to_abs = fs::absolute(*to_file).string();
  const auto from = load(*from_file, io);
  if (!from) return kExitUsage;
  const auto to = load(to_abs, io);
  if (!to) return kExitUsage;
  if (from->store.type == to->store.type &&
      (from->store.type == "postgres" ? from->store.dsn == to->store.dsn
                                      : from->store.path == to->store.path)) {
    io.err << "refused: --from and --to name the same store\n";
    return kExitRejected;
  }
  const auto source = from->store;
  return copy_into([&] { return connect(source); }, describe(source), *to, io);
}

int migrate_command(const Args& args, CommandIo io) {
  const auto file = args.option("--config");
  const auto sqlite = args.option("--store");
  if (file.has_value() == sqlite.has_value())
    throw UsageError{"give one of --config FILE or --store FILE.sqlite"};
  std::unique_ptr<store::SqlConnection> db;
  if (file) {
    const auto config = load(*file, io);
    if (!config) return kExitUsage;
    migrate(config->store);
    db = connect(config->store);
  } else {
    if (!fs::exists(*sqlite)) {
      io.err << *sqlite << " does not exist\n";
      return kExitUsage;
    }
    migrate_file(*sqlite);
    db = store::open_sqlite(*sqlite);
  }
  io.out << "schema version " << schema_version(*db) << "\n";
  return kExitOk;
}

int summary(const Args& args, CommandIo io) {
  const auto file = args.option("--config");
  const auto sqlite = args.option("--store");
  if (file.has_value() == sqlite.has_value())
    throw UsageError{"give one of --config FILE or --store FILE.sqlite"};
  Connector open;
  if (file) {
    const auto config = load(*file, io);
    if (!config) return kExitUsage;
    open = [c = config->store] { return connect(c); };
  } else {
    if (!fs::exists(*sqlite)) {
      io.err << *sqlite << " does not exist\n";
      return kExitUsage;
    }
    open = [p = *sqlite] { return store::open_sqlite(p); };
  }
  auto db = open();
  for (const auto& t : store::summarize_store(*db))
    io.out << std::left << std::setw(26) << t.table << std::right << std::setw(10) << t.rows << "  "
           << t.digest << "\n";
  const auto head = store::Store(open()).audit_head();
  io.out << "schema version " << schema_version(*db) << "\naudit chain head seq "
         << (head ? head->seq : 0) << " hash " << (head ? head->hash : std::string("-")) << "\n";
  return kExitOk;
}

}  // namespace

Command store_command() {
  Command c;
  c.name = "store";
  c.summary = "back up, restore, copy (SQLite to PostgreSQL) and upgrade the store";
  c.help = kStoreHelp;
  c.run = [](std::span<const std::string> argv, CommandIo io) {
    if (argv.empty())
      throw UsageError{"a command is required: backup, restore, copy, migrate, summary"};
    const std::string sub = argv[0];
    const Args args(argv.subspan(1), {}, {"--config", "--to", "--from", "--store"});
    try {
      if (sub == "backup") return backup(args, io);
      if (sub == "restore") return restore(args, io);
      if (sub == "copy") return copy(args, io);
      if (sub == "migrate") return migrate_command(args, io);
      if (sub == "summary") return summary(args, io);
    } catch (const store::SqlError& e) {
      io.err << "kakehashi store " << sub << ": store: " << e.what() << "\n";
      return kExitUsage;
    }
    throw UsageError{"unknown command '" + sub + "'"};
  };
  return c;
}

}  // namespace kakehashi::gateway::cli
