#include <chrono>
#include <ctime>
#include <exception>
#include <iomanip>
#include <ostream>

#include <rapidjson/ostreamwrapper.h>
#include <rapidjson/prettywriter.h>

#include "gateway/cli/args.hpp"
#include "gateway/cli/daemon_commands.hpp"
#include "gateway/daemon/gateway_config.hpp"
#include "gateway/operations/transfer_actions.hpp"
#include "mapping/common/iso_time.hpp"

namespace kakehashi::gateway::cli {
using namespace kakehashi::gateway;

daemon::LoadedConfig load_config_or_report(const std::string& path, CommandIo io);

namespace {

constexpr const char* kConfigHelp = R"(Usage: kakehashi config check FILE

Validates a gateway config: JSON syntax, every key (unknown keys are errors), types and ranges,
files and directories it names, and each network's adapter settings. Prints every error with its
key path. Exit status: 0 valid, 1 invalid, 2 usage.
)";

constexpr const char* kRelayHelp = R"(Usage: kakehashi relay COMMAND --config FILE [options]

  list   [--state S] [--office N] [--direction D] [--from T] [--to T] [--limit N] [--json]
  show   ID [--json]            one transfer with its whole history
  retry  ID [--actor NAME]      re-drive a parked transfer (not for the auditor role)
  park   ID [--reason TEXT] [--actor NAME]   park a transfer that is still in flight
  report [--from T] [--to T] [--json]       conservation: in = delivered + rejected + parked
                                            + superseded + in flight, per direction

--role auditor (or audit.role in the config) allows list, show and report only. Operators'
commands are recorded in the audit log with their actor (--actor, default cli:$USER).
Times T are ISO dates or date-times in UTC (2025-06-01 or 2025-06-01T09:00:00Z). States:
accepted (in flight), awaiting_route (in flight: taken in, its route waits for a network's
directory), delivered, rejected, parked, superseded.
Exit status: 0 ok, 1 not found / not allowed / report does not balance, 2 usage or store error.
)";

// A stored time as the operator reads it ("" for never).
std::string iso(std::int64_t ms) {
  return ms == 0 ? std::string() : mapping::common::format_iso_seconds(ms / 1000);
}

std::int64_t parse_time(const std::string& opt, const std::string& text) {
  if (const auto ms = mapping::common::parse_day_or_time_ms(text)) return *ms;
  throw UsageError{opt + " needs a date like 2025-06-01 or 2025-06-01T09:00:00Z"};
}

std::int64_t parse_id(const std::string& text) {
  try {
    std::size_t n = 0;
    const auto v = std::stoll(text, &n);
    if (n == text.size() && v > 0) return v;
  } catch (...) {
  }
  throw UsageError{"a transfer ID is a positive number, got '" + text + "'"};
}

std::string actor_of(const Args& args) {
  if (auto a = args.option("--actor")) return *a;
  const char* user = std::getenv("USER");
  return std::string("cli:") + (user ? user : "unknown");
}

template <typename W>
void write_transfer(W& w, const store::Transfer& t) {
  const auto kv = [&](const char* k, const std::string& v) {
    w.Key(k);
    w.String(v.c_str());
  };
  w.StartObject();
  w.Key("id");
  w.Int64(t.id);
  kv("state", t.state);
  kv("direction", t.direction);
  kv("source_network", t.source_adapter);
  kv("source_id", t.source_id);
  kv("destination_network", t.dest_adapter);
  kv("sender", t.sender_office + "/" + t.sender_type);
  kv("recipient", t.recipient_office + "/" + t.recipient_type);
  kv("sequence", t.sequence);
  kv("unit_kind", t.unit_kind);
  w.Key("attempts");
  w.Int64(t.attempts);
  kv("remote_id", t.remote_id);
  kv("receipt", t.receipt_state);
  kv("reason", t.reason);
  kv("last_error", t.last_error);
  kv("created_at", iso(t.created_at));
  kv("finished_at", iso(t.finished_at));
  w.Key("payload_retained");
  w.Bool(t.has_payload);
  w.EndObject();
}

void print_transfer_line(std::ostream& out, const store::Transfer& t) {
  out << std::setw(6) << t.id << "  " << std::left << std::setw(10) << t.state << " "
      << std::setw(22) << t.direction << " " << t.sender_office << "/" << t.sender_type << " -> "
      << t.recipient_office << "/" << t.recipient_type << "  " << t.sequence << "  "
      << (t.unit_kind.empty() ? "?" : t.unit_kind) << std::right;
  if (!t.receipt_state.empty()) out << "  receipt:" << t.receipt_state;
  if (t.state == store::kAccepted && t.attempts > 0) out << "  attempts:" << t.attempts;
  out << "\n";
}

int relay(std::span<const std::string> argv, CommandIo io) {
  if (argv.empty()) throw UsageError{"relay needs a command: list, show, retry, park, report"};
  const std::string sub = argv[0];
  const Args args(argv.subspan(1), {"--json"},
                  {"--config", "--state", "--office", "--direction", "--from", "--to", "--limit",
                   "--actor", "--reason", "--role"});
  const auto file = args.option("--config");
  if (!file) throw UsageError{"--config FILE is required"};
  auto loaded = load_config_or_report(*file, io);
  if (!loaded.ok()) return kExitUsage;
  // The auditor role (config audit.role or --role) reads and exports; it changes nothing, not
  // even the log. Operators' commands are recorded in the audit log: who, when, what.
  const bool auditor =
      loaded.config.store.audit.role == "auditor" || args.option("--role") == "auditor";
  if (auditor && (sub == "retry" || sub == "park")) {
    io.err << "kakehashi relay " << sub
           << ": not allowed for the auditor role (read and export only)\n";
    return kExitRejected;
  }
  std::string command = "relay";
  for (std::size_t i = 0; i < argv.size(); ++i) {
    if (argv[i] == "--config" || argv[i].rfind("--config=", 0) == 0) {
      i += argv[i] == "--config" ? 1 : 0;
      continue;
    }
    command += " " + argv[i];
  }
  const auto now = std::chrono::duration_cast<std::chrono::milliseconds>(
                       std::chrono::system_clock::now().time_since_epoch())
                       .count();
  std::unique_ptr<store::Store> s;
  try {
    s = daemon::open_store(loaded.config.store);
    if (!auditor) {
      s->migrate();
      s->record_operator_command(actor_of(args), command, now);
    }
  } catch (const store::SqlError& e) {
    io.err << "kakehashi relay: store: " << e.what() << "\n";
    return kExitUsage;
  }
  // What an operator's command wrote is sealed when it ends: no daemon may be running to seal it
  // (README "Audit log": the window). A failed seal leaves the records chained, not yet signed.
  struct SealOnExit {
    store::Store* store;
    std::int64_t now;
    std::ostream& err;
    ~SealOnExit() {
      if (store == nullptr) return;
      try {
        store->checkpoint(now);
      } catch (const std::exception& e) {
        err << "kakehashi relay: audit checkpoint not written: " << e.what() << "\n";
      }
    }
  } seal{auditor ? nullptr : s.get(), now, io.err};
  const bool json = args.flag("--json");
  rapidjson::OStreamWrapper os(io.out);
  rapidjson::PrettyWriter<rapidjson::OStreamWrapper> w(os);
  if (sub == "list") {
    store::TransferFilter f;
    if (auto v = args.option("--state")) f.state = *v;
    if (auto v = args.option("--office")) f.office = *v;
    if (auto v = args.option("--direction")) f.direction = *v;
    if (auto v = args.option("--from")) f.from = parse_time("--from", *v);
    if (auto v = args.option("--to")) f.to = parse_time("--to", *v);
    if (auto v = args.option("--limit")) f.limit = static_cast<std::size_t>(parse_id(*v));
    const auto list = s->list(f);
    if (json) {
      w.StartArray();
      for (const auto& t : list) write_transfer(w, t);
      w.EndArray();
      io.out << "\n";
    } else {
      for (const auto& t : list) print_transfer_line(io.out, t);
      io.out << list.size() << " transfer(s)\n";
    }
    return kExitOk;
  }
  if (sub == "show") {
    if (args.positionals().size() != 1) throw UsageError{"relay show needs one transfer ID"};
    const auto t = s->get(parse_id(args.positionals()[0]));
    if (!t) {
      io.err << "kakehashi relay show: no transfer " << args.positionals()[0] << "\n";
      return kExitRejected;
    }
    const auto events = s->events(t->id);
    if (json) {
      w.StartObject();
      w.Key("transfer");
      write_transfer(w, *t);
      w.Key("history");
      w.StartArray();
      for (const auto& e : events) {
        w.StartObject();
        w.Key("at");
        w.String(iso(e.at).c_str());
        w.Key("event");
        w.String(e.kind.c_str());
        w.Key("detail");
        w.String(e.detail.c_str());
        w.EndObject();
      }
      w.EndArray();
      w.EndObject();
      io.out << "\n";
    } else {
      print_transfer_line(io.out, *t);
      if (!t->reason.empty()) io.out << "  reason: " << t->reason << "\n";
      if (!t->last_error.empty()) io.out << "  last error: " << t->last_error << "\n";
      for (const auto& e : events) {
        std::string detail = e.detail;
        if (e.kind == "translation-receipt" && detail.size() > 60)
          detail = detail.substr(0, 60) + "… (base64 CMS)";
        io.out << "  " << iso(e.at) << "  " << e.kind << "  " << detail << "\n";
      }
    }
    return kExitOk;
  }
  if (sub == "retry" || sub == "park") {
    if (args.positionals().size() != 1) throw UsageError{"relay " + sub + " needs one transfer ID"};
    const auto id = parse_id(args.positionals()[0]);
    const auto result =
        sub == "retry"
            ? gateway::operations::retry_transfer(*s, id, actor_of(args), now)
            : gateway::operations::park_transfer(
                  *s, id, args.option("--reason").value_or(gateway::operations::kDefaultParkReason),
                  actor_of(args), now);
    if (!result.ok()) {
      io.err << "kakehashi relay " << sub << ": " << result.detail << "\n";
      return kExitRejected;
    }
    io.out << "transfer " << id << (sub == "retry" ? " re-driven\n" : " parked\n");
    return kExitOk;
  }
  if (sub == "report") {
    const std::int64_t from =
        args.option("--from") ? parse_time("--from", *args.option("--from")) : 0;
    const std::int64_t to =
        args.option("--to") ? parse_time("--to", *args.option("--to")) : INT64_MAX;
    const auto rows = s->report(from, to);
    bool balanced = true;
    store::ReportRow total;
    total.direction = "all";
    for (const auto& r : rows) {
      balanced &= r.in == r.delivered + r.rejected + r.parked + r.superseded + r.in_flight;
      total.in += r.in;
      total.delivered += r.delivered;
      total.rejected += r.rejected;
      total.parked += r.parked;
      total.superseded += r.superseded;
      total.in_flight += r.in_flight;
      total.receipts += r.receipts;
      total.notices_pending += r.notices_pending;
    }
    if (json) {
      w.StartObject();
      w.Key("directions");
      w.StartArray();
      auto row = [&](const store::ReportRow& r) {
        w.StartObject();
        w.Key("direction");
        w.String(r.direction.c_str());
        for (const auto& [k, v] : std::initializer_list<std::pair<const char*, std::int64_t>>{
                 {"in", r.in},
                 {"delivered", r.delivered},
                 {"rejected", r.rejected},
                 {"parked", r.parked},
                 {"superseded", r.superseded},
                 {"in_flight", r.in_flight},
                 {"receipts", r.receipts},
                 {"notices_pending", r.notices_pending}}) {
          w.Key(k);
          w.Int64(v);
        }
        w.EndObject();
      };
      for (const auto& r : rows) row(r);
      w.EndArray();
      w.Key("total");
      row(total);
      w.Key("balanced");
      w.Bool(balanced);
      w.EndObject();
      io.out << "\n";
    } else {
      io.out << std::left << std::setw(24) << "direction" << std::right << std::setw(8) << "in"
             << std::setw(11) << "delivered" << std::setw(10) << "rejected" << std::setw(8)
             << "parked" << std::setw(12) << "superseded" << std::setw(11) << "in flight"
             << std::setw(10) << "receipts"
             << "\n";
      for (const auto* r : [&] {
             std::vector<const store::ReportRow*> v;
             for (const auto& x : rows) v.push_back(&x);
             v.push_back(&total);
             return v;
           }()) {
        io.out << std::left << std::setw(24) << r->direction << std::right << std::setw(8) << r->in
               << std::setw(11) << r->delivered << std::setw(10) << r->rejected << std::setw(8)
               << r->parked << std::setw(12) << r->superseded << std::setw(11) << r->in_flight
               << std::setw(10) << r->receipts << "\n";
      }
      io.out << (balanced ? "balanced: " : "NOT BALANCED: ") << total.in
             << " in = " << total.delivered << " delivered + " << total.rejected << " rejected + "
             << total.parked << " parked + " << total.superseded << " superseded + "
             << total.in_flight << " in flight\n";
    }
    return balanced ? kExitOk : kExitRejected;
  }
  throw UsageError{"unknown relay command '" + sub + "' (list, show, retry, park, report)"};
}

}  // namespace

Command relay_command() {
  Command c;
  c.name = "relay";
  c.summary = "transfers and their history: list, show, retry, park, report";
  c.help = kRelayHelp;
  c.run = relay;
  return c;
}

Command config_command() {
  Command c;
  c.name = "config";
  c.summary = "check a gateway config file, every error with its key path";
  c.help = kConfigHelp;
  c.run = [](std::span<const std::string> argv, CommandIo io) {
    if (argv.size() != 2 || argv[0] != "check")
      throw UsageError{"usage: kakehashi config check FILE"};
    const auto loaded = load_config_or_report(argv[1], io);
    if (!loaded.ok()) {
      io.out << argv[1] << ": " << loaded.errors.size() << " error(s)\n";
      return kExitRejected;
    }
    io.out << argv[1] << ": ok (" << loaded.config.networks.size() << " networks, store "
           << loaded.config.store.type << ")\n";
    return kExitOk;
  };
  return c;
}

}  // namespace kakehashi::gateway::cli
