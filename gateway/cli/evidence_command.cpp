#include "gateway/cli/evidence_command.hpp"

#include <chrono>
#include <fstream>
#include <iterator>
#include <ostream>

#include <rapidjson/ostreamwrapper.h>
#include <rapidjson/prettywriter.h>

#include "gateway/audit/evidence_verifier.hpp"
#include "gateway/daemon/evidence_builder.hpp"
#include "gateway/daemon/gateway_config.hpp"

namespace kakehashi::gateway::cli {
using namespace kakehashi::gateway;

daemon::LoadedConfig load_config_or_report(const std::string& path, CommandIo io);

namespace {

bool write_file(const std::string& path, const std::string& bytes, CommandIo io) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << bytes;
  out.flush();
  if (!out) io.err << "kakehashi audit evidence: cannot write " << path << "\n";
  return static_cast<bool>(out);
}

}  // namespace

int audit_evidence(const Args& args, CommandIo io) {
  const auto file = args.option("--config");
  if (!file)
    throw UsageError{"evidence needs --config FILE (the bundle is signed with the gateway key)"};
  daemon::EvidenceRequest request;
  request.office_no = args.option("--office").value_or("");
  request.month = args.option("--month").value_or("");
  if (const auto problem = daemon::check_evidence_request(request); !problem.empty())
    throw UsageError{"--" + problem};
  auto loaded = load_config_or_report(*file, io);
  if (!loaded.ok()) return kExitUsage;
  const bool auditor =
      args.option("--role").value_or(loaded.config.store.audit.role) == "auditor" ||
      loaded.config.store.audit.role == "auditor";
  request.now = std::chrono::duration_cast<std::chrono::milliseconds>(
                    std::chrono::system_clock::now().time_since_epoch())
                    .count();
  request.seal_first = !auditor;  // an auditor writes nothing; the daemon seals within minutes
  daemon::EvidenceResult result;
  try {
    result = daemon::make_evidence_bundle(loaded.config, request);
  } catch (const store::SqlError& e) {
    io.err << "kakehashi audit evidence: store: " << e.what() << "\n";
    return kExitUsage;
  } catch (const std::exception& e) {
    io.err << "kakehashi audit evidence: " << e.what() << "\n";
    return kExitUsage;
  }
  const std::string out = args.option("--out").value_or("evidence-" + request.office_no + "-" +
                                                        request.month + ".json");
  if (out == "-") {
    io.out << result.file;
  } else if (!write_file(out, result.file, io)) {
    return kExitUsage;
  }
  if (auto html = args.option("--html"); html && !write_file(*html, result.report_html, io))
    return kExitUsage;
  if (out != "-")
    io.err << result.units << " unit(s) of office " << request.office_no << " in " << request.month
           << " written to " << out << "\n";
  return kExitOk;
}

int audit_verify_evidence(const Args& args, CommandIo io) {
  if (args.positionals().size() != 1) throw UsageError{"verify-evidence needs one bundle FILE"};
  const auto& path = args.positionals()[0];
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    io.err << "kakehashi audit verify-evidence: cannot read " << path << "\n";
    return kExitUsage;
  }
  const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const auto check = audit::verify_evidence(bytes);
  if (args.flag("--json")) {
    rapidjson::OStreamWrapper os(io.out);
    rapidjson::PrettyWriter<rapidjson::OStreamWrapper> w(os);
    w.StartObject();
    w.Key("intact");
    w.Bool(check.ok());
    w.Key("office_no");
    w.String(check.office_no.c_str());
    w.Key("month");
    w.String(check.month.c_str());
    for (const auto& [key, n] : {std::pair{"units", check.units},
                                 {"records", check.records},
                                 {"checkpoints", check.checkpoints},
                                 {"files", check.files},
                                 {"signatures", check.signatures},
                                 {"translation_receipts", check.receipts}}) {
      w.Key(key);
      w.Uint64(n);
    }
    w.Key("gateway_subject");
    w.String(check.gateway_subject.c_str());
    w.Key("root_sha256");
    w.String(check.root_sha256.c_str());
    w.Key("problems");
    w.StartArray();
    for (const auto& p : check.problems) w.String(p.c_str());
    w.EndArray();
    w.Key("notes");
    w.StartArray();
    for (const auto& n : check.notes) w.String(n.c_str());
    w.EndArray();
    w.EndObject();
    io.out << "\n";
  } else {
    for (const auto& p : check.problems) io.out << "BROKEN: " << p << "\n";
    for (const auto& n : check.notes) io.out << "note: " << n << "\n";
    if (check.ok()) {
      io.out << "intact: office " << check.office_no << ", month " << check.month << ": "
             << check.units << " unit(s), " << check.records << " record(s) sealed by "
             << check.checkpoints << " checkpoint(s), " << check.signatures
             << " sender signature(s) and " << check.receipts
             << " translation receipt(s) verified; gateway " << check.gateway_subject
             << ", root certificate SHA-256 " << check.root_sha256 << "\n";
    }
  }
  return check.ok() ? kExitOk : kExitRejected;
}

}  // namespace kakehashi::gateway::cli
