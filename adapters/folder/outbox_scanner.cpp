#include "adapters/folder/outbox_scanner.hpp"

#include <algorithm>
#include <set>

#include "adapters/folder/folder_files.hpp"
#include "mapping/careplan/finding_codes.hpp"
#include "mapping/careplan/inspector.hpp"
#include "mapping/cms/signer.hpp"
#include "mapping/cms/translation_receipt.hpp"
#include "mapping/common/media_type.hpp"

namespace kakehashi::adapters::folder {
namespace fs = std::filesystem;
using mapping::SendUnitKey;

namespace {

mapping::cms::ByteView view(std::string_view s) {
  return {reinterpret_cast<const std::uint8_t*>(s.data()), s.size()};
}

std::string office_text(const mapping::OfficeRef& o) {
  return o.service_type.empty() ? o.office_no : o.office_no + "-" + o.service_type;
}

bool is_incomplete(const mapping::Findings& findings) {
  return std::any_of(findings.begin(), findings.end(), [](const mapping::Finding& f) {
    return f.code == mapping::codes::kUnitIncomplete;
  });
}

mapping::Finding unit_finding(std::string_view code, std::string message) {
  mapping::Finding f;
  f.code = std::string(code);
  f.message = std::move(message);
  return f;
}

std::string read_small(const fs::path& path) {
  std::string bytes;
  std::uint64_t size = 0;
  if (read_file_prefix(path, 4096, bytes, size)) return {};
  return bytes;
}

std::string_view state_name(gateway::ReceiptState state) {
  switch (state) {
    case gateway::ReceiptState::kDelivered:
      return "DELIVERED";
    case gateway::ReceiptState::kRead:
      return "READ";
    case gateway::ReceiptState::kRejected:
      return "REJECTED";
  }
  return "UNKNOWN";
}

}  // namespace

std::string reason_text(const std::optional<SendUnitKey>& key, const mapping::Findings& findings) {
  std::string text = "Kakehashi: this send unit was not sent.\n";
  if (key) {
    text += "unit: " + key->sequence + " from " + office_text(key->from) + " to " +
            office_text(key->to) + "\n";
  }
  text += "code\tfile\tline\tfield\tmessage\n";
  for (const auto& f : findings) {
    text += f.code;
    text += '\t';
    text += f.file;
    text += '\t';
    text += std::to_string(f.line);
    text += '\t';
    text += f.field;
    text += '\t';
    if (f.severity == mapping::Severity::kWarning) text += "(warning) ";
    text += f.message;
    text += '\n';
  }
  return text;
}

OutboxScanner::OutboxScanner(const FolderAdapterConfig& config, std::vector<SigningOffice> offices)
    : config_(config),
      offices_(std::move(offices)),
      outbox_(config.root / "outbox"),
      sent_(config.root / "sent"),
      rejected_(config.root / "rejected") {}

std::string OutboxScanner::source_id_of(const SendUnitKey& key,
                                        const std::vector<gateway::SignedFile>& files) {
  // Stable across restarts: the unit's identity plus a digest of every file's exact bytes, so a
  // re-exported unit with changed content is a new item while a re-offer is a duplicate.
  std::vector<std::string> lines;
  for (const auto& f : files) {
    lines.push_back(f.name + " " + mapping::cms::sha256_hex(view(f.content)) + "\n");
  }
  std::sort(lines.begin(), lines.end());
  std::string all;
  for (const auto& l : lines) all += l;
  return "folder:" + office_text(key.from) + ":" + office_text(key.to) + ":" + key.sequence + ":" +
         mapping::cms::sha256_hex(view(all)).substr(0, 32);
}

const SigningOffice* OutboxScanner::signer_for(const mapping::OfficeRef& office) const {
  for (const auto& o : offices_) {
    if (o.office == office) return &o;
  }
  return nullptr;
}

std::error_code OutboxScanner::recover() {
  std::error_code ec;
  for (const auto& dir : {outbox_, sent_, rejected_, config_.root / "inbox"}) {
    fs::create_directories(dir, ec);
    if (ec) return ec;
  }
  for (const auto& area : {sent_, rejected_}) {
    for (const auto& entry : fs::directory_iterator(area, ec)) {
      const std::string name = entry.path().filename().string();
      if (!entry.is_directory()) continue;
      if (name.rfind(kStagingPrefix, 0) == 0) {
        // A crash interrupted a move: put the files back so the unit is offered again (with the
        // same source_id; the engine suppresses the duplicate).
        for (const auto& file : fs::directory_iterator(entry.path(), ec)) {
          const std::string file_name = file.path().filename().string();
          if (file_name == "REASON.txt" || file_name.front() == '.') continue;
          if (!fs::exists(outbox_ / file_name)) fs::rename(file.path(), outbox_ / file_name, ec);
          if (ec) return ec;
        }
        fs::remove_all(entry.path(), ec);
        if (ec) return ec;
        continue;
      }
      const std::string source_id = read_small(entry.path() / kSourceIdFile);
      if (!source_id.empty()) unit_dirs_[source_id] = entry.path();
    }
    if (ec) return ec;
  }
  return fsync_directory(outbox_);
}

ScanResult OutboxScanner::scan(std::chrono::steady_clock::time_point now) {
  ScanResult result;
  std::error_code ec;

  // 1. Which files are there, and which have stopped changing.
  std::map<std::string, std::uint64_t> present;
  for (const auto& entry : fs::directory_iterator(outbox_, ec)) {
    std::error_code entry_ec;
    // Only regular files: a symlink could make the gateway send a file the office never wrote.
    if (entry.symlink_status(entry_ec).type() != fs::file_type::regular) continue;
    const std::string name = entry.path().filename().string();
    if (name.empty() || name.front() == '.') continue;  // hidden: temporary names of exporters
    const auto size = entry.file_size(entry_ec);
    const auto mtime = entry.last_write_time(entry_ec);
    if (entry_ec) continue;  // vanished while listing
    present[name] = size;
    auto [it, inserted] = observed_.try_emplace(name, Observed{size, mtime, now});
    if (!inserted && (it->second.size != size || it->second.mtime != mtime)) {
      it->second = Observed{size, mtime, now};
    }
  }
  if (ec) {
    ++result.report.errors;
    return result;
  }
  std::erase_if(observed_, [&](const auto& kv) { return !present.contains(kv.first); });
  result.report.files = present.size();

  // 2. Group by sender, recipient and 14-digit sequence, as the file names say.
  std::map<std::optional<SendUnitKey>, std::vector<std::string>> groups;
  for (const auto& [name, size] : present) {
    const auto parsed = mapping::parse_file_name(name);
    std::optional<SendUnitKey> key;
    if (parsed.name) key = SendUnitKey{parsed.name->from, parsed.name->to, parsed.name->sequence};
    groups[key].push_back(name);
  }
  std::erase_if(incomplete_since_, [&](const auto& kv) { return !groups.contains(kv.first); });

  for (auto& [key, names] : groups) {
    if (key && offered_.contains(*key)) continue;  // waiting for the sink's answer
    const auto unstable = std::count_if(names.begin(), names.end(), [&](const std::string& n) {
      return now - observed_[n].since < config_.stability_window;
    });
    if (unstable > 0) {
      result.report.unstable_files += static_cast<std::size_t>(unstable);
      continue;
    }

    // 3. Read and check the stable group.
    std::vector<std::string> contents(names.size());
    std::vector<mapping::InputFile> inputs(names.size());
    bool read_failed = false;
    for (std::size_t i = 0; i < names.size(); ++i) {
      std::uint64_t size = 0;
      if (read_file_prefix(outbox_ / names[i], config_.max_file_bytes + 1, contents[i], size)) {
        read_failed = true;
        break;
      }
      inputs[i] = mapping::InputFile{names[i], contents[i], size};
    }
    if (read_failed) {
      ++result.report.errors;
      continue;
    }
    const auto report = mapping::inspect(inputs, {config_.max_file_bytes, config_.max_unit_bytes});

    for (const auto& unit : report.units) {
      mapping::Findings findings = unit.findings;
      if (unit.key && is_incomplete(findings)) {
        auto [it, inserted] = incomplete_since_.try_emplace(*unit.key, now);
        if (now - it->second < config_.incomplete_timeout) {
          ++result.report.incomplete_units;  // the exporter may still be writing the rest
          continue;
        }
        findings.push_back(unit_finding(kIncompleteTimeout,
                                        "files of the unit are still missing after the waiting "
                                        "time; export the whole unit again"));
      }
      const SigningOffice* signer = unit.key ? signer_for(unit.key->from) : nullptr;
      if (unit.key && signer == nullptr) {
        findings.push_back(
            unit_finding(kSenderNotConfigured, "sender office " + office_text(unit.key->from) +
                                                   " is not an office this folder sends for"));
      }
      if (!unit.key || mapping::has_errors(findings)) {
        if (reject(unit.key, unit.files, findings)) {
          ++result.report.errors;
        } else {
          ++result.report.rejected;
        }
        if (unit.key) incomplete_since_.erase(*unit.key);
        continue;
      }

      // 4. Sign every file as it is (detached: the bytes on disk are never touched).
      ReadyUnit ready;
      ready.key = *unit.key;
      ready.unit.sender = unit.key->from;
      ready.unit.recipient = unit.key->to;
      ready.unit.subject = unit.combination != nullptr ? unit.combination->id : std::string();
      bool sign_failed = false;
      for (const auto& file_name : unit.files) {
        const auto at = std::find(names.begin(), names.end(), file_name) - names.begin();
        gateway::SignedFile file;
        file.name = file_name;
        file.media_type = mapping::common::media_type_for(file_name);
        file.content = contents[static_cast<std::size_t>(at)];
        auto signature = mapping::cms::sign(view(file.content), signer->credential, {true});
        if (!signature.ok()) {
          sign_failed = true;
          break;
        }
        file.cms.assign(signature.value().begin(), signature.value().end());
        ready.unit.files.push_back(std::move(file));
      }
      if (sign_failed) {
        ++result.report.errors;  // a local key problem, not the office's fault: retry later
        continue;
      }
      ready.unit.source_id = source_id_of(ready.key, ready.unit.files);
      incomplete_since_.erase(ready.key);
      offered_[ready.key] = Offered{ready.unit.source_id, unit.files};
      ++result.report.offered;
      result.ready.push_back(std::move(ready));
    }
  }
  return result;
}

std::error_code OutboxScanner::finish(const SendUnitKey& key, bool accepted) {
  const auto it = offered_.find(key);
  if (it == offered_.end()) return std::make_error_code(std::errc::invalid_argument);
  const Offered offered = it->second;
  offered_.erase(it);
  if (accepted) return move_unit(sent_, key.sequence, offered.files, offered.source_id, {});
  mapping::Findings findings{unit_finding(
      kGatewayRefused, "the gateway did not accept the unit; see the gateway's rejection")};
  return move_unit(rejected_, key.sequence, offered.files, offered.source_id,
                   reason_text(key, findings));
}

std::error_code OutboxScanner::reject(const std::optional<SendUnitKey>& key,
                                      const std::vector<std::string>& files,
                                      const mapping::Findings& findings) {
  return move_unit(rejected_, key ? key->sequence : std::string("unrecognised"), files, {},
                   reason_text(key, findings));
}

std::error_code OutboxScanner::move_unit(const fs::path& area, const std::string& base,
                                         const std::vector<std::string>& files,
                                         const std::string& source_id,
                                         const std::optional<std::string>& reason) {
  // Files go into a hidden staging folder first, which is renamed into place at the end: the
  // office never sees half a unit in sent/, and recover() undoes a move cut short by a crash.
  std::error_code ec;
  const std::string name = unique_child_name(area, base);
  const fs::path staging = area / (std::string(kStagingPrefix) + name);
  fs::remove_all(staging, ec);
  fs::create_directory(staging, ec);
  if (ec) return ec;
  if (!source_id.empty()) {
    if (auto wec = write_file_synced(staging / kSourceIdFile, source_id)) return wec;
  }
  if (reason) {
    if (auto wec = write_file_synced(staging / "REASON.txt", *reason)) return wec;
  }
  for (const auto& file : files) {
    fs::rename(outbox_ / file, staging / file, ec);
    if (ec && ec != std::errc::no_such_file_or_directory) return ec;  // gone: nothing to move
    ec.clear();
  }
  if (auto sec = fsync_directory(staging)) return sec;
  fs::rename(staging, area / name, ec);
  if (ec) return ec;
  if (auto sec = fsync_directory(area)) return sec;
  if (!source_id.empty()) unit_dirs_[source_id] = area / name;
  return fsync_directory(outbox_);
}

gateway::SendResult OutboxScanner::write_receipt(const gateway::OutboundReceipt& receipt) {
  gateway::SendResult result;
  const auto it = unit_dirs_.find(receipt.source_id);
  if (it == unit_dirs_.end()) {
    result.status = gateway::SendResult::Status::kRejected;
    result.error_code = "unknown-source";
    result.message = "no unit folder for this source id";
    return result;
  }
  const std::string state(state_name(receipt.state));
  std::string text = "state: " + state + "\nsource: " + receipt.source_id + "\n";
  if (!receipt.reason.empty()) text += "reason: " + receipt.reason + "\n";
  if (auto ec = write_file_atomic(it->second / ("RECEIPT-" + state + ".txt"), text)) {
    result.status = gateway::SendResult::Status::kRetry;
    result.error_code = "io-error";
    result.message = ec.message();
    return result;
  }
  result.status = gateway::SendResult::Status::kAccepted;
  result.remote_id =
      it->second.parent_path().filename().string() + "/" + it->second.filename().string();
  return result;
}

}  // namespace kakehashi::adapters::folder
