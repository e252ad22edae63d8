#include "gateway/cli/inspect_command.hpp"

#include <charconv>
#include <ostream>

#include <rapidjson/ostreamwrapper.h>
#include <rapidjson/prettywriter.h>

#include "gateway/cli/args.hpp"
#include "gateway/cli/file_reader.hpp"
#include "mapping/careplan/finding_codes.hpp"

namespace kakehashi::gateway::cli {
namespace {

using mapping::Finding;
using mapping::InspectReport;
using mapping::UnitReport;

constexpr const char* kHelp =
    R"(Usage: kakehashi inspect [--json] [--max-file-bytes N] [--max-unit-bytes N] PATH...

Groups care-plan files (files or folders, searched recursively) into send units by sender,
recipient and 14-digit sequence, and checks each unit against the care-plan standard v4.1:
file names, allowed file combinations, attachment content and size, MS932 CSV syntax, record
layouts, codes, check digits, months and offices against the name, and links between files.

Options:
  --json               print one JSON document (shape documented in README.md)
  --max-file-bytes N   size limit per file, CSV or attachment (default 10485760 = 10 MiB)
  --max-unit-bytes N   size limit for all files of one unit (default 104857600 = 100 MiB)
  --help               show this help

Exit status: 0 every unit is acceptable, 1 some unit is not, 2 usage or I/O error.
Findings never show field values (they may be personal data); they name the file, line, field
number and the field's name in the standard.
)";

std::uint64_t parse_size(const std::string& option, const std::string& text) {
  std::uint64_t v = 0;
  const auto* end = text.data() + text.size();
  const auto [p, ec] = std::from_chars(text.data(), end, v);
  if (ec != std::errc{} || p != end || v == 0)
    throw UsageError{option + " needs a positive number of bytes, got '" + text + "'"};
  return v;
}

std::string office_text(const mapping::OfficeRef& o) {
  return o.service_type.empty() ? o.office_no : o.office_no + "/" + o.service_type;
}

void print_finding(const Finding& f, std::ostream& out) {
  out << "    " << mapping::severity_name(f.severity) << " " << f.code;
  if (!f.file.empty()) out << "  " << f.file;
  if (f.line > 0) out << " line " << f.line;
  if (f.field_no > 0) out << " field " << f.field_no;
  if (!f.field.empty()) out << " " << f.field;
  out << ": " << f.message << "\n";
}

}  // namespace

void print_inspect_text(const InspectReport& report, std::ostream& out) {
  std::size_t ok = 0;
  for (const auto& u : report.units) {
    if (u.acceptable()) ++ok;
    if (u.key) {
      out << "unit " << office_text(u.key->from) << " -> " << office_text(u.key->to) << "  "
          << u.key->sequence;
      if (u.combination != nullptr) {
        out << "  " << u.combination->id << " " << u.combination->name_ja << " ("
            << mapping::direction_name(u.combination->direction) << ")";
      }
      if (u.generation) out << "  " << mapping::generation_name(*u.generation);
    } else {
      out << "unrecognised file";
    }
    out << "\n  " << (u.acceptable() ? "ACCEPTABLE" : "REJECTED") << "\n";
    for (const auto& f : u.files) out << "    file " << f << "\n";
    for (const auto& f : u.findings) print_finding(f, out);
  }
  out << report.units.size() << " unit(s): " << ok << " acceptable, " << report.units.size() - ok
      << " rejected\n";
}

void print_inspect_json(const InspectReport& report, std::ostream& out) {
  rapidjson::OStreamWrapper os(out);
  rapidjson::PrettyWriter<rapidjson::OStreamWrapper> w(os);
  w.SetIndent(' ', 2);
  const auto str = [&](std::string_view s) {
    w.String(s.data(), static_cast<rapidjson::SizeType>(s.size()));
  };
  const auto office = [&](const mapping::OfficeRef& o) {
    w.StartObject();
    str("office_no");
    str(o.office_no);
    str("service_type");
    if (o.service_type.empty())
      w.Null();
    else
      str(o.service_type);
    w.EndObject();
  };
  std::size_t ok = 0;
  w.StartObject();
  str("units");
  w.StartArray();
  for (const auto& u : report.units) {
    if (u.acceptable()) ++ok;
    w.StartObject();
    str("acceptable");
    w.Bool(u.acceptable());
    str("generation");
    if (u.generation)
      str(mapping::generation_name(*u.generation));
    else
      w.Null();
    str("combination");
    if (u.combination != nullptr) {
      w.StartObject();
      str("id");
      str(u.combination->id);
      str("name_ja");
      str(u.combination->name_ja);
      str("direction");
      str(mapping::direction_name(u.combination->direction));
      str("preventive");
      w.Bool(u.combination->preventive);
      w.EndObject();
    } else {
      w.Null();
    }
    str("from");
    if (u.key)
      office(u.key->from);
    else
      w.Null();
    str("to");
    if (u.key)
      office(u.key->to);
    else
      w.Null();
    str("sequence");
    if (u.key)
      str(u.key->sequence);
    else
      w.Null();
    str("files");
    w.StartArray();
    for (const auto& f : u.files) str(f);
    w.EndArray();
    str("findings");
    w.StartArray();
    for (const auto& f : u.findings) {
      w.StartObject();
      str("code");
      str(f.code);
      str("severity");
      str(mapping::severity_name(f.severity));
      str("file");
      if (f.file.empty())
        w.Null();
      else
        str(f.file);
      str("line");
      if (f.line > 0)
        w.Uint64(f.line);
      else
        w.Null();
      str("field_no");
      if (f.field_no > 0)
        w.Int(f.field_no);
      else
        w.Null();
      str("field");
      if (f.field.empty())
        w.Null();
      else
        str(f.field);
      str("message");
      str(f.message);
      // Set only by the codes that name other files (README "Finding codes").
      if (!f.missing_file.empty()) {
        str("missing_file");
        str(f.missing_file);
      }
      if (!f.related_file.empty()) {
        str("related_file");
        str(f.related_file);
      }
      if (!f.files.empty()) {
        str("files");
        w.StartArray();
        for (const auto& name : f.files) str(name);
        w.EndArray();
      }
      w.EndObject();
    }
    w.EndArray();
    w.EndObject();
  }
  w.EndArray();
  str("summary");
  w.StartObject();
  str("units");
  w.Uint64(report.units.size());
  str("acceptable");
  w.Uint64(ok);
  str("rejected");
  w.Uint64(report.units.size() - ok);
  w.EndObject();
  w.EndObject();
  os.Flush();
  out << "\n";
}

Command inspect_command() {
  Command c;
  c.name = "inspect";
  c.summary = "group care-plan files into send units and check them against the standard";
  c.help = kHelp;
  c.run = [](std::span<const std::string> argv, CommandIo io) {
    const Args args(argv, {"--json"}, {"--max-file-bytes", "--max-unit-bytes"});
    if (args.positionals().empty()) throw UsageError{"no PATH given"};
    mapping::InspectOptions options;
    if (auto v = args.option("--max-file-bytes"))
      options.max_file_bytes = parse_size("--max-file-bytes", *v);
    if (auto v = args.option("--max-unit-bytes"))
      options.max_unit_bytes = parse_size("--max-unit-bytes", *v);

    std::vector<LoadError> errors;
    const auto loaded = load_files(args.positionals(), options.max_file_bytes, errors);
    for (const auto& e : errors)
      io.err << "kakehashi inspect: " << e.path << ": " << e.ec.message() << "\n";
    if (!errors.empty()) return kExitUsage;

    std::vector<mapping::InputFile> inputs;
    inputs.reserve(loaded.size());
    for (const auto& f : loaded) inputs.push_back({f.name, f.bytes, f.size});
    const auto report = mapping::inspect(inputs, options);
    if (args.flag("--json")) {
      print_inspect_json(report, io.out);
    } else {
      print_inspect_text(report, io.out);
    }
    return report.all_acceptable() ? kExitOk : kExitRejected;
  };
  return c;
}

}  // namespace kakehashi::gateway::cli
