#include "mapping/careplan/inspector.hpp"

#include <algorithm>
#include <map>
#include <set>
#include <unordered_map>

#include "mapping/careplan/attachment.hpp"
#include "mapping/careplan/file_checks.hpp"
#include "mapping/careplan/finding_codes.hpp"
#include "mapping/careplan/layout.hpp"

namespace kakehashi::mapping {
namespace {

struct UnitFile {
  const InputFile* input;
  CarePlanFileName name;
  Findings name_findings;
};

Finding finding(std::string_view code, std::string file, std::string message,
                Severity severity = Severity::kError) {
  Finding f;
  f.code = std::string(code);
  f.severity = severity;
  f.file = std::move(file);
  f.message = std::move(message);
  return f;
}

bool contains(const std::vector<FileKind>& v, FileKind k) {
  return std::find(v.begin(), v.end(), k) != v.end();
}

std::string join_field_names(FileKind kind, const std::vector<int>& fields) {
  const auto& layout = CarePlanStandard::get().layout(kind);
  std::string s;
  for (int no : fields) s += (s.empty() ? "" : ", ") + layout.field(no).name_ja;
  return s;
}

class UnitInspector {
 public:
  UnitInspector(std::vector<UnitFile> files, const InspectOptions& options, UnitReport& report)
      : files_(std::move(files)),
        options_(options),
        report_(report),
        std_(CarePlanStandard::get()) {}

  void run() {
    for (auto& f : files_) {
      report_.files.push_back(f.input->name);
      report_.findings.insert(report_.findings.end(), f.name_findings.begin(),
                              f.name_findings.end());
    }
    report_.generation = files_.front().name.generation;
    check_sizes();
    check_service_types();
    match_combination();
    check_months();
    check_contents();
    if (report_.combination != nullptr) check_links();
  }

 private:
  void add(Finding f) { report_.findings.push_back(std::move(f)); }

  void check_sizes() {
    std::uint64_t total = 0;
    for (auto& f : files_) {
      total += f.input->size;
      if (f.input->size > options_.max_file_bytes) {
        add(finding(codes::kFileTooLarge, f.input->name,
                    "file is " + std::to_string(f.input->size) + " bytes; the limit is " +
                        std::to_string(options_.max_file_bytes)));
      } else if (f.input->size == 0) {
        add(finding(codes::kFileEmpty, f.input->name, "file is empty"));
      }
    }
    if (total > options_.max_unit_bytes) {
      add(finding(codes::kUnitTooLarge, "",
                  "unit is " + std::to_string(total) + " bytes; the limit is " +
                      std::to_string(options_.max_unit_bytes)));
    }
  }

  const UnitFile* first_csv() const {
    for (const auto& f : files_) {
      if (is_csv_kind(f.name.kind)) return &f;
    }
    return nullptr;
  }

  // The service types in the name against the direction the file kinds travel. Every file of the
  // unit carries the same offices and types, so a problem is reported on each of them (as check
  // digits are).
  void check_service_types() {
    const UnitFile* csv = first_csv();
    if (csv == nullptr || csv->name.generation == NameGeneration::kV3) return;
    const auto& n = csv->name;
    const Direction dir = direction_of(n.kind);
    const OfficeRef& manager = dir == Direction::kCareManagerToService ? n.from : n.to;
    const OfficeRef& service = dir == Direction::kCareManagerToService ? n.to : n.from;
    const char* manager_side = dir == Direction::kCareManagerToService ? "sender" : "recipient";
    const char* service_side = dir == Direction::kCareManagerToService ? "recipient" : "sender";
    std::vector<std::pair<std::string_view, std::string>> problems;
    if (!std_.is_care_management_type(manager.service_type)) {
      problems.emplace_back(codes::kNameDirection,
                            std::string(file_kind_name(n.kind)) +
                                " is exchanged with a care-management office, but the " +
                                manager_side + "'s service type " + manager.service_type +
                                " is not 43, 46 or AF");
    }
    if (std_.is_care_management_type(service.service_type)) {
      problems.emplace_back(codes::kNameDirection,
                            std::string("the ") + service_side + "'s service type " +
                                service.service_type + " is a care-management type; " +
                                std::string(file_kind_name(n.kind)) + " goes " +
                                (dir == Direction::kCareManagerToService
                                     ? "from a care manager to a service office"
                                     : "from a service office to a care manager"));
    } else if (!std_.is_known_service_type(service.service_type)) {
      problems.emplace_back(codes::kNameServiceType, std::string("the ") + service_side +
                                                         "'s service type " + service.service_type +
                                                         " is not a known code");
    } else if (!std_.is_in_link_scope(service.service_type)) {
      problems.emplace_back(codes::kNameServiceType,
                            std::string("the ") + service_side + "'s service type " +
                                service.service_type +
                                " is outside the scope of care-plan data linkage");
    }
    for (const auto& f : files_) {
      if (f.name.generation == NameGeneration::kV3) continue;
      for (const auto& [code, message] : problems) {
        Finding finding_on_file = finding(code, f.input->name, message);
        finding_on_file.field = "ファイル名";
        add(std::move(finding_on_file));
      }
    }
  }

  bool preventive_hint() const {
    const auto& n = files_.front().name;
    return std_.is_preventive_type(n.from.service_type) ||
           std_.is_preventive_type(n.to.service_type);
  }

  void match_combination() {
    std::map<FileKind, std::vector<const UnitFile*>> by_kind;
    for (const auto& f : files_) {
      if (f.name.kind != FileKind::Attachment) by_kind[f.name.kind].push_back(&f);
    }
    if (by_kind.empty()) {
      Finding f = finding(codes::kUnitNoCarePlanFile, "",
                          "the unit holds only attachments; attachments travel with care-plan "
                          "files");
      for (const auto& u : files_) f.files.push_back(u.input->name);
      add(std::move(f));
      return;
    }
    // A second file of one CSV kind (only possible with another month) never belongs.
    for (const auto& [kind, list] : by_kind) {
      if (kind == FileKind::UPKIHON_IMAGE) continue;
      for (std::size_t i = 1; i < list.size(); ++i) {
        add(finding(codes::kUnitExtraFile, list[i]->input->name,
                    "a second " + std::string(file_kind_name(kind)) +
                        " file in one send unit; send each month as its own unit"));
      }
    }
    std::set<FileKind> kinds;
    for (const auto& [k, list] : by_kind) kinds.insert(k);

    const UnitCombination* best = nullptr;
    std::size_t best_cost = SIZE_MAX;
    const bool preventive = preventive_hint();
    for (const auto& c : std_.combinations()) {
      std::size_t missing = 0, extra = 0, shared = 0;
      for (FileKind k : c.required) (kinds.count(k) != 0 ? shared : missing)++;
      for (FileKind k : kinds) {
        if (contains(c.optional, k)) {
          ++shared;
        } else if (!contains(c.required, k)) {
          ++extra;
        }
      }
      if (shared == 0) continue;
      // Exact matches win; among equals, the side (居宅 or 予防) the office types suggest.
      const std::size_t cost = (missing + extra) * 4 + (c.preventive == preventive ? 0 : 1);
      if (cost < best_cost) {
        best_cost = cost;
        best = &c;
      }
    }
    // Every kind belongs to some combination, so a candidate always exists.
    if (best == nullptr) return;
    if (best_cost > 1) {
      const UnitFile& any = *by_kind.begin()->second.front();
      for (FileKind k : best->required) {
        if (kinds.count(k) != 0) continue;
        CarePlanFileName missing = any.name;
        missing.kind = k;
        missing.extension = "CSV";
        missing.month = kind_has_month(k) ? expected_month(*best, by_kind) : "";
        Finding f = finding(codes::kUnitIncomplete, "",
                            "missing " + missing.build() + " (" + best->id + " " + best->name_ja +
                                " needs " + std::string(file_kind_name(k)) + ")");
        f.missing_file = missing.build();
        add(std::move(f));
      }
      for (FileKind k : kinds) {
        if (contains(best->required, k) || contains(best->optional, k)) continue;
        for (const auto* f : by_kind[k]) {
          add(finding(codes::kUnitExtraFile, f->input->name,
                      std::string(file_kind_name(k)) + " does not belong in a " + best->id + " " +
                          best->name_ja + " unit"));
        }
      }
      return;
    }
    report_.combination = best;
  }

  static std::string expected_month(
      const UnitCombination& c, const std::map<FileKind, std::vector<const UnitFile*>>& by_kind) {
    if (contains(c.required, FileKind::UP1KYO)) return "000000";
    for (const auto& [k, list] : by_kind) {
      if (kind_has_month(k) && list.front()->name.month != "000000")
        return list.front()->name.month;
    }
    return "YYYYMM";
  }

  // Month segments within one unit: the plan unit (K1) carries UPHOSOKU with 000000, the use
  // sheet unit (K2/P4) one service month on all three files.
  void check_months() {
    const bool plan_unit = std::any_of(files_.begin(), files_.end(), [](const UnitFile& f) {
      return f.name.kind == FileKind::UP1KYO;
    });
    std::string month;
    for (const auto& f : files_) {
      if (!kind_has_month(f.name.kind)) continue;
      if (plan_unit) {
        if (f.name.kind == FileKind::UPHOSOKU && f.name.month != "000000") {
          add(finding(codes::kUnitMonthMismatch, f.input->name,
                      "UPHOSOKU sent with tables 1-3 carries month 000000"));
        }
        continue;
      }
      if (f.name.kind == FileKind::UPHOSOKU && f.name.month == "000000" &&
          report_.combination != nullptr) {
        add(finding(codes::kUnitMonthMismatch, f.input->name,
                    "UPHOSOKU with month 000000 belongs with tables 1-3, not with tables 6/7"));
        continue;
      }
      if (month.empty()) {
        month = f.name.month;
      } else if (f.name.month != month) {
        add(finding(codes::kUnitMonthMismatch, f.input->name,
                    "month " + f.name.month + " differs from " + month +
                        " in the other files of the unit"));
      }
    }
  }

  void check_contents() {
    for (auto& f : files_) {
      if (f.input->size > options_.max_file_bytes || f.input->size == 0) continue;
      if (f.name.kind == FileKind::Attachment || f.name.kind == FileKind::UPKIHON_IMAGE) {
        const AttachmentType expected =
            f.name.kind == FileKind::UPKIHON_IMAGE ? AttachmentType::kJpeg : f.name.attachment;
        if (auto problem = check_attachment_content(expected, f.input->bytes)) {
          add(finding(codes::kAttachmentContent, f.input->name, *problem));
        }
        continue;
      }
      if (f.name.generation == NameGeneration::kV3) {
        add(finding(codes::kCsvNotCheckedV3, f.input->name,
                    "v3 file: relayed as is; only v4.1 record layouts are checked",
                    Severity::kWarning));
        continue;
      }
      facts_.push_back(check_csv_file(f.name, f.input->name, f.input->bytes, report_.findings));
    }
  }

  const FileFacts* facts_for(FileKind k) const {
    for (const auto& f : facts_) {
      if (f.kind == k) return &f;
    }
    return nullptr;
  }

  void link_finding(std::string_view code, const FileFacts& facts, const RecordFacts& rec,
                    int field_no, std::string message, std::string related_file = {}) {
    Finding f = finding(code, facts.file, std::move(message));
    f.related_file = std::move(related_file);
    f.line = rec.line;
    f.field_no = field_no;
    f.field = std::string(CarePlanStandard::get().layout(facts.kind).field(field_no).name_ja);
    add(std::move(f));
  }

  void check_links() {
    const UnitCombination& combo = *report_.combination;
    for (const auto& rule : std_.link_rules()) {
      const FileKind parent_kind = rule.parent;
      // Delete units refer to data sent earlier; only links inside this unit are checked here.
      if (parent_kind != FileKind::UP1KYO && parent_kind != FileKind::UPPLAN &&
          parent_kind != FileKind::UPKIHON && parent_kind != FileKind::UPYOBO)
        continue;
      const FileFacts* parent = facts_for(parent_kind);
      if (parent == nullptr) continue;
      const auto& parent_fields = rule.keys.front().second;
      std::unordered_map<std::string, const RecordFacts*> parent_keys;
      const bool unique_parent = parent_kind != FileKind::UPPLAN;
      for (const auto& rec : parent->records) {
        auto [it, inserted] = parent_keys.emplace(parent->key(rec, parent_fields), &rec);
        if (!inserted && unique_parent) {
          link_finding(codes::kLinkDuplicateKey, *parent, rec, parent_fields.back(),
                       "a second record with the same " +
                           join_field_names(parent_kind, parent_fields) + " as line " +
                           std::to_string(it->second->line));
        }
      }
      for (std::size_t c = 1; c < rule.keys.size(); ++c) {
        const auto& [child_kind, child_fields] = rule.keys[c];
        const FileFacts* child = facts_for(child_kind);
        if (child == nullptr) continue;
        const bool required = contains(combo.required, child_kind);
        std::unordered_map<std::string, const RecordFacts*> child_keys;
        const bool unique_child = child_kind == FileKind::UPHOSOKU;
        for (const auto& rec : child->records) {
          const std::string key = child->key(rec, child_fields);
          auto [it, inserted] = child_keys.emplace(key, &rec);
          if (!inserted && unique_child) {
            link_finding(codes::kLinkDuplicateKey, *child, rec, child_fields.back(),
                         "a second record with the same " +
                             join_field_names(child_kind, child_fields) + " as line " +
                             std::to_string(it->second->line));
          }
          if (inserted && parent_keys.count(key) == 0) {
            link_finding(codes::kLinkOrphan, *child, rec, child_fields.back(),
                         "no record in " + parent->file + " has the same " +
                             join_field_names(child_kind, child_fields),
                         parent->file);
          }
        }
        if (!required) continue;
        std::set<std::string> reported;
        for (const auto& rec : parent->records) {
          const std::string key = parent->key(rec, parent_fields);
          if (child_keys.count(key) == 0 && reported.insert(key).second) {
            link_finding(codes::kLinkMissing, *parent, rec, parent_fields.back(),
                         "no record in " + child->file + " has the same " +
                             join_field_names(parent_kind, parent_fields),
                         child->file);
          }
        }
      }
    }
    check_sikyu_totals();
    check_recipient_rows();
    check_images();
  }

  // Every user of 第7表 has its grand-total row (サービスコード 999999).
  void check_sikyu_totals() {
    const FileFacts* sikyu = facts_for(FileKind::UPSIKYU);
    if (sikyu == nullptr) return;
    const std::vector<int> key_fields{2, 3, 5};
    std::map<std::string, std::pair<const RecordFacts*, bool>> users;
    for (const auto& rec : sikyu->records) {
      auto& u = users.try_emplace(sikyu->key(rec, key_fields), &rec, false).first->second;
      if (sikyu->value(rec, 9) == "999999") u.second = true;
    }
    for (const auto& [key, u] : users) {
      if (!u.second)
        link_finding(codes::kSikyuTotalMissing, *sikyu, *u.first, 9,
                     "this user's 第7表 rows have no grand-total row (サービスコード 999999)");
    }
  }

  // Only users who concern the receiving office may be sent (one service of theirs at least).
  void check_recipient_rows() {
    const FileFacts* plan = facts_for(FileKind::UPPLAN);
    if (plan == nullptr) return;
    const std::string& recipient = files_.front().name.to.office_no;
    const std::vector<int> key_fields{2, 3, 5};
    std::map<std::string, std::pair<const RecordFacts*, bool>> users;
    for (const auto& rec : plan->records) {
      auto& u = users.try_emplace(plan->key(rec, key_fields), &rec, false).first->second;
      if (plan->value(rec, 20) == recipient) u.second = true;
    }
    for (const auto& [key, u] : users) {
      if (!u.second)
        link_finding(codes::kRowNotForRecipient, *plan, *u.first, 20,
                     "this user has no service by the receiving office " + recipient +
                         "; send a user's sheet only to offices that serve them");
    }
  }

  // UPKIHON no.62 names the family-structure image that travels in the same unit.
  void check_images() {
    const FileFacts* kihon = facts_for(FileKind::UPKIHON);
    std::set<std::string> named;
    if (kihon != nullptr) {
      for (const auto& rec : kihon->records) {
        const std::string_view image = kihon->value(rec, 62);
        if (image.empty()) continue;
        named.emplace(image);
        const bool present = std::any_of(files_.begin(), files_.end(), [&](const UnitFile& f) {
          return f.name.kind == FileKind::UPKIHON_IMAGE && f.input->name == image;
        });
        if (!present)
          link_finding(codes::kLinkImage, *kihon, rec, 62,
                       "names an image file that is not in the unit");
      }
    }
    for (const auto& f : files_) {
      if (f.name.kind == FileKind::UPKIHON_IMAGE && named.count(f.input->name) == 0) {
        add(finding(codes::kLinkImage, f.input->name,
                    "no UPKIHON record names this image (家族構成 画像ファイル名)",
                    Severity::kWarning));
      }
    }
  }

  std::vector<UnitFile> files_;
  const InspectOptions& options_;
  UnitReport& report_;
  const CarePlanStandard& std_;
  std::vector<FileFacts> facts_;
};

}  // namespace

bool InspectReport::all_acceptable() const {
  return std::all_of(units.begin(), units.end(),
                     [](const UnitReport& u) { return u.acceptable(); });
}

InspectReport inspect(std::span<const InputFile> files, const InspectOptions& options) {
  InspectReport report;
  std::map<SendUnitKey, std::vector<UnitFile>> units;
  std::map<std::string, int> seen_names;
  std::vector<UnitReport> unrecognised;
  for (const auto& input : files) {
    if (++seen_names[input.name] > 1) {
      UnitReport r;
      r.files.push_back(input.name);
      r.findings.push_back(finding(codes::kNameDuplicate, input.name,
                                   "the same file name was given more than once; only the first "
                                   "is inspected"));
      unrecognised.push_back(std::move(r));
      continue;
    }
    ParsedName parsed = parse_file_name(input.name);
    if (!parsed.name) {
      UnitReport r;
      r.files.push_back(input.name);
      r.findings = std::move(parsed.findings);
      unrecognised.push_back(std::move(r));
      continue;
    }
    SendUnitKey key{parsed.name->from, parsed.name->to, parsed.name->sequence};
    units[key].push_back({&input, std::move(*parsed.name), std::move(parsed.findings)});
  }
  for (auto& [key, unit_files] : units) {
    std::sort(unit_files.begin(), unit_files.end(),
              [](const UnitFile& a, const UnitFile& b) { return a.input->name < b.input->name; });
    UnitReport r;
    r.key = key;
    UnitInspector(std::move(unit_files), options, r).run();
    report.units.push_back(std::move(r));
  }
  for (auto& r : unrecognised) report.units.push_back(std::move(r));
  return report;
}

}  // namespace kakehashi::mapping
