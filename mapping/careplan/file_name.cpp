#include "mapping/careplan/file_name.hpp"

#include <array>
#include <cctype>

#include "mapping/careplan/check_digit.hpp"
#include "mapping/careplan/finding_codes.hpp"

namespace kakehashi::mapping {
namespace {

struct KindInfo {
  FileKind kind;
  std::string_view prefix;
  bool has_month;
  bool in_v3;
};

// Order matters for matching: longer prefixes first where one is a prefix of another.
constexpr std::array<KindInfo, 18> kKinds{{
    {FileKind::UPKIHON_SUB1, "UPKIHON_SUB1", false, false},
    {FileKind::UPKIHON_SUB2, "UPKIHON_SUB2", false, false},
    {FileKind::UPKIHON_IMAGE, "UPKIHON_IMAGE", false, false},
    {FileKind::UPKIHON, "UPKIHON", false, false},
    {FileKind::UPYOBO_SUB, "UPYOBO_SUB", false, false},
    {FileKind::UPYOBO, "UPYOBO", false, false},
    {FileKind::UPHOSOKU, "UPHOSOKU", true, true},
    {FileKind::UP1KYO, "UP1KYO", false, true},
    {FileKind::DLT1KYO, "DLT1KYO", false, true},
    {FileKind::UP2KYO, "UP2KYO", false, true},
    {FileKind::UP3KYO, "UP3KYO", false, false},
    {FileKind::UPPLAN, "UPPLAN", true, true},
    {FileKind::UPJSK, "UPJSK", true, true},
    {FileKind::DLTPLAN, "DLTPLAN", true, true},
    {FileKind::DLTJSK, "DLTJSK", true, true},
    {FileKind::UPSIKYU, "UPSIKYU", true, true},
    {FileKind::DLTKIHON, "DLTKIHON", false, false},
    {FileKind::DLTYOBO, "DLTYOBO", false, false},
}};

const KindInfo* info_for(FileKind kind) {
  for (const auto& k : kKinds) {
    if (k.kind == kind) return &k;
  }
  return nullptr;
}

bool all_digits(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
  }
  return true;
}

bool is_upper_alnum(std::string_view s) {
  for (char c : s) {
    if (!((c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z'))) return false;
  }
  return true;
}

std::string lower(std::string_view s) {
  std::string out(s);
  for (auto& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

int to_int(std::string_view s) {
  int v = 0;
  for (char c : s) v = v * 10 + (c - '0');
  return v;
}

bool leap(int y) { return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0; }

bool real_date(int y, int m, int d) {
  static constexpr std::array<int, 12> kDays{31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  if (y < 1900 || m < 1 || m > 12 || d < 1) return false;
  const int max = kDays[static_cast<std::size_t>(m - 1)] + ((m == 2 && leap(y)) ? 1 : 0);
  return d <= max;
}

// Splits on '_' into at most `max` segments (the last one keeps the rest).
std::vector<std::string_view> split_underscore(std::string_view s) {
  std::vector<std::string_view> parts;
  std::size_t start = 0;
  while (true) {
    const auto pos = s.find('_', start);
    if (pos == std::string_view::npos) {
      parts.push_back(s.substr(start));
      return parts;
    }
    parts.push_back(s.substr(start, pos - start));
    start = pos + 1;
  }
}

AttachmentType attachment_by_extension(std::string_view ext) {
  const auto e = lower(ext);
  if (e == "pdf") return AttachmentType::kPdf;
  if (e == "jpg" || e == "jpeg") return AttachmentType::kJpeg;
  if (e == "png") return AttachmentType::kPng;
  if (e == "gif") return AttachmentType::kGif;
  if (e == "txt") return AttachmentType::kTxt;
  return AttachmentType::kNone;
}

Finding name_finding(std::string_view code, std::string_view file, std::string message,
                     Severity severity = Severity::kError) {
  Finding f;
  f.code = std::string(code);
  f.severity = severity;
  f.file = std::string(file);
  f.field = "ファイル名";
  f.message = std::move(message);
  return f;
}

bool office_shape(std::string_view s) { return has_office_number_shape(s); }
bool type_shape(std::string_view s) { return s.size() == 2 && is_upper_alnum(s); }

// Checks that do not stop grouping: check digits, real timestamp, real month.
void check_segments(const CarePlanFileName& n, std::string_view file, Findings& out) {
  for (const auto* office : {&n.from.office_no, &n.to.office_no}) {
    if (!is_valid_office_number(*office)) {
      out.push_back(name_finding(codes::kNameOfficeCheckDigit, file,
                                 std::string(office == &n.from.office_no ? "sender" : "recipient") +
                                     " office number " + *office + " fails its check digit"));
    }
  }
  const std::string_view seq = n.sequence;
  const bool seq_ok = real_date(to_int(seq.substr(0, 4)), to_int(seq.substr(4, 2)),
                                to_int(seq.substr(6, 2))) &&
                      to_int(seq.substr(8, 2)) <= 23 && to_int(seq.substr(10, 2)) <= 59 &&
                      to_int(seq.substr(12, 2)) <= 59;
  if (!seq_ok) {
    out.push_back(name_finding(codes::kNameSequence, file,
                               "sequence " + n.sequence + " is not a real date and time "
                               "(YYYYMMDDHHMMSS)"));
  }
  if (!n.month.empty() && n.month != "000000") {
    const int m = to_int(std::string_view(n.month).substr(4, 2));
    if (m < 1 || m > 12 || to_int(std::string_view(n.month).substr(0, 4)) < 1900) {
      out.push_back(name_finding(codes::kNameMonth, file,
                                 "month " + n.month + " is not a real month (YYYYMM)"));
    }
  }
  if (n.month == "000000" && n.kind != FileKind::UPHOSOKU) {
    out.push_back(name_finding(codes::kNameMonth, file,
                               "month 000000 is only allowed for UPHOSOKU sent with tables 1-3"));
  }
  if (n.from.office_no == n.to.office_no && n.from.service_type == n.to.service_type) {
    out.push_back(name_finding(codes::kNameSameOffice, file,
                               "sender and recipient are the same office"));
  }
}

// Parses the common tail "<from>_<ft>_<to>_<tt>_<seq>" (v4.1) or "<from>_<to>_<seq>" (v3).
bool parse_offices(std::span<const std::string_view> segs, bool v3, CarePlanFileName& n) {
  if (v3) {
    if (segs.size() != 3 || !office_shape(segs[0]) || !office_shape(segs[1]) ||
        segs[2].size() != 14 || !all_digits(segs[2]))
      return false;
    n.from = {std::string(segs[0]), ""};
    n.to = {std::string(segs[1]), ""};
    n.sequence = std::string(segs[2]);
    n.generation = NameGeneration::kV3;
    return true;
  }
  if (segs.size() != 5 || !office_shape(segs[0]) || !type_shape(segs[1]) ||
      !office_shape(segs[2]) || !type_shape(segs[3]) || segs[4].size() != 14 ||
      !all_digits(segs[4]))
    return false;
  n.from = {std::string(segs[0]), std::string(segs[1])};
  n.to = {std::string(segs[2]), std::string(segs[3])};
  n.sequence = std::string(segs[4]);
  n.generation = NameGeneration::kV4_1;
  return true;
}

std::optional<CarePlanFileName> parse_csv_name(std::string_view stem, std::string_view ext) {
  for (const auto& k : kKinds) {
    if (k.kind == FileKind::UPKIHON_IMAGE) continue;
    if (stem.size() <= k.prefix.size() || stem.substr(0, k.prefix.size()) != k.prefix ||
        stem[k.prefix.size()] != '_')
      continue;
    auto segs = split_underscore(stem.substr(k.prefix.size() + 1));
    CarePlanFileName n;
    n.kind = k.kind;
    n.extension = std::string(ext);
    std::span<const std::string_view> rest(segs);
    if (k.has_month) {
      if (segs.empty() || segs[0].size() != 6 || !all_digits(segs[0])) continue;
      n.month = std::string(segs[0]);
      rest = rest.subspan(1);
    }
    if (parse_offices(rest, false, n)) return n;
    if (k.in_v3 && parse_offices(rest, true, n)) return n;
  }
  return std::nullopt;
}

std::optional<CarePlanFileName> parse_image_name(std::string_view stem, std::string_view ext) {
  constexpr std::string_view kPrefix = "UPKIHON_IMAGE_";
  if (stem.substr(0, kPrefix.size()) != kPrefix) return std::nullopt;
  auto segs = split_underscore(stem.substr(kPrefix.size()));
  if (segs.size() != 6 || segs[5].size() != 4 || !all_digits(segs[5])) return std::nullopt;
  CarePlanFileName n;
  n.kind = FileKind::UPKIHON_IMAGE;
  n.extension = std::string(ext);
  n.attachment = AttachmentType::kJpeg;
  if (!parse_offices(std::span<const std::string_view>(segs).first(5), false, n))
    return std::nullopt;
  n.branch = std::string(segs[5]);
  return n;
}

std::optional<CarePlanFileName> parse_attachment_name(std::string_view stem,
                                                      std::string_view ext) {
  const AttachmentType type = attachment_by_extension(ext);
  if (type == AttachmentType::kNone) return std::nullopt;
  auto segs = split_underscore(stem);
  if (segs.size() < 6) return std::nullopt;
  CarePlanFileName n;
  n.kind = FileKind::Attachment;
  n.extension = std::string(ext);
  n.attachment = type;
  if (!parse_offices(std::span<const std::string_view>(segs).last(5), false, n))
    return std::nullopt;
  const std::size_t tail = 10 + 1 + 2 + 1 + 10 + 1 + 2 + 1 + 14;
  n.label = std::string(stem.substr(0, stem.size() - tail - 1));
  if (n.label.empty()) return std::nullopt;
  return n;
}

}  // namespace

std::string_view file_kind_name(FileKind kind) {
  if (kind == FileKind::Attachment) return "attachment";
  const auto* k = info_for(kind);
  return k ? k->prefix : "?";
}

std::optional<FileKind> file_kind_from_prefix(std::string_view prefix) {
  for (const auto& k : kKinds) {
    if (k.prefix == prefix) return k.kind;
  }
  return std::nullopt;
}

bool is_csv_kind(FileKind kind) {
  return kind != FileKind::Attachment && kind != FileKind::UPKIHON_IMAGE;
}

bool kind_has_month(FileKind kind) {
  const auto* k = info_for(kind);
  return k && k->has_month;
}

std::string_view generation_name(NameGeneration g) {
  return g == NameGeneration::kV3 ? "v3" : "v4.1";
}

std::string_view attachment_type_name(AttachmentType t) {
  switch (t) {
    case AttachmentType::kPdf: return "pdf";
    case AttachmentType::kJpeg: return "jpeg";
    case AttachmentType::kPng: return "png";
    case AttachmentType::kGif: return "gif";
    case AttachmentType::kTxt: return "txt";
    case AttachmentType::kNone: break;
  }
  return "none";
}

std::string CarePlanFileName::build() const {
  std::string s;
  const auto offices = [&] {
    s += from.office_no;
    if (generation == NameGeneration::kV4_1) s += "_" + from.service_type;
    s += "_" + to.office_no;
    if (generation == NameGeneration::kV4_1) s += "_" + to.service_type;
    s += "_" + sequence;
  };
  if (kind == FileKind::Attachment) {
    s = label + "_";
    offices();
    s += "." + extension;
    return s;
  }
  s = std::string(file_kind_name(kind)) + "_";
  if (kind_has_month(kind)) s += month + "_";
  offices();
  if (kind == FileKind::UPKIHON_IMAGE) {
    s += "_" + branch + "." + (extension.empty() ? std::string("jpg") : extension);
  } else {
    s += ".CSV";
  }
  return s;
}

ParsedName parse_file_name(std::string_view file_name) {
  ParsedName result;
  const auto dot = file_name.rfind('.');
  if (dot == std::string_view::npos || dot == 0) {
    result.findings.push_back(name_finding(
        codes::kNameUnrecognised, file_name,
        "file name has no extension; expected a care-plan CSV name or an attachment name"));
    return result;
  }
  const std::string_view stem = file_name.substr(0, dot);
  const std::string_view ext = file_name.substr(dot + 1);
  const std::string ext_lower = lower(ext);

  std::optional<CarePlanFileName> name;
  if (ext_lower == "csv") {
    name = parse_csv_name(stem, ext);
    if (name && ext != "CSV") {
      result.findings.push_back(name_finding(codes::kNameExtensionCase, file_name,
                                             "extension should be .CSV in upper case",
                                             Severity::kWarning));
    }
  } else if (ext_lower == "jpg" && stem.substr(0, 14) == "UPKIHON_IMAGE_") {
    name = parse_image_name(stem, ext);
  }
  if (!name && ext_lower != "csv") name = parse_attachment_name(stem, ext);

  if (!name) {
    std::string why;
    if (ext_lower == "csv") {
      why = "not a care-plan file name: expected PREFIX[_YYYYMM]_<office 10>_<type 2>_"
            "<office 10>_<type 2>_<YYYYMMDDHHMMSS>.CSV with a known prefix";
    } else if (attachment_by_extension(ext) != AttachmentType::kNone) {
      why = "attachment name must be <label>_<from office>_<from type>_<to office>_<to type>_"
            "<YYYYMMDDHHMMSS>." + std::string(ext);
    } else {
      why = "extension ." + std::string(ext) +
            " is neither .CSV nor an allowed attachment type (pdf, jpeg, jpg, png, gif, txt)";
    }
    result.findings.push_back(name_finding(codes::kNameUnrecognised, file_name, std::move(why)));
    return result;
  }
  if (name->generation == NameGeneration::kV3) {
    result.findings.push_back(name_finding(codes::kNameV3, file_name,
                                           "v3 file name (no service-type segments)",
                                           Severity::kWarning));
  }
  check_segments(*name, file_name, result.findings);
  result.name = std::move(name);
  return result;
}

}  // namespace kakehashi::mapping
