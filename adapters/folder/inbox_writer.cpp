#include "adapters/folder/inbox_writer.hpp"

#include <algorithm>
#include <cstdint>
#include <set>
#include <sstream>

#include "adapters/folder/folder_files.hpp"
#include "mapping/careplan/file_name.hpp"
#include "mapping/cms/content_converter.hpp"

namespace kakehashi::adapters::folder {
namespace fs = std::filesystem;
using Status = gateway::SendResult::Status;

namespace {

gateway::SendResult outcome(Status status, std::string code, std::string message) {
  gateway::SendResult r;
  r.status = status;
  (status == Status::kAccepted ? r.remote_id : r.error_code) = std::move(code);
  r.message = std::move(message);
  return r;
}

// Ledger lines carry keys hex-encoded: keys are opaque and may hold any byte.
std::string hex(std::string_view s) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  for (unsigned char c : s) {
    out += kDigits[c >> 4];
    out += kDigits[c & 15];
  }
  return out;
}

std::string unhex(std::string_view s) {
  auto value = [](char c) { return c <= '9' ? c - '0' : c - 'a' + 10; };
  std::string out;
  for (std::size_t i = 0; i + 1 < s.size(); i += 2) {
    out += static_cast<char>(value(s[i]) * 16 + value(s[i + 1]));
  }
  return out;
}

std::string read_marker(const fs::path& path) {
  std::string bytes;
  std::uint64_t size = 0;
  if (read_file_prefix(path, 64 * 1024, bytes, size)) return {};
  return bytes;
}

struct FileToWrite {
  std::string name;
  std::string content;
  std::string signature;  // detached SignedData
};

}  // namespace

InboxWriter::InboxWriter(fs::path root, std::vector<mapping::OfficeRef> offices,
                         std::uint64_t max_file_bytes, std::uint64_t max_unit_bytes,
                         mode_t file_mode)
    : root_(std::move(root)),
      inbox_(root_ / "inbox"),
      offices_(std::move(offices)),
      max_file_bytes_(max_file_bytes),
      max_unit_bytes_(max_unit_bytes),
      file_mode_(file_mode) {}

std::error_code InboxWriter::recover() {
  std::error_code ec;
  fs::create_directories(inbox_, ec);
  if (ec) return ec;
  for (const auto& entry : fs::directory_iterator(inbox_, ec)) {
    const std::string name = entry.path().filename().string();
    if (name.rfind(kInboxTempPrefix, 0) == 0) {
      fs::remove_all(entry.path(), ec);  // an interrupted write: the unit was never answered
      if (ec) return ec;
      continue;
    }
    // Covers a crash between the rename and the ledger line.
    const std::string key = read_marker(entry.path() / kIdempotencyKeyFile);
    if (!key.empty()) keys_[key] = name;
  }
  if (ec) return ec;
  std::string ledger_bytes;
  std::uint64_t ledger_size = 0;
  if (fs::exists(root_ / kLedgerFile)) {
    if (auto rec = read_file_prefix(root_ / kLedgerFile, UINT64_MAX, ledger_bytes, ledger_size)) {
      return rec;
    }
  }
  // A crash mid-append leaves a line without its newline: end it, so the next line stands alone.
  if (!ledger_bytes.empty() && ledger_bytes.back() != '\n') {
    if (auto aec = append_line_synced(root_ / kLedgerFile, "")) return aec;
  }
  std::istringstream ledger(ledger_bytes);
  std::string line;
  while (std::getline(ledger, line)) {
    if (line.rfind("inbound ", 0) != 0) continue;
    const auto end = line.find(' ', 8);
    if (end == std::string::npos) continue;  // a line cut short by a crash
    keys_[unhex(line.substr(8, end - 8))] = line.substr(end + 1);
  }
  return {};
}

gateway::SendResult InboxWriter::write(const gateway::OutboundUnit& unit) {
  if (unit.idempotency_key.empty()) {
    return outcome(Status::kRejected, "idempotency-key-missing", "a unit needs an idempotency key");
  }
  if (const auto it = keys_.find(unit.idempotency_key); it != keys_.end()) {
    return outcome(Status::kAccepted, "inbox/" + it->second, "already written to the inbox");
  }
  return write_new(unit);
}

gateway::SendResult InboxWriter::write_new(const gateway::OutboundUnit& unit) {
  if (std::find(offices_.begin(), offices_.end(), unit.recipient) == offices_.end()) {
    return outcome(Status::kRejected, "recipient-not-served",
                   "the recipient office is not one this folder receives for");
  }
  if (unit.files.empty()) return outcome(Status::kRejected, "no-files", "the unit has no files");

  // Validate and normalise every file before touching the disk.
  std::vector<FileToWrite> files;
  std::set<std::string> names{"MESSAGE.txt"};
  std::uint64_t total = 0;
  std::string sequence;
  for (const auto& f : unit.files) {
    if (!is_plain_file_name(f.name) || f.name.ends_with(".p7s") ||
        f.name.rfind("RECEIPT-", 0) == 0 || !names.insert(f.name).second) {
      return outcome(Status::kRejected, "file-name", "a file name is unusable or repeated");
    }
    FileToWrite out{f.name, f.content, f.cms};
    if (f.attached) {
      // National form: keep the office's signature, only without the embedded content.
      const auto der = reinterpret_cast<const std::uint8_t*>(f.cms.data());
      auto detached = mapping::cms::detach_content({der, f.cms.size()});
      if (!detached.ok()) return outcome(Status::kRejected, "signature-malformed", f.name);
      std::string content(detached.value().content.begin(), detached.value().content.end());
      if (!f.content.empty() && f.content != content) {
        return outcome(Status::kRejected, "content-mismatch", f.name);
      }
      out.content = std::move(content);
      out.signature.assign(detached.value().signature.begin(), detached.value().signature.end());
    }
    if (out.signature.empty()) return outcome(Status::kRejected, "signature-missing", f.name);
    if (out.content.size() > max_file_bytes_)
      return outcome(Status::kRejected, "file-too-large", f.name);
    total += out.content.size();
    if (sequence.empty()) {
      const auto parsed = mapping::parse_file_name(f.name);
      if (parsed.name) sequence = parsed.name->sequence;
    }
    files.push_back(std::move(out));
  }
  if (total > max_unit_bytes_) return outcome(Status::kRejected, "unit-too-large", "");
  if (sequence.empty()) sequence = "unit";
  const std::string base = sequence + "_" + unit.sender.office_no;

  // A crash after the rename but before the ledger line left the folder without its key
  // recorded: find it by its marker rather than writing the unit twice.
  for (int n = 1;; ++n) {
    const std::string name = n == 1 ? base : base + "-" + std::to_string(n);
    std::error_code ec;
    if (!fs::exists(inbox_ / name, ec)) break;
    if (read_marker(inbox_ / name / kIdempotencyKeyFile) == unit.idempotency_key) {
      if (auto lec = append_line_synced(root_ / kLedgerFile,
                                        "inbound " + hex(unit.idempotency_key) + " " + name)) {
        return outcome(Status::kRetry, "io-error", lec.message());
      }
      keys_[unit.idempotency_key] = name;
      return outcome(Status::kAccepted, "inbox/" + name, "already written to the inbox");
    }
  }

  const fs::path temp =
      inbox_ / (std::string(kInboxTempPrefix) + base + "-" + std::to_string(++temp_counter_));
  auto fail = [&](const std::error_code& ec) {
    std::error_code ignored;
    fs::remove_all(temp, ignored);
    return outcome(Status::kRetry, "io-error", ec.message());
  };
  std::error_code ec;
  fs::remove_all(temp, ec);
  if (auto dec = create_directory_with_mode(temp, directory_mode_for(file_mode_))) return fail(dec);
  for (const auto& f : files) {
    if (auto wec = write_file_synced(temp / f.name, f.content, file_mode_)) return fail(wec);
    if (auto wec = write_file_synced(temp / (f.name + ".p7s"), f.signature, file_mode_))
      return fail(wec);
  }
  std::string message;
  if (!unit.subject.empty()) message += "Subject: " + unit.subject + "\n\n";
  message += unit.message;
  if (auto wec = write_file_synced(temp / "MESSAGE.txt", message, file_mode_)) return fail(wec);
  if (auto wec = write_file_synced(temp / kIdempotencyKeyFile, unit.idempotency_key, file_mode_))
    return fail(wec);
  if (auto sec = fsync_directory(temp)) return fail(sec);
  const std::string name = unique_child_name(inbox_, base);
  fs::rename(temp, inbox_ / name, ec);
  if (ec) return fail(ec);
  if (auto sec = fsync_directory(inbox_)) return outcome(Status::kRetry, "io-error", sec.message());
  keys_[unit.idempotency_key] = name;  // the folder with its marker already makes a replay a no-op
  if (auto lec = append_line_synced(root_ / kLedgerFile,
                                    "inbound " + hex(unit.idempotency_key) + " " + name)) {
    return outcome(Status::kRetry, "io-error", lec.message());
  }
  return outcome(Status::kAccepted, "inbox/" + name, "written to the inbox");
}

}  // namespace kakehashi::adapters::folder
