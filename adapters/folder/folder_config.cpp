#include "adapters/folder/folder_config.hpp"

#include <set>

#include "gateway/pki/key_file.hpp"
#include "mapping/careplan/check_digit.hpp"

namespace kakehashi::adapters::folder {

FolderAdapterConfig parse_folder_config(const gateway::ConfigNode& section) {
  FolderAdapterConfig config;
  section.reject_unknown({"root", "offices", "scan_interval", "stability_window",
                          "incomplete_timeout", "max_file_bytes", "max_unit_bytes", "file_mode"});
  config.root = section.string("root");
  if (section.present() && config.root.empty()) section.error("root", "must not be empty");
  config.scan_interval = section.duration("scan_interval", std::chrono::milliseconds(5000));
  config.stability_window = section.duration("stability_window", std::chrono::milliseconds(3000));
  config.incomplete_timeout =
      section.duration("incomplete_timeout", std::chrono::milliseconds(10 * 60 * 1000));
  if (config.scan_interval.count() <= 0) section.error("scan_interval", "must be positive");
  if (config.stability_window.count() < 0)
    section.error("stability_window", "must not be negative");
  constexpr std::int64_t kGiB = 1024ll * 1024 * 1024;
  config.max_file_bytes =
      static_cast<std::uint64_t>(section.integer("max_file_bytes", 10ll * 1024 * 1024, 1, kGiB));
  config.max_unit_bytes = static_cast<std::uint64_t>(
      section.integer("max_unit_bytes", 100ll * 1024 * 1024, 1, 4 * kGiB));
  const auto mode = section.string("file_mode", std::string("0640"));
  std::size_t used = 0;
  unsigned long parsed = 0;
  try {
    parsed = std::stoul(mode, &used, 8);
  } catch (const std::exception&) {
    used = 0;
  }
  if (used != mode.size() || mode.empty() || (parsed & ~0666ul) != 0 || (parsed & 0600ul) != 0600) {
    section.error("file_mode",
                  "must be an octal mode like \"0640\": no execute or special bits, owner read "
                  "and write");
  } else {
    config.file_mode = static_cast<mode_t>(parsed);
  }

  std::set<mapping::OfficeRef> seen;
  for (const auto& node : section.array("offices")) {
    node.reject_unknown({"office_no", "service_type", "name", "certificate_file", "key_file"});
    FolderOffice office;
    office.office.office_no = node.string("office_no");
    office.office.service_type = node.string("service_type");
    office.name = node.string("name", std::string());
    office.certificate_file = node.string("certificate_file");
    office.key_file = node.string("key_file");
    if (auto problem = gateway::pki::secret_file_problem(office.key_file, "private key"))
      node.error("key_file", *problem);
    if (!office.office.office_no.empty() &&
        !mapping::is_valid_office_number(office.office.office_no)) {
      node.error("office_no", "not a 10-character office number with a valid check digit");
    }
    if (!office.office.service_type.empty() && office.office.service_type.size() != 2) {
      node.error("service_type", "must be 2 characters");
    }
    if (!seen.insert(office.office).second) node.error("office_no", "office listed twice");
    config.offices.push_back(std::move(office));
  }
  if (section.present() && config.offices.empty()) section.error("offices", "at least one office");
  return config;
}

}  // namespace kakehashi::adapters::folder
