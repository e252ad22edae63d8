#include "gateway/pki/trust_domain_loader.hpp"

#include <algorithm>
#include <ctime>
#include <fstream>
#include <iomanip>
#include <regex>
#include <sstream>

#include "gateway/pki/key_file.hpp"
#include "gateway/pki/pki_error.hpp"
#include "mapping/cms/parse.hpp"
#include "mapping/common/iso_time.hpp"

namespace kakehashi::gateway::pki {

namespace cms = mapping::cms;

namespace {

std::string trim(const std::string& s) {
  const auto b = s.find_first_not_of(" \t\r");
  if (b == std::string::npos) return {};
  const auto e = s.find_last_not_of(" \t\r");
  return s.substr(b, e - b + 1);
}

// "-" for unbounded, else YYYY-MM-DDTHH:MM:SSZ.
std::optional<std::time_t> parse_bound(const std::string& s, const std::string& where) {
  if (s == "-") return std::nullopt;
  const auto seconds = mapping::common::parse_iso_seconds(s);
  if (!seconds) throw PkiError(where + ": time '" + s + "' is not YYYY-MM-DDTHH:MM:SSZ or '-'");
  return static_cast<std::time_t>(*seconds);
}

std::vector<std::filesystem::path> files_in(const std::filesystem::path& dir) {
  std::vector<std::filesystem::path> out;
  if (!std::filesystem::is_directory(dir)) return out;
  for (const auto& e : std::filesystem::directory_iterator(dir)) {
    const auto ext = e.path().extension();
    if (e.is_regular_file() && (ext == ".pem" || ext == ".crl" || ext == ".der" || ext == ".crt")) {
      out.push_back(e.path());
    }
  }
  std::sort(out.begin(), out.end());  // deterministic order
  return out;
}

}  // namespace

cms::TrustDomain load_trust_domain(const std::filesystem::path& dir) {
  const auto conf_path = dir / "domain.conf";
  std::ifstream conf(conf_path);
  if (!conf) throw PkiError("cannot open trust domain file " + conf_path.string());
  cms::TrustDomain domain;
  domain.name = dir.filename().string();
  std::string line;
  int line_no = 0;
  while (std::getline(conf, line)) {
    ++line_no;
    const std::string where = conf_path.string() + ":" + std::to_string(line_no);
    const std::string text = trim(line.substr(0, line.find('#')));
    if (text.empty()) continue;
    const auto eq = text.find('=');
    if (eq == std::string::npos) throw PkiError(where + ": expected 'key = value'");
    const std::string key = trim(text.substr(0, eq));
    const std::string value = trim(text.substr(eq + 1));
    if (key == "name") {
      domain.name = value;
    } else if (key == "crl_policy") {
      if (value == "hard-fail") {
        domain.crl_policy = cms::CrlPolicy::kHardFail;
      } else if (value == "soft-fail") {
        domain.crl_policy = cms::CrlPolicy::kSoftFail;
      } else {
        throw PkiError(where + ": crl_policy must be hard-fail or soft-fail");
      }
    } else if (key == "crl_max_age") {
      std::size_t used = 0;
      long long seconds = -1;
      try {
        seconds = std::stoll(value, &used);
      } catch (const std::exception&) {
        used = 0;
      }
      if (used != value.size() || seconds < 0) {
        throw PkiError(where + ": crl_max_age must be a number of seconds");
      }
      domain.crl_max_age = std::chrono::seconds(seconds);
    } else if (key == "office_rule") {
      std::istringstream in(value);
      std::string kind;
      std::string attribute;
      in >> kind >> attribute;
      if (kind == "subject" && !attribute.empty()) {
        domain.office_rule = {cms::OfficeRule::Kind::kSubjectAttribute, attribute, {}};
      } else if (kind == "regex" && !attribute.empty()) {
        std::string pattern;
        std::getline(in >> std::ws, pattern);
        try {
          const std::regex re(pattern);
          if (re.mark_count() < 1) throw PkiError(where + ": regex needs a capture group");
        } catch (const std::regex_error& e) {
          throw PkiError(where + ": invalid regex: " + e.what());
        }
        domain.office_rule = {cms::OfficeRule::Kind::kRegex, attribute, pattern};
      } else {
        throw PkiError(where + ": office_rule must be 'subject ATTR' or 'regex ATTR PATTERN'");
      }
    } else if (key == "digest_algorithms" || key == "signature_algorithms") {
      const bool digests = key == "digest_algorithms";
      std::vector<int> nids;
      std::istringstream in(value);
      for (std::string name; in >> name;) {
        const auto nid =
            digests ? cms::digest_nid_by_name(name) : cms::signature_key_nid_by_name(name);
        if (!nid) {
          throw PkiError(where + ": " + key + ": unknown algorithm '" + name + "'" +
                         (digests ? "" : " (rsa, rsa-pss, ecdsa or ed25519)"));
        }
        if (std::find(nids.begin(), nids.end(), *nid) == nids.end()) nids.push_back(*nid);
      }
      if (nids.empty()) throw PkiError(where + ": " + key + " lists no algorithm");
      (digests ? domain.algorithms.digests : domain.algorithms.signature_keys) = std::move(nids);
    } else if (key == "anchor") {
      std::istringstream in(value);
      std::string file;
      std::string from = "-";
      std::string until = "-";
      in >> file >> from >> until;
      if (file.empty()) throw PkiError(where + ": anchor needs a file");
      const auto from_t = parse_bound(from, where);
      const auto until_t = parse_bound(until, where);
      for (auto& cert : load_certificates(dir / file)) {
        domain.anchors.push_back({std::move(cert), from_t, until_t});
      }
    } else {
      throw PkiError(where + ": unknown key '" + key + "'");
    }
  }
  if (domain.anchors.empty()) throw PkiError(conf_path.string() + ": no anchor configured");
  for (const auto& f : files_in(dir / "intermediates")) {
    for (auto& c : load_certificates(f)) domain.intermediates.push_back(std::move(c));
  }
  for (const auto& f : files_in(dir / "crls")) {
    auto crls = cms::parse_crls(read_file(f));
    if (!crls) throw PkiError("CRL file " + f.string() + ": " + crls.error().detail);
    for (auto& c : crls.value()) domain.crls.push_back(std::move(c));
  }
  return domain;
}

}  // namespace kakehashi::gateway::pki
