#include "gateway/cli/audit_command.hpp"

#include <ctime>
#include <fstream>
#include <iomanip>
#include <ostream>
#include <sstream>

#include <rapidjson/ostreamwrapper.h>
#include <rapidjson/prettywriter.h>

#include "gateway/audit/exporter.hpp"
#include "gateway/audit/insured.hpp"
#include "gateway/audit/verifier.hpp"
#include "gateway/cli/args.hpp"
#include "gateway/cli/evidence_command.hpp"
#include "gateway/daemon/gateway_config.hpp"
#include "gateway/pki/key_file.hpp"
#include "mapping/common/iso_time.hpp"

namespace kakehashi::gateway::cli {
using namespace kakehashi::gateway;

daemon::LoadedConfig load_config_or_report(const std::string& path, CommandIo io);

namespace {

constexpr const char* kAuditHelp = R"(Usage: kakehashi audit COMMAND [options]

  verify [--json] (--config FILE | --store FILE.sqlite | --dsn DSN) [--cert gateway.cert.pem]
         [--known-seq N]
      Proves the audit chain intact, offline: every record's hash, every link, every signed
      checkpoint (with the gateway certificate alone) and the chain head. Otherwise names the
      first broken record and how: changed, deleted, inserted, reordered, truncated,
      checkpoint-forged, checkpoint-deleted. --known-seq: the last_seq of an earlier run; a log
      that now ends before it is reported truncated. Never writes to the store.
  export --format csv|jsonl [--from T] [--to T] [--office N] [--transfer ID] [--output FILE]
         (--config FILE | --store FILE.sqlite | --dsn DSN)
      Records of a period, an office (sender or recipient) or one transfer's whole lineage
      (intake checks and signers, translation receipt, delivery digests, receipts), in chain
      order, with seq, prev_hash and hash on every row.
  hash-insured NUMBER (--config FILE | --key-file FILE)
      The keyed hash under which an insured number (被保険者番号) appears in the log.
  checkpoint --config FILE [--role operator]
      Signs a checkpoint now (the gateway also does so every N records, every
      audit.checkpoint_every (5m) and when it stops cleanly).
  evidence --office N --month YYYYMM --config FILE [--out FILE|-] [--html FILE]
      One office's evidence bundle for one month (JST, by intake time): every unit it sent or
      received with partner names, times, status (受付/配信/受領/既読/差し戻し/保留), reasons,
      file digests and sender signatures, the audit records with their chain up to signed
      checkpoints, the gateway certificate and chain, and a Japanese report; signed with the
      gateway key (format: gateway/audit/EVIDENCE-FORMAT.md). An operator seals the tail first.
      Default --out: evidence-N-YYYYMM.json.
  verify-evidence [--json] FILE
      Checks a bundle with nothing but the file, and names every record, receipt, signature,
      checkpoint or file that was changed, removed or added.

With --config, the store, the certificate (audit.signer or receipt_signer) and the key come
from the gateway config; its audit.role (or --role) "auditor" may verify, export and hash, and
nothing else. Times T are UTC: 2025-06-01 or 2025-06-01T09:00:00Z; --to is exclusive.
Exit status: 0 intact / done, 1 broken chain or not allowed, 2 usage or store error.
)";

std::int64_t parse_time(const std::string& opt, const std::string& text) {
  if (const auto ms = mapping::common::parse_day_or_time_ms(text)) return *ms;
  throw UsageError{opt + " needs a date like 2025-06-01 or 2025-06-01T09:00:00Z"};
}

struct Source {
  std::optional<daemon::GatewayConfig> config;
  std::unique_ptr<store::Store> store;
  std::string certificate_file;
};

// Opens the store read-only in intent: no migration, no audit options (an auditor needs neither
// the gateway's private key nor write access).
std::optional<Source> open_source(const Args& args, CommandIo io) {
  Source src;
  const auto config = args.option("--config");
  const auto sqlite = args.option("--store");
  const auto dsn = args.option("--dsn");
  if (static_cast<int>(config.has_value()) + sqlite.has_value() + dsn.has_value() != 1)
    throw UsageError{"give one of --config FILE, --store FILE.sqlite or --dsn DSN"};
  if (config) {
    auto loaded = load_config_or_report(*config, io);
    if (!loaded.ok()) return std::nullopt;
    src.config = loaded.config;
    src.certificate_file = loaded.config.store.audit.signer.certificate_file;
  }
  if (auto cert = args.option("--cert")) src.certificate_file = *cert;
  try {
    if (dsn || (src.config && src.config->store.type == "postgres")) {
      src.store =
          std::make_unique<store::Store>(store::open_postgres(dsn ? *dsn : src.config->store.dsn));
    } else {
      src.store = std::make_unique<store::Store>(
          store::open_sqlite(sqlite ? *sqlite : src.config->store.path));
    }
  } catch (const store::SqlError& e) {
    io.err << "kakehashi audit: store: " << e.what() << "\n";
    return std::nullopt;
  }
  return src;
}

int verify(const Args& args, CommandIo io) {
  auto src = open_source(args, io);
  if (!src) return kExitUsage;
  std::vector<audit::AuditRecord> records;
  std::vector<audit::Checkpoint> checkpoints;
  std::optional<audit::ChainHead> head;
  try {
    records = src->store->audit_records();
    checkpoints = src->store->audit_checkpoints();
    head = src->store->audit_head();
  } catch (const store::SqlError& e) {
    io.err << "kakehashi audit verify: store (is it a Kakehashi store with an audit log?): "
           << e.what() << "\n";
    return kExitUsage;
  }
  mapping::cms::X509Ptr cert;
  if (!src->certificate_file.empty()) {
    cert = pki::load_certificate(src->certificate_file);
  } else if (!checkpoints.empty()) {
    throw UsageError{"the log has signed checkpoints: give --cert gateway.cert.pem to check them"};
  }
  std::int64_t known_seq = 0;
  if (auto v = args.option("--known-seq")) {
    try {
      known_seq = std::stoll(*v);
    } catch (...) {
      throw UsageError{"--known-seq needs a record position"};
    }
  }
  const auto r = audit::verify_chain(records, checkpoints, head, cert.get(), known_seq);
  const std::int64_t unsealed = r.last_seq - r.last_checkpoint_seq;
  if (args.flag("--json")) {
    rapidjson::OStreamWrapper os(io.out);
    rapidjson::PrettyWriter<rapidjson::OStreamWrapper> w(os);
    w.StartObject();
    w.Key("intact");
    w.Bool(r.intact());
    w.Key("result");
    w.String(std::string(audit::to_string(r.breakage)).c_str());
    w.Key("records");
    w.Uint64(r.records);
    w.Key("last_seq");
    w.Int64(r.last_seq);
    w.Key("checkpoints");
    w.Uint64(r.checkpoints);
    w.Key("last_checkpoint_seq");
    w.Int64(r.last_checkpoint_seq);
    w.Key("unsealed_records");
    w.Int64(r.intact() ? unsealed : 0);
    if (!r.intact()) {
      w.Key("record_id");
      w.Int64(r.record_id);
      w.Key("record_seq");
      w.Int64(r.record_seq);
      w.Key("checkpoint");
      w.Int64(r.checkpoint);
      w.Key("detail");
      w.String(r.detail.c_str());
    }
    w.EndObject();
    io.out << "\n";
  } else if (r.intact()) {
    io.out << "intact: " << r.records << " records, " << r.checkpoints
           << " signed checkpoint(s), last sealing record " << r.last_checkpoint_seq;
    if (unsealed > 0)
      io.out << "; " << unsealed << " record(s) after it are chained, not yet signed";
    io.out << "\n";
  } else {
    io.out << "BROKEN (" << audit::to_string(r.breakage) << "): " << r.detail << "\n";
  }
  return r.intact() ? kExitOk : kExitRejected;
}

int export_records(const Args& args, CommandIo io) {
  const auto format = args.option("--format");
  if (!format || (*format != "csv" && *format != "jsonl"))
    throw UsageError{"--format csv or --format jsonl is required"};
  store::AuditQuery q;
  if (auto v = args.option("--from")) q.from = parse_time("--from", *v);
  if (auto v = args.option("--to")) q.to = parse_time("--to", *v);
  if (auto v = args.option("--office")) q.office = *v;
  if (auto v = args.option("--transfer")) {
    try {
      q.transfer_id = std::stoll(*v);
    } catch (...) {
      throw UsageError{"--transfer needs a transfer ID"};
    }
  }
  auto src = open_source(args, io);
  if (!src) return kExitUsage;
  std::vector<audit::ExportRow> rows;
  try {
    rows = src->store->audit_export(q);
  } catch (const store::SqlError& e) {
    io.err << "kakehashi audit export: store: " << e.what() << "\n";
    return kExitUsage;
  }
  std::ofstream file;
  if (auto path = args.option("--output")) {
    file.open(*path, std::ios::binary | std::ios::trunc);
    if (!file) {
      io.err << "kakehashi audit export: cannot write " << *path << "\n";
      return kExitUsage;
    }
  }
  std::ostream& out = file.is_open() ? file : io.out;
  if (*format == "csv") {
    audit::write_csv(rows, out);
  } else {
    audit::write_jsonl(rows, out);
  }
  out.flush();
  if (file.is_open())
    io.err << rows.size() << " record(s) written to " << *args.option("--output") << "\n";
  return out ? kExitOk : kExitUsage;
}

int hash_insured(const Args& args, CommandIo io) {
  if (args.positionals().size() != 1) throw UsageError{"hash-insured needs one insured number"};
  std::string key_file;
  if (auto k = args.option("--key-file")) {
    key_file = *k;
  } else if (auto c = args.option("--config")) {
    auto loaded = load_config_or_report(*c, io);
    if (!loaded.ok()) return kExitUsage;
    key_file = loaded.config.store.audit.hmac_key_file;
    if (key_file.empty()) {
      io.err << "kakehashi audit hash-insured: the config has no audit.hmac_key_file\n";
      return kExitUsage;
    }
  } else {
    throw UsageError{"give --config FILE or --key-file FILE"};
  }
  const auto key = pki::read_file(key_file);
  io.out << audit::insured_hash(
                std::string_view(reinterpret_cast<const char*>(key.data()), key.size()),
                args.positionals()[0])
         << "\n";
  return kExitOk;
}

int checkpoint(const Args& args, CommandIo io) {
  const auto file = args.option("--config");
  if (!file) throw UsageError{"checkpoint needs --config FILE (it signs with the gateway key)"};
  auto loaded = load_config_or_report(*file, io);
  if (!loaded.ok()) return kExitUsage;
  if (args.option("--role").value_or(loaded.config.store.audit.role) == "auditor" ||
      loaded.config.store.audit.role == "auditor") {
    io.err << "kakehashi audit checkpoint: the auditor role may read and export, not write\n";
    return kExitRejected;
  }
  const auto now = std::chrono::duration_cast<std::chrono::milliseconds>(
                       std::chrono::system_clock::now().time_since_epoch())
                       .count();
  try {
    auto s = daemon::open_store(loaded.config.store);
    s->migrate();
    const bool written = s->checkpoint(now);
    io.out << (written ? "checkpoint written\n"
                       : "nothing to seal: no records since the last checkpoint\n");
  } catch (const store::SqlError& e) {
    io.err << "kakehashi audit checkpoint: store: " << e.what() << "\n";
    return kExitUsage;
  }
  return kExitOk;
}

int audit_main(std::span<const std::string> argv, CommandIo io) {
  if (argv.empty())
    throw UsageError{
        "audit needs a command: verify, export, hash-insured, checkpoint, evidence, "
        "verify-evidence"};
  const std::string sub = argv[0];
  const Args args(argv.subspan(1), {"--json"},
                  {"--config", "--store", "--dsn", "--cert", "--format", "--from", "--to",
                   "--office", "--transfer", "--output", "--key-file", "--role", "--known-seq",
                   "--month", "--out", "--html"});
  if (sub == "verify") return verify(args, io);
  if (sub == "export") return export_records(args, io);
  if (sub == "hash-insured") return hash_insured(args, io);
  if (sub == "checkpoint") return checkpoint(args, io);
  if (sub == "evidence") return audit_evidence(args, io);
  if (sub == "verify-evidence") return audit_verify_evidence(args, io);
  throw UsageError{"unknown audit command '" + sub +
                   "' (verify, export, hash-insured, checkpoint, evidence, verify-evidence)"};
}

}  // namespace

Command audit_command() {
  Command c;
  c.name = "audit";
  c.summary = "the audit log: verify offline, export, hash an insured number";
  c.help = kAuditHelp;
  c.run = audit_main;
  return c;
}

}  // namespace kakehashi::gateway::cli
